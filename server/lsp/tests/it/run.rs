//! The run commands and the panel protocol through LSP: `tdd.run` on a real
//! Python project with a scripted worker, the `tdd/event` notifications and
//! `tdd/` requests a panel reads, `$/progress` for every client that can show
//! it, nothing custom for a client that did not opt in (Helix), and
//! `tdd.pause` / `tdd.resetBreaker` answering clearly when there is nothing
//! to act on.

use std::path::PathBuf;

use crate::support::TestClient;
use serde_json::{Value, json};

use tdd_test_support::{NEGATE_PRD, NEGATE_SCRIPT, commit_with_config, venv_bin, write};

fn pytest() -> PathBuf {
    venv_bin().join("pytest").canonicalize().unwrap()
}

/// A committed Python project whose config names a scripted worker and
/// pytest by its absolute path (the server's PATH is the test's).
fn project(name: &str) -> PathBuf {
    let root = tdd_test_support::scratch_dir!(&format!("lsp-run-{name}"));
    tdd_test_support::python_project(&root, Some("neg"), &[]);
    write(&root, "neg.prd.md", NEGATE_PRD);
    write(&root, "script.toml", NEGATE_SCRIPT);
    let config = format!(
        "[project]\nlanguage = \"python\"\ntest_command = \"{}\"\n\n[worker]\nkind = \"scripted\"\ncount = 1\n\n[worker.scripted]\nscript = \"script.toml\"\n",
        pytest().display()
    );
    commit_with_config(&root, &config);
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

/// Whether the server sent a request `method` (answered by the test client).
async fn wait_for_request(client: &mut TestClient, method: &str) -> bool {
    for _ in 0..100 {
        if client.server_requests.iter().any(|r| r["method"] == method) {
            return true;
        }
        // Messages are read while waiting on something: ask for one.
        let _ = client.request("tdd/snapshot", Value::Null).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// The titles and commands of the code lenses on `uri`.
async fn lenses(client: &mut TestClient, uri: &str) -> Vec<(String, String, Value)> {
    let lenses = client
        .request(
            "textDocument/codeLens",
            json!({ "textDocument": { "uri": uri } }),
        )
        .await;
    lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let command = &l["command"];
            (
                command["title"].as_str().unwrap().to_string(),
                command["command"].as_str().unwrap().to_string(),
                command["arguments"][0].clone(),
            )
        })
        .collect()
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
    // A client whose code lenses can be refreshed (VS Code's can).
    let capabilities = json!({
        "workspace": { "configuration": true, "codeLens": { "refreshSupport": true } }
    });
    client
        .initialize_with(&root_uri, capabilities, json!({ "panel": true }))
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

    // Code lenses follow the plan: decompose first, then run the requirement.
    client.open(&prd_uri, NEGATE_PRD, 1).await;
    assert_eq!(
        lenses(&mut client, &prd_uri).await,
        [(
            "Decompose to plan its tasks".to_string(),
            "tdd.decompose".to_string(),
            json!({ "uri": prd_uri })
        )]
    );
    let decompose = execute(&mut client, "tdd.decompose", json!({ "uri": prd_uri })).await;
    assert!(decompose.get("error").is_none(), "{decompose}");
    let planned = lenses(&mut client, &prd_uri).await;
    let run_lens = json!({ "uri": prd_uri, "requirement": "REQ-1" });
    assert_eq!(
        planned,
        [
            (
                "▶ Run REQ-1 · 1 task".to_string(),
                "tdd.run".to_string(),
                run_lens.clone()
            ),
            (
                "0/1 merged".to_string(),
                "tdd.status".to_string(),
                json!({})
            )
        ]
    );

    // The run lens's own arguments start the run.
    let started = execute(&mut client, "tdd.run", run_lens).await;
    assert_eq!(started["result"]["started"], json!(true), "{started}");
    let mut events: Vec<Value> = Vec::new();
    loop {
        let event = client.notification("tdd/event").await;
        let done = event["kind"] == "run.finished";
        events.push(event);
        if done {
            break;
        }
    }
    // The follower began before the store existed: it pushed the whole log,
    // decomposition included, numbered without a hole.
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "{events:?}"
    );
    assert_eq!(events[0]["kind"], "task_planned", "{events:?}");
    let stages: Vec<(&str, bool)> = events
        .iter()
        .filter(|e| e["kind"] == "stage.attempt")
        .map(|e| {
            let data = &e["data"];
            (
                data["stage"].as_str().unwrap(),
                data["passed"].as_bool().unwrap(),
            )
        })
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
        .find(|e| e["kind"] == "stage.attempt" && e["data"]["stage"] == "red")
        .unwrap();
    assert_eq!(red["task"], "REQ-1/AC-1.1");
    assert!(
        red["data"]["evidence"]
            .as_str()
            .unwrap()
            .contains("missing symbol"),
        "{red}"
    );
    assert!(
        events.iter().any(|e| e["kind"] == "task.merged"),
        "{events:?}"
    );
    assert_eq!(events.last().unwrap()["data"]["status"], "completed");
    // The lenses' counts moved under an unchanged document: the client was
    // asked to refresh them, and they say so when it does.
    let refreshed = wait_for_request(&mut client, "workspace/codeLens/refresh").await;
    assert!(refreshed, "no workspace/codeLens/refresh during the run");
    let after = lenses(&mut client, &prd_uri).await;
    assert!(
        after.iter().any(|(title, _, _)| title == "1/1 merged"),
        "{after:?}"
    );

    // What a panel opened now reads: the same log, and a snapshot as of its end.
    let log = client.request("tdd/events", json!({ "after": 0 })).await;
    assert_eq!(log["events"].as_array().unwrap(), &events);
    assert_eq!(log["last_seq"], json!(seqs.len()));
    let snapshot = client.request("tdd/snapshot", Value::Null).await;
    assert_eq!(snapshot["last_seq"], json!(seqs.len()));
    assert_eq!(snapshot["tasks"][0]["state"], "done", "{snapshot}");
    assert_eq!(snapshot["tasks"][0]["attempts"], 5, "{snapshot}");
    assert_eq!(snapshot["runs"][0]["status"], "completed", "{snapshot}");
    let page = client
        .request("tdd/events", json!({ "after": 2, "limit": 3 }))
        .await;
    assert_eq!(page["events"].as_array().unwrap(), &events[2..5]);
    let detail = client
        .request("tdd/taskDetail", json!({ "task": "REQ-1/AC-1.1" }))
        .await;
    let stages: Vec<&str> = detail["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(&stages[..2], ["red", "green"], "{detail}");
    assert!(
        detail["stages"][1]["files"][0]["unified"]
            .as_str()
            .unwrap()
            .contains("+    return -x"),
        "{detail}"
    );
    let missing = client
        .request_nowait("tdd/taskDetail", json!({ "task": "REQ-9/AC-9.9" }))
        .await;
    let missing = client.response(missing).await;
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no task `REQ-9/AC-9.9`"),
        "{missing}"
    );
    let metrics = client.request("tdd/metrics", Value::Null).await;
    assert_eq!(metrics["stages"]["red"]["passed"], 1, "{metrics}");
    assert_eq!(metrics["merged_over_time"].as_array().unwrap().len(), 1);
    let merged: Vec<String> = lenses(&mut client, &prd_uri)
        .await
        .into_iter()
        .map(|(title, _, _)| title)
        .collect();
    assert_eq!(merged, ["1/1 merged"]);

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
    // What the person saw along the way, each once.
    for said in [
        "no run is in progress in this project",
        "Decomposed neg.prd.md: 1 tasks in 1 waves",
        "there is no worker breaker named \"w1\"",
        "REQ-1/AC-1.1 is not waiting for you",
        "tdd.resetBreaker needs {\"scope\"",
    ] {
        let shown = client.shown_starting(said).await;
        let kind = if said.starts_with("Decomposed") { 3 } else { 1 };
        assert_eq!(shown["type"], kind, "{shown}");
    }
}

