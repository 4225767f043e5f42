//! Fixtures for the solver and cheater tests: a reference solution, the
//! engine's prompt, request bodies shaped like the engine's API worker,
//! Claude Code and Codex, and a decoder turning any dialect's answer
//! (JSON or SSE) back into text and tool calls.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::{Resp, sse};

pub const TASK: &str = "REQ-1/AC-1.1";
pub const TEST_PY: &str = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n";
pub const IMPL_PY: &str = "def add(a, b):\n    return a + b\n";
pub const REFACTORED_PY: &str = "def add(a: int, b: int) -> int:\n    return a + b\n";
pub const STUB_PY: &str = "def add(a, b):\n    raise NotImplementedError\n";
pub const WT: &str = "/tmp/fake wt/project";

pub const SOLUTION_TOML: &str = r#"
[[task]]
task = "REQ-1/AC-1.1"

[task.red]
"tests/test_calc.py" = """
from calc import add


def test_add():
    assert add(1, 2) == 3
"""

[task.green]
"src/calc.py" = """
def add(a, b):
    return a + b
"""

[task.refactor]
"src/calc.py" = """
def add(a: int, b: int) -> int:
    return a + b
"""

[task.stub]
"src/calc.py" = """
def add(a, b):
    raise NotImplementedError
"""

[[task]]
task = "REQ-2/AC-2.1"
red = { "tests/test_sub.py" = "def test_sub():\n    assert 1 - 1 == 0\n" }
"#;

pub fn solution() -> tdd_fake_model::Solution {
    tdd_fake_model::Solution::from_toml_str(SOLUTION_TOML).unwrap()
}

/// The engine's first user message (see engine worker/api/prompt.rs).
pub fn prompt(stage: &str, attempt: u32, task: &str) -> String {
    format!(
        "Stage: {stage} (attempt {attempt})\nDo the stage's work.\n\nTask {task}: add two numbers\n\
         Requirement: REQ-1\n\nAcceptance criteria:\n- AC-1.1\n\n\
         Writable paths (relative to the project root):\n- src/calc.py\n\n\
         Test file: tests/test_calc.py\nImplementation file: src/calc.py\n"
    )
}

fn engine_tools() -> Vec<&'static str> {
    vec![
        "read_file",
        "list_files",
        "write_file",
        "edit_file",
        "finish",
    ]
}

/// The API worker's Anthropic body; with `results`, the turn after the
/// first tool calls came back.
pub fn engine_anthropic(prompt: &str, results: bool, stream: bool) -> Value {
    let tools: Vec<Value> = engine_tools()
        .iter()
        .map(|t| json!({"name": t, "description": "d", "input_schema": {"type": "object"}}))
        .collect();
    let mut messages = vec![json!({"role": "user", "content": prompt})];
    if results {
        messages.push(json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "write_file", "input": {"path": "a", "content": "b"}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "wrote a"}]}));
    }
    json!({"model": "fake-model-1", "max_tokens": 4096, "stream": stream,
        "system": "You are the worker of a strict test-driven development pipeline.",
        "messages": messages, "tools": tools})
}

/// The API worker's OpenAI chat body.
pub fn engine_chat(prompt: &str, results: bool, stream: bool) -> Value {
    let tools: Vec<Value> = engine_tools()
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t, "parameters": {"type": "object"}}}))
        .collect();
    let mut messages = vec![
        json!({"role": "system", "content": "You are the worker."}),
        json!({"role": "user", "content": prompt}),
    ];
    if results {
        messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "write_file", "arguments": "{}"}}]}));
        messages.push(json!({"role": "tool", "tool_call_id": "call_1", "content": "wrote a"}));
    }
    json!({"model": "gpt-fake", "stream": stream, "stream_options": {"include_usage": stream},
        "messages": messages, "tools": tools})
}

