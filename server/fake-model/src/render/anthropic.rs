//! Anthropic Messages: a `message` object, or the SSE sequence
//! `message_start`, `ping`, per block `content_block_start` /
//! `content_block_delta`… / `content_block_stop`, `message_delta`,
//! `message_stop`.

use serde_json::{Value, json};

use super::{call_id, model, named_event, pieces};
use crate::request::Inspected;
use crate::script::{Reply, StopReason};

fn stop_reason(reply: &Reply) -> &'static str {
    match reply.stop_reason() {
        StopReason::EndTurn => "end_turn",
        StopReason::ToolUse => "tool_use",
        StopReason::MaxTokens => "max_tokens",
    }
}

fn usage(reply: &Reply, output_tokens: u64) -> Value {
    json!({
        "input_tokens": reply.usage.input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": reply.usage.cache_read_tokens,
        "cache_creation_input_tokens": 0,
    })
}

fn blocks(reply: &Reply, n: u64) -> Vec<Value> {
    let text = reply
        .text_part()
        .map(|t| json!({"type": "text", "text": t}));
    let tools = reply.tool_calls.iter().enumerate().map(|(i, c)| {
        json!({"type": "tool_use", "id": call_id(c, "toolu", n, i), "name": c.name, "input": c.input})
    });
    text.into_iter().chain(tools).collect()
}

fn message(
    reply: &Reply,
    req: &Inspected,
    n: u64,
    content: Vec<Value>,
    stop: Value,
    out: u64,
) -> Value {
    json!({
        "id": format!("msg_fake_{n}"),
        "type": "message",
        "role": "assistant",
        "model": model(req),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage(reply, out),
    })
}

pub(super) fn json(reply: &Reply, req: &Inspected, n: u64) -> Value {
    message(
        reply,
        req,
        n,
        blocks(reply, n),
        json!(stop_reason(reply)),
        reply.usage.output_tokens,
    )
}

pub(super) fn sse(reply: &Reply, req: &Inspected, n: u64) -> Vec<String> {
    // message_start carries input usage; output tokens come in message_delta.
    let start = message(reply, req, n, Vec::new(), Value::Null, 1);
    let mut events = vec![
        named_event(
            "message_start",
            &json!({"type": "message_start", "message": start}),
        ),
        named_event("ping", &json!({"type": "ping"})),
    ];
    for (index, block) in blocks(reply, n).into_iter().enumerate() {
        let (opening, delta_type, field, full) = if block["type"] == "text" {
            let text = block["text"].as_str().unwrap_or_default().to_owned();
            (
                json!({"type": "text", "text": ""}),
                "text_delta",
                "text",
                text,
            )
        } else {
            let opening =
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}});
            (
                opening,
                "input_json_delta",
                "partial_json",
                block["input"].to_string(),
            )
        };
        let start =
            json!({"type": "content_block_start", "index": index, "content_block": opening});
        events.push(named_event("content_block_start", &start));
        for piece in pieces(&full) {
            let delta = json!({"type": "content_block_delta", "index": index,
                "delta": {"type": delta_type, field: piece}});
            events.push(named_event("content_block_delta", &delta));
        }
        let stop = json!({"type": "content_block_stop", "index": index});
        events.push(named_event("content_block_stop", &stop));
    }
    let delta = json!({"type": "message_delta",
        "delta": {"stop_reason": stop_reason(reply), "stop_sequence": null},
        "usage": {"output_tokens": reply.usage.output_tokens}});
    events.push(named_event("message_delta", &delta));
    events.push(named_event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    events
}
