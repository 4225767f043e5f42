//! OpenAI Chat Completions streams: `chat.completion.chunk` data events
//! with `choices[0].delta` (content, `tool_calls` pieces keyed by index),
//! a `finish_reason`, the usage chunk `stream_options.include_usage` asks
//! for, and `data: [DONE]` at the end.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::sse::SseEvent;
use super::super::{Call, ModelTurn, Usage};
use super::{error_message, json};

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Default)]
pub(in super::super) struct State {
    done: bool,
    text: String,
    calls: BTreeMap<u64, PartialCall>,
    usage: Option<Usage>,
    finish: Option<String>,
}

impl State {
    pub(in super::super) fn event(&mut self, event: &SseEvent) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        if event.data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let data = json(event)?;
        if !data["error"].is_null() {
            return Err(format!("the stream reported {}", error_message(&data)));
        }
        let usage = &data["usage"];
        if usage.is_object() {
            self.usage = Some(super::super::openai_chat::usage_of(usage));
        }
        let choices = data["choices"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for choice in choices {
            // One completion is asked for; others (n > 1) are not used.
            if choice["index"].as_u64().unwrap_or(0) != 0 {
                continue;
            }
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str() {
                self.text.push_str(text);
            }
            let pieces = delta["tool_calls"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for (position, piece) in pieces.iter().enumerate() {
                let index = piece["index"].as_u64().unwrap_or(position as u64);
                let call = self.calls.entry(index).or_default();
                if let Some(id) = piece["id"].as_str().filter(|id| !id.is_empty()) {
                    call.id = id.to_string();
                }
                let function = &piece["function"];
                if let Some(name) = function["name"].as_str() {
                    call.name.push_str(name);
                }
                if let Some(arguments) = function["arguments"].as_str() {
                    call.arguments.push_str(arguments);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish = Some(reason.to_string());
            }
        }
        Ok(())
    }

    pub(in super::super) fn done(&self) -> bool {
        self.done
    }

    pub(in super::super) fn finish(self) -> Result<ModelTurn, String> {
        if !self.done {
            return Err("the stream ended before `data: [DONE]`: it was cut short".to_string());
        }
        let mut calls = Vec::new();
        let mut wire = Vec::new();
        for (index, call) in self.calls {
            if call.id.is_empty() {
                return Err(format!("tool call {index} of the stream has no id"));
            }
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_string()
            } else {
                call.arguments
            };
            wire.push(json!({"id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": arguments}}));
            calls.push(Call {
                input: serde_json::from_str(&arguments).map_err(|e| {
                    format!("the arguments are not valid JSON ({e}): send a JSON object")
                }),
                id: call.id,
                name: call.name,
            });
        }
        let content = if self.text.is_empty() {
            Value::Null
        } else {
            json!(self.text)
        };
        let mut assistant = json!({"role": "assistant", "content": content});
        if !wire.is_empty() {
            assistant["tool_calls"] = Value::Array(wire);
        }
        Ok(ModelTurn {
            usage: self.usage.unwrap_or(Usage {
                calls: 1,
                ..Usage::default()
            }),
            text: self.text,
            calls,
            assistant,
            stop: self.finish,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(value: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: value.to_string(),
        }
    }

    fn done() -> SseEvent {
        SseEvent {
            event: None,
            data: "[DONE]".to_string(),
        }
    }

    fn feed(events: &[SseEvent]) -> Result<ModelTurn, String> {
        let mut state = State::default();
        for e in events {
            state.event(e)?;
        }
        state.finish()
    }

    fn chunk(delta: Value, finish: Value) -> SseEvent {
        data(
            json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": null}),
        )
    }

    fn reply() -> Vec<SseEvent> {
        vec![
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "Do"}), Value::Null),
            chunk(json!({"content": "ne."}), Value::Null),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                    "function": {"name": "finish", "arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"summary\""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": ": \"ok\"}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
            data(
                json!({"choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": 9,
                "prompt_tokens_details": {"cached_tokens": 100}}}),
            ),
            done(),
        ]
    }

    #[test]
    fn assembles_text_tool_arguments_finish_reason_and_usage() {
        let turn = feed(&reply()).unwrap();
        assert_eq!(turn.text, "Done.");
        assert_eq!(turn.calls[0].id, "call_1");
        assert_eq!(turn.calls[0].name, "finish");
        assert_eq!(turn.calls[0].input, Ok(json!({"summary": "ok"})));
        assert_eq!(turn.stop.as_deref(), Some("tool_calls"));
        assert_eq!(
            (
                turn.usage.calls,
                turn.usage.input_tokens,
                turn.usage.output_tokens,
                turn.usage.cached_tokens
            ),
            (1, 120, 9, 100)
        );
        assert_eq!(
            turn.assistant["tool_calls"][0]["function"]["arguments"],
            "{\"summary\": \"ok\"}"
        );
    }

    #[test]
    fn a_cut_an_error_chunk_or_a_malformed_chunk_is_an_error() {
        let events = reply();
        let cut = feed(&events[..events.len() - 1]).unwrap_err();
        assert!(cut.contains("cut short"), "{cut}");
        let error = feed(&[data(
            json!({"error": {"type": "server_error", "message": "boom"}}),
        )])
        .unwrap_err();
        assert!(error.contains("server_error: boom"), "{error}");
        let bad = SseEvent {
            event: None,
            data: "{oops".to_string(),
        };
        assert!(feed(&[bad]).unwrap_err().contains("not valid JSON"));
        let no_id = vec![
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"name": "x", "arguments": "{}"}}]}),
                Value::Null,
            ),
            done(),
        ];
        assert!(feed(&no_id).unwrap_err().contains("no id"));
    }
}
