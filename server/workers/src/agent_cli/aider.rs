//! The aider preset: `aider --message PROMPT` on the stage's files, with no
//! git of its own (`--no-git`: the engine commits), its history files and
//! caches in the throwaway home, no update checks, analytics or repo map.
//! aider prints plain text and exits 0 even when every model call failed,
//! so the verdict comes from what it printed: `Tokens: … sent, … received.`
//! after each answered call, `litellm.<Kind>Error: …` for a failed one.

use std::path::Path;

use super::scratch::Scratch;
use super::{MAX_SUMMARY, Usage, Verdict, clip};

/// The arguments after the program: flags, the files the stage may change
/// that exist already (aider edits only files in its chat; new ones it
/// creates when the model names them), and the prompt.
pub(super) fn args(
    model: Option<&str>,
    base_url: Option<&str>,
    home: &Scratch,
    files: &[String],
    prompt: &str,
) -> Vec<String> {
    let at = |name: &str| home.path().join(name).display().to_string();
    let mut args: Vec<String> = [
        "--no-git",
        "--yes-always",
        "--no-check-update",
        "--no-show-release-notes",
        "--analytics-disable",
        "--no-show-model-warnings",
        "--no-pretty",
        "--no-fancy-input",
        "--map-tokens",
        "0",
    ]
    .map(String::from)
    .into();
    args.extend([
        "--chat-history-file".to_string(),
        at("aider.chat.history.md"),
        "--input-history-file".to_string(),
        at("aider.input.history"),
    ]);
    if let Some(model) = model {
        let model = wire_model(model, base_url);
        if base_url.is_some() {
            // A server of one's own serves models aider does not know: their
            // limits come from this file, or aider downloads litellm's list.
            args.extend(["--model-metadata-file".to_string(), at(METADATA)]);
        }
        args.extend(["--model".to_string(), model]);
    }
    args.extend(["--message".to_string(), prompt.to_string()]);
    args.push("--".to_string());
    args.extend(files.iter().cloned());
    args
}

const METADATA: &str = "aider-models.json";

/// `openai/<model>` for a server of one's own (litellm's prefix for any
/// OpenAI-compatible endpoint), unless the model already names a provider.
fn wire_model(model: &str, base_url: Option<&str>) -> String {
    if base_url.is_some() && !model.contains('/') {
        format!("openai/{model}")
    } else {
        model.to_string()
    }
}

/// Writes the model's limits into the home (see [`args`]); no cost, so none
/// is reported.
pub(super) fn write_metadata(
    home: &Scratch,
    model: Option<&str>,
    base_url: Option<&str>,
) -> std::io::Result<()> {
    let (Some(model), Some(_)) = (model, base_url) else {
        return Ok(());
    };
    let entry = serde_json::json!({
        "max_input_tokens": 128_000,
        "max_output_tokens": 16_384,
        "input_cost_per_token": 0,
        "output_cost_per_token": 0,
        "litellm_provider": "openai",
        "mode": "chat",
    });
    let models = serde_json::json!({ wire_model(model, base_url): entry });
    std::fs::write(home.path().join(METADATA), models.to_string())
}

/// The server and the key, as litellm reads them.
pub(super) fn env(base_url: Option<&str>, key: &str) -> Vec<(String, String)> {
    let mut env = vec![("OPENAI_API_KEY".to_string(), key.to_string())];
    if let Some(url) = base_url {
        env.push(("OPENAI_API_BASE".into(), url.trim_end_matches('/').into()));
    }
    env
}

/// The files of `writable` that exist in `worktree`.
pub(super) fn existing(worktree: &Path, writable: &[String]) -> Vec<String> {
    writable
        .iter()
        .filter(|rel| worktree.join(rel).is_file())
        .cloned()
        .collect()
}

