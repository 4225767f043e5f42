use std::fs;
use std::os::unix::fs::PermissionsExt;

use tdd_gates::Stage;

use super::*;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tdd-agent-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// An executable shell script standing in for a CLI.
fn fake_cli(dir: &Path, body: &str) -> String {
    let path = dir.join("fake-cli");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

const CLAUDE_OK: &str = r#"{"type":"system","subtype":"init","model":"m-1","cwd":"/w"}
{"type":"assistant","message":{"id":"msg_1","model":"m-1","content":[{"type":"text","text":"Writing."}]}}
{"type":"assistant","message":{"id":"msg_1","model":"m-1","content":[{"type":"tool_use","name":"Write"}]}}
{"type":"user","message":{"content":[{"type":"tool_result"}]}}
{"type":"assistant","message":{"id":"msg_2","model":"m-1","content":[{"type":"text","text":"Done."}]}}
{"type":"result","subtype":"success","is_error":false,"terminal_reason":"completed","result":"Wrote the test.","num_turns":2,"total_cost_usd":0.0125,"duration_api_ms":850,"usage":{"input_tokens":1300,"cache_read_input_tokens":300,"cache_creation_input_tokens":50,"output_tokens":70}}
"#;

#[test]
fn claude_success_gives_summary_usage_cost_and_model() {
    let Verdict::Done {
        summary,
        usage,
        model,
    } = claude::judge(CLAUDE_OK)
    else {
        panic!("{:?}", claude::judge(CLAUDE_OK));
    };
    assert_eq!(summary, "Wrote the test.");
    assert_eq!(model.as_deref(), Some("m-1"));
    assert_eq!(
        usage,
        Usage {
            calls: 2,
            input_tokens: 1650,
            output_tokens: 70,
            cached_tokens: 300,
            cost_usd: Some(0.0125),
            latency_ms: 850,
        }
    );
}

fn claude_error(status: &str, text: &str) -> String {
    format!(
        "{{\"type\":\"assistant\",\"message\":{{\"id\":\"x\",\"model\":\"<synthetic>\"}}}}\n\
         {{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"terminal_reason\":\"api_error\",\
         \"api_error_status\":{status},\"result\":\"{text}\",\"usage\":{{}}}}\n"
    )
}

#[test]
fn claude_errors_key_on_is_error_and_the_status_not_the_subtype() {
    for status in ["529", "500", "429", "401"] {
        let verdict = claude::judge(&claude_error(status, "API Error"));
        assert!(
            matches!(&verdict, Verdict::Outage(m) if m.contains(status)),
            "{verdict:?}"
        );
    }
    let refused = claude::judge(&claude_error("null", "API Error: Connection refused"));
    assert!(matches!(&refused, Verdict::Outage(m) if m.contains("Connection refused")));
    let bad_model = claude::judge(&claude_error("404", "model not found"));
    assert!(
        matches!(&bad_model, Verdict::Failed(m) if m.contains("HTTP 404") && m.contains("model")),
        "{bad_model:?}"
    );
    let max_turns = claude::judge(
        "{\"type\":\"result\",\"is_error\":true,\"terminal_reason\":\"max_turns\",\"result\":\"\"}\n",
    );
    assert!(matches!(&max_turns, Verdict::Failed(m) if m.contains("max_turns")));
}

#[test]
fn output_without_a_result_is_described_not_trusted() {
    assert_eq!(
        claude::judge(""),
        Verdict::NoResult("stdout was empty".to_string())
    );
    let garbled = claude::judge("{\"type\":\"system\"}\nnot json at all\n{\"type\": \"res");
    let Verdict::NoResult(seen) = garbled else {
        panic!("{garbled:?}")
    };
    assert!(
        seen.contains("1 JSON events and 2 lines that were not JSON"),
        "{seen}"
    );
    assert!(seen.contains("{\"type\": \"res"), "{seen}");
    assert!(matches!(codex::judge("[1, 2]\n", 5), Verdict::NoResult(_)));
}

const CODEX_OK: &str = r#"{"type":"thread.started","thread_id":"t"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `m` not found."}}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc 'cat > a'","exit_code":0}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Wrote the code."}}
{"type":"turn.completed","usage":{"input_tokens":1600,"cached_input_tokens":300,"output_tokens":70,"reasoning_output_tokens":0}}
"#;

#[test]
fn codex_success_has_tokens_and_no_cost() {
    let verdict = codex::judge(CODEX_OK, 1234);
    let Verdict::Done { summary, usage, .. } = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(summary, "Wrote the code.");
    assert_eq!(
        usage,
        Usage {
            calls: 2,
            input_tokens: 1600,
            output_tokens: 70,
            cached_tokens: 300,
            cost_usd: None,
            latency_ms: 1234,
        }
    );
}

#[test]
fn codex_failures_are_outages_by_status_or_connection() {
    let failed = |message: &str| {
        let line = serde_json::json!({"type": "turn.failed", "error": {"message": message}});
        codex::judge(&format!("{{\"type\":\"turn.started\"}}\n{line}\n"), 1)
    };
    for message in [
        "unexpected status 503 Service Unavailable: overloaded, url: http://h/v1/responses",
        "exceeded retry limit, last status: 429 Too Many Requests",
        "unexpected status 401 Unauthorized: bad key",
        "stream disconnected before completion: error sending request",
    ] {
        assert!(matches!(failed(message), Verdict::Outage(_)), "{message}");
    }
    let bad_request = failed("unexpected status 400 Bad Request: no such model");
    assert!(matches!(&bad_request, Verdict::Failed(m) if m.contains("HTTP 400")));
    let own = failed("the sandbox could not start");
    assert!(matches!(&own, Verdict::Failed(m) if m.contains("sandbox")));
    // An error event and no turn at all.
    let config = codex::judge("{\"type\":\"error\",\"message\":\"invalid config\"}\n", 1);
    assert!(matches!(&config, Verdict::Failed(m) if m.contains("invalid config")));
    let stuck = "{\"type\":\"error\",\"message\":\"Reconnecting... waiting for network\"}\n";
    assert!(codex::reconnecting(stuck).is_some());
    assert!(codex::reconnecting(CODEX_OK).is_none());
}

#[test]
fn the_key_is_only_in_the_environment_and_the_settings_are_the_presets() {
    let home = Scratch::create().unwrap();
    let claude = AgentCliWorker::new("w", AgentCli::ClaudeCode, "claude", "sk-secret-1")
        .model("m-1")
        .base_url("http://127.0.0.1:9/")
        .extra_args(["--max-turns", "5"]);
    let (args, env) = claude.invocation("Stage: RED", &home, &[]);
    assert_eq!(&args[..2], ["-p", "Stage: RED"]);
    for flag in [
        "--dangerously-skip-permissions",
        "--no-session-persistence",
        "stream-json",
        "m-1",
        "--max-turns",
    ] {
        assert!(args.iter().any(|a| a == flag), "{flag}: {args:?}");
    }
    let get = |env: &[(String, String)], key: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        get(&env, "ANTHROPIC_BASE_URL").as_deref(),
        Some("http://127.0.0.1:9")
    );
    assert_eq!(
        get(&env, "ANTHROPIC_API_KEY").as_deref(),
        Some("sk-secret-1")
    );
    assert_eq!(
        get(&env, "HOME").as_deref(),
        Some(home.path().to_str().unwrap())
    );
    assert!(!format!("{claude:?}").contains("sk-secret-1"));

    let codex = AgentCliWorker::new("w", AgentCli::Codex, "codex", "sk-secret-2")
        .base_url("http://127.0.0.1:9/v1")
        .extra_args(["-c", "x=1"]);
    let (args, env) = codex.invocation("Stage: RED", &home, &[]);
    assert_eq!(args.last().map(String::as_str), Some("Stage: RED"));
    assert!(args.contains(&"--ephemeral".to_string()), "{args:?}");
    let provider = args
        .iter()
        .find(|a| a.starts_with("model_providers.tdd="))
        .unwrap();
    assert!(
        provider.contains("base_url=\"http://127.0.0.1:9/v1\"")
            && provider.contains("env_key=\"OPENAI_API_KEY\"")
            && provider.contains("wire_api=\"responses\""),
        "{provider}"
    );
    assert_eq!(get(&env, "OPENAI_API_KEY").as_deref(), Some("sk-secret-2"));
    assert_eq!(
        get(&env, "CODEX_HOME").as_deref(),
        Some(home.path().to_str().unwrap())
    );
    assert!(args.iter().all(|a| !a.contains("sk-secret")));
}

