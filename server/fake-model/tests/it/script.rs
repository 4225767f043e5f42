//! The script (queue, predicates, file format), the key check, request
//! recording and the `fake-model` binary.

use std::process::Command;

use crate::common::{KEY, anthropic_body, chat_body, post, request, spawn_binary};
use serde_json::json;
use tdd_fake_model::{Config, Dialect, Entry, FakeModel, Fault, Match, Outcome, Reply};

fn server() -> FakeModel {
    FakeModel::start(Config::with_key(KEY)).unwrap()
}

fn text_of(r: &crate::common::Resp) -> String {
    r.json()["content"][0]["text"].as_str().unwrap().to_owned()
}

#[test]
fn predicates_pick_the_first_matching_entry() {
    let s = server();
    let when_tests_ran = Match {
        last_message_contains: Some("3 passed".into()),
        ..Match::default()
    };
    let when_bash = Match {
        tool_offered: Some("Bash".into()),
        ..Match::default()
    };
    s.push(Entry::when(when_tests_ran, Reply::text("green")));
    s.push(Entry::when(when_bash, Reply::text("bash is offered")));
    s.push(Reply::text("anything else"));

    let r = post(
        s.addr(),
        "/v1/messages",
        &anthropic_body("plain", &["Read"], false),
    );
    assert_eq!(text_of(&r), "anything else");
    let r = post(
        s.addr(),
        "/v1/messages",
        &anthropic_body("plain", &["Read", "Bash"], false),
    );
    assert_eq!(text_of(&r), "bash is offered");
    let r = post(
        s.addr(),
        "/v1/messages",
        &anthropic_body("result: 3 passed", &[], false),
    );
    assert_eq!(text_of(&r), "green");
    assert_eq!(s.remaining(), 0);
}

#[test]
fn dialect_predicate_and_no_match_is_a_400() {
    let s = server();
    let chat_only = Match {
        dialect: Some(Dialect::OpenAiChat),
        ..Match::default()
    };
    s.push(Entry::when(chat_only, Reply::text("for chat")));
    let r = post(s.addr(), "/v1/messages", &anthropic_body("hi", &[], false));
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no scripted reply")
    );
    let c = post(
        s.addr(),
        "/v1/chat/completions",
        &chat_body("hi", &[], false),
    )
    .json();
    assert_eq!(c["choices"][0]["message"]["content"], "for chat");
    let outcomes: Vec<Outcome> = s.requests().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::NoMatch, Outcome::Reply]);
}