/// Reads aider's output: an error after the last answered call decides
/// (provider trouble is an outage); else the calls' tokens, the session's
/// cost when one is printed, and the files it edited.
pub(super) fn judge(stdout: &str) -> Verdict {
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    let answered = lines.iter().rposition(|l| l.starts_with("Tokens: "));
    let failed = lines.iter().rposition(|l| l.starts_with("litellm."));
    if let Some(at) = failed
        && answered.is_none_or(|a| a < at)
    {
        // The message may wrap onto the next line.
        let message = lines[at..]
            .iter()
            .take(2)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        return classify(&message);
    }
    let Some(_) = answered else {
        let last = lines.iter().rev().find(|l| !l.is_empty());
        return Verdict::NoResult(match last {
            None => "stdout was empty".to_string(),
            Some(line) => format!(
                "no `Tokens:` line (no model call was answered); the last line: {}",
                clip(line, 300)
            ),
        });
    };
    let usage = counted(&lines);
    let edited: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Applied edit to "))
        .collect();
    let summary = if edited.is_empty() {
        "aider answered and edited no file".to_string()
    } else {
        clip(&format!("aider edited {}", edited.join(", ")), MAX_SUMMARY)
    };
    Verdict::Done {
        summary,
        usage,
        model: None,
    }
}

/// The answered calls of the run: tokens from each `Tokens:` line, the
/// session's cost from the last that prints one.
fn counted(lines: &[&str]) -> Usage {
    let mut usage = Usage::default();
    for line in lines.iter().filter(|l| l.starts_with("Tokens: ")) {
        let (sent, received) = tokens(line);
        usage.input_tokens += sent;
        usage.output_tokens += received;
        usage.calls += 1;
        if let Some(cost) = session_cost(line) {
            usage.cost_usd = Some(cost);
        }
    }
    usage
}

/// What a run that failed had used: its answered calls, if any.
pub(super) fn spent(stdout: &str) -> Option<Usage> {
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    let usage = counted(&lines);
    (usage.calls > 0).then_some(usage)
}

/// `Tokens: 2.3k sent, 150 received.` (with `Cost: …` after it, sometimes).
fn tokens(line: &str) -> (u64, u64) {
    let count = |word: &str| -> u64 {
        let Some(before) = line.split(word).next() else {
            return 0;
        };
        let number = before.trim_end().rsplit([' ', ',']).next().unwrap_or("");
        parse_count(number)
    };
    (count(" sent"), count(" received"))
}

/// `657`, `2.3k`, `1.2M`.
fn parse_count(text: &str) -> u64 {
    let (digits, scale) = match text.chars().last() {
        Some('k') => (&text[..text.len() - 1], 1e3),
        Some('M') => (&text[..text.len() - 1], 1e6),
        _ => (text, 1.0),
    };
    digits
        .parse::<f64>()
        .map_or(0, |n| (n * scale).round() as u64)
}

/// `Cost: $0.0012 message, $0.0024 session.` → 0.0024.
fn session_cost(line: &str) -> Option<f64> {
    let (before, _) = line.split_once(" session")?;
    before.rsplit_once('$')?.1.trim().parse().ok()
}

/// litellm's error kinds: the provider's trouble is an outage; a request
/// the server refused as malformed (a wrong model or URL) is the setup's.
fn classify(message: &str) -> Verdict {
    let said = clip(message.trim(), 500);
    let kind = message
        .strip_prefix("litellm.")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or("");
    match kind {
        "BadRequestError" | "NotFoundError" | "UnprocessableEntityError" => {
            Verdict::Failed(format!(
                "the model server refused the request (check [worker.agent] model and \
                 base_url): {said}"
            ))
        }
        "ContextWindowExceededError" | "ContentPolicyViolationError" => {
            Verdict::Failed(format!("the model could not answer: {said}"))
        }
        _ => Verdict::Outage(said),
    }
}

