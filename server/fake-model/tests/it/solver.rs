//! Solver mode: each dialect, each client shape, each turn, over real HTTP.

use crate::common::{KEY, post};
use crate::solving::*;
use serde_json::json;
use tdd_fake_model::{Config, Dialect, FakeModel, Fault, Mode, Outcome, Reply};

fn server() -> FakeModel {
    FakeModel::start(Config::with_key(KEY).with_mode(Mode::Solver(solution()))).unwrap()
}

fn bearer_post(s: &FakeModel, path: &str, body: &serde_json::Value) -> crate::common::Resp {
    let auth = format!("Bearer {KEY}");
    crate::common::request(
        s.addr(),
        "POST",
        path,
        &[("authorization", &auth)],
        &body.to_string(),
    )
}

#[test]
fn api_worker_anthropic_writes_then_finishes_in_json_and_sse() {
    let s = server();
    for stream in [false, true] {
        let first = decode_anthropic(&post(
            s.addr(),
            "/v1/messages",
            &engine_anthropic(&prompt("RED", 1, TASK), false, stream),
        ));
        assert_eq!(first.names(), ["write_file"]);
        assert_eq!(
            first.calls[0].1,
            json!({"path": "tests/test_calc.py", "content": TEST_PY})
        );
        assert!(first.text.contains(TASK), "{}", first.text);

        let last = decode_anthropic(&post(
            s.addr(),
            "/v1/messages",
            &engine_anthropic(&prompt("RED", 1, TASK), true, stream),
        ));
        assert_eq!(last.names(), ["finish"]);
        let summary = last.calls[0].1["summary"].as_str().unwrap();
        assert!(summary.contains("tests/test_calc.py"), "{summary}");
    }
    assert!(
        s.requests()
            .iter()
            .all(|r| r.outcome == Outcome::Solved && r.dialect == Some(Dialect::Anthropic))
    );
}

#[test]
fn api_worker_chat_answers_each_stage_in_json_and_sse() {
    let s = server();
    for stream in [false, true] {
        let chat = |stage: &str, results: bool| {
            decode_chat(&bearer_post(
                &s,
                "/v1/chat/completions",
                &engine_chat(&prompt(stage, 1, TASK), results, stream),
            ))
        };
        assert_eq!(
            chat("GREEN", false).calls,
            [(
                "write_file".to_owned(),
                json!({"path": "src/calc.py", "content": IMPL_PY})
            )]
        );
        assert_eq!(
            chat("REFACTOR", false).written()["src/calc.py"],
            REFACTORED_PY
        );
        assert_eq!(chat("GREEN", true).names(), ["finish"]);
        // VERIFY writes nothing: finish at once.
        assert_eq!(chat("VERIFY", false).names(), ["finish"]);
    }
}

/// aider offers no tools: the files come as text, each path on a line and
/// its content fenced below ("whole" edit format).
#[test]
fn a_client_with_no_tools_gets_whole_files_as_text() {
    let s = server();
    for stream in [false, true] {
        let mut body = engine_chat(&prompt("GREEN", 1, TASK), false, stream);
        body.as_object_mut().unwrap().remove("tools");
        let d = decode_chat(&bearer_post(&s, "/v1/chat/completions", &body));
        assert!(d.calls.is_empty(), "{d:?}");
        assert_eq!(d.text, format!("src/calc.py\n```\n{IMPL_PY}```\n\n"));
    }
}

#[test]
fn a_missing_stage_finishes_without_writing() {
    let s = server();
    let d = decode_chat(&bearer_post(
        &s,
        "/v1/chat/completions",
        &engine_chat(&prompt("REFACTOR", 1, "REQ-2/AC-2.1"), false, false),
    ));
    assert_eq!(d.names(), ["finish"]);
    assert!(
        d.calls[0].1["summary"]
            .as_str()
            .unwrap()
            .contains("Nothing to change")
    );
}

#[test]
fn claude_code_gets_write_with_absolute_paths_then_final_text() {
    let s = server();
    let tools = ["Agent", "Bash", "Edit", "Read", "ToolSearch", "Write"];
    let first = decode_anthropic(&post(
        s.addr(),
        "/v1/messages?beta=true",
        &claude_code(&prompt("GREEN", 1, TASK), &tools, false),
    ));
    assert_eq!(first.names(), ["Write"]);
    assert_eq!(
        first.calls[0].1,
        json!({"file_path": format!("{WT}/src/calc.py"), "content": IMPL_PY})
    );
    let last = decode_anthropic(&post(
        s.addr(),
        "/v1/messages?beta=true",
        &claude_code(&prompt("GREEN", 1, TASK), &tools, true),
    ));
    assert!(last.calls.is_empty());
    assert!(last.text.contains("src/calc.py"), "{}", last.text);
}

#[test]
fn working_directory_line_in_the_prompt_serves_write() {
    let s = server();
    let text = format!("{}Working directory: /work/wt-9\n", prompt("RED", 1, TASK));
    let mut body = claude_code(&text, &["Write"], false);
    body["messages"].as_array_mut().unwrap().remove(1);
    let d = decode_anthropic(&post(s.addr(), "/v1/messages", &body));
    assert_eq!(d.calls[0].1["file_path"], "/work/wt-9/tests/test_calc.py");
}

