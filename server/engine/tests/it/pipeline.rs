//! One task through RED → GREEN → VERIFY → REFACTOR → MERGE on a real git
//! repository with real pytest runs, driven by a scripted worker.
//!
//! pytest comes from the repository's `.venv` (scripts/test installs it) or
//! `TDD_TEST_VENV`. Without it these tests fail: a skipped check is not a pass.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tdd_core::plan::Task;
use tdd_engine::pipeline::{FailureKind, PipelineContext, Recorder, TaskStatus, run_task};
use tdd_engine::store::{NewTask, Queries, Store, StoreError, TaskStatus as StoredStatus};
use tdd_gates::{Outcome, Stage};
use tdd_workers::ScriptedWorker;

use crate::support::*;

const PRD: &str = "calc";

const STUB: &str = "def add(a, b):\n    pass\n";

fn task() -> Task {
    calc_task()
}

/// A store (outside the project) with the PRD, the task and a running run.
fn recorder() -> Recorder {
    let db = temp_dir("db").join("orchestrator.db");
    let mut store = Store::open(&db).unwrap();
    let (run_id, task_id) = store
        .write(|tx| {
            let prd = tx.upsert_prd("docs/calc.prd.md", "h", "markdown")?;
            let task_id = tx.insert_task(
                prd,
                &NewTask {
                    key: KEY.to_string(),
                    kind: "implement".to_string(),
                    title: "add(a, b)".to_string(),
                    requirement: Some("REQ-1".to_string()),
                    status: StoredStatus::Running,
                    content_hash: "h".to_string(),
                    spec: serde_json::json!({}),
                },
            )?;
            Ok::<_, StoreError>((tx.insert_run(prd, "running")?, task_id))
        })
        .unwrap();
    Recorder {
        store: Arc::new(Mutex::new(store)),
        run_id,
        task_ids: HashMap::from([(KEY.to_string(), task_id)]),
        prd_id: None,
    }
}

fn context(root: &Path) -> PipelineContext {
    python_context(root)
}

