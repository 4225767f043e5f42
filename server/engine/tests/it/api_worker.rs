//! The API worker against the fake model server (`tdd-fake-model`), in both
//! dialects: a task through the whole pipeline on a real git repository with
//! real pytest runs, the tools' permissions as the model sees them, retries,
//! outages and where the API key travels.
//!
//! pytest comes from the repository's `.venv` (scripts/test installs it) or
//! `TDD_TEST_VENV`. Without it the pipeline tests fail: a skipped check is
//! not a pass.

use std::path::Path;
use std::time::{Duration, Instant};
use tdd_workers::transcript::TranscriptFormat;

use serde_json::json;
use tdd_core::plan::Task;
use tdd_engine::pipeline::{FailureKind, PipelineContext, TaskStatus, run_task};
use tdd_fake_model::{Config, Dialect, Entry, FakeModel, Fault, Match, RecordedRequest, Reply};
use tdd_gates::{Outcome, Stage};
use tdd_workers::{ApiConfig, ApiDialect, ApiWorker, Backoff, StageRequest, Worker, WorkerError};

mod api;

use crate::support::*;

const API_KEY: &str = "sk-test-4f1d9c";

fn task() -> Task {
    calc_task()
}

fn context(root: &Path) -> PipelineContext {
    python_context(root)
}

/// A worker for `server` with small retry waits (streaming, the default).
fn worker(server: &FakeModel, dialect: ApiDialect) -> ApiWorker {
    worker_with(server, dialect, |_| {})
}

/// As [`worker`], with `tweak` applied to the configuration.
fn worker_with(
    server: &FakeModel,
    dialect: ApiDialect,
    tweak: impl FnOnce(&mut ApiConfig),
) -> ApiWorker {
    let base_url = match dialect {
        ApiDialect::Anthropic => server.base_url(),
        ApiDialect::OpenAiChat => format!("{}/v1", server.base_url()),
    };
    let mut config = ApiConfig::new(dialect, base_url, API_KEY, "fake-model-1");
    config.max_turns = 8;
    config.timeout = Duration::from_secs(10);
    config.max_retries = 2;
    config.backoff = Backoff {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    };
    tweak(&mut config);
    assert!(!format!("{config:?}").contains(API_KEY));
    ApiWorker::new("api-1", config).unwrap()
}

fn when(text: &str, reply: Reply) -> Entry {
    let when = Match {
        last_message_contains: Some(text.to_string()),
        ..Match::default()
    };
    Entry::when(when, reply)
}

fn write_file(path: &str, content: &str) -> Reply {
    Reply::tool("write_file", json!({"path": path, "content": content}))
}

fn finish(summary: &str) -> Reply {
    Reply::tool("finish", json!({"summary": summary}))
}

/// The key only in the dialect's auth header: never in a path or a body.
fn assert_key_only_in_headers(requests: &[RecordedRequest], dialect: ApiDialect) {
    assert!(!requests.is_empty());
    for request in requests {
        assert!(!request.raw_body.contains(API_KEY), "{}", request.raw_body);
        assert!(!request.path.contains(API_KEY), "{}", request.path);
        match dialect {
            ApiDialect::Anthropic => assert_eq!(request.header("x-api-key"), Some(API_KEY)),
            ApiDialect::OpenAiChat => {
                let bearer = format!("Bearer {API_KEY}");
                assert_eq!(request.header("authorization"), Some(bearer.as_str()));
            }
        }
    }
}

