//! OpenAI Chat Completions: a `chat.completion` object, or
//! `chat.completion.chunk` data events ending in `data: [DONE]`.

use serde_json::{Value, json};

use super::{arguments, call_id, data_event, model, pieces};
use crate::request::Inspected;
use crate::script::{Reply, StopReason};

fn finish_reason(reply: &Reply) -> &'static str {
    match reply.stop_reason() {
        StopReason::EndTurn => "stop",
        StopReason::ToolUse => "tool_calls",
        StopReason::MaxTokens => "length",
    }
}

fn usage(reply: &Reply) -> Value {
    let u = reply.usage;
    let prompt = u.input_tokens + u.cache_read_tokens;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
    })
}

pub(super) fn json(reply: &Reply, req: &Inspected, n: u64) -> Value {
    let mut message = json!({"role": "assistant", "content": reply.text_part()});
    if !reply.tool_calls.is_empty() {
        let calls: Vec<Value> = reply
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({"id": call_id(c, "call", n, i), "type": "function",
                    "function": {"name": c.name, "arguments": arguments(c)}})
            })
            .collect();
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": format!("chatcmpl-fake-{n}"),
        "object": "chat.completion",
        "created": 0,
        "model": model(req),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(reply)}],
        "usage": usage(reply),
    })
}

pub(super) fn sse(reply: &Reply, req: &Inspected, n: u64) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": format!("chatcmpl-fake-{n}"),
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model(req),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if req.include_usage {
            c["usage"] = Value::Null;
        }
        data_event(&c.to_string())
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    if let Some(text) = reply.text_part() {
        for piece in pieces(text) {
            events.push(chunk(json!({"content": piece}), Value::Null));
        }
    }
    for (i, call) in reply.tool_calls.iter().enumerate() {
        // The first piece names the call; later ones carry only `index`.
        let head = json!({"tool_calls": [{"index": i, "id": call_id(call, "call", n, i), "type": "function",
            "function": {"name": call.name, "arguments": ""}}]});
        events.push(chunk(head, Value::Null));
        for piece in pieces(&arguments(call)) {
            let delta = json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]});
            events.push(chunk(delta, Value::Null));
        }
    }
    events.push(chunk(json!({}), json!(finish_reason(reply))));
    if req.include_usage {
        let last = json!({
            "id": format!("chatcmpl-fake-{n}"),
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model(req),
            "choices": [],
            "usage": usage(reply),
        });
        events.push(data_event(&last.to_string()));
    }
    events.push(data_event("[DONE]"));
    events
}
