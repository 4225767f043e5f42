//! The streaming read against a raw socket: what the fake server does not
//! do (a JSON answer to a streaming request, a connection held open after
//! the last event).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

/// Serves one connection: reads the request, writes `response`, then keeps
/// the connection open for `hold`.
fn serve_once(response: String, hold: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/messages", listener.local_addr().unwrap());
    thread::spawn(move || {
        if let Ok((mut socket, _)) = listener.accept() {
            let mut buffer = [0u8; 65536];
            let _ = socket.read(&mut buffer);
            let _ = socket.write_all(response.as_bytes());
            let _ = socket.flush();
            thread::sleep(hold);
        }
    });
    url
}

fn http() -> Http {
    let backoff = Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(1),
        max_retry_after: Duration::from_millis(1),
    };
    Http::new(Vec::new(), Duration::from_secs(5), 0, backoff).unwrap()
}

#[test]
fn a_json_answer_to_a_streaming_request_is_read_as_json() {
    let body = json!({"content": [{"type": "text", "text": "hi"}]}).to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let url = serve_once(response, Duration::ZERO);
    let (reply, _) = http()
        .post_stream(
            &url,
            &json!({"stream": true}),
            ApiDialect::Anthropic,
            &CancelToken::default(),
        )
        .unwrap();
    match reply {
        Streamed::Json(value) => assert_eq!(value["content"][0]["text"], "hi"),
        Streamed::Turn(turn) => panic!("{turn:?}"),
    }
}

#[test]
fn the_read_stops_at_the_last_event_even_if_the_connection_stays_open() {
    let events = "data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"ok\"}}]}\n\n\
                  data: [DONE]\n\n";
    // A length longer than what is sent: the body never ends by itself.
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{events}",
        events.len() + 100
    );
    let url = serve_once(response, Duration::from_secs(4));
    let started = Instant::now();
    let (reply, elapsed) = http()
        .post_stream(
            &url,
            &json!({"stream": true}),
            ApiDialect::OpenAiChat,
            &CancelToken::default(),
        )
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(elapsed <= started.elapsed());
    match reply {
        Streamed::Turn(turn) => assert_eq!(turn.text, "ok"),
        Streamed::Json(value) => panic!("{value}"),
    }
}

#[test]
fn a_stream_that_ends_early_is_an_outage_naming_the_cut() {
    let events = "data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"o";
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{events}"
    );
    let url = serve_once(response, Duration::ZERO);
    let error = http()
        .post_stream(
            &url,
            &json!({"stream": true}),
            ApiDialect::OpenAiChat,
            &CancelToken::default(),
        )
        .err()
        .unwrap();
    match error {
        WorkerError::ProviderOutage(message) => {
            assert!(message.contains("incomplete"), "{message}");
            assert!(message.contains("middle of an event"), "{message}");
            assert!(message.contains("after 1 try;"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A provider that keeps answering 503 with `Retry-After: 30`: a cancel
/// reaches the wait between tries, and the call ends at once instead of
/// sleeping out the 30 s.
#[test]
fn a_cancel_ends_the_wait_before_a_retry() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/messages", listener.local_addr().unwrap());
    thread::spawn(move || {
        for mut socket in listener.incoming().flatten().take(5) {
            let mut buffer = [0u8; 65536];
            let _ = socket.read(&mut buffer);
            let _ = socket.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 30\r\n\
                  content-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let backoff = Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(1),
        max_retry_after: Duration::from_secs(60),
    };
    let http = Http::new(Vec::new(), Duration::from_secs(5), 3, backoff)
        .unwrap()
        .with_jitter(Jitter::seeded(1));
    let cancel = CancelToken::default();
    let canceller = cancel.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let started = Instant::now();
    let err = http.post(&url, &json!({}), &cancel).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, WorkerError::Failed(m) if m.contains("cancelled while waiting")),
        "{err}"
    );
}
