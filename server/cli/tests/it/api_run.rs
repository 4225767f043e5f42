//! `run` with `[worker] kind = "api"`: the binary drives a task to merged
//! through a model behind the OpenAI chat API (the fake model server), with
//! the key read from the environment, and the key appears nowhere the
//! project keeps (the store, the output) — only in the request headers.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{fresh_dir, git, python_project, venv_bin};
use serde_json::json;
use tdd_engine::store::Queries;
use tdd_fake_model::{Config, Entry, FakeModel, Match, Reply};
use tdd_test_support::succeeded;
use tdd_test_support::{NEGATE_PRD, commit_with_config};

const API_KEY: &str = "sk-cli-test-7c2e";

fn when(text: &str, reply: Reply) -> Entry {
    let when = Match {
        last_message_contains: Some(text.to_string()),
        ..Match::default()
    };
    Entry::when(when, reply)
}

fn project(name: &str, base_url: &str) -> std::path::PathBuf {
    let root = fresh_dir(name);
    python_project(&root, &[("neg.prd.md", NEGATE_PRD)]);
    let pytest = venv_bin().join("pytest").canonicalize().unwrap();
    let config = format!(
        "[project]\nlanguage = \"python\"\ntest_command = \"{}\"\n\n[worker]\nkind = \"api\"\ncount = 1\n\n[worker.api]\ndialect = \"openai_chat\"\nbase_url = \"{base_url}\"\nmodel = \"fake-model-1\"\napi_key_env = \"TDD_TEST_MODEL_KEY\"\n\n[pricing.fake-model-1]\ninput = 2.0\noutput = 10.0\n",
        pytest.display()
    );
    commit_with_config(&root, &config);
    root
}