#[test]
fn a_task_goes_red_green_verify_refactor_merge_with_a_fix_loop() {
    let root = user_repo("full");
    let user_before = user_state(&root);
    let mut ctx = context(&root);
    let recorder = recorder();
    ctx.recorder = Some(recorder.clone());
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, STUB)
        .write(KEY, Stage::Green, 2, IMPL_FILE, REAL);

    let outcome = run_task(&ctx, &task(), &mut worker);

    let summary: Vec<String> = outcome
        .attempts
        .iter()
        .map(|a| {
            format!(
                "{} #{} {:?} {:?}: {}",
                a.stage.as_str(),
                a.attempt,
                a.outcome,
                a.failure_kind,
                a.evidence
            )
        })
        .collect();
    let feature_tip = match &outcome.status {
        TaskStatus::Merged { feature_tip } => *feature_tip,
        other => panic!("not merged: {other:?}\n{summary:#?}"),
    };
    assert!(!outcome.refactor_rolled_back && !outcome.already_implemented);

    // One commit per stage on the feature branch, each with its trailers.
    let log = git(
        &root,
        &[
            "log",
            "--reverse",
            "--format=%s%x1f%(trailers:key=Tdd-Stage,valueonly)%x1f%(trailers:key=Tdd-Task,valueonly)%x1e",
            "main..tdd/calc",
        ],
    );
    let commits: Vec<Vec<String>> = log
        .split('\x1e')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.split('\x1f').map(|f| f.trim().to_string()).collect())
        .collect();
    let stages: Vec<&str> = commits.iter().map(|c| c[1].as_str()).collect();
    assert_eq!(stages, ["red", "green", "verify", "refactor"], "{log}");
    assert!(commits.iter().all(|c| c[2] == KEY), "{log}");
    assert!(commits[0][0].contains("add(a, b)"), "{log}");
    assert_eq!(
        git(&root, &["rev-parse", "tdd/calc"]).trim(),
        feature_tip.to_string()
    );
    // The feature branch holds the task's files.
    assert_eq!(git(&root, &["show", "tdd/calc:src/calc.py"]), REAL);
    assert_eq!(
        git(&root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );
    let evidence = git(&root, &["log", "-1", "--format=%B", "tdd/calc~3"]);
    assert!(evidence.contains("Tdd-Evidence:"), "{evidence}");

    // The rejected GREEN attempt is recorded with its reason.
    let green: Vec<_> = attempts_at(&outcome, Stage::Green);
    assert_eq!(green.len(), 2, "{summary:#?}");
    assert_eq!(green[0].attempt, 1);
    assert_eq!(green[0].worker, "scripted");
    assert_eq!(green[0].outcome, Some(Outcome::Violation));
    assert_eq!(green[0].failure_kind, Some(FailureKind::Violation));
    assert!(
        green[0]
            .reasons
            .iter()
            .any(|r| r.code == "green.task_failing"),
        "{:#?}",
        green[0].reasons
    );
    let failed = green[0].test_summary.as_ref().unwrap();
    assert_eq!(failed["failed"], 1, "{failed}");
    assert!(green[0].finished_at >= green[0].started_at);
    assert_eq!(green[1].outcome, Some(Outcome::Passed));
    assert_eq!(green[1].failure_kind, None);
    // The retry was told why.
    let retry = worker
        .requests
        .iter()
        .find(|r| r.stage == Stage::Green && r.attempt == 2)
        .unwrap();
    assert!(
        retry
            .feedback
            .as_deref()
            .is_some_and(|f| f.contains("green.task_failing")),
        "{:?}",
        retry.feedback
    );
    assert_eq!(retry.writable, [IMPL_FILE]);
    let red = worker
        .requests
        .iter()
        .find(|r| r.stage == Stage::Red)
        .unwrap();
    assert_eq!(red.writable, [TEST_FILE]);
    assert_eq!(red.feedback, None);
    let stages_seen: Vec<&str> = outcome.attempts.iter().map(|a| a.stage.as_str()).collect();
    assert_eq!(
        stages_seen,
        ["red", "green", "green", "verify", "refactor", "merge"],
        "{summary:#?}"
    );

    // Every attempt is in the store too, the rejected one with its reason.
    assert_eq!(outcome.record_error, None);
    let rows = recorder
        .store
        .lock()
        .unwrap()
        .read(|tx| tx.attempts(recorder.run_id))
        .unwrap();
    let stored: Vec<(&str, u32)> = rows.iter().map(|r| (r.stage.as_str(), r.attempt)).collect();
    assert_eq!(
        stored,
        [
            ("red", 1),
            ("green", 1),
            ("green", 2),
            ("verify", 1),
            ("refactor", 1),
            ("merge", 1)
        ]
    );
    let rejected = &rows[1];
    assert_eq!(rejected.failure_kind.as_deref(), Some("violation"));
    assert_eq!(rejected.worker, "scripted");
    assert!(
        rejected
            .evidence
            .as_deref()
            .is_some_and(|e| e.contains("green.task_failing")),
        "{rejected:#?}"
    );
    assert_eq!(rejected.test_summary.as_ref().unwrap()["failed"], 1);
    assert_eq!(rejected.diff_stats.as_ref().unwrap()["paths"][0], IMPL_FILE);
    assert!(rejected.started_at.ends_with('Z') && rejected.finished_at.is_some());
    assert!(rows.iter().all(|r| r.task_id == recorder.task_ids[KEY]));
    assert_eq!(rows[2].failure_kind, None);
    assert_eq!(rows[3].worker, "engine");

    // The user's checkout is untouched, and the merged worktree is gone.
    assert_eq!(user_state(&root), user_before);
    assert!(!outcome.worktree.unwrap().path.exists());
}

