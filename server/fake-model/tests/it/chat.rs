//! OpenAI Chat Completions: the JSON completion and the chunk stream.

use crate::common::{KEY, chat_body, post, sse};
use serde_json::{Value, json};
use tdd_fake_model::{Config, FakeModel, Reply};

fn server() -> FakeModel {
    FakeModel::start(Config::with_key(KEY)).unwrap()
}

fn two_calls() -> Reply {
    Reply::text("Reading first.")
        .with_tool("read_file", json!({"path": "tests/test_calc.py"}))
        .with_tool("run_tests", json!({"filter": "calc", "verbose": true}))
        .with_usage(200, 40, 64)
}

#[test]
fn json_reply_has_tool_calls_with_string_arguments() {
    let s = server();
    s.push(two_calls());
    let c = post(
        s.addr(),
        "/v1/chat/completions",
        &chat_body("go", &["read_file", "run_tests"], false),
    )
    .json();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["model"], "gpt-test");
    let choice = &c["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Reading first.");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["type"], "function");
    assert_eq!(calls[1]["function"]["name"], "run_tests");
    // `arguments` is a JSON string, not an object.
    let args: Value =
        serde_json::from_str(calls[1]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"filter": "calc", "verbose": true}));
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    // OpenAI counts cached tokens inside prompt_tokens.
    assert_eq!(c["usage"]["prompt_tokens"], 264);
    assert_eq!(c["usage"]["completion_tokens"], 40);
    assert_eq!(c["usage"]["total_tokens"], 304);
    assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 64);
}

#[test]
fn text_reply_has_no_tool_calls_and_finishes_with_stop() {
    let s = server();
    s.push(Reply::text("hello.txt\n```\nhi\n```\n"));
    let c = post(
        s.addr(),
        "/v1/chat/completions",
        &chat_body("go", &[], false),
    )
    .json();
    assert_eq!(c["choices"][0]["finish_reason"], "stop");
    assert!(c["choices"][0]["message"].get("tool_calls").is_none());
}

/// A chunk stream put back together, as a client does.
struct Assembled {
    text: String,
    /// (id, name, arguments) per call index.
    calls: Vec<(String, String, String)>,
    finish: String,
    usage: Option<Value>,
}

fn assemble(events: &[crate::common::Event]) -> Assembled {
    let (mut text, mut calls, mut finish, mut usage) =
        (String::new(), Vec::new(), String::new(), None);
    for e in events {
        assert!(e.name.is_none(), "chat streams carry data lines only");
        let c = e.json();
        if c["choices"].as_array().unwrap().is_empty() {
            usage = Some(c["usage"].clone());
            continue;
        }
        let choice = &c["choices"][0];
        let delta = &choice["delta"];
        if let Some(t) = delta["content"].as_str() {
            text.push_str(t);
        }
        for tc in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = tc["index"].as_u64().unwrap() as usize;
            if i == calls.len() {
                calls.push((
                    tc["id"].as_str().unwrap().to_owned(),
                    String::new(),
                    String::new(),
                ));
            }
            if let Some(n) = tc["function"]["name"].as_str() {
                calls[i].1.push_str(n);
            }
            calls[i]
                .2
                .push_str(tc["function"]["arguments"].as_str().unwrap());
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = f.to_owned();
        }
    }
    Assembled {
        text,
        calls,
        finish,
        usage,
    }
}

#[test]
fn sse_chunks_reassemble_with_usage_and_done() {
    let s = server();
    s.push(two_calls());
    let mut body = chat_body("go", &["read_file", "run_tests"], true);
    body["stream_options"] = json!({"include_usage": true});
    let r = post(s.addr(), "/v1/chat/completions", &body);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.complete);
    let mut events = sse(&r.body);
    assert_eq!(events.pop().unwrap().data, "[DONE]");
    let arg_chunks = events
        .iter()
        .filter(|e| e.data.contains("\"arguments\""))
        .count();
    assert!(
        arg_chunks >= 8,
        "arguments of two calls arrive in several chunks each, got {arg_chunks}"
    );
    assert_eq!(events[0].json()["choices"][0]["delta"]["role"], "assistant");
    let Assembled {
        text,
        calls,
        finish,
        usage,
    } = assemble(&events);
    assert_eq!(text, "Reading first.");
    assert_eq!(finish, "tool_calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, "read_file");
    let args: Value = serde_json::from_str(&calls[1].2).unwrap();
    assert_eq!(args, json!({"filter": "calc", "verbose": true}));
    let usage = usage.expect("a usage chunk when include_usage is set");
    assert_eq!(usage["prompt_tokens"], 264);
    assert_eq!(usage["completion_tokens"], 40);
}

#[test]
fn sse_without_include_usage_has_no_usage_chunk() {
    let s = server();
    s.push(Reply::text("plain words here"));
    let r = post(
        s.addr(),
        "/v1/chat/completions",
        &chat_body("go", &[], true),
    );
    let mut events = sse(&r.body);
    assert_eq!(events.pop().unwrap().data, "[DONE]");
    let Assembled {
        text,
        calls,
        finish,
        usage,
    } = assemble(&events);
    assert_eq!(
        (text.as_str(), calls.len(), finish.as_str()),
        ("plain words here", 0, "stop")
    );
    assert!(usage.is_none());
    assert!(events.iter().all(|e| e.json().get("usage").is_none()));
}
