//! Reading a model request the way the solver needs it, in all three
//! dialects: the engine's prompt (stage, attempt, task), the working
//! directory, whether tool results came back, and the tools offered.
//! Everything is read from parsed JSON strings, never from escaped text.

use serde_json::Value;

use crate::request::Dialect;

/// A conversation item reduced to what matters here.
#[derive(Debug, Default)]
struct Item {
    role: String,
    /// Plain text parts (not tool results).
    texts: Vec<String>,
    /// Names of the tools the item calls (an assistant turn).
    calls: Vec<String>,
}

/// The tools the solver writes files with, whichever the client offers.
const WRITE_TOOLS: &[&str] = &["write_file", "Write", "exec_command", "Bash"];

/// The engine's stage names, as the prompt's first line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Red,
    Green,
    Verify,
    Refactor,
    Merge,
}

impl Stage {
    fn parse(word: &str) -> Option<Stage> {
        match word.to_ascii_uppercase().as_str() {
            "RED" => Some(Stage::Red),
            "GREEN" => Some(Stage::Green),
            "VERIFY" => Some(Stage::Verify),
            "REFACTOR" => Some(Stage::Refactor),
            "MERGE" => Some(Stage::Merge),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stage::Red => "RED",
            Stage::Green => "GREEN",
            Stage::Verify => "VERIFY",
            Stage::Refactor => "REFACTOR",
            Stage::Merge => "MERGE",
        }
    }
}

/// The prompt's `Stage:` and `Task` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prompt {
    /// `Err(word)` when the stage name is not one the engine uses.
    pub stage: Result<Stage, String>,
    /// 1 when the line names no attempt.
    pub attempt: u32,
    pub task: Option<String>,
}

/// What the solver reads from one request.
#[derive(Debug)]
pub(crate) struct Conversation {
    pub prompt: Option<Prompt>,
    /// An assistant turn after the prompt already called a write tool: the
    /// stage's files went out (a turn lost to a wrong tool name did not).
    pub has_written: bool,
    /// Absolute working directory, when a message names one.
    pub cwd: Option<String>,
    pub tools: Vec<String>,
}

impl Conversation {
    pub fn read(dialect: Dialect, body: &Value) -> Conversation {
        let mut items = Vec::new();
        let mut system = Vec::new();
        match dialect {
            Dialect::Anthropic => {
                texts_of(&body["system"], &mut system);
                for m in body["messages"].as_array().into_iter().flatten() {
                    items.push(message_item(m));
                }
            }
            Dialect::OpenAiChat => {
                for m in body["messages"].as_array().into_iter().flatten() {
                    items.push(message_item(m));
                }
            }
            Dialect::OpenAiResponses => {
                texts_of(&body["instructions"], &mut system);
                match &body["input"] {
                    Value::String(s) => items.push(Item {
                        role: "user".into(),
                        texts: vec![s.clone()],
                        ..Item::default()
                    }),
                    Value::Array(input) => items.extend(input.iter().map(responses_item)),
                    _ => {}
                }
            }
        }
        let found = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.role == "user")
            .find_map(|(n, i)| i.texts.iter().find_map(|t| parse_prompt(t)).map(|p| (n, p)));
        let (prompt, after) = match found {
            Some((n, p)) => (Some(p), &items[n + 1..]),
            None => (None, &items[..]),
        };
        let has_written = after
            .iter()
            .flat_map(|i| &i.calls)
            .any(|c| WRITE_TOOLS.contains(&c.as_str()));
        // System texts first: Claude Code's environment block names the
        // directory its `Write` tool resolves against.
        let system_like = items
            .iter()
            .filter(|i| matches!(i.role.as_str(), "system" | "developer"))
            .flat_map(|i| i.texts.iter());
        let users = items
            .iter()
            .filter(|i| i.role == "user")
            .flat_map(|i| i.texts.iter());
        let cwd = system
            .iter()
            .chain(system_like)
            .find_map(|t| find_dir(t, "Primary working directory:"))
            .or_else(|| {
                users
                    .clone()
                    .find_map(|t| find_dir(t, "Working directory:"))
            })
            .or_else(|| {
                users
                    .clone()
                    .find_map(|t| find_dir(t, "Primary working directory:"))
            });
        Conversation {
            prompt,
            has_written,
            cwd,
            tools: crate::request::tool_names(&body["tools"]),
        }
    }

    pub fn offers(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }
}

/// An Anthropic or chat message: `content` as a string or a list of parts.
fn message_item(m: &Value) -> Item {
    let mut item = Item {
        role: m["role"].as_str().unwrap_or_default().to_owned(),
        ..Item::default()
    };
    match &m["content"] {
        Value::String(s) => item.texts.push(s.clone()),
        Value::Array(parts) => {
            for part in parts {
                match part["type"].as_str() {
                    // Tool output is not the user's text.
                    Some("tool_result") => {}
                    Some("tool_use") => item.calls.extend(name_of(part)),
                    _ => texts_of(part, &mut item.texts),
                }
            }
        }
        _ => {}
    }
    // OpenAI chat: the assistant's calls sit beside its content.
    for call in m["tool_calls"].as_array().into_iter().flatten() {
        item.calls.extend(name_of(&call["function"]));
    }
    item
}