/// The client capabilities Helix sends (helix-lsp's `initialize`), in their
/// wire form: work-done progress yes, no experimental opt-in.
fn helix_capabilities() -> Value {
    json!({
        "workspace": {
            "configuration": true,
            "didChangeConfiguration": { "dynamicRegistration": false },
            "workspaceFolders": true,
            "applyEdit": true,
            "symbol": { "dynamicRegistration": false },
            "executeCommand": { "dynamicRegistration": false },
            "inlayHint": { "refreshSupport": false },
            "workspaceEdit": {
                "documentChanges": true,
                "resourceOperations": ["create", "rename", "delete"],
                "failureHandling": "abort",
                "normalizesLineEndings": false
            },
            "didChangeWatchedFiles": { "dynamicRegistration": true, "relativePatternSupport": false },
            "fileOperations": { "willRename": true, "didRename": true }
        },
        "textDocument": {
            "completion": {
                "completionItem": {
                    "snippetSupport": true,
                    "resolveSupport": { "properties": ["documentation", "detail", "additionalTextEdits"] },
                    "insertReplaceSupport": true,
                    "deprecatedSupport": true,
                    "tagSupport": { "valueSet": [1] }
                },
                "completionItemKind": {}
            },
            "hover": { "contentFormat": ["markdown"] },
            "signatureHelp": {
                "signatureInformation": {
                    "documentationFormat": ["markdown"],
                    "parameterInformation": { "labelOffsetSupport": true },
                    "activeParameterSupport": true
                }
            },
            "rename": { "dynamicRegistration": false, "prepareSupport": true, "honorsChangeAnnotations": false },
            "formatting": { "dynamicRegistration": false },
            "codeAction": {
                "codeActionLiteralSupport": { "codeActionKind": { "valueSet": [
                    "", "quickfix", "refactor", "refactor.extract", "refactor.inline",
                    "refactor.rewrite", "source", "source.organizeImports"
                ] } },
                "isPreferredSupport": true,
                "disabledSupport": true,
                "dataSupport": true,
                "resolveSupport": { "properties": ["edit", "command"] }
            },
            "publishDiagnostics": { "versionSupport": true, "tagSupport": { "valueSet": [1, 2] } },
            "inlayHint": { "dynamicRegistration": false }
        },
        "window": { "workDoneProgress": true },
        "general": { "positionEncodings": ["utf-8", "utf-32", "utf-16"] }
    })
}