fn tdd(root: &Path, args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"));
    // The most verbose logs: the key must not be in them either.
    cmd.args(args)
        .current_dir(root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("TDD_LOG", "trace");
    match key {
        Some(key) => cmd.env("TDD_TEST_MODEL_KEY", key),
        None => cmd.env_remove("TDD_TEST_MODEL_KEY"),
    };
    cmd.output().unwrap()
}

#[test]
fn a_configured_api_worker_runs_a_task_to_merged_and_the_key_stays_in_the_headers() {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(when(
        "Stage: RED",
        Reply::tool(
            "write_file",
            json!({"path": "tests/test_negate.py", "content": "from negate import negate\n\n\ndef test_negate():\n    assert negate(7) == -7\n"}),
        )
        .with_usage(1200, 80, 0),
    ));
    server.push(when(
        "wrote tests/test_negate.py",
        Reply::tool("finish", json!({"summary": "test written"})).with_usage(300, 20, 1000),
    ));
    server.push(when(
        "Stage: GREEN",
        Reply::tool(
            "write_file",
            json!({"path": "src/negate.py", "content": "def negate(x):\n    return -x\n"}),
        ),
    ));
    server.push(when(
        "wrote src/negate.py",
        Reply::tool("finish", json!({"summary": "negate written"})),
    ));
    // A model that found the key (in the environment, say) and says it.
    server.push(when(
        "Stage: REFACTOR",
        Reply::text(format!(
            "Nothing to improve; {API_KEY} is in the environment."
        )),
    ));
    let root = project("api-run", &format!("{}/v1", server.base_url()));

    let decompose = tdd(&root, &["decompose", "neg.prd.md"], None);
    succeeded(&decompose, "decompose");

    // Without the key in the environment: a clear refusal naming the variable.
    let refused = tdd(&root, &["run", "neg.prd.md", "--plain"], None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("TDD_TEST_MODEL_KEY, which is not set"),
        "{stderr}"
    );
    assert!(server.requests().is_empty());

    let out = tdd(&root, &["run", "neg.prd.md", "--plain"], Some(API_KEY));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("REQ-1/AC-1.1     merged"), "{stdout}");
    assert_eq!(server.remaining(), 0);
    assert_eq!(
        git(&root, &["show", "tdd/neg:src/negate.py"]),
        "def negate(x):\n    return -x\n"
    );

    // RED's two model calls, summed on its attempt (OpenAI counts cached
    // tokens inside the input: 1200 + 300 + 1000), priced from [pricing]:
    // 2500 in at $2 and 100 out at $10 per million.
    let show = tdd(&root, &["tasks", "show", "REQ-1/AC-1.1"], None);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.contains("model  2 model calls, 2500 tokens in (1000 cached), 100 out, $0.0060,"),
        "{show}"
    );
    let status = tdd(&root, &["status"], None);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("run 1: 5 model calls"), "{status}");

    // Sent as the bearer token, and kept nowhere: not in the store (events,
    // attempts, evidence), not in the output.
    let bearer = format!("Bearer {API_KEY}");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(bearer.as_str()))
    );
    assert!(stderr.contains("TRACE") || stderr.contains("DEBUG") || !stderr.is_empty());
    assert!(!stdout.contains(API_KEY) && !stderr.contains(API_KEY));
    // Every file of the project: the database with its event log and WAL,
    // the logs, the worktrees and the git objects (trailers, commits).
    let mut searched = 0;
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                searched += 1;
                let found = bytes
                    .windows(API_KEY.len())
                    .any(|w| w == API_KEY.as_bytes());
                assert!(!found, "the key is in {}", path.display());
            }
        }
    }
    assert!(searched > 20, "searched only {searched} files");
    // The event log, read back as text (the file search above would miss a
    // key stored compressed or split across pages).
    let db = root.join(".tdd/orchestrator.db");
    let reader = tdd_engine::store::Reader::open(&db).unwrap();
    let events = reader.read(|tx| tx.events_after(0, 10_000)).unwrap();
    assert!(events.iter().any(|e| e.kind == "stage.attempt"));
    for event in &events {
        assert!(!format!("{event:?}").contains(API_KEY), "{event:?}");
    }

    // What a panel reads: the snapshot, every event, every task's detail
    // (attempts, reports, diffs) and the metrics, as JSON.
    let view_reader = tdd_engine::view::open(&root).unwrap().unwrap();
    let snapshot = tdd_engine::view::snapshot(&view_reader, &root).unwrap();
    let mut panel = vec![
        serde_json::to_string(&snapshot).unwrap(),
        serde_json::to_string(&tdd_engine::view::events_after(&view_reader, 0, 10_000).unwrap())
            .unwrap(),
        serde_json::to_string(&tdd_engine::view::metrics(&view_reader).unwrap()).unwrap(),
    ];
    for task in &snapshot.tasks {
        let detail =
            tdd_engine::view::task_detail(&view_reader, &root, &snapshot, None, &task.key).unwrap();
        assert!(!detail.attempts.is_empty());
        panel.push(serde_json::to_string(&detail).unwrap());
    }
    for text in &panel {
        assert!(!text.contains(API_KEY), "the key is in the panel's view");
    }
    // The transcripts are there, with the key the model repeated redacted.
    assert!(
        panel
            .iter()
            .any(|t| t.contains("[redacted] is in the environment")),
        "no transcript with the redacted key in the task details"
    );

    // And the daemon's SSE stream of the whole log, with its own logs at
    // the most verbose level.
    let dirs = fresh_dir("api-run-daemon");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"));
    serve
        .args(["serve", "--port", "0"])
        .current_dir(&root)
        .env("XDG_CONFIG_HOME", dirs.join("config"))
        .env("XDG_DATA_HOME", dirs.join("data"))
        .env("TDD_LOG", "trace")
        .env("TDD_TEST_MODEL_KEY", API_KEY)
        .stderr(std::fs::File::create(dirs.join("serve.log")).unwrap());
    let (mut daemon, addr, token) = crate::support::serve(serve);
    let (status, projects) = crate::support::http_get(&addr, &token, "/api/v1/projects");
    assert_eq!(status, 200);
    let id = projects[0]["id"].as_str().unwrap().to_string();
    let last = events.last().unwrap().seq;
    let streamed = crate::support::sse(&addr, &token, &id, None, |e| e["seq"] == last);
    assert_eq!(streamed.len(), events.len());
    for entry in &streamed {
        assert!(!entry.to_string().contains(API_KEY), "{entry}");
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let log = std::fs::read_to_string(dirs.join("serve.log")).unwrap();
    assert!(!log.contains(API_KEY), "the key is in the daemon's log");
}