#[test]
fn the_prompt_names_the_stage_and_the_absolute_worktree() {
    let mut request = super::super::test_request(Path::new("/wt/task"), Stage::Green, 1);
    request.writable = vec!["src/calc.py".to_string()];
    let text = prompt(&request);
    assert!(text.starts_with("Stage: GREEN"), "{text}");
    assert!(text.contains("Working directory: /wt/task\n"), "{text}");
    assert!(
        text.contains("- src/calc.py") && text.contains("git"),
        "{text}"
    );
}

#[test]
fn a_fake_cli_runs_in_the_worktree_with_a_home_that_is_removed_afterwards() {
    let dir = temp("run");
    let script = format!(
        "pwd > seen.txt; echo \"$HOME\" >> seen.txt; touch \"$HOME/state\"; printf '%s' '{}'",
        CLAUDE_OK.replace('\'', "")
    );
    let mut worker = AgentCliWorker::new("w", AgentCli::ClaudeCode, fake_cli(&dir, &script), "k");
    let report = worker
        .perform(&super::super::test_request(&dir, Stage::Red, 1))
        .unwrap();
    assert_eq!(report.summary, "Wrote the test.");
    assert_eq!(report.usage.unwrap().cost_usd, Some(0.0125));
    let seen = fs::read_to_string(dir.join("seen.txt")).unwrap();
    let mut lines = seen.lines();
    assert_eq!(
        Path::new(lines.next().unwrap()),
        dir.canonicalize().unwrap()
    );
    let home = lines.next().unwrap();
    assert!(
        !dir.starts_with(home) && !Path::new(home).exists(),
        "{home}"
    );
}