#[test]
fn a_green_worker_that_edits_the_test_file_is_reverted_and_rejected() {
    let root = user_repo("cheat");
    let user_before = user_state(&root);
    let ctx = context(&root);
    let weakened = "def test_add_returns_the_sum():\n    assert True\n";
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        // Attempt 1 writes the stub and weakens the test so it would pass.
        .on(
            KEY,
            Stage::Green,
            1,
            tdd_workers::Script::Write(vec![
                (IMPL_FILE.to_string(), STUB.to_string()),
                (TEST_FILE.to_string(), weakened.to_string()),
            ]),
        )
        .write(KEY, Stage::Green, 2, IMPL_FILE, REAL);

    let outcome = run_task(&ctx, &task(), &mut worker);

    let green: Vec<_> = attempts_at(&outcome, Stage::Green);
    assert!(green.len() >= 2, "{:#?}", outcome.attempts);
    assert_eq!(green[0].outcome, Some(Outcome::Violation));
    assert_eq!(green[0].failure_kind, Some(FailureKind::Violation));
    assert_eq!(green[0].reverted, [TEST_FILE]);
    assert!(
        green[0]
            .reasons
            .iter()
            .any(|r| r.code == "pipeline.test_reverted"),
        "{:#?}",
        green[0].reasons
    );
    // The run after the revert judged the real test: the stub fails it.
    assert_eq!(green[0].test_summary.as_ref().unwrap()["failed"], 1);
    // The retry was told what was put back.
    let retry = worker
        .requests
        .iter()
        .find(|r| r.stage == Stage::Green && r.attempt == 2)
        .unwrap();
    assert!(
        retry
            .feedback
            .as_deref()
            .is_some_and(|f| f.contains("pipeline.test_reverted") && f.contains(TEST_FILE)),
        "{:?}",
        retry.feedback
    );
    assert!(outcome.merged(), "{:?}", outcome.status);
    // What was merged has the real test, not the weakened one.
    assert_eq!(
        git(&root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );
    assert_eq!(git(&root, &["show", "tdd/calc:src/calc.py"]), REAL);
    assert_eq!(user_state(&root), user_before);
}

#[test]
fn a_green_worker_that_keeps_editing_tests_fails_the_task_as_a_violation() {
    let root = user_repo("cheat-always");
    let ctx = context(&root);
    let weakened = "def test_add_returns_the_sum():\n    assert True\n";
    let mut worker = ScriptedWorker::new("scripted").write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST);
    for attempt in 1..=3 {
        worker = worker.write(KEY, Stage::Green, attempt, TEST_FILE, weakened);
    }

    let outcome = run_task(&ctx, &task(), &mut worker);

    match &outcome.status {
        TaskStatus::Failed {
            stage: Stage::Green,
            kind: FailureKind::Violation,
            message,
        } => assert!(message.contains("pipeline.test_reverted"), "{message}"),
        other => panic!("{other:?}"),
    }
    // One first attempt and max_fix_attempts (2) retries, each rejected.
    let green: Vec<_> = attempts_at(&outcome, Stage::Green);
    assert_eq!(green.len(), 3);
    assert!(green.iter().all(|a| a.reverted == [TEST_FILE]));
    // Nothing reached the feature branch; the worktree is kept, back at RED.
    assert_eq!(
        git(&root, &["rev-parse", "tdd/calc"]),
        git(&root, &["rev-parse", "main"])
    );
    let wt = outcome.worktree.unwrap();
    assert_eq!(
        fs::read_to_string(wt.path.join(TEST_FILE)).unwrap(),
        RED_TEST
    );
    assert!(!wt.path.join(IMPL_FILE).exists());
}

