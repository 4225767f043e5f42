//! The agent-CLI workers with the real CLIs, Claude Code and Codex, against
//! the fake model server (`tdd-fake-model`): the calc task through RED →
//! GREEN → VERIFY → REFACTOR → merge on a real git repository with real
//! pytest runs, a failing model server as a provider outage, and the fake
//! model's cheater behind them caught by the diff and escape audits.
//!
//! The CLIs are the pinned versions `scripts/test` installs with `npm ci`
//! in tests/agents; pytest comes from the repository's `.venv`. Without
//! them these tests fail: a skipped check is not a pass.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tdd_workers::transcript::TranscriptFormat;

use serde_json::json;
use tdd_core::config::{AgentCli, SandboxMode};
use tdd_engine::pipeline::{TaskStatus, run_task};
use tdd_fake_model::{
    Cheat, Config, Dialect, Entry, FakeModel, Fault, Match, Mode, Outcome, Reply, Solution,
    TaskSolution,
};
use tdd_gates::Stage;
use tdd_workers::{AgentCliWorker, Sandbox, StageRequest, Worker, WorkerError, WorkerReport};

use crate::support::*;

pub const API_KEY: &str = "sk-agent-test-7c2e";
pub const REFACTORED: &str =
    "def add(a, b):\n    \"\"\"The sum of a and b.\"\"\"\n    return a + b\n";

/// The pinned CLI, or a failure saying how to install it.
pub fn cli_program(cli: AgentCli) -> String {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = match cli {
        AgentCli::Aider => "tests/agents/.venv-aider/bin",
        AgentCli::ClaudeCode | AgentCli::Codex => "tests/agents/node_modules/.bin",
    };
    let path = repo
        .canonicalize()
        .unwrap()
        .join(bin)
        .join(cli.default_program());
    assert!(
        path.exists(),
        "{} not found: run ./scripts/test, which installs the pinned agent CLIs in \
         tests/agents (`npm ci`; aider with pip in .venv-aider)",
        path.display()
    );
    path.display().to_string()
}

pub fn model_for(cli: AgentCli) -> &'static str {
    match cli {
        AgentCli::ClaudeCode => "fake-claude-model",
        AgentCli::Codex => "fake-codex-model",
        AgentCli::Aider => "fake-aider-model",
    }
}

pub fn worker(cli: AgentCli, server: &FakeModel) -> AgentCliWorker {
    let base_url = match cli {
        AgentCli::ClaudeCode => server.base_url(),
        AgentCli::Codex | AgentCli::Aider => format!("{}/v1", server.base_url()),
    };
    AgentCliWorker::new("agent-1", cli, cli_program(cli), API_KEY)
        .model(model_for(cli))
        .base_url(base_url)
        .timeout(Duration::from_secs(120))
}

/// Times each attempt of the wrapped worker, for the report.
struct Timed<W> {
    inner: W,
    times: Vec<(Stage, Duration)>,
}

impl<W: Worker> Worker for Timed<W> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let started = Instant::now();
        let result = self.inner.perform(request);
        self.times.push((request.stage, started.elapsed()));
        result
    }
}

fn when(text: impl Into<String>, reply: Reply) -> Entry {
    let when = Match {
        last_message_contains: Some(text.into()),
        ..Match::default()
    };
    Entry::when(when, reply)
}

/// A reply that writes `content` to `rel` with the CLI's own tool.
fn write(cli: AgentCli, worktree: &Path, rel: &str, content: &str) -> Reply {
    let reply = match cli {
        AgentCli::Aider => unreachable!("aider has no tool loop to script: see aider.rs"),
        AgentCli::ClaudeCode => {
            let path = worktree.join(rel).display().to_string();
            Reply::tool("Write", json!({"file_path": path, "content": content}))
        }
        AgentCli::Codex => {
            let dir = Path::new(rel).parent().unwrap().display();
            let cmd = format!("mkdir -p {dir} && cat > {rel} <<'EOF'\n{content}EOF");
            Reply::tool("exec_command", json!({"cmd": cmd}))
        }
    };
    reply.with_usage(1200, 60, 800)
}