#[test]
fn a_missing_or_crashing_cli_is_a_failure_that_says_how_to_install_it() {
    let dir = temp("missing");
    let request = super::super::test_request(&dir, Stage::Red, 1);
    let mut missing = AgentCliWorker::new("w", AgentCli::Codex, "no-such-codex-xyz", "k");
    let err = missing.perform(&request).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, WorkerError::Failed(_)));
    assert!(
        message.contains("`no-such-codex-xyz` not found on PATH")
            && message.contains("npm install -g @openai/codex"),
        "{message}"
    );
    let mut crashing = AgentCliWorker::new(
        "w",
        AgentCli::ClaudeCode,
        fake_cli(&dir, "echo 'segfault here' >&2; exit 139"),
        "k",
    );
    let message = crashing.perform(&request).unwrap_err().to_string();
    assert!(
        message.contains("exited with code 139 without a final result (stdout was empty)")
            && message.contains("reinstall it with `npm install -g @anthropic-ai/claude-code`")
            && message.contains("segfault here"),
        "{message}"
    );
    let mut killed =
        AgentCliWorker::new("w", AgentCli::Codex, fake_cli(&dir, "kill -SEGV $$"), "k");
    let message = killed.perform(&request).unwrap_err().to_string();
    assert!(
        message.contains("crashed (killed by signal 11)"),
        "{message}"
    );
    let mut outage = AgentCliWorker::new(
        "w",
        AgentCli::ClaudeCode,
        fake_cli(
            &dir,
            &format!(
                "printf '%s' '{}'; exit 1",
                claude_error("529", "overloaded")
            ),
        ),
        "k",
    );
    let err = outage.perform(&request).unwrap_err();
    assert!(
        matches!(&err, WorkerError::ProviderOutage(m) if m.contains("HTTP 529")),
        "{err}"
    );
}

