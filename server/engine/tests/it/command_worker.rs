//! Command workers (the plugin protocol of docs/workers.md) as real shell
//! scripts, and scripted workers read from a script file, driving real tasks
//! through the pipeline on a small Python repository.
//!
//! pytest comes from the repository's `.venv` (scripts/test installs it) or
//! `TDD_TEST_VENV`. Without it these tests fail: a skipped check is not a pass.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tdd_core::config::{SandboxMode, parse_config};
use tdd_core::plan::{Task, TestCase};
use tdd_engine::pipeline::{FailureKind, PipelineContext, TaskStatus, run_task};
use tdd_gates::{Outcome, Stage};
use tdd_workers::process::GRACE;
use tdd_workers::{CommandWorker, Sandbox, ScriptedWorker, Worker, WorkerError, from_config};

use crate::support::*;

fn task() -> Task {
    Task {
        tests: vec![TestCase {
            name: "test_add_returns_the_sum".to_string(),
            criterion: "AC-1.1".to_string(),
            form: "event_driven".to_string(),
            precondition: None,
            action: Some("add(2, 3)".to_string()),
            outcome: "returns 5".to_string(),
            expected_errors: Vec::new(),
        }],
        hints: vec!["keep it small".to_string()],
        ..calc_task()
    }
}

fn context(root: &Path) -> PipelineContext {
    python_context(root)
}

/// An executable shell script `name` in a fresh directory outside any repo.
fn agent(name: &str, body: &str) -> PathBuf {
    let path = temp_dir(name).join("agent.sh");
    fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A plugin that logs what it received to `$AGENT_LOG` and writes each
/// stage's files: a stub at GREEN 1 (while claiming success), the real code
/// at GREEN 2, nothing at REFACTOR.
const PLUGIN: &str = r#"set -eu
log="$AGENT_LOG/$TDD_STAGE-$TDD_ATTEMPT"
cat > "$log.stdin.json"
cp "$TDD_REQUEST_FILE" "$log.file.json"
{
  printf 'pwd=%s\n' "$(pwd)"
  printf 'protocol=%s\ntask=%s\nstage=%s\n' "$TDD_PROTOCOL" "$TDD_TASK" "$TDD_STAGE"
  printf 'attempt=%s\nworktree=%s\n' "$TDD_ATTEMPT" "$TDD_WORKTREE"
  printf 'writable=%s\n' "$(printf '%s' "$TDD_WRITABLE" | tr '\n' ',')"
  printf 'feedback=%s\n' "${TDD_FEEDBACK:+given}"
} > "$log.env"
case "$TDD_STAGE-$TDD_ATTEMPT" in
  red-1)
    mkdir -p tests
    printf 'from calc import add\n\n\ndef test_add_returns_the_sum():\n    assert add(2, 3) == 5\n' > tests/test_calc.py ;;
  green-1)
    printf 'def add(a, b):\n    pass\n' > src/calc.py
    echo '{"summary": "all tests pass", "tests": {"passed": 1}}'
    exit 0 ;;
  green-*)
    printf 'def add(a, b):\n    return a + b\n' > src/calc.py ;;
esac
echo "agent: $TDD_STAGE done" >&2
echo '{"summary": "'"$TDD_STAGE"' written", "usage": {"input_tokens": 12}}'
"#;