/// What the tool result of a write says, to pick the follow-up reply.
fn wrote(cli: AgentCli, worktree: &Path, rel: &str) -> String {
    match cli {
        AgentCli::Aider => unreachable!("aider has no tool loop to script: see aider.rs"),
        AgentCli::ClaudeCode => worktree.join(rel).display().to_string(),
        AgentCli::Codex => "Process exited with code 0".to_string(),
    }
}

fn done(text: &str) -> Reply {
    Reply::text(text).with_usage(1500, 20, 1000)
}

fn a_task_merges_through(cli: AgentCli, name: &str) {
    let root = python_repo(name);
    let ctx = python_context(&root);
    let task = calc_task();
    let wt = ctx.project.worktree_path(&task.key);
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(when("Stage: RED", write(cli, &wt, TEST_FILE, RED_TEST)));
    server.push(when(wrote(cli, &wt, TEST_FILE), done("Wrote the test.")));
    server.push(when("Stage: GREEN", write(cli, &wt, IMPL_FILE, REAL)));
    server.push(when(wrote(cli, &wt, IMPL_FILE), done("Wrote add.")));
    match cli {
        AgentCli::Aider => unreachable!("aider has no tool loop to script: see aider.rs"),
        // Claude Code's Write refuses to replace a file it has not read.
        AgentCli::ClaudeCode => {
            let path = wt.join(IMPL_FILE).display().to_string();
            let read = Reply::tool("Read", json!({"file_path": path})).with_usage(900, 30, 0);
            server.push(when("Stage: REFACTOR", read));
            server.push(when("return a + b", write(cli, &wt, IMPL_FILE, REFACTORED)));
        }
        AgentCli::Codex => {
            server.push(when(
                "Stage: REFACTOR",
                write(cli, &wt, IMPL_FILE, REFACTORED),
            ));
        }
    }
    server.push(when(wrote(cli, &wt, IMPL_FILE), done("Added a docstring.")));
    let mut worker = Timed {
        inner: worker(cli, &server),
        times: Vec::new(),
    };

    let started = Instant::now();
    let outcome = run_task(&ctx, &task, &mut worker);
    eprintln!(
        "{name}: task took {:?}; worker attempts: {:?}",
        started.elapsed(),
        worker.times
    );

    assert!(
        matches!(outcome.status, TaskStatus::Merged { .. }),
        "{}",
        describe(&outcome)
    );
    assert_eq!(server.remaining(), 0, "unused script entries");
    // Every worker attempt recorded its usage: tokens, and a cost only
    // where the CLI reports one.
    for attempt in only_the_task_merged(&root, &outcome) {
        let usage = attempt.usage.unwrap_or_else(|| panic!("{attempt:?}"));
        assert!(usage.calls >= 2, "{usage:?}");
        assert!(
            usage.input_tokens >= 2_000 && usage.output_tokens >= 50,
            "{usage:?}"
        );
        assert!(usage.cached_tokens >= 800, "{usage:?}");
        match cli {
            AgentCli::Aider => unreachable!("aider has no tool loop to script: see aider.rs"),
            AgentCli::ClaudeCode => assert!(usage.cost_usd.is_some_and(|c| c > 0.0), "{usage:?}"),
            AgentCli::Codex => assert_eq!(usage.cost_usd, None, "{usage:?}"),
        }
        // The CLI's JSON event stream is the attempt's transcript.
        let transcript = attempt.transcript.as_ref().expect("a transcript");
        assert_eq!(transcript.format, TranscriptFormat::JsonLines);
        let events: Vec<serde_json::Value> = transcript
            .text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert!(events.len() >= 2, "{}", transcript.text);
        assert!(!transcript.text.contains(server.api_key()));
    }

    // Only model calls, all for the configured model, all answered from the
    // script, the key only in the auth header.
    let requests = server.requests();
    let dialect = match cli {
        AgentCli::Aider => unreachable!("aider has no tool loop to script: see aider.rs"),
        AgentCli::ClaudeCode => Dialect::Anthropic,
        AgentCli::Codex => Dialect::OpenAiResponses,
    };
    let expected_calls = match cli {
        AgentCli::Aider => unreachable!("aider has no tool loop to script: see aider.rs"),
        AgentCli::ClaudeCode => 7,
        AgentCli::Codex => 6,
    };
    assert_eq!(requests.len(), expected_calls, "{:#?}", paths(&requests));
    let counted: u32 = outcome
        .attempts
        .iter()
        .filter_map(|a| a.usage)
        .map(|u| u.calls)
        .sum();
    assert_eq!(
        counted as usize, expected_calls,
        "calls the attempts recorded"
    );
    for request in &requests {
        assert_eq!(
            request.dialect,
            Some(dialect),
            "{} {}",
            request.method,
            request.path
        );
        assert_eq!(request.outcome, Outcome::Reply, "{}", request.path);
        assert_eq!(request.body["model"], model_for(cli), "{}", request.path);
        assert!(!request.raw_body.contains(API_KEY));
        let auth = (request.header("x-api-key"), request.header("authorization"));
        let bearer = format!("Bearer {API_KEY}");
        match cli {
            AgentCli::Aider => unreachable!("aider has no tool loop to script: see aider.rs"),
            AgentCli::ClaudeCode => assert_eq!(auth.0, Some(API_KEY)),
            AgentCli::Codex => assert_eq!(auth.1, Some(bearer.as_str())),
        }
    }
}