/// Claude Code: `system` as blocks, a `role: system` message carrying the
/// environment, `Write`/`Bash` among many tools, always streaming.
pub fn claude_code(prompt: &str, tools: &[&str], results: bool) -> Value {
    let tools: Vec<Value> = tools
        .iter()
        .map(|t| json!({"name": t, "description": "d", "input_schema": {"type": "object"}}))
        .collect();
    let mut messages = vec![
        json!({"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>\nAs you answer, use the context.\n</system-reminder>"},
            {"type": "text", "text": prompt, "cache_control": {"type": "ephemeral"}}]}),
        json!({"role": "system", "content": format!(
            "# Environment\nYou have been invoked in the following environment:\n - Primary working directory: {WT}\n - Is a git repository: true\n")}),
    ];
    if results {
        messages.push(json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_9", "name": "Write", "input": {}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_9",
             "content": format!("File created successfully at: {WT}/x"), "cache_control": {"type": "ephemeral"}}]}));
    }
    json!({"model": "fake-model", "max_tokens": 32000, "stream": true,
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.330"},
                   {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": messages, "tools": tools, "metadata": {"user_id": "{\"device_id\":\"d\"}"},
        "thinking": {"type": "adaptive"}, "context_management": {}, "output_config": {"effort": "medium"}})
}

/// Codex: developer messages, the environment context, then the prompt
/// as `input_text`; tools in Responses style, including a namespace.
pub fn codex(prompt: &str, results: bool) -> Value {
    let mut input = vec![
        json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]}),
        json!({"type": "message", "role": "user", "content": [{"type": "input_text",
            "text": format!("<environment_context>\n  <cwd>{WT}</cwd>\n  <shell>bash</shell>\n</environment_context>")}]}),
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}),
    ];
    if results {
        input.push(json!({"type": "function_call", "name": "exec_command",
            "arguments": "{\"cmd\":\"true\"}", "call_id": "call_7"}));
        input.push(json!({"type": "function_call_output", "call_id": "call_7",
            "output": "Chunk ID: 1\nProcess exited with code 0\nOutput:\n"}));
    }
    json!({"model": "fake-model", "stream": true, "input": input, "tool_choice": "auto",
        "parallel_tool_calls": true, "store": false, "include": ["reasoning.encrypted_content"],
        "tools": [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
            {"type": "function", "name": "write_stdin", "parameters": {"type": "object"}},
            {"type": "namespace", "name": "multi_agent_v1", "tools": [{"type": "function", "name": "spawn_agent"}]},
            {"type": "web_search", "external_web_access": true}]})
}

/// An answer, whatever its dialect and framing.
#[derive(Debug, Default)]
pub struct Decoded {
    pub text: String,
    pub calls: Vec<(String, Value)>,
    /// Input tokens as the dialect reports them (cache reads included).
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
}

impl Decoded {
    pub fn names(&self) -> Vec<&str> {
        self.calls.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// `path → content` for `write_file` calls (or `Write`'s `file_path`).
    pub fn written(&self) -> BTreeMap<String, String> {
        self.calls
            .iter()
            .map(|(_, i)| {
                let path = i["path"].as_str().or(i["file_path"].as_str()).unwrap();
                (path.to_owned(), i["content"].as_str().unwrap().to_owned())
            })
            .collect()
    }
}

fn parse_args(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("arguments not JSON ({e}): {s}"))
}

pub fn decode_anthropic(r: &Resp) -> Decoded {
    assert_eq!(r.status, 200, "{}", r.body);
    let mut d = Decoded::default();
    let usage;
    if r.header("content-type") == Some("text/event-stream") {
        let mut blocks: Vec<(Value, String)> = Vec::new();
        let mut start_usage = Value::Null;
        for e in sse(&r.body) {
            let v = e.json();
            match v["type"].as_str().unwrap() {
                "message_start" => start_usage = v["message"]["usage"].clone(),
                "content_block_start" => blocks.push((v["content_block"].clone(), String::new())),
                "content_block_delta" => {
                    let acc = &mut blocks[v["index"].as_u64().unwrap() as usize].1;
                    let delta = &v["delta"];
                    acc.push_str(
                        delta["text"]
                            .as_str()
                            .or(delta["partial_json"].as_str())
                            .unwrap(),
                    );
                }
                "message_delta" => d.output_tokens = v["usage"]["output_tokens"].as_u64().unwrap(),
                _ => {}
            }
        }
        for (block, acc) in blocks {
            match block["type"].as_str().unwrap() {
                "text" => d.text.push_str(&acc),
                _ => d
                    .calls
                    .push((block["name"].as_str().unwrap().to_owned(), parse_args(&acc))),
            }
        }
        usage = start_usage;
    } else {
        let m = r.json();
        for block in m["content"].as_array().unwrap() {
            match block["type"].as_str().unwrap() {
                "text" => d.text.push_str(block["text"].as_str().unwrap()),
                _ => d.calls.push((
                    block["name"].as_str().unwrap().to_owned(),
                    block["input"].clone(),
                )),
            }
        }
        d.output_tokens = m["usage"]["output_tokens"].as_u64().unwrap();
        usage = m["usage"].clone();
    }
    d.cached_tokens = usage["cache_read_input_tokens"].as_u64().unwrap();
    d.input_tokens = usage["input_tokens"].as_u64().unwrap() + d.cached_tokens;
    d
}