#[test]
fn a_failed_refactor_is_rolled_back_and_the_green_work_still_merges() {
    let root = user_repo("refactor");
    let ctx = context(&root);
    let broken = "def add(a, b):\n    return a - b\n";
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, REAL);
    for attempt in 1..=3 {
        worker = worker.write(KEY, Stage::Refactor, attempt, IMPL_FILE, broken);
    }

    let outcome = run_task(&ctx, &task(), &mut worker);

    assert!(outcome.merged(), "{:?}", outcome.status);
    assert!(outcome.refactor_rolled_back);
    let refactors: Vec<_> = attempts_at(&outcome, Stage::Refactor);
    assert_eq!(refactors.len(), 3);
    assert!(
        refactors
            .iter()
            .all(|a| a.failure_kind == Some(FailureKind::Violation))
    );
    // The refactor commit is empty and says it was rolled back; the merged
    // code is GREEN's.
    let stages = git(
        &root,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Tdd-Stage,valueonly)%(trailers:key=Tdd-Outcome,valueonly)",
            "main..tdd/calc",
        ],
    );
    let stages: Vec<&str> = stages.split_whitespace().collect();
    assert_eq!(
        stages,
        ["red", "green", "verify", "refactor", "rolled-back"]
    );
    let refactor_files = git(&root, &["show", "--format=", "--name-only", "tdd/calc"]);
    assert_eq!(
        refactor_files.trim(),
        "",
        "the rolled-back refactor commit changes nothing"
    );
    assert_eq!(git(&root, &["show", "tdd/calc:src/calc.py"]), REAL);
}

#[test]
fn behaviour_that_already_exists_skips_green() {
    let root = user_repo("already");
    write(&root, IMPL_FILE, REAL);
    git(&root, &["add", "-A", "src"]);
    git(&root, &["commit", "-q", "-m", "add exists"]);
    let ctx = context(&root);
    let mut worker = ScriptedWorker::new("scripted").write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST);

    let outcome = run_task(&ctx, &task(), &mut worker);

    assert!(outcome.merged(), "{:?}", outcome.status);
    assert!(outcome.already_implemented);
    assert!(
        worker.requests.iter().all(|r| r.stage != Stage::Green),
        "GREEN was asked for"
    );
    assert_eq!(
        outcome.attempts[0].outcome,
        Some(Outcome::AlreadyImplemented)
    );
    assert_eq!(
        git(&root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );
}

#[test]
fn a_provider_outage_stops_the_task_as_an_outage_not_a_violation() {
    let root = user_repo("outage");
    let ctx = context(&root);
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .on(
            KEY,
            Stage::Green,
            1,
            tdd_workers::Script::Outage("429 Too Many Requests".to_string()),
        );

    let outcome = run_task(&ctx, &task(), &mut worker);

    match &outcome.status {
        TaskStatus::Failed {
            stage: Stage::Green,
            kind: FailureKind::ProviderOutage,
            message,
        } => assert!(message.contains("429"), "{message}"),
        other => panic!("{other:?}"),
    }
    let last = outcome.attempts.last().unwrap();
    assert_eq!(last.failure_kind, Some(FailureKind::ProviderOutage));
    assert_eq!(last.outcome, None);
}

#[test]
fn a_configured_check_that_fails_stops_verify_with_its_output() {
    let root = user_repo("checks");
    let mut ctx = context(&root);
    // A lint of our own: no debugging prints in the sources.
    ctx.checks = vec![
        ("true".to_string(), "true".to_string()),
        (
            "no-print".to_string(),
            "! grep -n 'print(' src/*.py".to_string(),
        ),
    ];
    let noisy = "def add(a, b):\n    print(a, b)\n    return a + b\n";
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, noisy);

    let outcome = run_task(&ctx, &task(), &mut worker);

    match &outcome.status {
        TaskStatus::Failed {
            stage,
            kind,
            message,
        } => {
            assert_eq!(*stage, Stage::Verify);
            assert_eq!(*kind, FailureKind::Violation);
            assert!(message.contains("verify.check_failed"), "{message}");
            assert!(message.contains("no-print failed"), "{message}");
            assert!(
                message.contains("print(a, b)"),
                "the check's output: {message}"
            );
            assert!(!message.contains("true failed"), "{message}");
        }
        other => panic!("expected VERIFY to fail: {other:?}"),
    }

    // The same code passes when the check is satisfied.
    let root = user_repo("checks-clean");
    let mut ctx = context(&root);
    ctx.checks = vec![(
        "no-print".to_string(),
        "! grep -n 'print(' src/*.py".to_string(),
    )];
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, REAL);
    let outcome = run_task(&ctx, &task(), &mut worker);
    assert!(outcome.merged(), "{:?}", outcome.status);
}

