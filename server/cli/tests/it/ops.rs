//! `retry`, `skip`, `circuits` and the attempts in `tasks show`, from the
//! outside: a real git repository, `init`, `decompose`, and real runs with a
//! scripted worker whose empty RED attempt the gate rejects (pytest from the
//! repository's venv, as for the engine's tests).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use tdd_engine::store::{Queries, Reader, TaskStatus};

use crate::support::path_with_venv;

const PRD: &str = "---
id: PRD-CALC
title: Calculator
language: python
---

# Calculator

A tiny calculator.

## Requirements

### REQ-1 Add numbers

As a user, I want to add two numbers so that I get their sum.

Module: src/calc.py
Tests: tests/test_calc.py

Acceptance criteria:
- AC-1.1: WHEN the user adds 2 and 3 THE SYSTEM SHALL return 5.

### REQ-2 Subtract numbers

As a user, I want to subtract two numbers so that I get their difference.

Module: src/calc_sub.py
Tests: tests/test_calc_sub.py
Depends on: REQ-1

Acceptance criteria:
- AC-2.1: WHEN the user subtracts 3 from 5 THE SYSTEM SHALL return 2.
";

const ADD: &str = "REQ-1/AC-1.1";
const SUB: &str = "REQ-2/AC-2.1";
const SETUP: &str = "SETUP/manifest";

fn bin(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"));
    cmd.current_dir(dir).env("PATH", path_with_venv());
    cmd
}

fn tdd(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = bin(dir).args(args).output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["-c", "user.name=t", "-c", "user.email=t@example.com"];
    all.extend_from_slice(args);
    crate::support::git(dir, &all)
}

/// A git repository with one commit, `init --language python`, the PRD
/// decomposed, and `script.toml` for the scripted worker.
fn project(name: &str, script: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let (status, _, stderr) = tdd(&dir, &["init", "--language", "python"]);
    assert_eq!(status, 0, "{stderr}");
    std::fs::write(dir.join("calc.prd.md"), PRD).unwrap();
    std::fs::write(dir.join("script.toml"), script).unwrap();
    let (status, _, stderr) = tdd(&dir, &["decompose", "calc.prd.md"]);
    assert_eq!(status, 0, "{stderr}");
    dir
}

const RUN: &[&str] = &[
    "run",
    "calc.prd.md",
    "--worker",
    "scripted",
    "--script",
    "script.toml",
    "--workers",
    "1",
    "--max-attempts",
    "1",
    "--plain",
];

fn reader(dir: &Path) -> Reader {
    Reader::open(dir.join(".tdd/orchestrator.db")).unwrap()
}

fn status_of(dir: &Path, key: &str) -> TaskStatus {
    let reader = reader(dir);
    let prd = reader.prd("calc.prd.md").unwrap().unwrap();
    reader.task(prd.id, key).unwrap().unwrap().status
}

/// The payload of the newest event of `kind` for `key`.
fn last_event(dir: &Path, kind: &str, key: &str) -> serde_json::Value {
    reader(dir)
        .events_after(0, 10_000)
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.kind == kind && e.task_key.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no {kind} event for {key}"))
        .payload
}