pub fn decode_chat(r: &Resp) -> Decoded {
    assert_eq!(r.status, 200, "{}", r.body);
    let mut d = Decoded::default();
    let usage;
    if r.header("content-type") == Some("text/event-stream") {
        let mut calls: Vec<(String, String)> = Vec::new();
        let mut last_usage = Value::Null;
        for e in sse(&r.body) {
            if e.data == "[DONE]" {
                continue;
            }
            let v = e.json();
            if !v["usage"].is_null() {
                last_usage = v["usage"].clone();
            }
            let Some(delta) = v["choices"].get(0).map(|c| &c["delta"]) else {
                continue;
            };
            d.text.push_str(delta["content"].as_str().unwrap_or(""));
            for tc in delta["tool_calls"].as_array().into_iter().flatten() {
                let i = tc["index"].as_u64().unwrap() as usize;
                if i == calls.len() {
                    calls.push((
                        tc["function"]["name"].as_str().unwrap().to_owned(),
                        String::new(),
                    ));
                }
                calls[i]
                    .1
                    .push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
            }
        }
        d.calls = calls
            .into_iter()
            .map(|(n, a)| (n, parse_args(&a)))
            .collect();
        usage = last_usage;
    } else {
        let v = r.json();
        let m = &v["choices"][0]["message"];
        d.text = m["content"].as_str().unwrap_or("").to_owned();
        for tc in m["tool_calls"].as_array().into_iter().flatten() {
            let f = &tc["function"];
            d.calls.push((
                f["name"].as_str().unwrap().to_owned(),
                parse_args(f["arguments"].as_str().unwrap()),
            ));
        }
        usage = v["usage"].clone();
    }
    d.input_tokens = usage["prompt_tokens"].as_u64().unwrap();
    d.cached_tokens = usage["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    d.output_tokens = usage["completion_tokens"].as_u64().unwrap();
    d
}

pub fn decode_responses(r: &Resp) -> Decoded {
    assert_eq!(r.status, 200, "{}", r.body);
    let response = if r.header("content-type") == Some("text/event-stream") {
        let events = sse(&r.body);
        let done = events
            .iter()
            .find(|e| e.name.as_deref() == Some("response.completed"));
        let mut response = done.expect("response.completed").json()["response"].clone();
        // Clients read the items from `output_item.done`; prefer those.
        let items: Vec<Value> = events
            .iter()
            .filter(|e| e.name.as_deref() == Some("response.output_item.done"))
            .map(|e| e.json()["item"].clone())
            .collect();
        response["output"] = Value::Array(items);
        response
    } else {
        r.json()
    };
    let mut d = Decoded::default();
    for item in response["output"].as_array().unwrap() {
        match item["type"].as_str().unwrap() {
            "message" => d
                .text
                .push_str(item["content"][0]["text"].as_str().unwrap()),
            "function_call" => d.calls.push((
                item["name"].as_str().unwrap().to_owned(),
                parse_args(item["arguments"].as_str().unwrap()),
            )),
            other => panic!("unexpected item {other}"),
        }
    }
    let u = &response["usage"];
    d.input_tokens = u["input_tokens"].as_u64().unwrap();
    d.cached_tokens = u["input_tokens_details"]["cached_tokens"].as_u64().unwrap();
    d.output_tokens = u["output_tokens"].as_u64().unwrap();
    d
}

/// Runs a shell command (as Codex or Claude Code's Bash would) in `dir`.
pub fn run_in(dir: &std::path::Path, cmd: &str) {
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .status()
        .expect("bash runs");
    assert!(status.success(), "{cmd}");
}

/// A fresh empty directory under the target's temp area.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fake-model-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