/// Like cargo writing a Cargo.lock: every test run (re)writes
/// `runner-made.txt`, a file the project does not track or ignore.
fn repo_whose_test_runs_leave_a_file(name: &str) -> PathBuf {
    let root = user_repo(name);
    write(
        &root,
        "conftest.py",
        "import pathlib\nimport sys\n\nroot = pathlib.Path(__file__).parent\nsys.path.insert(0, str(root / \"src\"))\n(root / \"runner-made.txt\").write_text(\"made by the test run\\n\")\n",
    );
    git(&root, &["add", "conftest.py"]);
    git(
        &root,
        &["commit", "-q", "-m", "a conftest that leaves a file"],
    );
    root
}

#[test]
fn files_the_test_runner_leaves_behind_are_not_the_workers_change() {
    let root = repo_whose_test_runs_leave_a_file("artifacts");
    let ctx = context(&root);
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, REAL);

    let outcome = run_task(&ctx, &task(), &mut worker);

    assert!(
        outcome.merged(),
        "{:?}\n{:#?}",
        outcome.status,
        outcome.attempts
    );
    let red = outcome
        .attempts
        .iter()
        .find(|a| a.stage == Stage::Red)
        .unwrap();
    let paths: Vec<&str> = red.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, [TEST_FILE], "the runner's file is not RED's change");
    let merged = git(
        &root,
        &["show", "--name-only", "--format=", &format!("tdd/{PRD}")],
    );
    assert!(!merged.contains("runner-made.txt"), "{merged}");

    // A worker that edits that file does change it, and RED says so.
    let root = repo_whose_test_runs_leave_a_file("artifacts-edited");
    let mut ctx = context(&root);
    ctx.max_fix_attempts = 0;
    let mut worker = ScriptedWorker::new("scripted").on(
        KEY,
        Stage::Red,
        1,
        tdd_workers::Script::Write(vec![
            (TEST_FILE.to_string(), RED_TEST.to_string()),
            (
                "runner-made.txt".to_string(),
                "the worker's words\n".to_string(),
            ),
        ]),
    );
    let outcome = run_task(&ctx, &task(), &mut worker);
    let red = outcome
        .attempts
        .iter()
        .find(|a| a.stage == Stage::Red)
        .unwrap();
    assert!(
        red.changes.iter().any(|c| c.path == "runner-made.txt"),
        "{:#?}",
        red.changes
    );
}

/// A test command that counts its runs in `count`, then runs pytest.
fn counting_pytest(root: &Path) -> (String, PathBuf) {
    let dir = temp_dir(&format!(
        "{}-count",
        root.file_name().unwrap().to_string_lossy()
    ));
    let (count, script) = (dir.join("runs"), dir.join("pytest.sh"));
    fs::write(
        &script,
        format!("echo run >> '{}'\nexec pytest \"$@\"\n", count.display()),
    )
    .unwrap();
    (format!("sh '{}'", script.display()), count)
}

fn runs(count: &Path) -> usize {
    fs::read_to_string(count).map_or(0, |t| t.lines().count())
}

#[test]
fn the_same_files_are_tested_once_and_the_evidence_says_so() {
    let root = user_repo("reuse");
    let mut ctx = context(&root);
    let (command, count) = counting_pytest(&root);
    ctx.layout.test_command = command;
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, REAL);

    let outcome = run_task(&ctx, &task(), &mut worker);

    assert!(outcome.merged(), "{:?}", outcome.status);
    // RED's baseline and judged run, GREEN's judged run; GREEN's baseline is
    // RED's judged files, VERIFY and REFACTOR's are GREEN's, REFACTOR changed
    // nothing, and MERGE's tip (no rebase needed) is GREEN's files again.
    assert_eq!(runs(&count), 3);
    let evidence = |stage: Stage| {
        outcome
            .attempts
            .iter()
            .find(|a| a.stage == stage)
            .map(|a| a.evidence.clone())
            .unwrap()
    };
    assert!(
        evidence(Stage::Green).contains("baseline report reused from red of REQ-1/AC-1.1"),
        "{}",
        evidence(Stage::Green)
    );
    assert!(
        evidence(Stage::Verify).contains("report reused from green of REQ-1/AC-1.1, same files"),
        "{}",
        evidence(Stage::Verify)
    );
    assert!(!evidence(Stage::Red).contains("reused"));
}