/// RED writes the test; GREEN's first attempt tries to rewrite the test
/// (refused by the tool, the model reads why) then writes the code, and is
/// rejected all the same for the refused write; the retry writes the code;
/// REFACTOR answers with text only; the task merges.
fn a_task_merges_through(dialect: ApiDialect, stream: bool, name: &str) {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(when("Stage: RED", write_file(TEST_FILE, RED_TEST)));
    server.push(when("wrote tests/test_calc.py", finish("wrote the test")));
    server.push(when(
        "Stage: GREEN (attempt 1)",
        write_file(TEST_FILE, "def test_x(): pass\n"),
    ));
    server.push(when("is not writable", write_file(IMPL_FILE, REAL)));
    server.push(when("wrote src/calc.py", finish("wrote add")));
    server.push(when(
        "Stage: GREEN (attempt 2)",
        write_file(IMPL_FILE, REAL),
    ));
    server.push(when("wrote src/calc.py", finish("wrote add")));
    // A model that read the key somewhere and says it back.
    server.push(when(
        "Stage: REFACTOR",
        Reply::text(format!("Nothing to improve (saw {API_KEY} in the env).")),
    ));
    let root = python_repo(name);
    let mut worker = worker_with(&server, dialect, |c| c.stream = stream);

    let outcome = run_task(&context(&root), &task(), &mut worker);

    let summary = describe(&outcome);
    assert!(
        matches!(outcome.status, TaskStatus::Merged { .. }),
        "{summary}"
    );
    assert_eq!(server.remaining(), 0, "unused script entries");
    let green = &outcome
        .attempts
        .iter()
        .find(|a| a.stage == Stage::Green)
        .unwrap();
    assert_eq!(green.outcome, Some(Outcome::Violation), "{summary}");
    let denied = green
        .reasons
        .iter()
        .find(|r| r.code == "worker.permission_denied")
        .expect("the refused write is the attempt's evidence");
    assert!(
        denied.message.contains("write_file tests/test_calc.py")
            && denied.message.contains("is not writable in this stage"),
        "{}",
        denied.message
    );
    // The attempt's transcript is the conversation: the refused call, the
    // refusal sent back, and the write that followed.
    let transcript = green.transcript.as_ref().expect("a transcript");
    assert_eq!(transcript.format, TranscriptFormat::Messages);
    let messages: serde_json::Value = serde_json::from_str(&transcript.text).unwrap();
    let text = messages.to_string();
    let refused_at = text.find("is not writable in this stage").expect(&text);
    assert!(text[..refused_at].contains("write_file"), "{text}");
    assert!(text[refused_at..].contains("src/calc.py"), "{text}");
    let refactor = outcome
        .attempts
        .iter()
        .find(|a| a.stage == Stage::Refactor)
        .unwrap();
    let said = &refactor.transcript.as_ref().unwrap().text;
    assert!(
        !said.contains(API_KEY) && said.contains("saw [redacted] in the env"),
        "{said}"
    );
    assert_eq!(git(&root, &["show", "tdd/calc:src/calc.py"]), REAL);
    assert_eq!(
        git(&root, &["show", "tdd/calc:tests/test_calc.py"]),
        RED_TEST
    );

    let requests = server.requests();
    let expected = match dialect {
        ApiDialect::Anthropic => Dialect::Anthropic,
        ApiDialect::OpenAiChat => Dialect::OpenAiChat,
    };
    assert!(requests.iter().all(|r| r.dialect == Some(expected)));
    // The refusal went back to the model as the tool's result.
    let refused = requests
        .iter()
        .find(|r| r.raw_body.contains("is not writable in this stage"))
        .expect("a request carrying the refused write");
    let last = refused.body["messages"].as_array().unwrap().last().unwrap();
    match dialect {
        ApiDialect::Anthropic => {
            assert_eq!(last["content"][0]["type"], "tool_result");
            assert_eq!(last["content"][0]["is_error"], true);
        }
        ApiDialect::OpenAiChat => assert_eq!(last["role"], "tool"),
    }
    let tools: Vec<&str> = refused.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["name"]
                .as_str()
                .or(t["function"]["name"].as_str())
                .unwrap()
        })
        .collect();
    for tool in ["search_text", "run_tests", "finish"] {
        assert!(tools.contains(&tool), "{tools:?}");
    }
    for request in &requests {
        assert_eq!(request.body["stream"].as_bool().unwrap_or(false), stream);
        let usage = request.body["stream_options"]["include_usage"].as_bool();
        let asked = dialect == ApiDialect::OpenAiChat && stream;
        assert_eq!(usage, asked.then_some(true), "{}", request.raw_body);
    }
    // Every attempt's usage counts its model calls and the time they took.
    for attempt in outcome.attempts.iter().filter(|a| a.stage != Stage::Verify) {
        if let Some(usage) = attempt.usage {
            assert!(usage.calls >= 1, "{attempt:?}");
        }
    }
    assert_key_only_in_headers(&requests, dialect);
}

#[test]
fn an_anthropic_worker_takes_a_task_to_merge_streaming() {
    a_task_merges_through(ApiDialect::Anthropic, true, "api-anthropic");
}

#[test]
fn an_openai_chat_worker_takes_a_task_to_merge_streaming() {
    a_task_merges_through(ApiDialect::OpenAiChat, true, "api-openai");
}

#[test]
fn an_anthropic_worker_takes_a_task_to_merge_with_json_replies() {
    a_task_merges_through(ApiDialect::Anthropic, false, "api-anthropic-json");
}