fn name_of(call: &Value) -> Option<String> {
    call["name"].as_str().map(str::to_owned)
}

/// A Responses input item: a message (typed or not) or a tool call output.
fn responses_item(v: &Value) -> Item {
    let kind = v["type"].as_str().unwrap_or("message");
    if kind.ends_with("_call_output") {
        return Item {
            role: "tool".into(),
            ..Item::default()
        };
    }
    if kind == "message" {
        return message_item(v);
    }
    if kind.ends_with("_call") {
        return Item {
            role: "assistant".into(),
            calls: name_of(v).into_iter().collect(),
            ..Item::default()
        };
    }
    Item::default()
}

/// The text of a string, a `{text}` block, or a list of those.
fn texts_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(parts) => parts.iter().for_each(|p| texts_of(p, out)),
        Value::Object(map) => {
            if let Some(Value::String(s)) = map.get("text") {
                out.push(s.clone());
            }
        }
        _ => {}
    }
}

/// `Stage: GREEN (attempt 2)` and `Task REQ-1/AC-1.1: title`, each on a
/// line of its own; `None` when the text has no `Stage:` line.
pub(crate) fn parse_prompt(text: &str) -> Option<Prompt> {
    let mut lines = text.lines().map(str::trim);
    let rest = lines.find_map(|l| l.strip_prefix("Stage:"))?.trim();
    let (word, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let attempt = tail
        .trim()
        .strip_prefix("(attempt")
        .and_then(|t| t.trim().strip_suffix(')'))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(1);
    let task = lines.find_map(|l| {
        let (key, _title) = l.strip_prefix("Task ")?.split_once(':')?;
        let key = key.trim();
        (!key.is_empty() && !key.contains(char::is_whitespace)).then(|| key.to_owned())
    });
    Some(Prompt {
        stage: Stage::parse(word).ok_or_else(|| word.to_owned()),
        attempt,
        task,
    })
}

/// The absolute path after `label` on some line (list bullets allowed).
fn find_dir(text: &str, label: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim().trim_start_matches(['-', '*']).trim_start();
        let dir = l.strip_prefix(label)?.trim();
        dir.starts_with('/').then(|| dir.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_engine_prompt_lines() {
        let p = parse_prompt("Stage: GREEN (attempt 2)\nMake it pass.\n\nTask REQ-1/AC-1.1: add(a, b)\nRequirement: x").unwrap();
        assert_eq!(p.stage, Ok(Stage::Green));
        assert_eq!(p.attempt, 2);
        assert_eq!(p.task.as_deref(), Some("REQ-1/AC-1.1"));
        let p = parse_prompt("Stage: TESTING\nTask K: t").unwrap();
        assert_eq!(p.stage, Err("TESTING".into()));
        assert_eq!(p.attempt, 1);
        assert!(parse_prompt("no stage here\nTask K: t").is_none());
    }

    #[test]
    fn claude_code_shape_gives_cwd_and_turn() {
        let body = json!({"system": [{"type": "text", "text": "x-anthropic-billing-header: cc"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "<system-reminder>hi</system-reminder>"},
                                             {"type": "text", "text": "Stage: RED (attempt 1)\nTask T-1: t"}]},
                {"role": "system", "content": "# Environment\n - Primary working directory: /tmp/wt one\n - Is a git repository: true"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Write", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "Stage: GREEN"}]}],
            "tools": [{"name": "Bash"}, {"name": "Write"}]});
        let c = Conversation::read(Dialect::Anthropic, &body);
        assert_eq!(c.prompt.as_ref().unwrap().stage, Ok(Stage::Red));
        assert!(c.has_written);
        // A turn that called a tool by a name the solver does not write with.
        let lost = json!({"messages": [
            {"role": "user", "content": "Stage: GREEN (attempt 1)\nTask T-1: t"},
            {"role": "assistant", "content": null,
             "tool_calls": [{"id": "c", "type": "function", "function": {"name": "delete_everything", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "error: unknown tool"}]});
        assert!(!Conversation::read(Dialect::OpenAiChat, &lost).has_written);
        let written = json!({"input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Stage: RED (attempt 2)\nTask T-1: t"}]},
            {"type": "function_call", "name": "exec_command", "call_id": "x", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "x", "output": "ok"}]});
        assert!(Conversation::read(Dialect::OpenAiResponses, &written).has_written);
        assert_eq!(c.cwd.as_deref(), Some("/tmp/wt one"));
        assert!(c.offers("Write"));
    }
}