/// A file the runner reads changes after GREEN passed: VERIFY runs the
/// tests again and sees the stub, where GREEN's report would have passed it.
#[test]
fn a_changed_tree_is_never_judged_from_an_earlier_report() {
    let root = user_repo("reuse-stale");
    let mut ctx = context(&root);
    let (command, count) = counting_pytest(&root);
    ctx.layout.test_command = command;
    let worktree = ctx.project.worktree_path(KEY);
    ctx.on_attempt = Some(tdd_engine::pipeline::AttemptHook(Arc::new(
        move |_, attempt| {
            if attempt.stage == Stage::Green && attempt.failure_kind.is_none() {
                fs::write(worktree.join(IMPL_FILE), STUB).unwrap();
            }
        },
    )));
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, REAL);

    let outcome = run_task(&ctx, &task(), &mut worker);

    match &outcome.status {
        TaskStatus::Failed { stage, kind, .. } => {
            assert_eq!((*stage, *kind), (Stage::Verify, FailureKind::Violation));
        }
        other => panic!("VERIFY should have seen the stub: {other:?}"),
    }
    let verify = outcome.attempts.iter().find(|a| a.stage == Stage::Verify);
    assert!(!verify.unwrap().evidence.contains("reused"));
    assert_eq!(runs(&count), 4, "RED twice, GREEN's judged run, VERIFY");
}

/// A merge queue testing outside its lock (when asked to): a task merging
/// while this one's MERGE tests run sends it round again, rebased on the new
/// tip; nothing is lost. Here the test command itself moves the feature branch, as another
/// task's merge would: during GREEN's run (so MERGE must rebase and test) and
/// during MERGE's own run (so the fast-forward finds the tip moved).
#[test]
fn a_feature_branch_that_moves_during_the_merge_tests_is_rebased_and_tested_again() {
    let root = user_repo("merge-race");
    let mut ctx = context(&root);
    ctx.merge_rounds_outside_lock = 3;
    let dir = temp_dir("merge-race-cmd");
    let count = dir.join("runs");
    let script = dir.join("pytest.sh");
    // Runs: RED's baseline and judged run, GREEN's judged run (3), then
    // MERGE's on the rebased tip (4), and again after the tip moved (5).
    fs::write(
        &script,
        format!(
            r#"echo run >> '{count}'
n=$(wc -l < '{count}')
if [ "$n" = 3 ] || [ "$n" = 4 ]; then
  blob=$(echo "other $n" | git -C '{root}' hash-object -w --stdin)
  base=$(git -C '{root}' rev-parse tdd/{PRD})
  idx='{dir}/index'
  GIT_INDEX_FILE="$idx" git -C '{root}' read-tree "$base"
  GIT_INDEX_FILE="$idx" git -C '{root}' update-index --add --cacheinfo 100644,"$blob",other$n.txt
  tree=$(GIT_INDEX_FILE="$idx" git -C '{root}' write-tree)
  commit=$(git -C '{root}' commit-tree "$tree" -p "$base" -m "another task $n")
  git -C '{root}' update-ref refs/heads/tdd/{PRD} "$commit"
fi
exec pytest "$@"
"#,
            count = count.display(),
            root = root.display(),
            dir = dir.display(),
        ),
    )
    .unwrap();
    ctx.layout.test_command = format!("sh '{}'", script.display());
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, REAL);

    let outcome = run_task(&ctx, &task(), &mut worker);

    assert!(outcome.merged(), "{:?}", outcome.status);
    assert_eq!(runs(&count), 5);
    let merge = outcome.attempts.iter().find(|a| a.stage == Stage::Merge);
    let evidence = &merge.unwrap().evidence;
    assert!(
        evidence.contains("rebased and tested 2 times"),
        "{evidence}"
    );
    let files = git(
        &root,
        &["ls-tree", "-r", "--name-only", &format!("tdd/{PRD}")],
    );
    for file in ["other3.txt", "other4.txt", IMPL_FILE] {
        assert!(files.contains(file), "{file} missing: {files}");
    }
    let log = git(&root, &["log", "--format=%s", &format!("tdd/{PRD}")]);
    assert!(
        log.contains("another task 3") && log.contains("another task 4"),
        "{log}"
    );
}