#[test]
fn claude_code_bare_falls_back_to_bash_and_the_command_writes_the_file() {
    let s = server();
    let d = decode_anthropic(&post(
        s.addr(),
        "/v1/messages",
        &claude_code(&prompt("RED", 1, TASK), &["Bash", "Edit", "Read"], false),
    ));
    assert_eq!(d.names(), ["Bash"]);
    let dir = temp_dir("bash");
    run_in(&dir, d.calls[0].1["command"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.join("tests/test_calc.py")).unwrap(),
        TEST_PY
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn codex_gets_exec_command_then_a_final_message_in_sse_and_json() {
    let s = server();
    for stream in [true, false] {
        let mut body = codex(&prompt("GREEN", 2, TASK), false);
        body["stream"] = json!(stream);
        let d = decode_responses(&bearer_post(&s, "/v1/responses", &body));
        assert_eq!(d.names(), ["exec_command"]);
        let dir = temp_dir("codex");
        run_in(&dir, d.calls[0].1["cmd"].as_str().unwrap());
        assert_eq!(
            std::fs::read_to_string(dir.join("src/calc.py")).unwrap(),
            IMPL_PY
        );
        let _ = std::fs::remove_dir_all(dir);

        let mut body = codex(&prompt("GREEN", 2, TASK), true);
        body["stream"] = json!(stream);
        let d = decode_responses(&bearer_post(&s, "/v1/responses", &body));
        assert!(d.calls.is_empty());
        assert!(d.text.contains("src/calc.py"), "{}", d.text);
    }
}

#[test]
fn every_reply_reports_plausible_usage() {
    let s = server();
    let body = engine_chat(&prompt("GREEN", 1, TASK), false, true);
    let d = decode_chat(&bearer_post(&s, "/v1/chat/completions", &body));
    let bytes = body.to_string().len() as u64;
    assert!(d.input_tokens > 0 && d.input_tokens <= bytes, "{d:?}");
    assert!(
        d.cached_tokens > 0 && d.cached_tokens < d.input_tokens,
        "{d:?}"
    );
    assert!(d.output_tokens >= IMPL_PY.len() as u64 / 4, "{d:?}");
    let d = decode_responses(&bearer_post(
        &s,
        "/v1/responses",
        &codex(&prompt("RED", 1, TASK), true),
    ));
    assert!(d.input_tokens > 0 && d.output_tokens > 0, "{d:?}");
}

#[test]
fn what_it_cannot_answer_gets_a_text_saying_why() {
    let s = server();
    let cases = [
        (prompt("RED", 1, "REQ-9/AC-9.9"), "REQ-9/AC-9.9"),
        (prompt("TESTING", 1, TASK), "unknown stage `TESTING`"),
        ("Please write a poem.".to_owned(), "Stage:"),
        (
            "Stage: RED (attempt 1)\nno task line".to_owned(),
            "Task <KEY>",
        ),
    ];
    for (text, expected) in cases {
        let d = decode_chat(&bearer_post(
            &s,
            "/v1/chat/completions",
            &engine_chat(&text, false, false),
        ));
        assert!(d.calls.is_empty(), "{d:?}");
        assert!(d.text.contains(expected), "{expected}: {}", d.text);
    }
    // Offering no tool to write with is explained too.
    let d = decode_anthropic(&post(
        s.addr(),
        "/v1/messages",
        &claude_code(&prompt("RED", 1, TASK), &["Read", "Edit"], false),
    ));
    assert!(d.text.contains("Read, Edit"), "{}", d.text);
    // `Write` alone cannot be used without a working directory.
    let mut body = claude_code(&prompt("RED", 1, TASK), &["Write"], false);
    body["messages"].as_array_mut().unwrap().remove(1);
    let d = decode_anthropic(&post(s.addr(), "/v1/messages", &body));
    assert!(d.text.contains("working directory"), "{}", d.text);
}

#[test]
fn the_script_and_faults_come_first_and_the_mode_can_change() {
    let s = FakeModel::start(Config::with_key(KEY)).unwrap();
    let body = engine_anthropic(&prompt("RED", 1, TASK), false, false);
    // Script mode: nothing scripted is a 400.
    assert_eq!(post(s.addr(), "/v1/messages", &body).status, 400);
    s.set_mode(Mode::Solver(solution()));
    s.push(Fault::ServerError);
    s.push(Reply::text("scripted"));
    assert_eq!(post(s.addr(), "/v1/messages", &body).status, 500);
    assert_eq!(
        decode_anthropic(&post(s.addr(), "/v1/messages", &body)).text,
        "scripted"
    );
    assert_eq!(
        decode_anthropic(&post(s.addr(), "/v1/messages", &body)).names(),
        ["write_file"]
    );
    let outcomes: Vec<Outcome> = s.requests().into_iter().map(|r| r.outcome).collect();
    assert!(matches!(outcomes[0], Outcome::NoMatch));
    assert!(matches!(outcomes[1], Outcome::Fault { .. }));
    assert_eq!(outcomes[2..], [Outcome::Reply, Outcome::Solved]);
}

#[test]
fn a_cut_stream_fault_cuts_the_solver_reply() {
    let s = server();
    s.push(Fault::CutStream { after_events: 2 });
    let r = post(
        s.addr(),
        "/v1/messages",
        &engine_anthropic(&prompt("RED", 1, TASK), false, true),
    );
    assert!(!r.complete);
    assert!(r.body.contains("message_start"), "{}", r.body);
}
