//! OpenAI Responses (what Codex CLI speaks): a `response` object, or the
//! SSE events `response.created`, per output item `output_item.added`, its
//! deltas and `output_item.done`, then `response.completed` (or
//! `response.incomplete` when the reply stopped at max tokens).

use serde_json::{Value, json};

use super::{arguments, call_id, model, named_event, pieces};
use crate::request::Inspected;
use crate::script::{Reply, StopReason};

/// The finished output items: a message for the text, one
/// `function_call` per tool call.
fn items(reply: &Reply, n: u64) -> Vec<Value> {
    let text = reply.text_part().map(|t| {
        json!({"type": "message", "id": format!("msg_fake_{n}"), "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": t, "annotations": []}]})
    });
    let calls = reply.tool_calls.iter().enumerate().map(|(i, c)| {
        json!({"type": "function_call", "id": format!("fc_fake_{n}_{i}"), "call_id": call_id(c, "call", n, i),
            "name": c.name, "arguments": arguments(c), "status": "completed"})
    });
    text.into_iter().chain(calls).collect()
}

fn response(reply: &Reply, req: &Inspected, n: u64, status: &str, output: Vec<Value>) -> Value {
    let u = reply.usage;
    let input = u.input_tokens + u.cache_read_tokens;
    let mut r = json!({
        "id": format!("resp_fake_{n}"),
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": model(req),
        "output": output,
        "usage": null,
    });
    if status != "in_progress" {
        r["usage"] = json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
            "output_tokens": u.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input + u.output_tokens,
        });
    }
    if status == "incomplete" {
        r["incomplete_details"] = json!({"reason": "max_output_tokens"});
    }
    r
}

fn final_status(reply: &Reply) -> &'static str {
    if reply.stop_reason() == StopReason::MaxTokens {
        "incomplete"
    } else {
        "completed"
    }
}

pub(super) fn json(reply: &Reply, req: &Inspected, n: u64) -> Value {
    response(reply, req, n, final_status(reply), items(reply, n))
}

pub(super) fn sse(reply: &Reply, req: &Inspected, n: u64) -> Vec<String> {
    let mut events = Vec::new();
    let mut push = |ty: &str, mut data: Value| {
        data["type"] = json!(ty);
        data["sequence_number"] = json!(events.len());
        events.push(named_event(ty, &data));
    };
    push(
        "response.created",
        json!({"response": response(reply, req, n, "in_progress", Vec::new())}),
    );
    let done = items(reply, n);
    for (index, item) in done.iter().enumerate() {
        let id = item["id"].clone();
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        if item["type"] == "message" {
            added["content"] = json!([]);
            push(
                "response.output_item.added",
                json!({"output_index": index, "item": added}),
            );
            let part = json!({"type": "output_text", "text": "", "annotations": []});
            let at = json!({"item_id": id, "output_index": index, "content_index": 0});
            push(
                "response.content_part.added",
                merge(&at, json!({"part": part})),
            );
            let text = item["content"][0]["text"].as_str().unwrap_or_default();
            for piece in pieces(text) {
                push(
                    "response.output_text.delta",
                    merge(&at, json!({"delta": piece})),
                );
            }
            push(
                "response.output_text.done",
                merge(&at, json!({"text": text})),
            );
            push(
                "response.content_part.done",
                merge(&at, json!({"part": item["content"][0]})),
            );
        } else {
            added["arguments"] = json!("");
            push(
                "response.output_item.added",
                json!({"output_index": index, "item": added}),
            );
            let at = json!({"item_id": id, "output_index": index});
            let args = item["arguments"].as_str().unwrap_or_default();
            for piece in pieces(args) {
                push(
                    "response.function_call_arguments.delta",
                    merge(&at, json!({"delta": piece})),
                );
            }
            push(
                "response.function_call_arguments.done",
                merge(&at, json!({"arguments": args})),
            );
        }
        push(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }
    let status = final_status(reply);
    let last = if status == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    push(
        last,
        json!({"response": response(reply, req, n, status, done)}),
    );
    events
}

fn merge(a: &Value, b: Value) -> Value {
    let mut out = a.clone();
    if let (Some(o), Value::Object(extra)) = (out.as_object_mut(), b) {
        o.extend(extra);
    }
    out
}
