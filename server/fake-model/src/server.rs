//! The HTTP side: hyper over one current-thread runtime. Each request is
//! recorded, checked for the key, then answered from the random faults,
//! the script, or a 400 when nothing matches.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt as _, Either, Full};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::render::{self, Body, ErrorKind, error_body};
use crate::request::{Dialect, Inspected, Outcome, RecordedRequest};
use crate::script::{Action, Entry, Fault, RandomFaults, Reply};

pub(crate) type Shared = Arc<Mutex<State>>;
type RespBody = Either<Full<Bytes>, StreamBody>;

pub(crate) struct State {
    pub api_key: String,
    pub script: VecDeque<Entry>,
    pub random: Option<(RandomFaults, Rng)>,
    pub records: Vec<RecordedRequest>,
    pub log: Option<std::fs::File>,
    pub served: u64,
    /// Answers what the script does not (solver, cheater).
    pub mode: crate::solver::Mode,
}

/// splitmix64: tiny, seeded, and good enough to spread faults.
pub(crate) struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What to send, decided under the lock and played outside it.
enum Plan {
    Reply(Reply, Inspected, u64),
    /// The reply is the next matching one, peeked, for `CutStream`.
    Fault(Fault, Inspected, u64, Option<Reply>),
    Error(Option<Dialect>, ErrorKind, String),
    Json(u16, Value),
    Empty(u16),
}

pub(crate) async fn serve(
    listener: std::net::TcpListener,
    shared: Shared,
    mut stop: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Each SSE event is its own small write: without this, Nagle's
                // algorithm and the client's delayed ACK add ~40 ms per reply.
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    // Connection errors (including our own cut streams) end only this connection.
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        }
    }
}

async fn handle(shared: Shared, req: Request<Incoming>) -> Result<Response<RespBody>, Infallible> {
    let method = req.method().as_str().to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let raw = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let raw_body = String::from_utf8_lossy(&raw).into_owned();
    let body: Option<Value> = serde_json::from_slice(&raw).ok();

    let dialect = if method == "POST" {
        Dialect::from_path(&path)
    } else {
        None
    };
    let plan = {
        let mut state = shared.lock().unwrap_or_else(|p| p.into_inner());
        let authorized = key_ok(&headers, &state.api_key);
        let (mut plan, outcome) = decide(
            &mut state,
            &method,
            &path,
            dialect,
            body.as_ref(),
            authorized,
            raw.len(),
        );
        // As some providers do, the refusal quotes the key it was given:
        // clients must keep it out of what they store and show.
        if let Plan::Error(_, ErrorKind::Unauthorized, message) = &mut plan {
            *message = format!(
                "{message}: Incorrect API key provided: {}",
                presented_key(&headers)
            );
        }
        let record = RecordedRequest {
            method,
            path,
            headers,
            body: body.unwrap_or(Value::Null),
            raw_body,
            dialect,
            outcome,
        };
        if let Some(log) = state.log.as_mut()
            && let Ok(line) = serde_json::to_string(&record)
        {
            let _ = writeln!(log, "{line}");
        }
        state.records.push(record);
        plan
    };
    Ok(play(plan).await)
}

/// The key the request carries, if any.
fn presented_key(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find_map(|(n, v)| match n.as_str() {
            "x-api-key" => Some(v.clone()),
            "authorization" => v.strip_prefix("Bearer ").map(str::to_string),
            _ => None,
        })
        .unwrap_or_default()
}

/// The key may come as `x-api-key` (Anthropic) or `Authorization: Bearer`.
fn key_ok(headers: &[(String, String)], key: &str) -> bool {
    headers.iter().any(|(n, v)| {
        (n == "x-api-key" && v == key)
            || (n == "authorization" && v.strip_prefix("Bearer ") == Some(key))
    })
}

