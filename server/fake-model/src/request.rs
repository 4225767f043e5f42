//! What the server reads from a request, and what it records of it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::script::Fault;

/// The wire protocol of a model request, chosen by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// `POST …/v1/messages`
    Anthropic,
    /// `POST …/chat/completions`
    OpenAiChat,
    /// `POST …/responses`
    OpenAiResponses,
}

impl Dialect {
    /// Query strings (Claude Code sends `?beta=true`) are ignored; any
    /// prefix before the known suffix is accepted.
    pub(crate) fn from_path(path: &str) -> Option<Dialect> {
        let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
        if path.ends_with("/messages") {
            Some(Dialect::Anthropic)
        } else if path.ends_with("/chat/completions") {
            Some(Dialect::OpenAiChat)
        } else if path.ends_with("/responses") {
            Some(Dialect::OpenAiResponses)
        } else {
            None
        }
    }
}

/// The parts of a model request the script and the renderers look at.
#[derive(Debug, Clone)]
pub(crate) struct Inspected {
    pub dialect: Dialect,
    pub model: Option<String>,
    pub stream: bool,
    /// OpenAI chat `stream_options.include_usage`.
    pub include_usage: bool,
    pub tools: Vec<String>,
    pub last_message_text: String,
}

impl Inspected {
    pub fn new(dialect: Dialect, body: &Value) -> Self {
        let last = match dialect {
            Dialect::Anthropic | Dialect::OpenAiChat => {
                body["messages"].as_array().and_then(|m| m.last())
            }
            Dialect::OpenAiResponses => match &body["input"] {
                Value::Array(items) => items.last(),
                other => Some(other),
            },
        };
        let mut last_message_text = String::new();
        if let Some(last) = last {
            collect_strings(last, &mut last_message_text);
        }
        Inspected {
            dialect,
            model: body["model"].as_str().map(str::to_owned),
            stream: body["stream"].as_bool().unwrap_or(false),
            include_usage: body["stream_options"]["include_usage"]
                .as_bool()
                .unwrap_or(false),
            tools: tool_names(&body["tools"]),
            last_message_text,
        }
    }
}

/// Every string inside a message, joined by newlines: the message's text
/// whatever shape its content has (string, blocks, tool results).
fn collect_strings(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(s);
        }
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// Tool names in all three shapes: `{name}` (Anthropic, Responses),
/// `{function: {name}}` (chat) and Responses namespaces `{tools: [...]}`.
pub(crate) fn tool_names(tools: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for tool in tools.as_array().into_iter().flatten() {
        if let Some(n) = tool["name"]
            .as_str()
            .or_else(|| tool["function"]["name"].as_str())
        {
            names.push(n.to_owned());
        }
        names.extend(tool_names(&tool["tools"]));
    }
    names
}

/// What the server did with a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// A scripted reply was sent.
    Reply,
    /// The solver (or cheater) answered: the script had no entry.
    Solved,
    /// A fault was played (scripted or drawn at random).
    Fault { fault: Fault, random: bool },
    /// Missing or wrong key: 401.
    Unauthorized,
    /// No script entry matched: 400, so the test fails fast.
    NoMatch,
    /// The body was not JSON: 400.
    BadRequest,
    /// A side endpoint (`/api/hello`, `/v1/models`, count_tokens) or 404.
    Other { status: u16 },
}

/// One received request, as the client sent it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path with its query string.
    pub path: String,
    /// Header names in lower case, in arrival order; secrets included, so
    /// a test can check where the key travelled.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
    /// The body as text (lossy UTF-8).
    pub raw_body: String,
    pub dialect: Option<Dialect>,
    pub outcome: Outcome,
}

impl RecordedRequest {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dialect_from_path_ignores_query_and_prefix() {
        assert_eq!(
            Dialect::from_path("/v1/messages?beta=true"),
            Some(Dialect::Anthropic)
        );
        assert_eq!(
            Dialect::from_path("/api/v1/chat/completions"),
            Some(Dialect::OpenAiChat)
        );
        assert_eq!(
            Dialect::from_path("/v1/responses"),
            Some(Dialect::OpenAiResponses)
        );
        assert_eq!(Dialect::from_path("/v1/messages/count_tokens"), None);
    }

    #[test]
    fn inspects_tools_and_last_message_in_each_shape() {
        let chat = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "first"}, {"role": "tool", "content": "ran OK"}],
            "tools": [{"type": "function", "function": {"name": "write_file"}}]});
        let i = Inspected::new(Dialect::OpenAiChat, &chat);
        assert_eq!(i.tools, ["write_file"]);
        assert!(i.last_message_text.contains("ran OK") && !i.last_message_text.contains("first"));
        assert!(i.stream && i.include_usage);

        let resp = json!({"input": [{"type": "function_call_output", "output": "exit 0"}],
            "tools": [{"type": "function", "name": "exec_command"},
                      {"type": "namespace", "name": "ns", "tools": [{"name": "inner"}]}]});
        let i = Inspected::new(Dialect::OpenAiResponses, &resp);
        assert_eq!(i.tools, ["exec_command", "ns", "inner"]);
        assert!(i.last_message_text.contains("exit 0"));
    }
}
