//! Protocol tests against the real server over an in-process duplex pipe.

use crate::support::{TestClient, apply_text_edits, codes};
use serde_json::{Value, json};

const URI: &str = "file:///workspace/docs/loans.prd.md";
const CLEAN: &str = include_str!("../../../../examples/library-loans.prd.md");

fn clean_with_title(title: &str) -> String {
    CLEAN.replace("### REQ-1 Register a member", &format!("### REQ-1 {title}"))
}

#[tokio::test]
async fn handshake_advertises_capabilities_and_every_command() {
    let mut client = TestClient::start();
    let result = client.initialize(json!({})).await;
    let caps = &result["capabilities"];
    assert_eq!(result["serverInfo"]["name"], "tdd-orchestrator");
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    for provider in [
        "hoverProvider",
        "definitionProvider",
        "documentSymbolProvider",
        "completionProvider",
        "codeActionProvider",
    ] {
        assert!(!caps[provider].is_null(), "{provider} missing: {caps}");
    }
    let commands: Vec<&str> = caps["executeCommandProvider"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for command in tdd_lsp::commands::Command::ALL {
        assert!(
            commands.contains(&command.name()),
            "{} not advertised",
            command.name()
        );
    }
    assert_eq!(client.request("shutdown", Value::Null).await, Value::Null);
}

#[tokio::test]
async fn clean_prd_publishes_empty_diagnostics_with_its_version() {
    let mut client = TestClient::start();
    client.initialize(json!({})).await;
    client.open(URI, CLEAN, 7).await;
    assert_eq!(client.diagnostics_at(URI, 7).await, Vec::<Value>::new());
}

#[tokio::test]
async fn rapid_changes_apply_in_order_and_versions_are_monotonic() {
    let mut client = TestClient::start();
    client.initialize(json!({})).await;
    let start = CLEAN.find("Register a member").unwrap();
    let line = CLEAN[..start].matches('\n').count();
    let col = CLEAN[..start].rsplit('\n').next().unwrap().len() + "Register a member".len();
    client.open(URI, CLEAN, 1).await;
    // 300 incremental edits, each appending one character to REQ-1's title, sent without waiting.
    for version in 2..=301 {
        let at = json!({"line": line, "character": col + version as usize - 2});
        let change = json!({"range": {"start": at, "end": at}, "text": "x"});
        let params =
            json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": [change]});
        client.notify("textDocument/didChange", params).await;
    }
    let hover = client
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": 5}}),
        )
        .await;
    let text = hover["contents"]["value"].as_str().unwrap();
    let expected = format!("Register a member{}\n", "x".repeat(300));
    assert!(
        text.contains(&expected),
        "hover did not see the last version: {text}"
    );

    client.diagnostics_at(URI, 301).await;
    let versions: Vec<i64> = client
        .drain_published()
        .into_iter()
        .filter_map(|(_, v)| v)
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "versions not monotonic: {versions:?}"
    );
    assert!(
        versions.len() < 300,
        "a burst of edits should coalesce, got {} publishes",
        versions.len()
    );
}

#[tokio::test]
async fn a_client_that_never_answers_does_not_wedge_the_server() {
    let mut client = TestClient::start();
    client.answer_server_requests = false;
    client.initialize(json!({})).await;
    client.open(URI, CLEAN, 1).await;
    let heading = CLEAN
        .lines()
        .position(|l| l.starts_with("### REQ-1"))
        .unwrap();
    // More concurrent requests than the transport's 4 handler slots, while the
    // server's own workspace/configuration request is still unanswered.
    let mut ids = Vec::new();
    for _ in 0..20 {
        let params =
            json!({"textDocument": {"uri": URI}, "position": {"line": heading, "character": 5}});
        ids.push(client.request_nowait("textDocument/hover", params).await);
    }
    for id in ids {
        let response = client.response(id).await;
        assert!(
            response["result"]["contents"]["value"]
                .as_str()
                .unwrap()
                .contains("REQ-1"),
            "{response}"
        );
    }
    assert!(
        client
            .server_requests
            .iter()
            .any(|r| r["method"] == "workspace/configuration"),
        "the server should have asked for configuration: {:?}",
        client.server_requests
    );
    client
        .change_full(URI, &clean_with_title("Changed"), 2)
        .await;
    client.diagnostics_at(URI, 2).await;
}

