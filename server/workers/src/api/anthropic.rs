//! Anthropic Messages (`POST {base_url}/v1/messages`), non-streaming:
//! tools as `{name, description, input_schema}`, `tool_use` blocks in the
//! reply, `tool_result` blocks in the next user message.

use serde_json::{Value, json};

use super::tools::{ToolOutput, ToolSpec};
use super::{Call, ModelTurn, Usage};

/// The API version this client speaks.
const VERSION: &str = "2023-06-01";

pub(crate) fn url(base_url: &str) -> String {
    format!("{}/v1/messages", base_url.trim_end_matches('/'))
}

pub(crate) fn headers(api_key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-api-key", api_key.to_string()),
        ("anthropic-version", VERSION.to_string()),
    ]
}

pub(super) fn body(
    model: &str,
    max_tokens: u32,
    system: &str,
    messages: &[Value],
    tools: &[ToolSpec],
) -> Value {
    let tools: Vec<Value> = tools
        .iter()
        .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.schema}))
        .collect();
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "system": system,
        "messages": messages,
        "tools": tools,
    })
}

pub(super) fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

/// The assistant turn, kept verbatim in the history, and its tool calls.
pub(crate) fn parse(reply: &Value) -> Result<ModelTurn, String> {
    let blocks = reply["content"]
        .as_array()
        .ok_or("the reply has no `content` array")?;
    let usage = &reply["usage"];
    let count = |key: &str| usage[key].as_u64().unwrap_or(0);
    let cached = count("cache_read_input_tokens");
    let mut turn = ModelTurn {
        // Anthropic counts cache reads apart from `input_tokens`.
        usage: Usage {
            calls: 1,
            input_tokens: count("input_tokens") + cached,
            output_tokens: count("output_tokens"),
            cached_tokens: cached,
            ..Usage::default()
        },
        text: String::new(),
        calls: Vec::new(),
        assistant: json!({"role": "assistant", "content": blocks}),
        stop: reply["stop_reason"].as_str().map(str::to_owned),
    };
    for block in blocks {
        match block["type"].as_str() {
            Some("text") => turn
                .text
                .push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => turn.calls.push(Call {
                id: block["id"]
                    .as_str()
                    .ok_or("a tool_use block has no id")?
                    .to_string(),
                name: block["name"].as_str().unwrap_or_default().to_string(),
                input: Ok(block["input"].clone()),
            }),
            _ => {}
        }
    }
    Ok(turn)
}

/// One user message carrying every result, in call order.
pub(super) fn results(results: &[(String, ToolOutput)]) -> Vec<Value> {
    let blocks: Vec<Value> = results
        .iter()
        .map(|(id, out)| {
            json!({"type": "tool_result", "tool_use_id": id, "content": out.content,
                   "is_error": out.is_error})
        })
        .collect();
    vec![json!({"role": "user", "content": blocks})]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_and_tool_use_blocks() {
        let reply = json!({"content": [
            {"type": "text", "text": "Writing."},
            {"type": "tool_use", "id": "toolu_1", "name": "write_file", "input": {"path": "a"}}
        ]});
        let turn = parse(&reply).unwrap();
        assert_eq!(turn.text, "Writing.");
        assert_eq!(turn.calls[0].id, "toolu_1");
        assert_eq!(turn.calls[0].input, Ok(json!({"path": "a"})));
        assert!(parse(&json!({"error": "x"})).is_err());
        assert_eq!(url("http://h:1/"), "http://h:1/v1/messages");
    }

    #[test]
    fn usage_counts_cache_reads_as_input() {
        let reply = json!({"content": [], "usage": {
            "input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 100
        }});
        let usage = parse(&reply).unwrap().usage;
        assert_eq!(
            usage,
            Usage {
                calls: 1,
                input_tokens: 120,
                output_tokens: 7,
                cached_tokens: 100,
                ..Usage::default()
            }
        );
        assert_eq!(
            parse(&json!({"content": []})).unwrap().usage.input_tokens,
            0
        );
    }
}
