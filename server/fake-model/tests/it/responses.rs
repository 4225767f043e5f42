//! OpenAI Responses (Codex CLI): the SSE events and the final response.

use crate::common::{KEY, post, responses_body, sse};
use serde_json::{Value, json};
use tdd_fake_model::{Config, FakeModel, Reply, StopReason};

fn server() -> FakeModel {
    FakeModel::start(Config::with_key(KEY)).unwrap()
}

#[test]
fn sse_events_reassemble_text_and_function_call() {
    let s = server();
    s.push(
        Reply::text("Creating the file.")
            .with_tool("exec_command", json!({"cmd": "printf %s hi > hello.txt"}))
            .with_usage(300, 20, 100),
    );
    let r = crate::common::request(
        s.addr(),
        "POST",
        "/v1/responses",
        &[("authorization", &format!("Bearer {KEY}"))],
        &responses_body("make hello.txt", &["exec_command"]).to_string(),
    );
    assert_eq!(r.status, 200);
    assert!(r.complete);
    let events = sse(&r.body);
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(names[0], "response.created");
    assert_eq!(*names.last().unwrap(), "response.completed");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.json()["type"].as_str(), e.name.as_deref());
        assert_eq!(e.json()["sequence_number"], i);
    }

    let (mut text, mut args, mut done_items) = (String::new(), String::new(), Vec::new());
    for e in &events {
        let d = e.json();
        match e.name.as_deref().unwrap() {
            "response.output_text.delta" => text.push_str(d["delta"].as_str().unwrap()),
            "response.function_call_arguments.delta" => args.push_str(d["delta"].as_str().unwrap()),
            "response.output_item.done" => done_items.push(d["item"].clone()),
            _ => {}
        }
    }
    assert_eq!(text, "Creating the file.");
    let parsed: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(parsed, json!({"cmd": "printf %s hi > hello.txt"}));
    assert!(
        names
            .iter()
            .filter(|n| **n == "response.function_call_arguments.delta")
            .count()
            >= 3
    );

    assert_eq!(done_items.len(), 2);
    assert_eq!(done_items[0]["type"], "message");
    assert_eq!(done_items[0]["content"][0]["type"], "output_text");
    let call = &done_items[1];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["arguments"], args);
    assert!(call["call_id"].as_str().unwrap().starts_with("call_"));

    let completed = events.last().unwrap().json();
    let usage = &completed["response"]["usage"];
    assert_eq!(usage["input_tokens"], 400);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 100);
    assert_eq!(usage["output_tokens"], 20);
    assert_eq!(usage["total_tokens"], 420);
    assert_eq!(completed["response"]["status"], "completed");
    assert_eq!(completed["response"]["output"].as_array().unwrap().len(), 2);
}

#[test]
fn max_tokens_ends_in_response_incomplete() {
    let s = server();
    s.push(Reply::text("trunc").with_stop(StopReason::MaxTokens));
    let r = post(s.addr(), "/v1/responses", &responses_body("x", &[]));
    let last = sse(&r.body).pop().unwrap();
    assert_eq!(last.name.as_deref(), Some("response.incomplete"));
    assert_eq!(
        last.json()["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}

#[test]
fn non_streaming_request_gets_the_response_object() {
    let s = server();
    s.push(Reply::text("final answer"));
    let mut body = responses_body("x", &[]);
    body["stream"] = json!(false);
    let r = post(s.addr(), "/v1/responses", &body).json();
    assert_eq!(r["object"], "response");
    assert_eq!(r["output"][0]["content"][0]["text"], "final answer");
}