/// The refactored calc task merged, and the CLI left nothing else behind in
/// the worktree: the feature branch holds the project and the task's two
/// files. Returns the attempts of the worker stages (one each).
pub fn only_the_task_merged<'o>(
    root: &Path,
    outcome: &'o tdd_engine::pipeline::TaskOutcome,
) -> Vec<&'o tdd_engine::pipeline::AttemptRecord> {
    assert_eq!(git(root, &["show", "tdd/calc:src/calc.py"]), REFACTORED);
    assert_eq!(
        git(root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );
    let files = git(root, &["ls-tree", "-r", "--name-only", "tdd/calc"]);
    let expected = [".gitignore", "conftest.py", "pytest.ini", "src/README"];
    let mut expected: Vec<&str> = expected.into_iter().chain([IMPL_FILE, TEST_FILE]).collect();
    expected.sort();
    assert_eq!(files.lines().collect::<Vec<_>>(), expected);
    let worked: Vec<_> = outcome
        .attempts
        .iter()
        .filter(|a| matches!(a.stage, Stage::Red | Stage::Green | Stage::Refactor))
        .collect();
    assert_eq!(worked.len(), 3, "{}", describe(outcome));
    worked
}

fn paths(requests: &[tdd_fake_model::RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.outcome))
        .collect()
}

#[test]
fn claude_code_takes_a_task_to_merge() {
    a_task_merges_through(AgentCli::ClaudeCode, "agent-claude");
}

#[test]
fn codex_takes_a_task_to_merge() {
    a_task_merges_through(AgentCli::Codex, "agent-codex");
}

fn an_overloaded_server_is_an_outage(cli: AgentCli, name: &str, fault: Fault) {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    for _ in 0..6 {
        server.push(fault.clone());
    }
    let root = python_repo(name);
    let worker = match cli {
        AgentCli::Aider => unreachable!("aider has no tool loop to script: see aider.rs"),
        // One retry instead of ten with backoff up to 40 s.
        AgentCli::ClaudeCode => worker(cli, &server).env("CLAUDE_CODE_MAX_RETRIES", "1"),
        AgentCli::Codex => worker(cli, &server).extra_args([
            "-c",
            "model_providers.tdd.request_max_retries=0",
            "-c",
            "model_providers.tdd.stream_max_retries=1",
        ]),
    };
    let mut worker = Timed {
        inner: worker,
        times: Vec::new(),
    };

    let outcome = run_task(&python_context(&root), &calc_task(), &mut worker);
    eprintln!("{name}: worker attempts: {:?}", worker.times);

    let message = red_outage(&outcome);
    assert!(
        message.contains("provider outage") && message.contains("overloaded"),
        "{message}"
    );
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        2,
        "the first try and one retry: {:#?}",
        paths(&requests)
    );
    assert!(requests.iter().all(|r| r.body["model"] == model_for(cli)));
}