const BROKEN: &str = "# Loans

## Requirements

### REQ-1 Borrow a book

Depends on: REQ-9

Acceptance criteria:
- WHEN a member borrows a book THE SYSTEM SHALL record a loan.

### REQ-2 Return a book

Tests: tests/test_returns.py

### REQ-1 Renew a loan

Acceptance criteria:
- AC-3.1: WHEN a member renews a loan THE SYSTEM SHALL extend it by 7 days.
";

#[tokio::test]
async fn quick_fixes_apply_until_the_document_is_clean() {
    let mut client = TestClient::start();
    client.initialize(json!({})).await;
    let mut text = BROKEN.to_string();
    let mut version = 1;
    client.open(URI, &text, version).await;
    let mut diagnostics = client.diagnostics_at(URI, version).await;
    let first = codes(&diagnostics);
    for code in ["PRD002", "PRD003", "PRD006", "PRD015"] {
        assert!(
            first.contains(&code.to_string()),
            "{code} not reported: {first:?}"
        );
    }
    let mut applied = Vec::new();
    while let Some(diagnostic) = diagnostics.first().cloned() {
        assert!(
            applied.len() < 10,
            "fixes do not converge: applied {applied:?}, left {diagnostics:?}"
        );
        let context = json!({"diagnostics": [diagnostic], "only": ["quickfix"]});
        let params =
            json!({"textDocument": {"uri": URI}, "range": diagnostic["range"], "context": context});
        let actions = client.request("textDocument/codeAction", params).await;
        let fix = actions
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "quickfix" && a["diagnostics"][0]["code"] == diagnostic["code"])
            .unwrap_or_else(|| panic!("no quick fix for {diagnostic}"))
            .clone();
        applied.push(fix["title"].as_str().unwrap().to_string());
        text = apply_text_edits(&text, fix["edit"]["changes"][URI].as_array().unwrap());
        version += 1;
        client.change_full(URI, &text, version).await;
        diagnostics = client.diagnostics_at(URI, version).await;
    }
    assert_eq!(applied.len(), 4, "one fix per problem: {applied:?}\n{text}");
    assert!(text.contains("AC-1.1: WHEN a member borrows"), "{text}");
}

#[tokio::test]
async fn hover_definition_symbols_and_completion() {
    let mut client = TestClient::start();
    client.initialize(json!({})).await;
    client.open(URI, CLEAN, 1).await;
    let depends_line = CLEAN
        .lines()
        .position(|l| l == "Depends on: REQ-1")
        .unwrap();
    let at =
        json!({"textDocument": {"uri": URI}, "position": {"line": depends_line, "character": 14}});

    let hover = client.request("textDocument/hover", at.clone()).await;
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("Register a member"),
        "{hover}"
    );

    let definition = client.request("textDocument/definition", at).await;
    let heading = CLEAN
        .lines()
        .position(|l| l == "### REQ-1 Register a member")
        .unwrap();
    assert_eq!(
        definition["range"]["start"],
        json!({"line": heading, "character": 4})
    );

    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": URI}}),
        )
        .await;
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "REQ-1 Register a member");
    assert!(names.contains(&"NFR-2"), "{names:?}");
    assert_eq!(
        symbols[1]["children"].as_array().unwrap().len(),
        3,
        "REQ-2 has 3 criteria"
    );

    let position = json!({"line": depends_line, "character": "Depends on: ".len()});
    let completion = client
        .request(
            "textDocument/completion",
            json!({"textDocument": {"uri": URI}, "position": position}),
        )
        .await;
    let labels: Vec<&str> = completion
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"REQ-1") && !labels.contains(&"REQ-2"),
        "REQ-2 should not depend on itself: {labels:?}"
    );
}