#[test]
fn the_key_is_required_in_a_header() {
    let s = server();
    s.push(Reply::text("ok"));
    let body = anthropic_body("hi", &[], false).to_string();
    let none = request(s.addr(), "POST", "/v1/messages", &[], &body);
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["error"]["type"], "authentication_error");
    let wrong = request(
        s.addr(),
        "POST",
        "/v1/messages",
        &[("x-api-key", "other")],
        &body,
    );
    assert_eq!(wrong.status, 401);
    // A key in the URL or the body is not a key.
    let in_query = request(
        s.addr(),
        "POST",
        &format!("/v1/messages?key={KEY}"),
        &[],
        &body,
    );
    assert_eq!(in_query.status, 401);
    let chat = chat_body("hi", &[], false).to_string();
    let bad_bearer = request(
        s.addr(),
        "POST",
        "/v1/chat/completions",
        &[("authorization", KEY)],
        &chat,
    );
    assert_eq!(bad_bearer.status, 401);
    assert_eq!(bad_bearer.json()["error"]["code"], "invalid_api_key");
    assert_eq!(s.remaining(), 1, "refused requests use no reply");
    let bearer = format!("Bearer {KEY}");
    let ok = request(
        s.addr(),
        "POST",
        "/v1/chat/completions",
        &[("authorization", &bearer)],
        &chat,
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn every_request_is_recorded_with_headers_and_body() {
    let s = server();
    s.push(Reply::text("ok"));
    let body = anthropic_body("record me", &["Write"], true);
    let headers = [("x-api-key", KEY), ("anthropic-version", "2023-06-01")];
    request(
        s.addr(),
        "POST",
        "/v1/messages?beta=true",
        &headers,
        &body.to_string(),
    );
    request(
        s.addr(),
        "POST",
        "/v1/messages",
        &[("x-api-key", KEY)],
        "{not json",
    );
    let recs = s.requests();
    assert_eq!(recs.len(), 2);
    let r = &recs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/messages?beta=true")
    );
    assert_eq!(r.header("X-API-KEY"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.body, body);
    assert_eq!(r.dialect, Some(Dialect::Anthropic));
    assert_eq!(r.outcome, Outcome::Reply);
    assert_eq!(recs[1].outcome, Outcome::BadRequest);
    assert_eq!(recs[1].raw_body, "{not json");
    assert!(recs[1].body.is_null());
}

const SCRIPT_TOML: &str = r#"
api_key = "file-key"

[[step]]
fault = { kind = "rate_limited", retry_after_secs = 2 }

[[step]]
when = { tool_offered = "write_file" }
[step.reply]
text = "writing"
usage = { input_tokens = 10, output_tokens = 5, cache_read_tokens = 2 }
[[step.reply.tool_calls]]
name = "write_file"
input = { path = "a.txt", content = "hi" }

[[step]]
reply = { text = "done", stop = "end_turn" }
"#;

#[test]
fn toml_and_json_script_files_read_the_same() {
    let dir = std::env::temp_dir().join(format!("fake-model-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml_path = dir.join("s.toml");
    std::fs::write(&toml_path, SCRIPT_TOML).unwrap();
    let from_toml = Config::from_file(&toml_path).unwrap();
    assert_eq!(from_toml.api_key, "file-key");
    assert_eq!(from_toml.script.len(), 3);
    assert_eq!(
        from_toml.script[0],
        Entry::from(Fault::RateLimited {
            retry_after_secs: 2
        })
    );
    let expected = Reply::text("writing")
        .with_tool("write_file", json!({"path": "a.txt", "content": "hi"}))
        .with_usage(10, 5, 2);
    let when = Match {
        tool_offered: Some("write_file".into()),
        ..Match::default()
    };
    assert_eq!(from_toml.script[1], Entry::when(when, expected));

    let json_path = dir.join("s.json");
    let as_json = json!({"api_key": "file-key", "step": [
        {"fault": {"kind": "rate_limited", "retry_after_secs": 2}},
        {"when": {"tool_offered": "write_file"}, "reply": {"text": "writing",
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 2},
            "tool_calls": [{"name": "write_file", "input": {"path": "a.txt", "content": "hi"}}]}},
        {"reply": {"text": "done", "stop": "end_turn"}}]});
    std::fs::write(&json_path, as_json.to_string()).unwrap();
    assert_eq!(
        Config::from_file(&json_path).unwrap().script,
        from_toml.script
    );

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[step]]\nreply = { text = \"a\" }\nfault = { kind = \"server_error\" }\n",
    )
    .unwrap();
    assert!(
        Config::from_file(&bad)
            .unwrap_err()
            .to_string()
            .contains("exactly one")
    );
    std::fs::write(&bad, "[[step]]\nreply = { txt = \"typo\" }\n").unwrap();
    assert!(
        Config::from_file(&bad)
            .unwrap_err()
            .to_string()
            .contains("bad.toml")
    );
    std::fs::write(
        &bad,
        "[random_faults]\nrate = 1.5\nkinds = [{ kind = \"server_error\" }]\n",
    )
    .unwrap();
    assert!(Config::from_file(&bad).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn binary_serves_a_script_file_and_logs_requests() {
    let dir = std::env::temp_dir().join(format!("fake-model-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("requests.jsonl");
    let script = dir.join("s.toml");
    let toml = format!(
        "api_key = \"{KEY}\"\nrequest_log = {:?}\n[[step]]\nreply = {{ text = \"from file\" }}\n",
        log
    );
    std::fs::write(&script, toml).unwrap();

    let (mut child, addr) = spawn_binary(&[script.as_os_str()]);
    let r = post(addr, "/v1/messages", &anthropic_body("hi", &[], false));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(text_of(&r), "from file");
    let logged: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(logged["path"], "/v1/messages");
    assert_eq!(logged["outcome"]["kind"], "reply");
    std::fs::remove_dir_all(&dir).unwrap();

    let status = Command::new(env!("CARGO_BIN_EXE_fake-model"))
        .arg("/nonexistent.toml")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}