/// When a run was stopped while aider kept retrying the model server: its
/// last error.
pub(super) fn retrying(stdout: &str) -> Option<String> {
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    let last = lines.iter().rposition(|l| !l.is_empty())?;
    if !lines[last].starts_with("Retrying in") {
        return None;
    }
    let error = lines[..last]
        .iter()
        .rev()
        .find(|l| l.starts_with("litellm."))?;
    Some(format!(
        "kept retrying the model server: {}",
        clip(error, 300)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWERED: &str = "Aider v0.86.2\nModel: openai/fake-model with whole edit format\n\
        Git repo: none\nRepo-map: disabled\nAdded src/calc.py to the chat.\n\nsrc/calc.py\n```\n\
        def add(a, b):\n    return a + b\n```\n\nTokens: 657 sent, 17 received.\n\nsrc/calc.py\n\
        Applied edit to src/calc.py\n";

    #[test]
    fn an_answered_run_reports_its_tokens_and_edits() {
        let Verdict::Done { summary, usage, .. } = judge(ANSWERED) else {
            panic!("{:?}", judge(ANSWERED));
        };
        assert_eq!(summary, "aider edited src/calc.py");
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.calls),
            (657, 17, 1)
        );
        assert_eq!(usage.cost_usd, None);
    }

    #[test]
    fn thousands_and_costs_are_read() {
        let out = "Tokens: 2.3k sent, 150 received. Cost: $0.0012 message, $0.0024 session.\n\
                   Tokens: 1.1k sent, 1.2k received. Cost: $0.0030 message, $0.0054 session.\n";
        let Verdict::Done { usage, .. } = judge(out) else {
            panic!("{:?}", judge(out));
        };
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.calls),
            (3400, 1350, 2)
        );
        assert_eq!(usage.cost_usd, Some(0.0054));
    }

    #[test]
    fn provider_errors_are_outages_and_bad_requests_failures() {
        let refused = "Model: openai/x\n\nlitellm.AuthenticationError: AuthenticationError: \
                       OpenAIException - bad key\nThe API provider is not able to authenticate you.\n";
        assert!(matches!(judge(refused), Verdict::Outage(m) if m.contains("AuthenticationError")));
        let down = "litellm.InternalServerError: InternalServerError: OpenAIException - Connection\n\
                    error.\nThe API provider's servers are down or overloaded.\n";
        assert!(matches!(judge(down), Verdict::Outage(m) if m.contains("Connection error")));
        let wrong = "litellm.NotFoundError: NotFoundError: OpenAIException - no such model\n";
        assert!(matches!(judge(wrong), Verdict::Failed(m) if m.contains("check [worker.agent]")));
        // An error the retry got past does not decide.
        let recovered = format!("{down}Retrying in 0.2 seconds...\n{ANSWERED}");
        assert!(matches!(judge(&recovered), Verdict::Done { .. }));
    }

    #[test]
    fn a_failed_run_keeps_the_calls_answered_before_it_failed() {
        let out = format!("{ANSWERED}litellm.RateLimitError: slow down\n");
        assert!(matches!(judge(&out), Verdict::Outage(_)));
        let used = spent(&out).expect("one call was answered");
        assert_eq!(
            (used.calls, used.input_tokens, used.output_tokens),
            (1, 657, 17)
        );
        assert_eq!(spent("litellm.RateLimitError: slow down\n"), None);
    }

    #[test]
    fn no_answer_at_all_is_no_result() {
        assert!(matches!(judge(""), Verdict::NoResult(m) if m == "stdout was empty"));
        assert!(matches!(judge("Aider v0.86.2\nbye\n"), Verdict::NoResult(m) if m.contains("bye")));
    }

    #[test]
    fn a_run_stopped_while_retrying_names_the_error() {
        let out = "litellm.InternalServerError: down\nRetrying in 16.0 seconds...\n";
        assert!(retrying(out).is_some_and(|m| m.contains("InternalServerError")));
        assert_eq!(retrying(ANSWERED), None);
    }

    #[test]
    fn a_server_of_ones_own_gets_the_openai_prefix() {
        assert_eq!(wire_model("fake", Some("http://x/v1")), "openai/fake");
        assert_eq!(
            wire_model("openai/fake", Some("http://x/v1")),
            "openai/fake"
        );
        assert_eq!(wire_model("gpt-4o", None), "gpt-4o");
    }
}
