//! What the fake model answers: dialect-neutral replies, faults, the
//! predicates that pick a script entry, and the script file format.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::{Dialect, Inspected};
use crate::solution::{Cheat, Solution};
use crate::solver::Mode;

/// One model turn, rendered per dialect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Assistant text, sent before any tool call. Empty means none.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default)]
    pub usage: Usage,
    /// Defaults to `tool_use` when there are tool calls, else `end_turn`.
    #[serde(default)]
    pub stop: Option<StopReason>,
    /// Wait this long before answering (a slow but successful reply).
    #[serde(default)]
    pub delay_ms: u64,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Reply {
            text: Some(text.into()),
            ..Reply::default()
        }
    }

    pub fn tool(name: impl Into<String>, input: Value) -> Self {
        Reply::default().with_tool(name, input)
    }

    pub fn with_tool(mut self, name: impl Into<String>, input: Value) -> Self {
        self.tool_calls.push(ToolCall {
            id: None,
            name: name.into(),
            input,
        });
        self
    }

    pub fn with_usage(mut self, input: u64, output: u64, cache_read: u64) -> Self {
        self.usage = Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: cache_read,
        };
        self
    }

    pub fn with_stop(mut self, stop: StopReason) -> Self {
        self.stop = Some(stop);
        self
    }

    pub fn with_delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }

    pub(crate) fn text_part(&self) -> Option<&str> {
        self.text.as_deref().filter(|t| !t.is_empty())
    }

    pub(crate) fn stop_reason(&self) -> StopReason {
        self.stop.unwrap_or(if self.tool_calls.is_empty() {
            StopReason::EndTurn
        } else {
            StopReason::ToolUse
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The call id; generated per request when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default = "empty_object")]
    pub input: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Token counts. `input_tokens` excludes cache reads (Anthropic's
/// convention); OpenAI dialects report `input + cache_read` as prompt tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_tokens: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
}

/// A failure the server plays instead of a reply. A fault never takes a
/// reply off the script, so the client's retry gets the scripted reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// 429 with a `Retry-After` header (seconds).
    RateLimited { retry_after_secs: u64 },
    /// 500.
    ServerError,
    /// 529 `overloaded_error` (Anthropic) or 503 (OpenAI dialects).
    Overloaded,
    /// Wait `delay_ms`, then answer 500: meant to outlast a client timeout.
    Slow { delay_ms: u64 },
    /// Stream the next matching reply (without taking it) and cut the
    /// connection after `after_events` SSE events; a JSON body is cut in half.
    CutStream { after_events: usize },
    /// 200 with a body that is not valid JSON (for SSE: one bad event).
    MalformedJson,
    /// A complete reply calling a tool by a name the request did not offer.
    UnknownTool {
        #[serde(default = "unknown_tool_name")]
        name: String,
    },
}

fn unknown_tool_name() -> String {
    "fake_unoffered_tool".to_owned()
}

/// A predicate on the request; every field that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// The text of the last message (or Responses input item) contains this.
    #[serde(default)]
    pub last_message_contains: Option<String>,
    /// The request offers a tool of this name.
    #[serde(default)]
    pub tool_offered: Option<String>,
    #[serde(default)]
    pub dialect: Option<Dialect>,
    #[serde(default)]
    pub model: Option<String>,
}

impl Match {
    pub(crate) fn holds(&self, req: &Inspected) -> bool {
        self.last_message_contains
            .as_ref()
            .is_none_or(|s| req.last_message_text.contains(s.as_str()))
            && self
                .tool_offered
                .as_ref()
                .is_none_or(|t| req.tools.iter().any(|o| o == t))
            && self.dialect.is_none_or(|d| d == req.dialect)
            && self
                .model
                .as_ref()
                .is_none_or(|m| req.model.as_deref() == Some(m.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Reply(Reply),
    Fault(Fault),
}

/// One script entry: the first entry whose `when` holds answers a request
/// and is removed from the queue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawEntry")]
pub struct Entry {
    pub when: Option<Match>,
    pub action: Action,
}

impl Entry {
    pub fn when(when: Match, action: impl Into<Action>) -> Self {
        Entry {
            when: Some(when),
            action: action.into(),
        }
    }
}

impl From<Reply> for Action {
    fn from(r: Reply) -> Self {
        Action::Reply(r)
    }
}

impl From<Fault> for Action {
    fn from(f: Fault) -> Self {
        Action::Fault(f)
    }
}

impl<T: Into<Action>> From<T> for Entry {
    fn from(a: T) -> Self {
        Entry {
            when: None,
            action: a.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(default)]
    when: Option<Match>,
    #[serde(default)]
    reply: Option<Reply>,
    #[serde(default)]
    fault: Option<Fault>,
}

impl TryFrom<RawEntry> for Entry {
    type Error = String;
    fn try_from(raw: RawEntry) -> Result<Self, String> {
        let action = match (raw.reply, raw.fault) {
            (Some(r), None) => Action::Reply(r),
            (None, Some(f)) => Action::Fault(f),
            _ => return Err("a step needs exactly one of `reply` or `fault`".to_owned()),
        };
        Ok(Entry {
            when: raw.when,
            action,
        })
    }
}

/// Faults drawn at random (seeded, so a run is reproducible) before the
/// script is consulted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFaults {
    /// Probability in [0, 1] that a model request gets a fault.
    pub rate: f64,
    #[serde(default)]
    pub seed: u64,
    /// Faults to pick from, uniformly.
    pub kinds: Vec<Fault>,
}

/// Everything a server starts with; also the script file's top level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Required in `x-api-key` or `Authorization: Bearer`; else 401.
    #[serde(default = "default_key")]
    pub api_key: String,
    #[serde(default)]
    pub random_faults: Option<RandomFaults>,
    /// Append every request as one JSON line to this file.
    #[serde(default)]
    pub request_log: Option<std::path::PathBuf>,
    #[serde(default, rename = "step")]
    pub script: Vec<Entry>,
    /// What answers when no script entry matches (code only; the binary
    /// sets it from `--solution` and `--cheat`).
    #[serde(skip)]
    pub mode: Mode,
}

fn default_key() -> String {
    "fake-key".to_owned()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_key: default_key(),
            random_faults: None,
            request_log: None,
            script: Vec::new(),
            mode: Mode::Script,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    pub fn with_key(key: impl Into<String>) -> Self {
        Config {
            api_key: key.into(),
            ..Config::default()
        }
    }

    /// A server answering every request from `solution` (default key).
    pub fn solver(solution: Solution) -> Self {
        Config::default().with_mode(Mode::Solver(solution))
    }

    /// As [`Config::solver`], cheating in GREEN attempt 1.
    pub fn cheater(solution: Solution, cheat: Cheat) -> Self {
        Config::default().with_mode(Mode::Cheater(solution, cheat))
    }

    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Reads a script file: JSON when the name ends in `.json`, else TOML.
    pub fn from_file(path: &Path) -> Result<Self, ScriptError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: shown.clone(),
            source,
        })?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        let config: Config = parsed.map_err(|message| ScriptError::Parse {
            path: shown.clone(),
            message,
        })?;
        if let Some(rf) = &config.random_faults
            && (!(0.0..=1.0).contains(&rf.rate) || rf.kinds.is_empty())
        {
            let message = "random_faults needs a rate in [0, 1] and at least one kind".to_owned();
            return Err(ScriptError::Parse {
                path: shown,
                message,
            });
        }
        Ok(config)
    }
}