#[tokio::test]
async fn files_that_are_not_prds_get_no_diagnostics() {
    let mut client = TestClient::start();
    client.initialize(json!({})).await;
    let readme = "file:///workspace/README.md";
    client
        .open(readme, "# Readme\n\nThis is fast and robust.\n", 1)
        .await;
    assert!(client.diagnostics_at(readme, 1).await.is_empty());
    // The same file with PRD front matter is a PRD.
    client
        .change_full(readme, "---\ntype: prd\n---\n# Readme\n", 2)
        .await;
    assert_eq!(codes(&client.diagnostics_at(readme, 2).await), ["PRD001"]);
}

#[tokio::test]
async fn bad_settings_are_reported_and_fall_back_to_defaults() {
    let mut client = TestClient::start();
    client
        .initialize(json!({"maxFileKib": -3, "prdGlobs": ["[oops"], "somethingNew": true}))
        .await;
    // One message per bad setting, each naming it.
    let mut texts = Vec::new();
    for _ in 0..2 {
        let message = client.notification("window/showMessage").await;
        texts.push(message["message"].as_str().unwrap().to_string());
    }
    texts.sort();
    assert!(texts[0].contains("maxFileKib"), "{texts:?}");
    assert!(texts[1].contains("prdGlobs"), "{texts:?}");
    client.open(URI, CLEAN, 1).await;
    assert!(
        client.diagnostics_at(URI, 1).await.is_empty(),
        "default globs still apply"
    );
}

#[tokio::test]
async fn commands_run_or_say_clearly_why_not() {
    let mut client = TestClient::start();
    client.initialize(json!({})).await;
    client.open(URI, CLEAN, 1).await;
    let id = client
        .request_nowait(
            "workspace/executeCommand",
            json!({"command": "tdd.run", "arguments": [{"uri": URI}]}),
        )
        .await;
    let response = client.response(id).await;
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no worker is configured"),
        "{response}"
    );
    let counts = client
        .request(
            "workspace/executeCommand",
            json!({"command": "tdd.validate", "arguments": [{"uri": URI}]}),
        )
        .await;
    assert_eq!(counts[URI], 0);
    // The refusal is shown too.
    let shown = client.notification("window/showMessage").await;
    assert!(
        shown["message"]
            .as_str()
            .unwrap()
            .contains("no worker is configured"),
        "{shown}"
    );
}

#[tokio::test]
async fn closing_a_document_clears_its_diagnostics() {
    let mut client = TestClient::start();
    client.initialize(json!({})).await;
    client.open(URI, BROKEN, 1).await;
    assert!(!client.diagnostics_at(URI, 1).await.is_empty());
    client
        .notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": URI}}),
        )
        .await;
    let uri = URI.to_string();
    let cleared = client
        .wait_for(move |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == json!(uri)
                && m["params"]["version"].is_null()
        })
        .await;
    assert_eq!(cleared["params"]["diagnostics"], json!([]));
}

#[tokio::test]
async fn converting_a_legacy_spec_creates_a_markdown_prd_beside_it() {
    let mut client = TestClient::start();
    client.answer_server_requests = false; // The command must not wait for the client's answer.
    client.initialize(json!({})).await;
    let dir = std::env::temp_dir().join(format!("tdd-convert-{}", std::process::id()));
    let spec = dir.join("loans_spec.txt");
    let uri = format!("file://{}", spec.display());
    let legacy = include_str!("../../../../tests/corpus/legacy/library_spec.txt");
    client.open(&uri, legacy, 1).await;
    let params = json!({"command": "tdd.convertToMarkdown", "arguments": [{"uri": uri}]});
    let result = client.request("workspace/executeCommand", params).await;
    let target = format!("file://{}", dir.join("loans_spec.prd.md").display());
    assert_eq!(result["uri"], json!(target));
    assert!(
        result["markdown"]
            .as_str()
            .unwrap()
            .contains("### FR-1 Borrow a book"),
        "{result}"
    );
    let edit = client
        .wait_for(|m| m["method"] == "workspace/applyEdit")
        .await;
    let changes = &edit["params"]["edit"]["documentChanges"];
    assert_eq!(changes[0]["kind"], "create");
    assert_eq!(changes[0]["options"]["overwrite"], false);
    assert_eq!(changes[1]["textDocument"]["uri"], json!(target));
}