#[test]
fn claude_code_reports_an_overloaded_server_as_an_outage() {
    an_overloaded_server_is_an_outage(AgentCli::ClaudeCode, "agent-claude-529", Fault::Overloaded);
}

#[test]
fn codex_reports_an_overloaded_server_as_an_outage() {
    an_overloaded_server_is_an_outage(AgentCli::Codex, "agent-codex-503", Fault::Overloaded);
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Claude Code gives up on a refused connection; Codex waits for the
/// network without end, so the attempt's timeout stops it, and the
/// reconnecting it reported makes that an outage too.
#[test]
fn an_unreachable_server_is_an_outage_for_both_clis() {
    let port = closed_port();
    for (cli, base_url, timeout) in [
        (AgentCli::ClaudeCode, format!("http://127.0.0.1:{port}"), 60),
        (AgentCli::Codex, format!("http://127.0.0.1:{port}/v1"), 6),
    ] {
        let root = python_repo(&format!("agent-unreachable-{}", cli.default_program()));
        let mut worker = AgentCliWorker::new("agent-1", cli, cli_program(cli), API_KEY)
            .model(model_for(cli))
            .base_url(base_url)
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .timeout(Duration::from_secs(timeout));
        let started = Instant::now();
        let outcome = run_task(&python_context(&root), &calc_task(), &mut worker);
        eprintln!(
            "{cli:?} unreachable: {:?}: {:?}",
            started.elapsed(),
            outcome.status
        );
        let message = red_outage(&outcome);
        assert!(
            message.contains("onnection") || message.contains("reach"),
            "{cli:?}: {message}"
        );
    }
}

/// A model server that accepts the connection and never answers (issue 13):
/// the CLI waits on it in silence, which used to hold the attempt for its
/// whole timeout (30 minutes by default). With no output and no file change
/// for `idle_timeout_secs` (here 5 s; the attempt's timeout is 120 s) the
/// attempt ends as a provider outage within that plus 10 s.
#[test]
fn a_server_that_never_answers_is_an_outage_after_the_idle_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept every connection and keep it open, saying nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let idle = Duration::from_secs(5);
    for (cli, base_url) in [
        (AgentCli::ClaudeCode, format!("http://127.0.0.1:{port}")),
        (AgentCli::Codex, format!("http://127.0.0.1:{port}/v1")),
    ] {
        let root = python_repo(&format!("agent-silent-{}", cli.default_program()));
        let mut worker = AgentCliWorker::new("agent-1", cli, cli_program(cli), API_KEY)
            .model(model_for(cli))
            .base_url(base_url)
            .timeout(Duration::from_secs(120))
            .idle_timeout(idle);
        let started = Instant::now();
        let outcome = run_task(&python_context(&root), &calc_task(), &mut worker);
        let took = started.elapsed();
        eprintln!("{cli:?} silent server: {took:?}: {:?}", outcome.status);
        let message = red_outage(&outcome);
        assert!(
            message.contains("no output and no file change for 5 s"),
            "{message}"
        );
        assert!(
            took < idle + Duration::from_secs(10),
            "{cli:?} took {took:?}"
        );
    }
}

/// The fake model's cheater behind a real CLI: GREEN attempt 1 cheats, the
/// retry is honest. The diff audit or the escape audit catches the cheat,
/// names it in the attempt's evidence, and the task still merges.
/// The fake model solving the calc task with `cheat` at GREEN 1 (writing
/// the files `instead`, absolute paths, when given).
fn cheater(cheat: Cheat, instead: &[PathBuf]) -> FakeModel {
    let mut task = TaskSolution::new(calc_task().key)
        .red(TEST_FILE, RED_TEST)
        .green(IMPL_FILE, REAL);
    for path in instead {
        task = task.cheat(cheat, path.display().to_string(), "the cheater was here\n");
    }
    let solution = Solution::new().with_task(task);
    let config = Config {
        api_key: API_KEY.to_string(),
        ..Config::default()
    }
    .with_mode(Mode::Cheater(solution, cheat));
    FakeModel::start(config).unwrap()
}

