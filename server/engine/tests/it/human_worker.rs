//! The human worker: a person (here a thread acting as one) does each stage
//! in the task's worktree from the instructions the engine writes, and says
//! done; the same gates judge it, and a rejected attempt's evidence comes
//! back in the next instructions. Real git, real pytest.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tdd_engine::pipeline::{NoticeHook, run_task};
use tdd_gates::{Outcome, Stage};
use tdd_workers::HumanWorker;
use tdd_workers::human::{done, waiting};

use crate::support::*;

const WRONG: &str = "def add(a, b):\n    return a - b\n";

/// The instructions for `KEY`: their first line and the worktree they name.
fn instructions(root: &Path) -> (String, PathBuf, String) {
    let text = fs::read_to_string(root.join(".tdd/human/REQ-1_AC-1.1.md")).unwrap();
    let first = text.lines().next().unwrap().to_string();
    let worktree = text
        .lines()
        .find_map(|l| l.strip_prefix("Work in the task's worktree: "))
        .map(PathBuf::from)
        .unwrap();
    (first, worktree, text)
}

#[test]
fn a_person_does_each_stage_and_the_gates_judge_it() {
    let root = python_repo("human");
    let mut ctx = python_context(&root);
    let (tx, notices) = mpsc::channel::<(String, String)>();
    ctx.on_notice = Some(NoticeHook(Arc::new(move |key, message| {
        let _ = tx.send((key.to_string(), message.to_string()));
    })));
    let mut worker = HumanWorker::new("you", &root).poll(Duration::from_millis(20));

    let person_root = root.clone();
    let person = thread::spawn(move || {
        let mut seen = Vec::new();
        // RED, GREEN (wrong), GREEN (right), REFACTOR: four waits.
        for _ in 0..4 {
            let (key, message) = notices.recv_timeout(Duration::from_secs(60)).unwrap();
            assert_eq!(key, KEY);
            assert!(message.starts_with("waiting for you: "), "{message}");
            assert!(
                message.contains(&format!("tdd-orchestrator done {KEY}")),
                "{message}"
            );
            assert_eq!(waiting(&person_root), [KEY]);
            let (first, worktree, text) = instructions(&person_root);
            match first.as_str() {
                "# REQ-1/AC-1.1: RED (attempt 1)" => {
                    fs::create_dir_all(worktree.join("tests")).unwrap();
                    fs::write(worktree.join("tests/test_calc.py"), RED_TEST).unwrap();
                }
                "# REQ-1/AC-1.1: GREEN (attempt 1)" => {
                    fs::write(worktree.join("src/calc.py"), WRONG).unwrap();
                }
                "# REQ-1/AC-1.1: GREEN (attempt 2)" => {
                    // The evidence of the rejected attempt came back.
                    assert!(text.contains("green.task_failing"), "{text}");
                    fs::write(worktree.join("src/calc.py"), REAL).unwrap();
                }
                "# REQ-1/AC-1.1: REFACTOR (attempt 1)" => {}
                other => panic!("unexpected instructions: {other}"),
            }
            seen.push(first);
            done(&person_root, KEY).unwrap();
        }
        seen
    });

    let outcome = run_task(&ctx, &calc_task(), &mut worker);
    let seen = person.join().unwrap();

    assert!(outcome.merged(), "{:?}", outcome.status);
    assert_eq!(seen.len(), 4, "{seen:?}");
    let green: Vec<_> = attempts_at(&outcome, Stage::Green);
    assert_eq!(green[0].outcome, Some(Outcome::Violation));
    assert_eq!(green[1].outcome, Some(Outcome::Passed));
    assert!(
        outcome
            .attempts
            .iter()
            .filter(|a| matches!(a.stage, Stage::Red | Stage::Green | Stage::Refactor))
            .all(|a| a.worker == "you")
    );
    assert_eq!(git(&root, &["show", "tdd/calc:src/calc.py"]), REAL);
    // Nothing is left waiting, and `done` now says so.
    assert!(waiting(&root).is_empty());
    let err = done(&root, KEY).unwrap_err().to_string();
    assert!(err.contains("is not waiting for you"), "{err}");
}

#[test]
fn a_cancelled_run_stops_waiting_for_the_person() {
    let root = python_repo("human-cancel");
    let ctx = python_context(&root);
    let cancel = ctx.cancel.clone();
    let mut worker = HumanWorker::new("you", &root).poll(Duration::from_millis(20));
    let watcher_root = root.clone();
    let canceller = thread::spawn(move || {
        while waiting(&watcher_root).is_empty() {
            thread::sleep(Duration::from_millis(20));
        }
        cancel.cancel();
    });
    let outcome = run_task(&ctx, &calc_task(), &mut worker);
    canceller.join().unwrap();
    assert!(!outcome.merged());
    assert!(waiting(&root).is_empty(), "the instructions are taken back");
}
