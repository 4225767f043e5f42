//! OpenAI Chat Completions (`POST {base_url}/chat/completions`, where the
//! base URL includes `/v1` as OpenAI-compatible servers document it),
//! non-streaming: `function` tools, `tool_calls` with JSON-encoded
//! arguments, one `tool` message per result.

use serde_json::{Value, json};

use super::tools::{ToolOutput, ToolSpec};
use super::{Call, ModelTurn, Usage};

pub(crate) fn url(base_url: &str) -> String {
    format!("{}/chat/completions", base_url.trim_end_matches('/'))
}

pub(crate) fn headers(api_key: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {api_key}"))]
}

/// One call's usage from an OpenAI `usage` object (`prompt_tokens`
/// includes the cached ones).
pub(super) fn usage_of(usage: &Value) -> Usage {
    Usage {
        calls: 1,
        input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
        cached_tokens: usage["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
        ..Usage::default()
    }
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
        .map(|t| {
            json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.schema}})
        })
        .collect();
    let mut all = vec![json!({"role": "system", "content": system})];
    all.extend_from_slice(messages);
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "messages": all,
        "tools": tools,
    })
}

pub(super) fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

pub(crate) fn parse(reply: &Value) -> Result<ModelTurn, String> {
    let message = &reply["choices"][0]["message"];
    if !message.is_object() {
        return Err("the reply has no `choices[0].message`".to_string());
    }
    let mut turn = ModelTurn {
        usage: usage_of(&reply["usage"]),
        text: message["content"].as_str().unwrap_or_default().to_string(),
        calls: Vec::new(),
        assistant: message.clone(),
        stop: reply["choices"][0]["finish_reason"]
            .as_str()
            .map(str::to_owned),
    };
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let function = &call["function"];
        let arguments = function["arguments"].as_str().unwrap_or("{}");
        turn.calls.push(Call {
            id: call["id"]
                .as_str()
                .ok_or("a tool call has no id")?
                .to_string(),
            name: function["name"].as_str().unwrap_or_default().to_string(),
            input: serde_json::from_str(arguments)
                .map_err(|e| format!("the arguments are not valid JSON ({e}): send a JSON object")),
        });
    }
    Ok(turn)
}

pub(super) fn results(results: &[(String, ToolOutput)]) -> Vec<Value> {
    results
        .iter()
        .map(|(id, out)| json!({"role": "tool", "tool_call_id": id, "content": out.content}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tool_calls_with_encoded_arguments() {
        let reply = json!({"choices": [{"message": {"role": "assistant", "content": null,
            "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "finish", "arguments": "{\"summary\": \"ok\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "write_file", "arguments": "{oops"}}]}}]});
        let turn = parse(&reply).unwrap();
        assert_eq!(turn.text, "");
        assert_eq!(turn.calls[0].input, Ok(json!({"summary": "ok"})));
        assert!(turn.calls[1].input.is_err());
        assert!(parse(&json!({"choices": []})).is_err());
    }
}