/// A Helix-like client (no panel opt-in) on the project at `root`, its PRD
/// decomposed: the client, the root's URI and the PRD's.
async fn helix_decomposed(root: &std::path::Path) -> (TestClient, String, String) {
    let root_uri = format!("file://{}", root.display());
    let prd_uri = format!("{root_uri}/neg.prd.md");
    let mut client = TestClient::start();
    client
        .initialize_with(&root_uri, helix_capabilities(), Value::Null)
        .await;
    let decompose = execute(&mut client, "tdd.decompose", json!({ "uri": prd_uri })).await;
    assert!(decompose.get("error").is_none(), "{decompose}");
    (client, root_uri, prd_uri)
}

/// Helix (no panel opt-in) runs a PRD through `workspace/executeCommand`
/// alone: it sees the run as `$/progress` begin, reports and end, and the
/// closing message, and never a `tdd/` notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helix_gets_progress_and_no_tdd_notifications() {
    let root = project("helix");
    let (mut client, root_uri, prd_uri) = helix_decomposed(&root).await;
    let status = execute(&mut client, "tdd.status", json!({})).await;
    assert!(status.get("error").is_none(), "{status}");
    let started = execute(&mut client, "tdd.run", json!({ "uri": prd_uri })).await;
    assert_eq!(started["result"]["started"], json!(true), "{started}");
    let text = run_end_message(&mut client).await;
    assert!(text.contains("completed: 1 merged into tdd/neg"), "{text}");

    // A requirement with nothing left to run says so.
    let again = execute(
        &mut client,
        "tdd.run",
        json!({ "uri": prd_uri, "requirement": "REQ-1" }),
    )
    .await;
    assert_eq!(again["result"]["started"], json!(true), "{again}");
    let refused = client
        .wait_for(|m| {
            m["method"] == "window/showMessage"
                && m["params"]["message"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("the run could not start"))
        })
        .await;
    assert!(
        refused["params"]["message"]
            .as_str()
            .unwrap()
            .contains("REQ-1 has no task left to run"),
        "{refused}"
    );

    // PRD files changed on disk are validated without being opened: Helix
    // was asked to watch them.
    let registered = client
        .server_requests
        .iter()
        .find(|r| r["method"] == "client/registerCapability")
        .expect("the server asks Helix to watch PRD files");
    let registration = &registered["params"]["registrations"][0];
    assert_eq!(registration["method"], "workspace/didChangeWatchedFiles");
    assert_eq!(
        registration["registerOptions"]["watchers"][0]["globPattern"], "**/*.prd.md",
        "{registered}"
    );
    let other_uri = format!("{root_uri}/other.prd.md");
    write(
        &root,
        "other.prd.md",
        "# Other\n\n## Requirements\n\n### REQ-1 Thing\n\nNo criteria here.\n",
    );
    client
        .notify(
            "workspace/didChangeWatchedFiles",
            json!({ "changes": [{ "uri": other_uri, "type": 1 }] }),
        )
        .await;
    let published = client
        .wait_for(|m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == json!(other_uri)
        })
        .await;
    assert!(
        !published["params"]["diagnostics"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{published}"
    );
    std::fs::remove_file(root.join("other.prd.md")).unwrap();
    client
        .notify(
            "workspace/didChangeWatchedFiles",
            json!({ "changes": [{ "uri": other_uri, "type": 3 }] }),
        )
        .await;
    let cleared = client
        .wait_for(|m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == json!(other_uri)
        })
        .await;
    assert_eq!(cleared["params"]["diagnostics"], json!([]), "{cleared}");

    // The rest of the commands, through executeCommand alone.
    let task = json!({ "task": "REQ-1/AC-1.1" });
    let detail = execute(&mut client, "tdd.taskDetail", task.clone()).await;
    assert_eq!(detail["result"]["task"]["state"], "done", "{detail}");
    assert_eq!(
        detail["result"]["attempts"].as_array().unwrap().len(),
        5,
        "{detail}"
    );
    let breaker = json!({ "scope": "worker", "name": "w1", "reason": "testing" });
    let isolated = execute(&mut client, "tdd.isolateBreaker", breaker.clone()).await;
    assert_eq!(isolated["result"]["isolated"], true, "{isolated}");
    let reset = execute(&mut client, "tdd.resetBreaker", breaker).await;
    assert_eq!(reset["result"]["reset"], true, "{reset}");
    // A merged task: both refuse, saying why.
    let retry = execute(&mut client, "tdd.retry", task.clone()).await;
    assert!(
        retry["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is done: there is nothing to retry"),
        "{retry}"
    );
    let skip = execute(&mut client, "tdd.skip", task.clone()).await;
    assert!(
        skip["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is done: there is nothing to skip"),
        "{skip}"
    );
    let unknown = execute(&mut client, "tdd.nothing", json!({})).await;
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tdd.run"),
        "{unknown}"
    );

    let seen = client.take_backlog();
    let custom: Vec<&Value> = seen
        .iter()
        .chain(&client.server_requests)
        .filter(|m| m["method"].as_str().is_some_and(|m| m.starts_with("tdd/")))
        .collect();
    assert!(custom.is_empty(), "custom messages to Helix: {custom:?}");
    let created = client
        .server_requests
        .iter()
        .find(|r| r["method"] == "window/workDoneProgress/create")
        .expect("the server creates a progress token");
    let token = created["params"]["token"].clone();
    let steps: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "$/progress" && m["params"]["token"] == token)
        .map(|m| &m["params"]["value"])
        .collect();
    let kinds: Vec<&str> = steps.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"begin"), "{steps:?}");
    assert_eq!(kinds.last(), Some(&"end"), "{steps:?}");
    let report = steps
        .iter()
        .find(|v| v["kind"] == "report")
        .expect("a report");
    assert_eq!(
        report["message"], "1/1 tasks (REQ-1/AC-1.1 merged)",
        "{steps:?}"
    );
    assert_eq!(report["percentage"], 100);
    assert_eq!(steps.last().unwrap()["message"], "completed: 1 merged");
}

/// A run whose task fails ends with a message that names it and the
/// commands that go on from there, as the command line does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_names_the_task_and_what_to_do() {
    let root = project("failed");
    // A worker script with nothing for RED: the gate rejects the empty attempt.
    write(&root, "script.toml", "");
    let (mut client, _, prd_uri) = helix_decomposed(&root).await;
    client.shown_starting("Decomposed neg.prd.md").await;
    let started = execute(&mut client, "tdd.run", json!({ "uri": prd_uri })).await;
    assert_eq!(started["result"]["started"], json!(true), "{started}");
    let text = run_end_message(&mut client).await;
    assert!(text.contains("finished with failures: 0 merged"), "{text}");
    assert!(text.contains("\nfailed: REQ-1/AC-1.1\n"), "{text}");
    assert!(text.contains("`tdd.retry` REQ-1/AC-1.1"), "{text}");
    // The progress the run showed ends the same way.
    let seen = client.take_backlog();
    let ended = seen
        .iter()
        .rev()
        .find(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end")
        .expect("the progress ends");
    assert_eq!(
        ended["params"]["value"]["message"],
        "finished with failures: 0 merged"
    );
}
