//! Anthropic Messages: the JSON message and the SSE event sequence.

use crate::common::{KEY, anthropic_body, post, sse};
use serde_json::{Value, json};
use tdd_fake_model::{Config, FakeModel, Reply, StopReason};

fn server() -> FakeModel {
    FakeModel::start(Config::with_key(KEY)).unwrap()
}

fn write_reply() -> Reply {
    Reply::text("I will write the file.")
        .with_tool(
            "write_file",
            json!({"path": "src/lib.rs", "content": "pub fn add() {}\n"}),
        )
        .with_usage(120, 30, 50)
}

#[test]
fn json_reply_has_text_and_tool_use_blocks() {
    let s = server();
    s.push(write_reply());
    let r = post(
        s.addr(),
        "/v1/messages",
        &anthropic_body("go", &["write_file"], false),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let m = r.json();
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["model"], "claude-test");
    assert_eq!(
        m["content"][0],
        json!({"type": "text", "text": "I will write the file."})
    );
    let tool = &m["content"][1];
    assert_eq!(tool["type"], "tool_use");
    assert_eq!(tool["name"], "write_file");
    assert_eq!(tool["input"]["path"], "src/lib.rs");
    assert!(tool["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 120, "output_tokens": 30,
        "cache_read_input_tokens": 50, "cache_creation_input_tokens": 0})
    );
}

#[test]
fn sse_follows_the_real_event_sequence_and_reassembles() {
    let s = server();
    s.push(write_reply());
    // Claude Code sends `?beta=true`; the query must not matter.
    let r = post(
        s.addr(),
        "/v1/messages?beta=true",
        &anthropic_body("go", &["write_file"], true),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.complete);
    let events = sse(&r.body);
    for e in &events {
        // Every event names itself twice: in `event:` and in data's `type`.
        assert_eq!(e.name.as_deref(), e.json()["type"].as_str(), "{e:?}");
    }
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    let start = events[0].json();
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["usage"]["input_tokens"], 120);
    assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 50);

    // Rebuild the blocks from start/delta/stop, as a client would.
    let mut blocks: Vec<(Value, String, bool)> = Vec::new();
    let mut json_pieces = 0;
    for e in &events {
        let d = e.json();
        match e.name.as_deref().unwrap() {
            "content_block_start" => {
                assert_eq!(d["index"], blocks.len());
                blocks.push((d["content_block"].clone(), String::new(), false));
            }
            "content_block_delta" => {
                let (_, acc, stopped) = &mut blocks[d["index"].as_u64().unwrap() as usize];
                assert!(!*stopped);
                match d["delta"]["type"].as_str().unwrap() {
                    "text_delta" => acc.push_str(d["delta"]["text"].as_str().unwrap()),
                    "input_json_delta" => {
                        json_pieces += 1;
                        acc.push_str(d["delta"]["partial_json"].as_str().unwrap());
                    }
                    other => panic!("unexpected delta {other}"),
                }
            }
            "content_block_stop" => blocks[d["index"].as_u64().unwrap() as usize].2 = true,
            _ => {}
        }
    }
    assert_eq!(blocks.len(), 2);
    assert!(blocks.iter().all(|b| b.2), "every block stopped");
    assert_eq!(blocks[0].0["type"], "text");
    assert_eq!(blocks[0].1, "I will write the file.");
    assert_eq!(blocks[1].0["name"], "write_file");
    let input: Value = serde_json::from_str(&blocks[1].1).unwrap();
    assert_eq!(
        input,
        json!({"path": "src/lib.rs", "content": "pub fn add() {}\n"})
    );
    assert!(
        json_pieces >= 3,
        "tool input must arrive as several partial JSON pieces"
    );

    let delta = events[events.len() - 2].json();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 30);
}

#[test]
fn text_only_and_max_tokens_stop_reasons() {
    let s = server();
    s.push(Reply::text("done"));
    s.push(Reply::text("cut sh").with_stop(StopReason::MaxTokens));
    let a = post(s.addr(), "/v1/messages", &anthropic_body("x", &[], false)).json();
    assert_eq!(a["stop_reason"], "end_turn");
    assert_eq!(a["content"].as_array().unwrap().len(), 1);
    let b = post(s.addr(), "/v1/messages", &anthropic_body("x", &[], true));
    let delta = sse(&b.body)
        .into_iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap();
    assert_eq!(delta.json()["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn side_endpoints_answer() {
    let s = server();
    let hello = crate::common::request(s.addr(), "HEAD", "/api/hello", &[], "");
    assert_eq!(hello.status, 200);
    let count = post(
        s.addr(),
        "/v1/messages/count_tokens",
        &anthropic_body("count me", &[], false),
    );
    assert!(count.json()["input_tokens"].as_u64().unwrap() > 0);
    let models = crate::common::request(s.addr(), "GET", "/v1/models", &[("x-api-key", KEY)], "");
    assert_eq!(models.json()["data"][0]["id"], "fake-model");
    let missing = post(s.addr(), "/v2/nothing", &json!({}));
    assert_eq!(missing.status, 404);
}