/// A task failed at VERIFY is retried from GREEN (issue 13, finding 4): the
/// next run (a new run id, as `retry` then `run` make) finds VERIFY's
/// rejection again on the same GREEN commit, and instead of failing once
/// more it sends the task back to GREEN with that evidence.
#[test]
fn a_task_failed_at_verify_is_retried_from_green_in_the_next_run() {
    let root = user_repo("verify-retry");
    let mut ctx = context(&root);
    let first = recorder();
    ctx.recorder = Some(first.clone());
    ctx.max_fix_attempts = 0;
    // Passes the test, but only for its one example: VERIFY's placeholder scan.
    let stub = "def add(a, b):\n    if a == 2:\n        return 5\n    raise NotImplementedError\n";
    let mut worker = ScriptedWorker::new("scripted")
        .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
        .write(KEY, Stage::Green, 1, IMPL_FILE, stub);
    let failed = run_task(&ctx, &task(), &mut worker);
    assert!(
        matches!(
            failed.status,
            TaskStatus::Failed {
                stage: Stage::Verify,
                ..
            }
        ),
        "{}",
        describe(&failed)
    );

    let run_id = {
        let mut store = first.store.lock().unwrap();
        store
            .write(|tx| {
                let prd = tx.prd("docs/calc.prd.md")?.unwrap();
                tx.insert_run(prd.id, "running")
            })
            .unwrap()
    };
    ctx.recorder = Some(Recorder { run_id, ..first });
    ctx.max_fix_attempts = 1;
    let mut worker = ScriptedWorker::new("scripted").write(KEY, Stage::Green, 1, IMPL_FILE, REAL);
    let retried = run_task(&ctx, &task(), &mut worker);

    assert!(retried.merged(), "{}", describe(&retried));
    let order = attempt_order(&retried);
    assert_eq!(
        order[..3],
        [
            (Stage::Verify, 1, Some(Outcome::Violation)),
            (Stage::Green, 1, Some(Outcome::Passed)),
            (Stage::Verify, 2, Some(Outcome::Passed)),
        ],
        "{}",
        describe(&retried)
    );
}

/// A worker that runs a program (an agent CLI, a plugin) gets a worktree
/// watched by `stat`: its changes and the content ids the report cache
/// keys on cost a stat per file, so its task makes as few test runs as a
/// scripted one (3, the other 5 reused; it made 8 when its worktree was
/// scanned whole).
#[test]
fn a_program_workers_task_reuses_test_reports_like_any_other() {
    use tdd_workers::{StageRequest, Worker, WorkerError, WorkerReport};
    struct Program(ScriptedWorker);
    impl Worker for Program {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn perform(&mut self, r: &StageRequest) -> Result<WorkerReport, WorkerError> {
            self.0.perform(r)
        }
    }
    let root = user_repo("program-reuse");
    let mut worker = Program(
        ScriptedWorker::new("scripted")
            .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
            .write(KEY, Stage::Green, 1, IMPL_FILE, REAL),
    );
    assert!(!worker.confined_to_worktree());
    let out = run_task(&context(&root), &task(), &mut worker);
    assert!(out.merged(), "{}", describe(&out));
    let runs = (out.timings.test_runs, out.timings.reused_runs);
    assert_eq!(runs, (3, 5), "{}", describe(&out));
}

