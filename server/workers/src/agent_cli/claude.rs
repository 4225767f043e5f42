//! The Claude Code preset: `claude -p PROMPT --output-format stream-json
//! --verbose`, permission prompts off, no session files, no traffic besides
//! the model calls. Its stdout is one JSON event per line, ending in a
//! `result` event.

use std::collections::HashSet;

use serde_json::Value;

use super::{MAX_SUMMARY, Usage, Verdict, clip, describe_output, json_lines, outage_status};

/// The arguments after the program.
pub(super) fn args(model: Option<&str>, prompt: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "-p",
        prompt,
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
    ]
    .map(String::from)
    .into();
    if let Some(model) = model {
        args.extend(["--model".to_string(), model.to_string()]);
    }
    args.push("--no-session-persistence".to_string());
    args
}

/// The server, the key, and everything that keeps the CLI quiet offline.
pub(super) fn env(base_url: Option<&str>, key: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(url) = base_url {
        // The client appends /v1/messages itself.
        let url = url.trim_end_matches('/');
        env.push(("ANTHROPIC_BASE_URL".into(), url.to_string()));
    }
    env.push(("ANTHROPIC_API_KEY".into(), key.to_string()));
    for flag in [
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
        "DISABLE_AUTOUPDATER",
        "DISABLE_TELEMETRY",
        "DISABLE_ERROR_REPORTING",
    ] {
        env.push((flag.into(), "1".into()));
    }
    // SAFETY: geteuid only reads the process's effective user id.
    if unsafe { libc::geteuid() } == 0 {
        // Without it, --dangerously-skip-permissions refuses to run as root.
        env.push(("IS_SANDBOX".into(), "1".into()));
    }
    env
}

/// Reads the `result` event: `is_error` and `terminal_reason` decide (its
/// `subtype` says "success" even for API errors), `api_error_status` tells
/// a provider's failure from others; usage and cost come from it too.
pub(super) fn judge(stdout: &str) -> Verdict {
    let (events, bad) = json_lines(stdout);
    let Some(result) = events.iter().rev().find(|e| e["type"] == "result") else {
        return Verdict::NoResult(describe_output(stdout, events.len(), bad));
    };
    let text = result["result"].as_str().unwrap_or_default().trim();
    let reason = result["terminal_reason"].as_str();
    let is_error = result["is_error"].as_bool().unwrap_or(false);
    if is_error || reason.is_some_and(|r| r != "completed") {
        let reason = reason.unwrap_or("an error");
        let said = if text.is_empty() {
            "no message".to_string()
        } else {
            clip(text, 500)
        };
        let status = result["api_error_status"].as_u64();
        return match status {
            Some(status) if outage_status(status) => {
                Verdict::Outage(format!("HTTP {status} from the model server: {said}"))
            }
            Some(status) => Verdict::Failed(format!(
                "got HTTP {status} from the model server (check [worker.agent] model and \
                 base_url): {said}"
            )),
            // No status: the server could not be reached at all.
            None if reason == "api_error" => Verdict::Outage(said),
            None => Verdict::Failed(format!("ended with {reason}: {said}")),
        };
    }
    let model = events
        .iter()
        .find(|e| e["type"] == "system" && e["subtype"] == "init")
        .and_then(|e| e["model"].as_str())
        .map(str::to_string);
    let summary = if text.is_empty() {
        format!(
            "Claude Code finished in {} turns",
            result["num_turns"].as_u64().unwrap_or(0)
        )
    } else {
        clip(text, MAX_SUMMARY)
    };
    Verdict::Done {
        summary,
        usage: usage(&events, result),
        model,
    }
}

/// What a run that failed had used: its `result` event's usage, when it
/// counts any call.
pub(super) fn spent(stdout: &str) -> Option<Usage> {
    let (events, _) = json_lines(stdout);
    let result = events.iter().rev().find(|e| e["type"] == "result")?;
    let usage = usage(&events, result);
    (usage.calls > 0 || usage.input_tokens > 0).then_some(usage)
}

fn usage(events: &[Value], result: &Value) -> Usage {
    let u = &result["usage"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let cached = n(&u["cache_read_input_tokens"]);
    // One model call can span several `assistant` events (one per content
    // block), all with the message's id; the CLI's own error messages are
    // not calls.
    let ids: HashSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "assistant" && e["message"]["model"] != "<synthetic>")
        .filter_map(|e| e["message"]["id"].as_str())
        .collect();
    let calls = match ids.len() {
        0 => n(&result["num_turns"]) as usize,
        len => len,
    };
    Usage {
        calls: u32::try_from(calls).unwrap_or(u32::MAX),
        input_tokens: n(&u["input_tokens"]) + cached + n(&u["cache_creation_input_tokens"]),
        output_tokens: n(&u["output_tokens"]),
        cached_tokens: cached,
        cost_usd: result["total_cost_usd"].as_f64(),
        latency_ms: n(&result["duration_api_ms"]),
    }
}

/// When a run was stopped while the CLI was still retrying the model
/// server: why, from its last `api_retry` event.
pub(super) fn retrying(stdout: &str) -> Option<String> {
    let (events, _) = json_lines(stdout);
    let last = events.last()?;
    if last["type"] != "system" || last["subtype"] != "api_retry" {
        return None;
    }
    let status = match last["error_status"].as_u64() {
        Some(status) => format!("HTTP {status}"),
        None => "no connection".to_string(),
    };
    Some(format!(
        "still retrying the model server ({status}: {}, retry {} of {})",
        last["error"].as_str().unwrap_or("no message"),
        last["attempt"].as_u64().unwrap_or(0),
        last["max_retries"].as_u64().unwrap_or(0)
    ))
}