#[test]
fn a_failed_task_is_shown_retried_afresh_and_skipped_so_its_dependent_runs() {
    let dir = project("retry", "");
    let (status, out, err) = tdd(&dir, RUN);
    assert_eq!(status, 1, "{out}{err}");
    assert_eq!(status_of(&dir, ADD), TaskStatus::Failed, "{out}");
    assert_eq!(status_of(&dir, SUB), TaskStatus::Blocked, "{out}");

    let (status, show, _) = tdd(&dir, &["tasks", "show", ADD]);
    assert_eq!(status, 0);
    for expected in [
        "attempts   1",
        "  run 1 (failed, started ",
        "    red #1  violation  worker w1  ",
        "      tests  errored 0, failed 0, passed 0",
        "      no tests",
        "      - [red.no_new_tests] no new test was collected from tests/test_calc.py",
    ] {
        assert!(show.contains(expected), "`{expected}` not in:\n{show}");
    }
    let (_, show, _) = tdd(&dir, &["tasks", "show", SUB]);
    assert!(show.contains("attempts   none yet"), "{show}");

    // Retrying the blocked dependent alone says what still blocks it.
    let (status, out, _) = tdd(&dir, &["retry", SUB]);
    assert_eq!(status, 0);
    assert!(out.contains("blocked → pending"), "{out}");
    assert!(out.contains("depends on failed REQ-1/AC-1.1"), "{out}");

    let worktree = dir.join(".tdd/worktrees");
    assert_eq!(std::fs::read_dir(&worktree).unwrap().count(), 1);
    assert!(git(&dir, &["branch", "--list", "tdd-task/*"]).contains("tdd-task/calc/"));
    let (status, out, err) = tdd(&dir, &["retry", "--fresh", ADD]);
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("REQ-1/AC-1.1 (calc.prd.md): failed → pending"),
        "{out}"
    );
    assert!(
        out.contains("deleted branch tdd-task/calc/REQ-1-AC-1.1-"),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(&worktree).unwrap().count(), 0);
    // The failed task's branch is gone; the merged setup task's stays.
    let branches = git(&dir, &["branch", "--list", "tdd-task/*"]);
    assert!(!branches.contains("REQ-1-AC-1.1"), "{branches}");
    assert!(
        branches.contains("tdd-task/calc/SETUP-manifest-"),
        "{branches}"
    );
    let event = last_event(&dir, "task.retry", ADD);
    assert_eq!(
        (&event["from"], &event["fresh"], &event["worktree_removed"]),
        (&"failed".into(), &true.into(), &true.into())
    );

    let (status, out, _) = tdd(&dir, &["skip", ADD, "--reason", "written by hand"]);
    assert_eq!(status, 0);
    assert!(out.contains("pending → cancelled"), "{out}");
    assert!(out.contains("may now run: REQ-2/AC-2.1"), "{out}");
    assert_eq!(status_of(&dir, ADD), TaskStatus::Cancelled);
    let event = last_event(&dir, "task.skipped", ADD);
    assert_eq!(event["reason"], "written by hand");
    assert_eq!(event["by"], "operator");

    // The skipped task no longer holds its dependent back.
    let (_, out, _) = tdd(&dir, RUN);
    assert!(out.contains("REQ-2/AC-2.1 red #1: REJECTED"), "{out}");
    assert_eq!(status_of(&dir, ADD), TaskStatus::Cancelled);
    let (_, show, _) = tdd(&dir, &["tasks", "show", SUB]);
    assert!(show.contains("  run 2 (failed, started "), "{show}");

    for command in ["retry", "skip"] {
        let (status, _, err) = tdd(&dir, &[command, SETUP]);
        assert_eq!(status, 1, "{command} of a done task");
        assert!(err.contains("`SETUP/manifest` is done"), "{err}");
    }
    assert_eq!(status_of(&dir, SETUP), TaskStatus::Done);
}

#[test]
fn a_running_task_is_refused_while_its_run_lives_and_released_after_it_died() {
    let script = "[[step]]\ntask = \"REQ-1/AC-1.1\"\nstage = \"red\"\npause_ms = 60000\n";
    let dir = project("running", script);
    let mut run = bin(&dir).args(RUN).spawn().unwrap();
    wait_for(&mut run, || {
        dir.join(".tdd/orchestrator.db").exists() && status_of(&dir, ADD) == TaskStatus::Running
    });

    let (status, _, err) = tdd(&dir, &["retry", ADD]);
    assert_eq!(status, 1);
    assert!(
        err.contains("`REQ-1/AC-1.1` is running in run 1 (worker w1)") && err.contains("cancel"),
        "{err}"
    );
    let (status, _, err) = tdd(&dir, &["skip", ADD]);
    assert_eq!(status, 1, "{err}");
    // The run may claim a pending task any moment: its worktree stays.
    let (status, _, err) = tdd(&dir, &["retry", "--fresh", SUB]);
    assert_eq!(status, 1);
    assert!(err.contains("a run is in progress"), "{err}");
    let (status, out, _) = tdd(&dir, &["circuits", "isolate", "worker", "w2"]);
    assert_eq!(status, 0);
    assert!(out.contains("note: a run is in progress"), "{out}");
    assert_eq!(status_of(&dir, ADD), TaskStatus::Running);
    // A re-plan now would let the run finish tasks under the old plan.
    let before = std::fs::read_to_string(dir.join("calc.prd.md")).unwrap();
    std::fs::write(
        dir.join("calc.prd.md"),
        before.replace("return 5.", "return 5 as an integer."),
    )
    .unwrap();
    let (status, _, err) = tdd(&dir, &["decompose", "calc.prd.md"]);
    assert_ne!(status, 0, "{err}");
    assert!(
        err.contains("a run is in progress") && err.contains("then decompose"),
        "{err}"
    );
    let (_, out, _) = tdd(&dir, &["status"]);
    assert!(
        out.contains("edited since") || out.contains("changed"),
        "{out}"
    );

    // SIGKILL: the claim stays behind, the run lock goes with the process.
    run.kill().unwrap();
    run.wait().unwrap();
    let (status, out, err) = tdd(&dir, &["skip", ADD]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("running → cancelled"), "{out}");
    assert!(out.contains("released the claim"), "{out}");
    assert!(reader(&dir).claims().unwrap().is_empty());
    let event = last_event(&dir, "task.skipped", ADD);
    assert_eq!(event["reason"], "skipped by the operator");
}