#[test]
fn a_cli_still_retrying_at_its_timeout_is_an_outage() {
    let dir = temp("timeout");
    let line = r#"{"type":"system","subtype":"api_retry","attempt":3,"max_retries":10,"error_status":503,"error":"overloaded"}"#;
    let mut worker = AgentCliWorker::new(
        "w",
        AgentCli::ClaudeCode,
        fake_cli(&dir, &format!("echo '{line}'; sleep 30")),
        "k",
    )
    .timeout(Duration::from_millis(500));
    let err = worker
        .perform(&super::super::test_request(&dir, Stage::Red, 1))
        .unwrap_err();
    assert!(
        matches!(&err, WorkerError::ProviderOutage(m) if m.contains("HTTP 503") && m.contains("retry 3 of 10")),
        "{err}"
    );
}

#[test]
fn from_config_needs_the_key_variable_and_finds_the_program() {
    use super::super::{WorkerConfigError, from_config};
    let config = |text: &str| tdd_core::config::parse_config(text).unwrap().worker;
    let unset =
        "[worker]\nkind = \"codex\"\n[worker.agent]\napi_key_env = \"TDD_TEST_SURELY_UNSET_KEY\"\n";
    let message = from_config(&config(unset), Path::new("."), "w")
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("kind = \"codex\"") && message.contains("TDD_TEST_SURELY_UNSET_KEY"),
        "{message}"
    );
    // PATH is always set: it stands in for a key variable here.
    let missing = "[worker]\nkind = \"claude_code\"\n[worker.agent]\napi_key_env = \"PATH\"\n\
                   program = \"bin/claude\"\n";
    let root = temp("config");
    let err = from_config(&config(missing), &root, "w").err().unwrap();
    let message = err.to_string();
    assert!(matches!(err, WorkerConfigError::Agent(..)));
    assert!(
        message.contains("program `bin/claude` does not exist")
            && message.contains("npm install -g @anthropic-ai/claude-code"),
        "{message}"
    );
    fake_cli(&root, "exit 0");
    let found = missing.replace("bin/claude", "./fake-cli");
    let worker = from_config(&config(&found), &root, "agent-1").unwrap();
    assert_eq!(worker.name(), "agent-1");
}

#[test]
fn a_huge_prompt_is_cut_to_fit_one_argument_and_keeps_the_rules() {
    let mut request = super::super::test_request(Path::new("/wt"), Stage::Red, 1);
    request.task.hints = (0..30)
        .map(|i| format!("{i} {}", "é".repeat(2_000)))
        .collect();
    request.task.criteria = request.task.hints.clone();
    request.feedback = Some("x".repeat(20_000));
    let text = prompt(&request);
    assert!(text.len() < MAX_PROMPT_BYTES + 1_000, "{}", text.len());
    assert!(text.starts_with("Stage: RED"));
    assert!(text.contains("Working directory: /wt\n"));
}

/// An outage after some answered calls keeps their usage for the attempt's
/// record (`Worker::spent`), taken once; a success leaves nothing there.
#[test]
fn a_failed_attempt_keeps_the_usage_of_the_calls_it_made() {
    let dir = temp("spent");
    let request = super::super::test_request(&dir, Stage::Green, 1);
    let printed = "Tokens: 1.2k sent, 40 received.\nlitellm.RateLimitError: slow down";
    let mut aider = AgentCliWorker::new(
        "w",
        AgentCli::Aider,
        fake_cli(&dir, &format!("printf '%s\\n' '{printed}'")),
        "k",
    );
    let err = aider.perform(&request).unwrap_err();
    assert!(matches!(err, WorkerError::ProviderOutage(_)), "{err}");
    let used = aider.spent().expect("the answered call");
    assert_eq!(
        (used.calls, used.input_tokens, used.output_tokens),
        (1, 1200, 40)
    );
    assert_eq!(aider.spent(), None, "taken once");

    let mut claude = AgentCliWorker::new(
        "w",
        AgentCli::ClaudeCode,
        fake_cli(
            &dir,
            &format!("printf '%s' '{}'", CLAUDE_OK.replace('\'', "")),
        ),
        "k",
    );
    claude.perform(&request).unwrap();
    assert_eq!(claude.spent(), None);
}