fn logged(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_command_worker_takes_a_task_through_every_stage() {
    let root = python_repo("cmd-full");
    let log = temp_dir("cmd-full-log");
    let ctx = context(&root);
    let mut worker = CommandWorker::new("plugin", agent("cmd-full", PLUGIN).display().to_string())
        .env("AGENT_LOG", log.display().to_string())
        .timeout(Duration::from_secs(60));

    let outcome = run_task(&ctx, &task(), &mut worker);

    let seen = describe(&outcome);
    assert!(outcome.merged(), "{seen}");
    assert_eq!(git(&root, &["show", "tdd/calc:src/calc.py"]), REAL);
    assert_eq!(
        git(&root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );
    // The stub's claim of success changed nothing: GREEN 1 was judged by pytest.
    let green: Vec<_> = attempts_at(&outcome, Stage::Green);
    assert_eq!(green[0].outcome, Some(Outcome::Violation), "{seen}");
    assert_eq!(green[1].outcome, Some(Outcome::Passed), "{seen}");
    assert!(
        outcome
            .attempts
            .iter()
            .filter(|a| a.stage != Stage::Verify && a.stage != Stage::Merge)
            .all(|a| a.worker == "plugin")
    );

    // The request came on stdin and in the file, identical, with the task's spec.
    let worktree = outcome
        .worktree
        .as_ref()
        .unwrap()
        .path
        .display()
        .to_string();
    for name in ["red-1", "green-1", "green-2", "refactor-1"] {
        let stdin = logged(&log, &format!("{name}.stdin.json"));
        assert_eq!(stdin, logged(&log, &format!("{name}.file.json")), "{name}");
        let env = logged(&log, &format!("{name}.env"));
        assert!(env.contains(&format!("pwd={worktree}\n")), "{name}: {env}");
        assert!(
            env.contains(&format!("worktree={worktree}\n")),
            "{name}: {env}"
        );
        assert!(
            env.contains(&format!("protocol=1\ntask={KEY}\n")),
            "{name}: {env}"
        );
    }
    let red: Value = serde_json::from_str(&logged(&log, "red-1.stdin.json")).unwrap();
    assert_eq!(red["protocol"], 1);
    assert_eq!(red["task"], KEY);
    assert_eq!(red["title"], "add(a, b)");
    assert_eq!(red["stage"], "red");
    assert_eq!(red["attempt"], 1);
    assert_eq!(red["worktree"], worktree.as_str());
    assert_eq!(red["writable"], serde_json::json!([TEST_FILE]));
    assert_eq!(red["test_files"], serde_json::json!([TEST_FILE]));
    assert_eq!(red["criteria"], serde_json::json!(["AC-1.1"]));
    assert_eq!(red["tests"][0]["name"], "test_add_returns_the_sum");
    assert_eq!(red["tests"][0]["outcome"], "returns 5");
    assert_eq!(red["feedback"], Value::Null);
    assert!(logged(&log, "red-1.env").contains(&format!("writable={TEST_FILE}\nfeedback=\n")));

    // The retry was told why the first GREEN failed, in the JSON and the env.
    let retry: Value = serde_json::from_str(&logged(&log, "green-2.stdin.json")).unwrap();
    assert_eq!(retry["writable"], serde_json::json!([IMPL_FILE]));
    assert_eq!(retry["test_files"], serde_json::json!([TEST_FILE]));
    let feedback = retry["feedback"].as_str().unwrap();
    assert!(feedback.contains("green.task_failing"), "{feedback}");
    assert!(logged(&log, "green-2.env").contains("feedback=given\n"));
}

#[test]
fn exit_75_is_a_provider_outage_not_a_violation() {
    let root = python_repo("cmd-outage");
    let ctx = context(&root);
    let program = agent(
        "cmd-outage",
        "echo 'HTTP 429 Too Many Requests' >&2\nexit 75\n",
    );
    let mut worker = CommandWorker::new("plugin", program.display().to_string());

    let outcome = run_task(&ctx, &task(), &mut worker);

    match &outcome.status {
        TaskStatus::Failed {
            stage: Stage::Red,
            kind: FailureKind::ProviderOutage,
            message,
        } => assert!(message.contains("HTTP 429"), "{message}"),
        other => panic!("not an outage: {other:?}"),
    }
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(
        outcome.attempts[0].failure_kind,
        Some(FailureKind::ProviderOutage)
    );
    assert_eq!(outcome.attempts[0].outcome, None);
}

#[test]
fn a_missing_program_is_an_infrastructure_error_naming_it() {
    let root = python_repo("cmd-missing");
    let ctx = context(&root);
    let mut worker = CommandWorker::new("plugin", "./tools/no-such-agent.sh");

    let outcome = run_task(&ctx, &task(), &mut worker);

    match &outcome.status {
        TaskStatus::Failed {
            kind: FailureKind::Infrastructure,
            message,
            ..
        } => assert!(
            message.contains("worker program `./tools/no-such-agent.sh` does not exist"),
            "{message}"
        ),
        other => panic!("not an infrastructure error: {other:?}"),
    }
    // Configured, it fails before any task starts, saying what to set.
    let config = parse_config(
        "[worker]\nkind = \"command\"\n[worker.command]\nprogram = \"no-such-agent-xyz\"\n",
    )
    .unwrap();
    let message = from_config(&config.worker, &root, "w")
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("`no-such-agent-xyz` not found on PATH"),
        "{message}"
    );
    assert!(message.contains("[worker.command] program"), "{message}");
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
fn running(pid: &str) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        // The state follows the parenthesised command name.
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

#[test]
fn a_hanging_command_is_killed_at_its_timeout_with_its_children() {
    let dir = temp_dir("cmd-hang");
    let program = agent(
        "cmd-hang",
        "sleep 300 &\necho $! > \"$PID_FILE\"\necho started >&2\nwait\n",
    );
    let pid_file = dir.join("grandchild.pid");
    let mut worker = CommandWorker::new("plugin", program.display().to_string())
        .env("PID_FILE", pid_file.display().to_string())
        .timeout(Duration::from_secs(1));
    let mut request = task_request(&dir);
    request.stage = Stage::Green;

    let started = Instant::now();
    let err = worker.perform(&request).unwrap_err();

    let elapsed = started.elapsed();
    assert!(matches!(err, WorkerError::Failed(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("timed out after 1 s"), "{message}");
    assert!(message.contains("timeout_secs"), "{message}");
    assert!(message.ends_with("started"), "{message}");
    assert!(
        elapsed < Duration::from_secs(1) + GRACE + Duration::from_secs(5),
        "{elapsed:?}"
    );
    let pid = fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(&pid), "the grandchild {pid} survived its worker");
}

fn task_request(worktree: &Path) -> tdd_workers::StageRequest {
    tdd_workers::StageRequest {
        task: task(),
        stage: Stage::Red,
        worktree: worktree.to_path_buf(),
        writable: vec![TEST_FILE.to_string()],
        feedback: None,
        attempt: 1,
        tests: None,
        cancel: Default::default(),
        notice: None,
    }
}

/// The script a separate `run` process would read: the same task, GREEN
/// first wrong, then right.
const SCRIPT: &str = r#"
[[step]]
task = "REQ-1/AC-1.1"
stage = "red"
[step.write]
"tests/test_calc.py" = """
from calc import add


def test_add_returns_the_sum():
    assert add(2, 3) == 5
"""

[[step]]
task = "REQ-1/AC-1.1"
stage = "green"
write = { "src/calc.py" = "def add(a, b):\n    return a - b\n" }

[[step]]
task = "REQ-1/AC-1.1"
stage = "green"
attempt = 2
write = { "src/calc.py" = "def add(a, b):\n    return a + b\n" }
"#;

#[test]
fn a_scripted_worker_from_a_file_completes_a_task() {
    let root = python_repo("script-file");
    let script = temp_dir("script-file-dir").join("worker.toml");
    fs::write(&script, SCRIPT).unwrap();
    let config = parse_config(&format!(
        "[worker]\nkind = \"scripted\"\n[worker.scripted]\nscript = \"{}\"\n",
        script.display()
    ))
    .unwrap();
    let mut worker = from_config(&config.worker, &root, "scripted-1").unwrap();
    assert_eq!(worker.name(), "scripted-1");

    let outcome = run_task(&context(&root), &task(), worker.as_mut());

    assert!(outcome.merged(), "{:?}", outcome.status);
    let stages: Vec<&str> = outcome.attempts.iter().map(|a| a.stage.as_str()).collect();
    assert_eq!(
        stages,
        ["red", "green", "green", "verify", "refactor", "merge"]
    );
    assert_eq!(git(&root, &["show", "tdd/calc:src/calc.py"]), REAL);
    assert_eq!(
        git(&root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );

    // A broken script names the file, line and column, and what to do.
    fs::write(&script, SCRIPT.replace("attempt = 2", "attempt = 1")).unwrap();
    let message = ScriptedWorker::from_file(&script).unwrap_err().to_string();
    let expected = format!(
        "{}:19:1: task `{KEY}`, stage green, attempt 1 is already scripted by the step at line 14",
        script.display()
    );
    assert!(message.starts_with(&expected), "{message}");
}

/// A plugin that cheats at GREEN 1 in every way a program can: it writes the
/// real code, but also rewrites the test, changes a file the task does not
/// own, and writes outside its worktree (its home, beside the worktree, and
/// into the user's checkout), going on when a write fails. GREEN 2 is honest.
const CHEATER: &str = r#"case "$TDD_STAGE-$TDD_ATTEMPT" in
  red-1)
    mkdir -p tests
    printf 'from calc import add\n\n\ndef test_add_returns_the_sum():\n    assert add(2, 3) == 5\n' > tests/test_calc.py ;;
  green-1)
    printf 'def add(a, b):\n    return a + b\n' > src/calc.py
    printf 'def test_nothing():\n    pass\n' > tests/test_calc.py
    printf 'owned by another task\n' > src/other.py
    printf 'mine now\n' > "$HOME/escaped-home.txt"
    printf 'beside the worktree\n' > ../outside-calc.txt
    printf 'in the checkout\n' > ../../../escaped.txt ;;
  green-*)
    printf 'def add(a, b):\n    return a + b\n' > src/calc.py ;;
esac
"#;

/// The cheater, with a home directory of its own.
fn cheater(name: &str, home: &Path) -> CommandWorker {
    CommandWorker::new("cheater", agent(name, CHEATER).display().to_string())
        .env("HOME", home.display().to_string())
        .timeout(Duration::from_secs(60))
}

#[test]
fn every_cheat_of_a_program_is_caught_by_the_audits_and_named() {
    let root = python_repo("cmd-cheat");
    let ctx = context(&root);
    let mut worker = cheater("cmd-cheat", &temp_dir("cmd-cheat-home"));

    let outcome = run_task(&ctx, &task(), &mut worker);

    assert!(outcome.merged(), "{:?}", outcome.status);
    let green: Vec<_> = attempts_at(&outcome, Stage::Green);
    assert_eq!(green[0].outcome, Some(Outcome::Violation));
    assert_eq!(green[1].outcome, Some(Outcome::Passed));
    let reason = |code: &str| {
        green[0]
            .reasons
            .iter()
            .find(|r| r.code == code)
            .map(|r| r.message.clone())
            .unwrap_or_else(|| panic!("no {code} in {:#?}", green[0].reasons))
    };
    assert!(reason("pipeline.test_reverted").contains("tests/test_calc.py"));
    assert!(reason("pipeline.outside_writable").contains("src/other.py"));
    let escaped = reason("pipeline.escaped_worktree");
    assert!(
        escaped.contains(".tdd/worktrees/outside-calc.txt (removed)")
            && escaped.contains("escaped.txt (in your checkout, left as it is)"),
        "{escaped}"
    );
    // What was put back is back; the user's checkout keeps the file (it
    // may be theirs), the stray beside the worktrees is gone.
    assert_eq!(
        git(&root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );
    assert!(
        git(&root, &["ls-tree", "-r", "--name-only", "tdd/calc"])
            .lines()
            .all(|p| p != "src/other.py")
    );
    assert!(root.join("escaped.txt").exists());
    assert!(!root.join(".tdd/worktrees/outside-calc.txt").exists());
}

/// The same cheater under bwrap: each write outside the worktree fails and
/// is named, and none lands (so the audit has nothing to find).
#[test]
fn under_bwrap_a_program_s_writes_to_home_and_checkout_fail_and_are_named() {
    let root = python_repo("cmd-sandbox");
    let home = temp_dir("cmd-sandbox-home");
    let sandbox = Sandbox::choose(SandboxMode::Bwrap).expect("bwrap (scripts/test installs it)");
    let mut worker = cheater("cmd-sandbox", &home).sandbox(sandbox);

    let outcome = run_task(&context(&root), &task(), &mut worker);

    assert!(outcome.merged(), "{:?}", outcome.status);
    let green = attempts_at(&outcome, Stage::Green);
    assert_eq!(green[0].outcome, Some(Outcome::Violation));
    let refused = reasons(green[0], "worker.permission_denied");
    assert_eq!(refused.len(), 3, "{refused:#?}");
    for (said, path) in refused.iter().zip([
        "escaped-home.txt",
        "../outside-calc.txt",
        "../../../escaped.txt",
    ]) {
        assert!(
            said.contains(&format!("{path}: Read-only file system")),
            "{said}"
        );
    }
    assert!(!home.join("escaped-home.txt").exists());
    assert!(!root.join("escaped.txt").exists());
    assert!(!root.join(".tdd/worktrees/outside-calc.txt").exists());
    assert!(reasons(green[0], "pipeline.escaped_worktree").is_empty());
    // The audits inside the worktree still apply.
    assert!(!reasons(green[0], "pipeline.test_reverted").is_empty());
    assert_eq!(green[1].outcome, Some(Outcome::Passed));
}