fn decide(
    state: &mut State,
    method: &str,
    path: &str,
    dialect: Option<Dialect>,
    body: Option<&Value>,
    authorized: bool,
    body_len: usize,
) -> (Plan, Outcome) {
    let bare = path.split('?').next().unwrap_or(path);
    if bare == "/api/hello" {
        // Claude Code's connectivity preflight; no key needed.
        return (Plan::Empty(200), Outcome::Other { status: 200 });
    }
    let side = method == "GET" && bare.ends_with("/models")
        || method == "POST" && bare.ends_with("/messages/count_tokens");
    if dialect.is_none() && !side {
        let plan = Plan::Error(
            None,
            ErrorKind::NotFound,
            format!("fake model: no route for {method} {bare}"),
        );
        return (plan, Outcome::Other { status: 404 });
    }
    let err_dialect = dialect.or(Some(Dialect::Anthropic).filter(|_| bare.contains("/messages")));
    if !authorized {
        let plan = Plan::Error(
            err_dialect,
            ErrorKind::Unauthorized,
            "fake model: missing or wrong API key".into(),
        );
        return (plan, Outcome::Unauthorized);
    }
    if side {
        let json = if method == "GET" {
            json!({"object": "list", "data": [{"id": "fake-model", "object": "model", "type": "model"}]})
        } else {
            json!({"input_tokens": body_len / 4})
        };
        return (Plan::Json(200, json), Outcome::Other { status: 200 });
    }
    let (Some(dialect), Some(body)) = (dialect, body) else {
        let plan = Plan::Error(
            dialect,
            ErrorKind::InvalidRequest,
            "fake model: the body is not JSON".into(),
        );
        return (plan, Outcome::BadRequest);
    };
    let req = Inspected::new(dialect, &without_trailing_system(dialect, body));
    let n = state.served;
    state.served += 1;

    if let Some((faults, rng)) = state.random.as_mut()
        && rng.unit() < faults.rate
    {
        let fault = faults.kinds[(rng.next() % faults.kinds.len() as u64) as usize].clone();
        let outcome = Outcome::Fault {
            fault: fault.clone(),
            random: true,
        };
        let peek = peek_reply(state, &req).or_else(|| state.mode.answer(dialect, body, body_len));
        return (Plan::Fault(fault, req, n, peek), outcome);
    }
    let found = state
        .script
        .iter()
        .position(|e| e.when.as_ref().is_none_or(|m| m.holds(&req)));
    if found.is_none()
        && let Some(reply) = state.mode.answer(dialect, body, body_len)
    {
        return (Plan::Reply(reply, req, n), Outcome::Solved);
    }
    match found.and_then(|i| state.script.remove(i)).map(|e| e.action) {
        Some(Action::Reply(reply)) => (Plan::Reply(reply, req, n), Outcome::Reply),
        Some(Action::Fault(fault)) => {
            let peek =
                peek_reply(state, &req).or_else(|| state.mode.answer(dialect, body, body_len));
            (
                Plan::Fault(fault.clone(), req, n, peek),
                Outcome::Fault {
                    fault,
                    random: false,
                },
            )
        }
        None => {
            let message = format!(
                "fake model: no scripted reply matches this request (last message: {:.200})",
                req.last_message_text
            );
            (
                Plan::Error(Some(dialect), ErrorKind::InvalidRequest, message),
                Outcome::NoMatch,
            )
        }
    }
}

/// Claude Code puts a `role: "system"` message (its environment block)
/// after the prompt in Anthropic `messages`; the script's "last message" is
/// the last one a user or the assistant sent, so such trailing entries are
/// left out when the request is inspected (the recorded body keeps them).
fn without_trailing_system(dialect: Dialect, body: &Value) -> std::borrow::Cow<'_, Value> {
    let messages = body["messages"].as_array();
    let trailing = messages.map_or(0, |m| {
        m.iter().rev().take_while(|m| m["role"] == "system").count()
    });
    if dialect != Dialect::Anthropic || trailing == 0 {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut body = body.clone();
    if let Some(messages) = body["messages"].as_array_mut() {
        messages.truncate(messages.len() - trailing);
    }
    std::borrow::Cow::Owned(body)
}

/// The reply the next request like this one would get, left in place.
fn peek_reply(state: &State, req: &Inspected) -> Option<Reply> {
    state.script.iter().find_map(|e| match &e.action {
        Action::Reply(r) if e.when.as_ref().is_none_or(|m| m.holds(req)) => Some(r.clone()),
        _ => None,
    })
}

async fn play(plan: Plan) -> Response<RespBody> {
    match plan {
        Plan::Empty(status) => full(status, "text/plain", Bytes::new()),
        Plan::Json(status, v) => full(status, "application/json", Bytes::from(v.to_string())),
        Plan::Error(d, kind, message) => error(d, kind, &message),
        Plan::Reply(reply, req, n) => {
            sleep_ms(reply.delay_ms).await;
            send(render::render(&reply, &req, n), None)
        }
        Plan::Fault(fault, req, n, peek) => play_fault(fault, req, n, peek).await,
    }
}

