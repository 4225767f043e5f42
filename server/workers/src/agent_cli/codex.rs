//! The Codex CLI preset: `codex exec --json --ephemeral`, sandbox and
//! approvals off (the engine audits the diff instead), the model server as
//! a custom provider speaking the OpenAI Responses API, no update checks,
//! analytics or plugin syncing. Its stdout is one JSON event per line:
//! `turn.completed` with usage, or `turn.failed` with an error.

use serde_json::Value;

use super::scratch::Scratch;
use super::{MAX_SUMMARY, Usage, Verdict, clip, describe_output, json_lines, outage_status};

/// Where the provider points when no base URL is configured.
const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Items that are the result of a tool call the model made.
const TOOL_ITEMS: &[&str] = &[
    "command_execution",
    "file_change",
    "mcp_tool_call",
    "web_search",
];

/// The arguments after the program, before any extra ones and the prompt.
pub(super) fn args(model: Option<&str>, base_url: Option<&str>, key_env: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "exec",
        "--json",
        "--ephemeral",
        "--dangerously-bypass-approvals-and-sandbox",
    ]
    .map(String::from)
    .into();
    if let Some(model) = model {
        args.extend(["-m".to_string(), model.to_string()]);
    }
    let url = base_url.unwrap_or(DEFAULT_BASE_URL).trim_end_matches('/');
    let provider = format!(
        "model_providers.tdd={{name=\"tdd-orchestrator\",base_url={},env_key={},wire_api=\"responses\"}}",
        toml_string(url),
        toml_string(key_env)
    );
    for setting in [
        "model_provider=\"tdd\"",
        &provider,
        "analytics.enabled=false",
        "check_for_update_on_startup=false",
        "features.plugins=false",
    ] {
        args.extend(["-c".to_string(), setting.to_string()]);
    }
    args
}

/// The key under the name the provider reads it from; `CODEX_HOME` in the
/// throwaway home.
pub(super) fn env(key_env: &str, key: &str, home: &Scratch) -> Vec<(String, String)> {
    vec![
        (key_env.to_string(), key.to_string()),
        ("CODEX_HOME".to_string(), home.path().display().to_string()),
    ]
}

/// A TOML basic string (JSON's escapes are valid TOML ones).
fn toml_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// Reads the events: usage from every `turn.completed`, an error from
/// `turn.failed` (or the last `error` event of a run that ended without a
/// turn), the summary from the last agent message. Codex reports neither
/// a cost nor the number of model calls: the cost stays unknown, the calls
/// are estimated (one per tool item plus one per turn) and the latency is
/// the run's wall time.
pub(super) fn judge(stdout: &str, wall_ms: u64) -> Verdict {
    let (events, bad) = json_lines(stdout);
    if let Some(failed) = events.iter().rev().find(|e| e["type"] == "turn.failed") {
        let message = failed["error"]["message"].as_str().unwrap_or("no message");
        return classify(message);
    }
    let turns: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "turn.completed")
        .collect();
    if turns.is_empty() {
        let error = events
            .iter()
            .rev()
            .find(|e| e["type"] == "error")
            .and_then(|e| e["message"].as_str());
        return match error {
            Some(message) => classify(message),
            None => Verdict::NoResult(describe_output(stdout, events.len(), bad)),
        };
    }
    let mut usage = turns_usage(&turns);
    usage.latency_ms = wall_ms;
    let completed: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "item.completed")
        .map(|e| &e["item"])
        .collect();
    let tool_items = completed
        .iter()
        .filter(|item| {
            item["type"]
                .as_str()
                .is_some_and(|t| TOOL_ITEMS.contains(&t))
        })
        .count();
    usage.calls = u32::try_from(tool_items + turns.len()).unwrap_or(u32::MAX);
    let said = completed
        .iter()
        .rev()
        .find(|item| item["type"] == "agent_message")
        .and_then(|item| item["text"].as_str())
        .map(str::trim)
        .filter(|text| !text.is_empty());
    let summary = match said {
        Some(text) => clip(text, MAX_SUMMARY),
        None => format!("Codex finished {} turn(s)", turns.len()),
    };
    Verdict::Done {
        summary,
        usage,
        model: None,
    }
}

/// The tokens of the completed turns.
fn turns_usage(turns: &[&Value]) -> Usage {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let mut usage = Usage::default();
    for turn in turns {
        let u = &turn["usage"];
        usage.input_tokens += n(&u["input_tokens"]);
        usage.cached_tokens += n(&u["cached_input_tokens"]);
        usage.output_tokens += n(&u["output_tokens"]);
    }
    usage
}

/// What a run that failed had used: the turns it completed (one call each
/// at least), if any.
pub(super) fn spent(stdout: &str) -> Option<Usage> {
    let (events, _) = json_lines(stdout);
    let turns: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "turn.completed")
        .collect();
    let mut usage = turns_usage(&turns);
    usage.calls = u32::try_from(turns.len()).unwrap_or(u32::MAX);
    (usage.calls > 0).then_some(usage)
}

/// An error message of Codex: a provider's HTTP status or a connection
/// failure is an outage, anything else the CLI's own failure.
fn classify(message: &str) -> Verdict {
    let said = clip(message.trim(), 500);
    match status_in(message) {
        Some(status) if outage_status(status) => Verdict::Outage(said),
        Some(status) => Verdict::Failed(format!(
            "got HTTP {status} from the model server (check [worker.agent] model and \
             base_url): {said}"
        )),
        None if connection_trouble(message) => Verdict::Outage(said),
        None => Verdict::Failed(format!("reported an error: {said}")),
    }
}

/// The HTTP status in "unexpected status 503 Service Unavailable" or
/// "last status: 429".
fn status_in(message: &str) -> Option<u64> {
    message.match_indices("status").find_map(|(at, word)| {
        let rest = message[at + word.len()..].trim_start_matches([':', ' ']);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits
            .parse()
            .ok()
            .filter(|status| (100..600).contains(status))
    })
}

fn connection_trouble(message: &str) -> bool {
    let lower = message.to_lowercase();
    [
        "connection",
        "error sending request",
        "stream disconnected",
        "timed out",
        "timeout",
        "network",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// When a run was stopped while Codex kept reconnecting (it waits for an
/// unreachable server without end): its last message.
pub(super) fn reconnecting(stdout: &str) -> Option<String> {
    let (events, _) = json_lines(stdout);
    let last = events.last()?;
    let message = last["message"].as_str()?;
    (last["type"] == "error" && message.starts_with("Reconnecting"))
        .then(|| format!("could not reach the model server: {}", clip(message, 300)))
}
