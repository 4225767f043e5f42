//! Fault injection: each kind, scripted and at a seeded rate. A fault never
//! uses up the scripted reply, so the retry gets it.

use std::time::{Duration, Instant};

use crate::common::{KEY, anthropic_body, chat_body, post, responses_body, sse};
use serde_json::{Value, json};
use tdd_fake_model::{Config, FakeModel, Fault, Outcome, RandomFaults, Reply};

fn server() -> FakeModel {
    FakeModel::start(Config::with_key(KEY)).unwrap()
}

fn messages(s: &FakeModel, stream: bool) -> crate::common::Resp {
    post(
        s.addr(),
        "/v1/messages",
        &anthropic_body("go", &["write_file"], stream),
    )
}

#[test]
fn rate_limit_sends_retry_after_and_keeps_the_reply_for_the_retry() {
    let s = server();
    s.push(Fault::RateLimited {
        retry_after_secs: 3,
    });
    s.push(Reply::text("after the retry"));
    let first = messages(&s, false);
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), Some("3"));
    assert_eq!(first.json()["error"]["type"], "rate_limit_error");
    let second = messages(&s, false);
    assert_eq!(second.json()["content"][0]["text"], "after the retry");
    assert_eq!(s.remaining(), 0);
}

#[test]
fn server_error_and_overload_per_dialect() {
    let s = server();
    s.push(Fault::ServerError);
    s.push(Fault::Overloaded);
    s.push(Fault::Overloaded);
    let e = messages(&s, false);
    assert_eq!(e.status, 500);
    assert_eq!(e.json()["error"]["type"], "api_error");
    let o = messages(&s, true);
    assert_eq!(o.status, 529);
    assert_eq!(o.json()["error"]["type"], "overloaded_error");
    let c = post(
        s.addr(),
        "/v1/chat/completions",
        &chat_body("go", &[], false),
    );
    assert_eq!(c.status, 503);
    assert_eq!(c.json()["error"]["code"], "server_overloaded");
}

#[test]
fn slow_fault_waits_then_fails_and_slow_reply_waits_then_succeeds() {
    let s = server();
    s.push(Fault::Slow { delay_ms: 300 });
    s.push(Reply::text("late but fine").with_delay_ms(200));
    let t = Instant::now();
    assert_eq!(messages(&s, false).status, 500);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(
        messages(&s, false).json()["content"][0]["text"],
        "late but fine"
    );
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[test]
fn cut_stream_stops_mid_way_and_the_retry_gets_the_whole_reply() {
    let s = server();
    s.push(Fault::CutStream { after_events: 4 });
    s.push(
        Reply::text("a long enough text to split").with_tool("write_file", json!({"path": "a"})),
    );
    let cut = messages(&s, true);
    assert_eq!(cut.status, 200);
    assert!(
        !cut.complete,
        "the chunked body must end without its terminator"
    );
    let events = sse(&cut.body);
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].name.as_deref(), Some("message_start"));
    assert!(
        events
            .iter()
            .all(|e| e.name.as_deref() != Some("message_stop"))
    );
    // The cut stream was the peeked reply; it is still there for the retry.
    assert_eq!(s.remaining(), 1);
    let whole = messages(&s, true);
    assert!(whole.complete);
    assert_eq!(
        sse(&whole.body).last().unwrap().name.as_deref(),
        Some("message_stop")
    );
}

#[test]
fn cut_json_body_is_half_a_document() {
    let s = server();
    s.push(Fault::CutStream { after_events: 0 });
    s.push(Reply::text("whole"));
    let cut = post(
        s.addr(),
        "/v1/chat/completions",
        &chat_body("go", &[], false),
    );
    assert!(!cut.complete);
    assert!(!cut.body.is_empty());
    assert!(serde_json::from_str::<Value>(&cut.body).is_err());
}

#[test]
fn malformed_json_in_body_and_in_stream() {
    let s = server();
    s.push(Fault::MalformedJson);
    s.push(Fault::MalformedJson);
    let body = messages(&s, false);
    assert_eq!(body.status, 200);
    assert!(serde_json::from_str::<Value>(&body.body).is_err());
    let stream = post(
        s.addr(),
        "/v1/chat/completions",
        &chat_body("go", &[], true),
    );
    let bad = sse(&stream.body)
        .iter()
        .filter(|e| serde_json::from_str::<Value>(&e.data).is_err())
        .count();
    // `[DONE]` is not JSON either; the injected event is the other one.
    assert_eq!(bad, 2);
}

#[test]
fn unknown_tool_names_a_tool_that_was_not_offered() {
    let s = server();
    s.push(Fault::UnknownTool {
        name: "delete_everything".into(),
    });
    let r = post(
        s.addr(),
        "/v1/responses",
        &responses_body("go", &["exec_command"]),
    );
    let done = sse(&r.body)
        .into_iter()
        .find(|e| e.name.as_deref() == Some("response.output_item.done"))
        .unwrap();
    assert_eq!(done.json()["item"]["name"], "delete_everything");
}

fn random_config(rate: f64, seed: u64) -> Config {
    let kinds = vec![
        Fault::ServerError,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    ];
    Config {
        random_faults: Some(RandomFaults { rate, seed, kinds }),
        ..Config::with_key(KEY)
    }
}

/// Statuses of 40 requests, each retried until the reply comes.
fn statuses(s: &FakeModel) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..40 {
        s.push(Reply::text(format!("reply {i}")));
        loop {
            let r = messages(s, false);
            out.push(r.status);
            if r.status == 200 {
                assert_eq!(r.json()["content"][0]["text"], format!("reply {i}"));
                break;
            }
            assert!(out.len() < 400, "faults never end");
        }
    }
    out
}

#[test]
fn seeded_random_faults_are_reproducible_and_near_their_rate() {
    let a = statuses(&FakeModel::start(random_config(0.3, 42)).unwrap());
    let b = statuses(&FakeModel::start(random_config(0.3, 42)).unwrap());
    assert_eq!(a, b, "same seed, same faults");
    let faults = a.iter().filter(|s| **s != 200).count() as f64;
    let rate = faults / a.len() as f64;
    assert!((0.15..0.45).contains(&rate), "fault rate {rate}");
    assert!(a.contains(&500) && a.contains(&429));
    let c = statuses(&FakeModel::start(random_config(0.3, 7)).unwrap());
    assert_ne!(a, c, "another seed, other faults");
}

#[test]
fn random_faults_are_recorded_as_such() {
    let s = FakeModel::start(random_config(1.0, 1)).unwrap();
    s.push(Reply::text("never sent"));
    assert_ne!(messages(&s, false).status, 200);
    assert!(matches!(
        s.requests()[0].outcome,
        Outcome::Fault { random: true, .. }
    ));
    assert_eq!(s.remaining(), 1);
}