/// Polls `ready` until it holds; fails if the run ends first or takes long.
fn wait_for(run: &mut Child, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Some(status) = run.try_wait().unwrap() {
            panic!("the run ended early: {status}");
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = run.kill();
            panic!("the task never started running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn unknown_and_ambiguous_tasks_say_what_to_pass() {
    let dir = project("lookup", "");
    let (status, _, err) = tdd(&dir, &["retry", "REQ-9/AC-9.1"]);
    assert_eq!(status, 1);
    assert!(
        err.contains("no task `REQ-9/AC-9.1`") && err.contains("tasks list"),
        "{err}"
    );
    let (status, _, err) = tdd(&dir, &["skip", ADD, "--prd", "other.prd.md"]);
    assert_eq!(status, 1);
    assert!(err.contains("decompose other.prd.md"), "{err}");

    let other = PRD
        .replace("PRD-CALC", "PRD-CALC2")
        .replace("calc", "calc2");
    std::fs::write(dir.join("calc2.prd.md"), other).unwrap();
    let (status, _, err) = tdd(&dir, &["decompose", "calc2.prd.md"]);
    assert_eq!(status, 0, "{err}");
    let (status, _, err) = tdd(&dir, &["skip", ADD]);
    assert_eq!(status, 1);
    assert!(
        err.contains("calc.prd.md, calc2.prd.md") && err.contains("--prd"),
        "{err}"
    );
    let (status, out, _) = tdd(&dir, &["skip", ADD, "--prd", "calc2.prd.md"]);
    assert_eq!(status, 0);
    assert!(
        out.contains("REQ-1/AC-1.1 (calc2.prd.md): pending → cancelled"),
        "{out}"
    );
    assert_eq!(
        status_of(&dir, ADD),
        TaskStatus::Pending,
        "the other PRD's task"
    );

    let empty = dir.join("sub");
    std::fs::create_dir_all(empty.join(".git")).unwrap();
    let (status, _, err) = tdd(&empty, &["retry", ADD]);
    assert_eq!(status, 1);
    assert!(err.contains("decompose <prd>"), "{err}");
}

#[test]
fn circuits_are_listed_isolated_and_reset_with_their_transitions() {
    let dir = project("circuits", "");
    let (status, out, _) = tdd(&dir, &["circuits", "status"]);
    assert_eq!(status, 0);
    assert!(out.contains("No circuit breaker is stored yet"), "{out}");

    let (status, out, err) = tdd(
        &dir,
        &["circuits", "isolate", "worker", "w1", "--reason", "flaky"],
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        out,
        "worker breaker w1: closed → open (isolated by user: flaky)\n"
    );
    let (_, out, _) = tdd(&dir, &["circuits", "isolate", "worker", "w1"]);
    assert!(out.contains("open until reset already"), "{out}");

    let (_, out, _) = tdd(&dir, &["circuits", "status"]);
    assert!(out.contains("worker  w1  open"), "{out}");
    assert!(out.contains("(until reset)"), "{out}");
    assert!(out.contains("last: closed → open at "), "{out}");
    assert!(out.contains("circuits reset <scope> <name>"), "{out}");
    let (_, out, _) = tdd(&dir, &["circuits", "status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let w1 = &json["breakers"][0];
    assert_eq!(
        (&w1["scope"], &w1["state"]),
        (&"worker".into(), &"open".into())
    );
    assert!(w1["opened_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(w1["last_transition"]["reason"], "isolated by user: flaky");

    let (status, out, _) = tdd(&dir, &["circuits", "reset", "worker", "w1"]);
    assert_eq!(status, 0);
    assert_eq!(out, "worker breaker w1: open → closed (reset by user)\n");
    let (_, out, _) = tdd(&dir, &["circuits", "reset", "worker", "w1"]);
    assert!(out.contains("closed already"), "{out}");
    let (_, out, _) = tdd(&dir, &["circuits", "status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["breakers"][0]["state"], "closed");
    assert_eq!(json["breakers"][0]["last_transition"]["to"], "closed");

    let (status, _, err) = tdd(&dir, &["circuits", "reset", "stage", "REQ-1/AC-1.1:red"]);
    assert_eq!(status, 1);
    assert!(err.contains("circuits status` lists"), "{err}");
    let (status, _, err) = tdd(&dir, &["circuits", "isolate", "stage", "green"]);
    assert_eq!(status, 1);
    assert!(err.contains("<task key>:<stage>"), "{err}");
    let (status, _, _) = tdd(&dir, &["circuits", "reset", "planet", "x"]);
    assert_eq!(status, 2, "clap refuses an unknown scope");
}

#[test]
fn run_refuses_a_prd_made_invalid_and_replans_one_changed_since_decomposed() {
    let dir = project("replan", "");
    let original = std::fs::read_to_string(dir.join("calc.prd.md")).unwrap();

    // Invalid now (a duplicate id): refused with the error's position, nothing ran.
    let broken = original.replace("- AC-2.1:", "- AC-1.1:");
    std::fs::write(dir.join("calc.prd.md"), &broken).unwrap();
    let (status, _, err) = tdd(&dir, RUN);
    assert_ne!(status, 0, "{err}");
    assert!(
        err.contains("changed since it was decomposed and is not valid now")
            && err.contains("calc.prd.md:")
            && err.contains("AC-1.1"),
        "{err}"
    );
    assert!(
        reader(&dir).runs().unwrap().is_empty(),
        "no run was started"
    );

    // Valid and changed: re-planned (the new criterion becomes a task) before dispatch.
    let grown = original.replace(
        "- AC-2.1: WHEN the user subtracts 3 from 5 THE SYSTEM SHALL return 2.\n",
        "- AC-2.1: WHEN the user subtracts 3 from 5 THE SYSTEM SHALL return 2.\n\n### REQ-3 Multiply numbers\n\nAs a user, I want to multiply two numbers so that I get their product.\n\nModule: src/calc_mul.py\nTests: tests/test_calc_mul.py\n\nAcceptance criteria:\n- AC-3.1: WHEN the user multiplies 2 and 3 THE SYSTEM SHALL return 6.\n",
    );
    std::fs::write(dir.join("calc.prd.md"), &grown).unwrap();
    let (_, out, err) = tdd(&dir, RUN);
    let all = format!("{out}{err}");
    assert!(
        all.contains(
            "calc.prd.md changed since it was decomposed: re-planned before the run (1 added"
        ),
        "{all}"
    );
    // The script writes nothing, so RED fails: the run says what to do.
    assert!(
        out.contains("failed: REQ-1/AC-1.1")
            && out.contains("`tdd-orchestrator retry REQ-1/AC-1.1`")
            && out.contains("retry --fresh")
            && out.contains("circuits status"),
        "{out}"
    );
    let reader = reader(&dir);
    let prd = reader.prd("calc.prd.md").unwrap().unwrap();
    assert!(reader.task(prd.id, "REQ-3/AC-3.1").unwrap().is_some());
    assert_eq!(reader.runs().unwrap().len(), 1);
}

#[test]
fn a_run_held_by_a_breaker_says_which_until_when_and_how_to_reset_it() {
    let dir = project("held", "");
    // REQ-1's RED breaker open until reset, as after failures and a retry.
    let (status, _, err) = tdd(&dir, &["circuits", "isolate", "stage", "REQ-1/AC-1.1:red"]);
    assert_eq!(status, 0, "{err}");
    let mut run = bin(&dir)
        .args(RUN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = run.stdout.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut told = None;
    while told.is_none() && Instant::now() < deadline {
        if let Ok(line) = seen.recv_timeout(Duration::from_millis(200))
            && line.contains("waits:")
        {
            told = Some(line);
        }
    }
    let told = told.unwrap_or_else(|| {
        let _ = run.kill();
        panic!("the run never said what holds it")
    });
    assert!(
        told.contains("REQ-1/AC-1.1 waits: the stage breaker REQ-1/AC-1.1:red is open")
            && told.contains("until it is reset")
            && told.contains("`tdd-orchestrator circuits reset stage REQ-1/AC-1.1:red`"),
        "{told}"
    );
    // Nothing else can start (REQ-2 depends on REQ-1): the run ends by
    // itself instead of waiting for a reset it cannot see.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run waited for a reset it cannot see"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(1));
    // The reader thread may still be passing on the last lines: read to
    // the end of the output (the channel closes with it).
    let mut rest = Vec::new();
    while let Ok(line) = seen.recv_timeout(Duration::from_secs(10)) {
        rest.push(line);
    }
    let rest = rest.join("\n");
    assert!(rest.contains("not started: REQ-1/AC-1.1 waits"), "{rest}");
    // Reset, then resume: the task runs (and fails: the script writes nothing).
    let (status, _, err) = tdd(&dir, &["circuits", "reset", "stage", "REQ-1/AC-1.1:red"]);
    assert_eq!(status, 0, "{err}");
    let mut resume = RUN.to_vec();
    resume[0] = "resume";
    let (_, out, err) = tdd(&dir, &resume);
    assert!(
        out.contains("REQ-1/AC-1.1") && out.contains("failed at red"),
        "{out}{err}"
    );
}

#[test]
fn run_names_what_the_project_lacks_first_and_each_cause_once() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ops-lacks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    let (status, _, err) = tdd(&dir, &["init", "--language", "python"]);
    assert_eq!(status, 0, "{err}");
    // No git repository (any more): that, not the unconfigured worker.
    std::fs::remove_dir_all(dir.join(".git")).unwrap();
    let (status, _, err) = tdd(&dir, &["run", "calc.prd.md"]);
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("is not a git repository") && !err.contains("worker"),
        "{err}"
    );
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "init"]);
    // No such PRD: refused, before any worker is built.
    let (status, _, err) = tdd(&dir, &["run", "missing.prd.md"]);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("missing.prd.md is not a file"), "{err}");
    // A cause quoted in its message is not printed a second time.
    std::fs::write(dir.join("calc.prd.md"), PRD).unwrap();
    let (status, _, err) = tdd(
        &dir,
        &[
            "run",
            "calc.prd.md",
            "--worker",
            "scripted",
            "--script",
            "nope.toml",
        ],
    );
    assert_eq!(status, 2, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// `TDD_LOG=debug` shows a run's stages: each attempt under its task's span.
#[test]
fn tdd_log_debug_shows_each_attempt_under_its_task() {
    let dir = project("log", "");
    let output = bin(&dir)
        .args(RUN)
        .env("TDD_LOG", "tdd_engine=debug")
        .output()
        .unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    let attempt = err
        .lines()
        .find(|line| line.contains("attempt") && line.contains(ADD))
        .unwrap_or_else(|| panic!("no attempt line for {ADD}:\n{err}"));
    for part in [
        "run{prd=calc.prd.md}",
        "task{prd=calc",
        "stage=\"red\"",
        "failure=\"violation\"",
    ] {
        assert!(attempt.contains(part), "{part} not in {attempt:?}");
    }
    assert!(err.contains("task ended"), "{err}");
}

/// A run after a failure it does not take up (no `retry`) says which task
/// still fails and what it holds back, and exits 1: it did not complete.
#[test]
fn a_later_run_names_the_failure_it_did_not_take_up() {
    let dir = project("still-failed", "");
    let (status, _, _) = tdd(&dir, RUN);
    assert_eq!(status, 1);
    let (status, out, err) = tdd(&dir, RUN);
    assert_eq!(status, 1, "{out}{err}");
    assert!(out.contains("0 tasks to run"), "{out}");
    assert!(
        out.contains("still failed from an earlier run: REQ-1/AC-1.1 (holding back REQ-2/AC-2.1)"),
        "{out}"
    );
    assert!(
        out.contains("`tdd-orchestrator retry REQ-1/AC-1.1`"),
        "{out}"
    );
}