fn a_cheat_is_caught(cli: AgentCli, cheat: Cheat, code: &str, name: &str) {
    a_cheat_is_caught_by(|server| worker(cli, server), cheat, code, name);
}

/// [`a_cheat_is_caught`] with the worker `make` builds for the server.
pub fn a_cheat_is_caught_by(
    make: impl FnOnce(&FakeModel) -> AgentCliWorker,
    cheat: Cheat,
    code: &str,
    name: &str,
) {
    let root = python_repo(name);
    let ctx = python_context(&root);
    let server = cheater(cheat, &[]);
    let mut worker = make(&server);

    let outcome = run_task(&ctx, &calc_task(), &mut worker);

    assert!(outcome.merged(), "{}", describe(&outcome));
    let first = outcome
        .attempts
        .iter()
        .find(|a| a.stage == Stage::Green)
        .unwrap();
    assert_eq!(
        first.outcome,
        Some(tdd_gates::Outcome::Violation),
        "{}",
        describe(&outcome)
    );
    assert!(
        first.reasons.iter().any(|r| r.code == code),
        "{cheat} not caught as {code}: {}",
        describe(&outcome)
    );
    assert!(
        !root.join(".tdd/worktrees").read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("outside-")),
        "the stray is removed"
    );
    assert_eq!(
        git(&root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );
}

#[test]
fn codex_editing_the_test_in_green_is_put_back_and_rejected() {
    a_cheat_is_caught(
        AgentCli::Codex,
        Cheat::EditTest,
        "pipeline.test_reverted",
        "codex-cheat-edit",
    );
}

#[test]
fn codex_writing_outside_its_worktree_is_caught() {
    a_cheat_is_caught(
        AgentCli::Codex,
        Cheat::WriteOutsideWorktree,
        "pipeline.escaped_worktree",
        "codex-cheat-outside",
    );
}

/// Under `sandbox = "bwrap"` the same cheat never lands: the write beside
/// the worktree fails inside the CLI ("read-only file system"), and the
/// attempt fails naming it.
fn a_write_outside_is_refused_by_the_sandbox(cli: AgentCli, name: &str) {
    let root = python_repo(name);
    let ctx = python_context(&root);
    // The user's home (a stand-in: the CLI's own is a throwaway) and checkout.
    let home = temp_dir(&format!("{name}-home"));
    let targets = [
        home.join("outside-home.txt"),
        root.join("outside-checkout.txt"),
    ];
    let server = cheater(Cheat::WriteOutsideWorktree, &targets);
    let sandbox = Sandbox::choose(SandboxMode::Bwrap).expect("bwrap (scripts/test installs it)");
    let mut worker = worker(cli, &server).sandbox(sandbox);

    let outcome = run_task(&ctx, &calc_task(), &mut worker);

    assert!(outcome.merged(), "{}", describe(&outcome));
    let green = attempts_at(&outcome, Stage::Green);
    assert_eq!(green[0].outcome, Some(tdd_gates::Outcome::Violation));
    let refused = reasons(green[0], "worker.permission_denied").join("\n");
    for name in ["outside-home.txt", "outside-checkout.txt"] {
        assert!(
            refused.contains(name) && refused.contains("sandbox refused"),
            "{name} not named: {refused}\n{}",
            describe(&outcome)
        );
    }
    // Nothing landed: the audit has nothing to see.
    assert!(reasons(green[0], "pipeline.escaped_worktree").is_empty());
    for target in &targets {
        assert!(!target.exists(), "{}", target.display());
    }
}

#[test]
fn under_bwrap_neither_cli_can_write_outside_its_worktree() {
    for (cli, name) in [
        (AgentCli::ClaudeCode, "claude-sandbox"),
        (AgentCli::Codex, "codex-sandbox"),
    ] {
        a_write_outside_is_refused_by_the_sandbox(cli, name);
    }
}

#[test]
fn claude_code_writing_outside_its_worktree_is_caught() {
    a_cheat_is_caught(
        AgentCli::ClaudeCode,
        Cheat::WriteOutsideWorktree,
        "pipeline.escaped_worktree",
        "claude-cheat-outside",
    );
}