#[tokio::test]
async fn decompose_dry_run_and_status_commands_work_from_the_editor() {
    let root = std::env::temp_dir().join(format!("tdd-lsp-plan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join(".git")).unwrap();
    let file = root.join("loans.prd.md");
    std::fs::write(&file, "stale text on disk: the buffer below is what counts").unwrap();
    let (root_uri, uri) = (
        format!("file://{}", root.display()),
        format!("file://{}", file.display()),
    );
    let mut client = TestClient::start();
    client.initialize_in(&root_uri, json!({})).await;
    client.open(&uri, CLEAN, 1).await;

    let args = json!([{ "uri": uri }]);
    let dry = client
        .request(
            "workspace/executeCommand",
            json!({"command": "tdd.decomposeDryRun", "arguments": args}),
        )
        .await;
    assert_eq!(
        (dry["tasks"].as_u64(), dry["dry_run"].as_bool()),
        (Some(6), Some(true)),
        "{dry}"
    );
    assert!(
        !root.join(".tdd/orchestrator.db").exists(),
        "a dry run stores nothing"
    );
    client
        .shown_starting("Dry run of loans.prd.md: 6 tasks in 5 waves; 6 added")
        .await;

    let done = client
        .request(
            "workspace/executeCommand",
            json!({"command": "tdd.decompose", "arguments": args}),
        )
        .await;
    assert_eq!(
        done["changes"]["added"].as_array().unwrap().len(),
        6,
        "{done}"
    );
    assert!(root.join(".tdd/orchestrator.db").exists());
    client
        .shown_starting("Decomposed loans.prd.md: 6 tasks in 5 waves")
        .await;

    let status = client
        .request("workspace/executeCommand", json!({"command": "tdd.status"}))
        .await;
    assert_eq!(status["prds"][0]["tasks"]["pending"], 6, "{status}");
    client.shown_starting("loans.prd.md: 6 pending").await;

    // A broken graph is refused with the position of the problem, and nothing is stored.
    let cyclic = CLEAN.replace(
        "### REQ-1 Register a member\n",
        "### REQ-1 Register a member\n\nDepends on: REQ-4\n",
    );
    client.change_full(&uri, &cyclic, 2).await;
    let id = client
        .request_nowait(
            "workspace/executeCommand",
            json!({"command": "tdd.decompose", "arguments": args}),
        )
        .await;
    let refused = client.response(id).await;
    let text = refused["error"]["message"].as_str().unwrap();
    assert!(
        text.contains("loans.prd.md:16:13: dependency cycle"),
        "{refused}"
    );
    client
        .shown_starting("decomposition refused, nothing was stored: loans.prd.md:16:13")
        .await;
}

/// A panic in a read-only request is a bug, not the end of the session: the
/// request gets an error reply, the user one message, and the next hover and
/// the diagnostics of the next edit still work.
#[tokio::test]
async fn a_panic_in_hover_is_an_error_reply_and_the_session_lives_on() {
    let uri = "file:///workspace/docs/panics.prd.md";
    let mut client = TestClient::start();
    client.initialize(json!({})).await;
    client.open(uri, CLEAN, 1).await;
    assert!(client.diagnostics_at(uri, 1).await.is_empty());
    let depends_line = CLEAN
        .lines()
        .position(|l| l == "Depends on: REQ-1")
        .unwrap();
    let at =
        json!({"textDocument": {"uri": uri}, "position": {"line": depends_line, "character": 14}});

    tdd_lsp::panic_once_for_tests("hover", uri);
    let id = client
        .request_nowait("textDocument/hover", at.clone())
        .await;
    let failed = client.response(id).await;
    let error = failed["error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.contains("hover failed") && error.contains("a bug"),
        "{failed}"
    );
    let message = client.notification("window/showMessage").await;
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .contains("hover failed"),
        "{message}"
    );

    let hover = client.request("textDocument/hover", at).await;
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("Register a member"),
        "{hover}"
    );
    let broken = CLEAN.replace("Depends on: REQ-1", "Depends on: REQ-404");
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": broken}]}),
        )
        .await;
    assert!(!client.diagnostics_at(uri, 2).await.is_empty());
}