async fn play_fault(
    fault: Fault,
    req: Inspected,
    n: u64,
    peek: Option<Reply>,
) -> Response<RespBody> {
    let d = Some(req.dialect);
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut r = error(d, ErrorKind::RateLimited, "fake model: rate limited");
            r.headers_mut()
                .insert("retry-after", retry_after_secs.into());
            r
        }
        Fault::ServerError => error(d, ErrorKind::Server, "fake model: internal error"),
        Fault::Overloaded => error(d, ErrorKind::Overloaded, "fake model: overloaded"),
        Fault::Slow { delay_ms } => {
            sleep_ms(delay_ms).await;
            error(d, ErrorKind::Server, "fake model: slow response")
        }
        Fault::CutStream { after_events } => {
            let reply =
                peek.unwrap_or_else(|| Reply::text("This reply is cut off before its end."));
            send(render::render(&reply, &req, n), Some(after_events))
        }
        Fault::MalformedJson => match render::render(&Reply::text("malformed"), &req, n) {
            Body::Json(_) => full(
                200,
                "application/json",
                Bytes::from_static(b"{\"id\": \"fake\", \"content\": ["),
            ),
            Body::Sse(mut events) => {
                let bad = if req.dialect == Dialect::OpenAiChat {
                    "data: {\"choices\": [\n\n"
                } else {
                    "event: message\ndata: {\"type\": \n\n"
                };
                events.insert(1, bad.to_owned());
                send(Body::Sse(events), None)
            }
        },
        Fault::UnknownTool { name } => {
            send(render::render(&Reply::tool(name, json!({})), &req, n), None)
        }
    }
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn full(status: u16, content_type: &str, bytes: Bytes) -> Response<RespBody> {
    let mut r = Response::new(Either::Left(Full::new(bytes)));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        content_type.parse().expect("static content type"),
    );
    r
}

fn error(d: Option<Dialect>, kind: ErrorKind, message: &str) -> Response<RespBody> {
    full(
        kind.status(d),
        "application/json",
        Bytes::from(error_body(d, kind, message).to_string()),
    )
}

/// Sends a body; `cut_after` stops it after that many SSE events (a JSON
/// body after half its bytes) and aborts the connection, so the client sees
/// a stream without its end.
fn send(body: Body, cut_after: Option<usize>) -> Response<RespBody> {
    let (chunks, content_type): (Vec<Bytes>, _) = match body {
        Body::Json(v) if cut_after.is_none() => {
            return full(200, "application/json", Bytes::from(v.to_string()));
        }
        Body::Json(v) => {
            let text = v.to_string();
            (
                vec![Bytes::from(text[..text.len() / 2].to_owned())],
                "application/json",
            )
        }
        Body::Sse(events) => {
            let keep = cut_after.unwrap_or(events.len());
            (
                events.into_iter().take(keep).map(Bytes::from).collect(),
                "text/event-stream",
            )
        }
    };
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for chunk in chunks {
            if tx.send(Ok(chunk)).await.is_err() {
                return;
            }
        }
        if cut_after.is_some() {
            // Let hyper flush what was sent before the error aborts the connection.
            tokio::time::sleep(Duration::from_millis(30)).await;
            let _ = tx
                .send(Err(std::io::Error::other("fake model: stream cut")))
                .await;
        }
    });
    let mut r = Response::new(Either::Right(StreamBody(rx)));
    r.headers_mut().insert(
        "content-type",
        content_type.parse().expect("static content type"),
    );
    r.headers_mut()
        .insert("cache-control", "no-cache".parse().expect("static header"));
    r
}

/// A response body fed from a channel: one data frame per message; an
/// `Err` aborts the connection mid-body.
pub(crate) struct StreamBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for StreamBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|next| next.map(|r| r.map(Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_system_message_is_not_the_last_message() {
        let body = json!({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "Stage: RED"}]},
            {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
        ]});
        let seen = Inspected::new(
            Dialect::Anthropic,
            &without_trailing_system(Dialect::Anthropic, &body),
        );
        let text = &seen.last_message_text;
        assert!(text.contains("Stage: RED") && !text.contains("# Environment"));
        let chat = Inspected::new(
            Dialect::OpenAiChat,
            &without_trailing_system(Dialect::OpenAiChat, &body),
        );
        assert!(chat.last_message_text.contains("# Environment"));
    }
}
