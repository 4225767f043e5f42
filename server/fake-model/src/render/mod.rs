//! Rendering a dialect-neutral [`Reply`] into each wire protocol, plus the
//! error bodies each provider sends.

mod anthropic;
mod chat;
mod responses;

use serde_json::{Value, json};

use crate::request::{Dialect, Inspected};
use crate::script::{Reply, ToolCall};

/// A rendered success body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(Value),
    /// Complete SSE events, each ending in a blank line.
    Sse(Vec<String>),
}

/// `n` numbers the request, so ids differ between turns.
pub(crate) fn render(reply: &Reply, req: &Inspected, n: u64) -> Body {
    match (req.dialect, req.stream) {
        (Dialect::Anthropic, false) => Body::Json(anthropic::json(reply, req, n)),
        (Dialect::Anthropic, true) => Body::Sse(anthropic::sse(reply, req, n)),
        (Dialect::OpenAiChat, false) => Body::Json(chat::json(reply, req, n)),
        (Dialect::OpenAiChat, true) => Body::Sse(chat::sse(reply, req, n)),
        (Dialect::OpenAiResponses, false) => Body::Json(responses::json(reply, req, n)),
        (Dialect::OpenAiResponses, true) => Body::Sse(responses::sse(reply, req, n)),
    }
}

/// An SSE event with an `event:` line (Anthropic, Responses).
pub(crate) fn named_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// An SSE event with only a `data:` line (OpenAI chat).
pub(crate) fn data_event(data: &str) -> String {
    format!("data: {data}\n\n")
}

/// Splits `s` into up to four non-empty pieces on character boundaries, so
/// clients must reassemble deltas (and partial JSON) rather than read one.
pub(crate) fn pieces(s: &str) -> Vec<&str> {
    let chars = s.chars().count();
    if chars == 0 {
        return vec![s];
    }
    let per = chars.div_ceil(4);
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let cut = rest.char_indices().nth(per).map_or(rest.len(), |(i, _)| i);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

pub(crate) fn call_id(call: &ToolCall, prefix: &str, n: u64, i: usize) -> String {
    call.id
        .clone()
        .unwrap_or_else(|| format!("{prefix}_fake_{n}_{i}"))
}

/// Tool input as the JSON string OpenAI dialects carry in `arguments`.
pub(crate) fn arguments(call: &ToolCall) -> String {
    call.input.to_string()
}

pub(crate) fn model(req: &Inspected) -> &str {
    req.model.as_deref().unwrap_or("fake-model")
}

/// The failures a provider reports with an error body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ErrorKind {
    RateLimited,
    Server,
    Overloaded,
    Unauthorized,
    InvalidRequest,
    NotFound,
}

impl ErrorKind {
    pub fn status(self, dialect: Option<Dialect>) -> u16 {
        match self {
            ErrorKind::RateLimited => 429,
            ErrorKind::Server => 500,
            ErrorKind::Overloaded if dialect == Some(Dialect::Anthropic) => 529,
            ErrorKind::Overloaded => 503,
            ErrorKind::Unauthorized => 401,
            ErrorKind::InvalidRequest => 400,
            ErrorKind::NotFound => 404,
        }
    }
}

/// Anthropic: `{type: error, error: {type, message}}`; OpenAI:
/// `{error: {message, type, code}}`.
pub(crate) fn error_body(dialect: Option<Dialect>, kind: ErrorKind, message: &str) -> Value {
    if dialect == Some(Dialect::Anthropic) {
        let ty = match kind {
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Server => "api_error",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::Unauthorized => "authentication_error",
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::NotFound => "not_found_error",
        };
        json!({"type": "error", "error": {"type": ty, "message": message}})
    } else {
        let (ty, code) = match kind {
            ErrorKind::RateLimited => ("requests", "rate_limit_exceeded"),
            ErrorKind::Server => ("server_error", "server_error"),
            ErrorKind::Overloaded => ("server_error", "server_overloaded"),
            ErrorKind::Unauthorized => ("invalid_request_error", "invalid_api_key"),
            ErrorKind::InvalidRequest => ("invalid_request_error", "invalid_request"),
            ErrorKind::NotFound => ("invalid_request_error", "not_found"),
        };
        json!({"error": {"message": message, "type": ty, "code": code, "param": null}})
    }
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn pieces_cover_the_string_on_char_boundaries() {
        for s in ["", "a", "héllo wörld", "{\"path\":\"ü.txt\"}"] {
            let p = pieces(s);
            assert_eq!(p.concat(), s);
            assert!(p.len() <= 4);
            if s.chars().count() >= 4 {
                assert!(p.len() >= 3, "{s:?} split into {p:?}");
            }
        }
    }
}