#[test]
fn an_openai_chat_worker_takes_a_task_to_merge_with_json_replies() {
    a_task_merges_through(ApiDialect::OpenAiChat, false, "api-openai-json");
}

#[test]
fn a_sustained_server_error_is_a_provider_outage() {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    for _ in 0..3 {
        server.push(Fault::ServerError);
    }
    let root = python_repo("api-outage");
    let mut worker = worker(&server, ApiDialect::OpenAiChat);

    let outcome = run_task(&context(&root), &task(), &mut worker);

    let message = red_outage(&outcome);
    assert!(
        message.contains("500") && message.contains("3 tries"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 3, "the first try and 2 retries");
    assert_eq!(server.remaining(), 0);
}

/// An outage after the model answered keeps what those answers used (issue
/// 13: a failed attempt lost the usage of its calls): the attempt's usage
/// counts the one answered call, as the fake model's log says.
#[test]
fn an_outage_after_an_answer_keeps_the_answers_usage() {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(when("Stage: RED", write_file(TEST_FILE, RED_TEST)));
    for _ in 0..3 {
        server.push(Fault::ServerError);
    }
    let root = python_repo("api-outage-usage");
    let mut worker = worker(&server, ApiDialect::OpenAiChat);

    let outcome = run_task(&context(&root), &task(), &mut worker);

    assert!(
        matches!(
            outcome.status,
            TaskStatus::Failed {
                kind: FailureKind::ProviderOutage,
                ..
            }
        ),
        "{:?}",
        outcome.status
    );
    let answered = server
        .requests()
        .iter()
        .filter(|r| !matches!(r.outcome, tdd_fake_model::Outcome::Fault { .. }))
        .count();
    assert_eq!(answered, 1);
    let red = &outcome.attempts[0];
    let usage = red.usage.expect("the outage attempt keeps its usage");
    assert_eq!(usage.calls as usize, answered, "{usage:?}");
}

/// A stage request in a plain directory, for the worker alone.
fn request(name: &str, writable: &[&str]) -> StageRequest {
    StageRequest {
        task: task(),
        stage: Stage::Red,
        worktree: temp_dir(name),
        writable: writable.iter().map(|w| w.to_string()).collect(),
        feedback: None,
        attempt: 1,
        tests: None,
        cancel: Default::default(),
        notice: None,
    }
}

#[test]
fn a_rate_limit_is_waited_out_as_retry_after_says() {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(Fault::RateLimited {
        retry_after_secs: 1,
    });
    server.push(write_file(TEST_FILE, RED_TEST));
    server.push(finish("done"));
    let request = request("api-429", &[TEST_FILE]);
    let mut worker = worker(&server, ApiDialect::Anthropic);

    let started = Instant::now();
    let report = worker.perform(&request).unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(report.summary.starts_with("done"), "{}", report.summary);
    assert_eq!(read(&request.worktree, TEST_FILE), RED_TEST);
    assert_eq!(server.requests().len(), 3);
    assert_key_only_in_headers(&server.requests(), ApiDialect::Anthropic);
}

#[test]
fn a_malformed_body_is_retried_and_an_unknown_tool_is_told_to_the_model() {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(Fault::MalformedJson);
    server.push(Fault::UnknownTool {
        name: "run_shell".to_string(),
    });
    server.push(when(
        "unknown tool `run_shell`",
        finish("gave up on the shell"),
    ));
    let request = request("api-unknown", &[TEST_FILE]);
    let mut worker = worker(&server, ApiDialect::OpenAiChat);

    let report = worker.perform(&request).unwrap();

    assert!(
        report.summary.starts_with("gave up on the shell"),
        "{}",
        report.summary
    );
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.remaining(), 0);
}

#[test]
fn a_refused_key_is_an_outage_at_once_and_the_key_is_not_quoted() {
    let server = FakeModel::start(Config::with_key("another-key")).unwrap();
    let request = request("api-401", &[TEST_FILE]);
    let mut worker = worker(&server, ApiDialect::Anthropic);

    let error = worker.perform(&request).unwrap_err();

    match error {
        WorkerError::ProviderOutage(message) => {
            assert!(
                message.contains("401") && message.contains("API key"),
                "{message}"
            );
            assert!(!message.contains(API_KEY), "{message}");
            // The provider quoted the key; the worker reports it redacted.
            assert!(
                message.contains("Incorrect API key provided: [redacted]"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 1, "a refused key is not retried");
}