/// The feature branch moves while the task is finishing (another task merged
/// a `src/calc.py` of its own), so the task's GREEN no longer replays onto
/// it. The task starts again from its RED commit on the new tip, GREEN is
/// told what conflicted, and it merges keeping both (issue 13). The
/// conflicted MERGE attempt stays on record and a notice names the re-run.
#[test]
fn a_merge_conflict_reruns_green_on_the_new_tip_and_merges() {
    use tdd_engine::pipeline::NoticeHook;

    const THEIRS: &str = "def sub(a, b):\n    return a - b\n";
    const BOTH: &str = "def sub(a, b):\n    return a - b\n\n\ndef add(a, b):\n    return a + b\n";

    let root = user_repo("conflict");
    let mut ctx = context(&root);
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = notices.clone();
    ctx.on_notice = Some(NoticeHook(Arc::new(move |key: &str, message: &str| {
        seen.lock().unwrap().push(format!("{key}: {message}"));
    })));
    let mut worker = Recording::new(
        ScriptedWorker::new("scripted")
            .write(KEY, Stage::Red, 1, TEST_FILE, RED_TEST)
            .write(KEY, Stage::Green, 1, IMPL_FILE, REAL)
            .write(KEY, Stage::Green, 2, IMPL_FILE, BOTH),
    );
    // Another task merges a `src/calc.py` of its own during REFACTOR.
    let feature_root = root.clone();
    let mut moved = false;
    worker.before = Box::new(move |request| {
        if request.stage == Stage::Refactor && !moved {
            moved = true;
            commit_on_feature(&feature_root, IMPL_FILE, THEIRS);
        }
    });

    let out = run_task(&ctx, &task(), &mut worker);

    assert!(out.merged(), "{}", describe(&out));
    let order = attempt_order(&out);
    assert_eq!(
        order[4..],
        [
            (Stage::Merge, 1, None),
            (Stage::Green, 2, Some(Outcome::Passed)),
            (Stage::Verify, 2, Some(Outcome::Passed)),
            (Stage::Refactor, 2, Some(Outcome::Passed)),
            (Stage::Merge, 2, Some(Outcome::Passed)),
        ],
        "{}",
        describe(&out)
    );
    let conflicted = &out.attempts[4];
    assert_eq!(conflicted.failure_kind, Some(FailureKind::Violation));
    assert!(
        conflicted
            .evidence
            .contains("rebasing onto the feature branch conflicts on src/calc.py"),
        "{}",
        conflicted.evidence
    );
    let told = worker.told_at(Stage::Green, 2);
    assert!(told.contains("conflicts on src/calc.py"), "{told}");
    assert!(
        notices
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.contains("merge conflict on src/calc.py: GREEN again")),
        "{notices:?}"
    );
    // Both changes are on the feature branch: theirs, then the task's.
    assert_eq!(
        git(&root, &["show", &format!("tdd/calc:{IMPL_FILE}")]),
        BOTH
    );
    let subjects = git(&root, &["log", "--format=%s", "-5", "tdd/calc"]);
    assert!(
        subjects.lines().nth(4).unwrap().contains("another task"),
        "{subjects}"
    );
}

/// A commit on `tdd/calc` that sets `path` to `text`, made without a
/// checkout (as another task's merge would move the branch).
fn commit_on_feature(root: &Path, path: &str, text: &str) {
    let run = |args: &[&str], index: &Path, input: Option<&str>| -> String {
        use std::io::Write as _;
        let mut child = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .env("GIT_INDEX_FILE", index)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let index = root.join(".git/tdd-test-index");
    let blob = run(&["hash-object", "-w", "--stdin"], &index, Some(text));
    run(&["read-tree", "tdd/calc"], &index, None);
    let entry = format!("100644,{blob},{path}");
    run(
        &["update-index", "--add", "--cacheinfo", &entry],
        &index,
        None,
    );
    let tree = run(&["write-tree"], &index, None);
    let commit = run(
        &["commit-tree", &tree, "-p", "tdd/calc", "-m", "another task"],
        &index,
        None,
    );
    run(
        &["update-ref", "refs/heads/tdd/calc", &commit],
        &index,
        None,
    );
    let _ = fs::remove_file(index);
}
