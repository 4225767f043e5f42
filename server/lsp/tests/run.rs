//! The run commands through the protocol: `tdd.run` on a real Python
//! project with a scripted worker, its `tdd/runEvent` notifications, and
//! `tdd.pause` / `tdd.resetBreaker` answering clearly when there is nothing
//! to act on.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::TestClient;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn pytest() -> PathBuf {
    let venv = std::env::var_os("TDD_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let bin = venv.join("bin/pytest");
    assert!(
        bin.exists(),
        "pytest not found at {}: run ./scripts/test, which installs it",
        bin.display()
    );
    bin.canonicalize().unwrap()
}

const PRD: &str = "# Negation\n\nA tiny library.\n\n## Requirements\n\n### REQ-1 Negate\n\nAs a user, I want a number negated so that I get its opposite.\n\nModule: src/negate.py\nTests: tests/test_negate.py\n\nAcceptance criteria:\n- AC-1.1: WHEN the user negates 7 THE SYSTEM SHALL return -7.\n";

const SCRIPT: &str = r#"[[step]]
task = "REQ-1/AC-1.1"
stage = "red"
write = { "tests/test_negate.py" = "from negate import negate\n\n\ndef test_negate():\n    assert negate(7) == -7\n" }

[[step]]
task = "REQ-1/AC-1.1"
stage = "green"
write = { "src/negate.py" = "def negate(x):\n    return -x\n" }
"#;

/// A committed Python project whose config names a scripted worker and
/// pytest by its absolute path (the server's PATH is the test's).
fn project(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("lsp-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["config", "user.name", "Ada Tester"]);
    git(&root, &["config", "user.email", "ada@example.com"]);
    write(&root, ".gitignore", "__pycache__/\n*.pyc\n");
    write(
        &root,
        "pyproject.toml",
        "[project]\nname = \"neg\"\nversion = \"0.1.0\"\n",
    );
    write(&root, "pytest.ini", "[pytest]\ntestpaths = tests\n");
    write(
        &root,
        "conftest.py",
        "import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent / \"src\"))\n",
    );
    write(&root, "src/README", "sources\n");
    write(&root, "neg.prd.md", PRD);
    write(&root, "script.toml", SCRIPT);
    write(
        &root,
        ".tdd/config.toml",
        &format!(
            "[project]\nlanguage = \"python\"\ntest_command = \"{}\"\n\n[worker]\nkind = \"scripted\"\ncount = 1\n\n[worker.scripted]\nscript = \"script.toml\"\n",
            pytest().display()
        ),
    );
    write(&root, ".tdd/.gitignore", "*\n!config.toml\n!.gitignore\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "init"]);
    root
}

async fn execute(client: &mut TestClient, command: &str, args: Value) -> Value {
    let id = client
        .request_nowait(
            "workspace/executeCommand",
            json!({ "command": command, "arguments": [args] }),
        )
        .await;
    client.response(id).await
}

/// The message that says how a run ended (`run 1 completed: …`).
async fn run_end_message(client: &mut TestClient) -> String {
    let message = client
        .wait_for(|m| {
            m["method"] == "window/showMessage"
                && m["params"]["message"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("run "))
        })
        .await;
    message["params"]["message"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reports_every_stage_as_notifications_and_merges() {
    let root = project("panel");
    let root_uri = format!("file://{}", root.display());
    let prd_uri = format!("{root_uri}/neg.prd.md");
    let mut client = TestClient::start();
    client
        .initialize_in(&root_uri, json!({ "panel": true }))
        .await;

    // Not decomposed yet: the run starts, then says why it could not.
    let pause = execute(&mut client, "tdd.pause", json!({})).await;
    assert!(
        pause["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no run is in progress"),
        "{pause}"
    );

    let decompose = execute(&mut client, "tdd.decompose", json!({ "uri": prd_uri })).await;
    assert!(decompose.get("error").is_none(), "{decompose}");

    let started = execute(&mut client, "tdd.run", json!({ "uri": prd_uri })).await;
    assert_eq!(started["result"]["started"], json!(true), "{started}");
    let mut events = Vec::new();
    loop {
        let event = client.notification("tdd/runEvent").await;
        let done = event["kind"] == "finished";
        events.push(event);
        if done {
            break;
        }
    }
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"started"), "{events:?}");
    let stages: Vec<(&str, bool)> = events
        .iter()
        .filter(|e| e["kind"] == "attempt")
        .map(|e| (e["stage"].as_str().unwrap(), e["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        stages,
        [
            ("red", true),
            ("green", true),
            ("verify", true),
            ("refactor", true),
            ("merge", true)
        ],
        "{events:?}"
    );
    let red = events
        .iter()
        .find(|e| e["kind"] == "attempt" && e["stage"] == "red")
        .unwrap();
    assert!(
        red["evidence"].as_str().unwrap().contains("missing symbol"),
        "{red}"
    );
    let ended = events.iter().find(|e| e["kind"] == "taskEnded").unwrap();
    assert_eq!(ended["status"], "merged");
    assert_eq!(events.last().unwrap()["status"], "completed");
    let text = run_end_message(&mut client).await;
    assert!(text.contains("completed: 1 merged into tdd/neg"), "{text}");

    // Nothing to reset: a clear answer, not an error.
    let reset = execute(
        &mut client,
        "tdd.resetBreaker",
        json!({ "scope": "worker", "name": "w1" }),
    )
    .await;
    assert!(
        reset.get("error").is_some() || reset["result"]["reset"] == json!(false),
        "{reset}"
    );
    // No human worker waits: `tdd.done` says so, naming the task.
    let done = execute(&mut client, "tdd.done", json!({ "task": "REQ-1/AC-1.1" })).await;
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .contains("REQ-1/AC-1.1 is not waiting for you"),
        "{done}"
    );
    let bad = execute(
        &mut client,
        "tdd.resetBreaker",
        json!({ "scope": "planet", "name": "x" }),
    )
    .await;
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("scope"),
        "{bad}"
    );
}

/// A client that did not opt in to the panel protocol (Helix, a plain LSP
/// client) gets no `tdd/` notification during a run: only the standard
/// message when it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_panel_opt_in_gets_no_tdd_notifications() {
    let root = project("plain");
    let root_uri = format!("file://{}", root.display());
    let prd_uri = format!("{root_uri}/neg.prd.md");
    let mut client = TestClient::start();
    client.initialize_in(&root_uri, json!({})).await;
    let decompose = execute(&mut client, "tdd.decompose", json!({ "uri": prd_uri })).await;
    assert!(decompose.get("error").is_none(), "{decompose}");
    let started = execute(&mut client, "tdd.run", json!({ "uri": prd_uri })).await;
    assert_eq!(started["result"]["started"], json!(true), "{started}");
    let text = run_end_message(&mut client).await;
    assert!(text.contains("completed: 1 merged into tdd/neg"), "{text}");
    assert_eq!(client.unread("tdd/runEvent"), 0);
}
