//! Anthropic Messages streams: `message_start` (input usage),
//! `content_block_start` / `content_block_delta`… / `content_block_stop`
//! per block, `message_delta` (stop reason, output usage), `message_stop`;
//! `ping` anywhere, `error` on failure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::sse::SseEvent;
use super::super::{Call, ModelTurn, Usage};
use super::{error_message, json};

enum Block {
    Text(String),
    Tool {
        id: String,
        name: String,
        input: String,
    },
    /// A kind this client does not use (thinking, …): dropped.
    Other,
}

#[derive(Default)]
pub(in super::super) struct State {
    started: bool,
    stopped: bool,
    blocks: BTreeMap<u64, Block>,
    input_tokens: u64,
    cached_tokens: u64,
    output_tokens: u64,
    stop: Option<String>,
}

impl State {
    fn usage(&mut self, usage: &Value) {
        if let Some(n) = usage["input_tokens"].as_u64() {
            self.input_tokens = n;
        }
        if let Some(n) = usage["cache_read_input_tokens"].as_u64() {
            self.cached_tokens = n;
        }
        if let Some(n) = usage["output_tokens"].as_u64() {
            self.output_tokens = n;
        }
    }

    pub(in super::super) fn event(&mut self, event: &SseEvent) -> Result<(), String> {
        let data = json(event)?;
        let kind = event
            .event
            .as_deref()
            .or_else(|| data["type"].as_str())
            .unwrap_or_default();
        if self.stopped || kind == "ping" {
            return Ok(());
        }
        if kind == "error" {
            return Err(format!("the stream reported {}", error_message(&data)));
        }
        if kind == "message_start" {
            self.started = true;
            self.usage(&data["message"]["usage"]);
            return Ok(());
        }
        if !self.started {
            return Err(format!("`{kind}` came before `message_start`"));
        }
        let index = || {
            data["index"]
                .as_u64()
                .ok_or_else(|| format!("a `{kind}` event has no index"))
        };
        match kind {
            "content_block_start" => {
                let block = &data["content_block"];
                let block = match block["type"].as_str() {
                    Some("text") => Block::Text(block["text"].as_str().unwrap_or("").to_string()),
                    Some("tool_use") => Block::Tool {
                        id: block["id"]
                            .as_str()
                            .ok_or("a tool_use block has no id")?
                            .to_string(),
                        name: block["name"].as_str().unwrap_or_default().to_string(),
                        input: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index()?, block);
            }
            "content_block_delta" => {
                let i = index()?;
                let block = self
                    .blocks
                    .get_mut(&i)
                    .ok_or_else(|| format!("a delta for block {i}, which was never started"))?;
                let delta = &data["delta"];
                match (block, delta["type"].as_str()) {
                    (Block::Text(text), Some("text_delta")) => {
                        text.push_str(delta["text"].as_str().unwrap_or_default())
                    }
                    (Block::Tool { input, .. }, Some("input_json_delta")) => {
                        input.push_str(delta["partial_json"].as_str().unwrap_or_default())
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(stop) = data["delta"]["stop_reason"].as_str() {
                    self.stop = Some(stop.to_string());
                }
                self.usage(&data["usage"]);
            }
            "message_stop" => self.stopped = true,
            // content_block_stop, and events added after this client.
            _ => {}
        }
        Ok(())
    }

    pub(in super::super) fn done(&self) -> bool {
        self.stopped
    }

    pub(in super::super) fn finish(self) -> Result<ModelTurn, String> {
        if !self.started {
            return Err("the stream ended before `message_start`".to_string());
        }
        if !self.stopped {
            return Err("the stream ended before `message_stop`: it was cut short".to_string());
        }
        let mut turn = ModelTurn {
            usage: Usage {
                calls: 1,
                input_tokens: self.input_tokens + self.cached_tokens,
                output_tokens: self.output_tokens,
                cached_tokens: self.cached_tokens,
                ..Usage::default()
            },
            text: String::new(),
            calls: Vec::new(),
            assistant: Value::Null,
            stop: self.stop,
        };
        let mut content = Vec::new();
        for block in self.blocks.into_values() {
            match block {
                // The API refuses empty text blocks in the history.
                Block::Text(text) if !text.is_empty() => {
                    turn.text.push_str(&text);
                    content.push(json!({"type": "text", "text": text}));
                }
                Block::Tool { id, name, input } => {
                    let parsed = if input.trim().is_empty() {
                        Ok(json!({}))
                    } else {
                        serde_json::from_str::<Value>(&input).map_err(|e| {
                            format!("the input is not valid JSON ({e}): send a JSON object")
                        })
                    };
                    let kept = parsed.clone().unwrap_or_else(|_| json!({}));
                    content
                        .push(json!({"type": "tool_use", "id": id, "name": name, "input": kept}));
                    turn.calls.push(Call {
                        id,
                        name,
                        input: parsed,
                    });
                }
                _ => {}
            }
        }
        turn.assistant = json!({"role": "assistant", "content": content});
        Ok(turn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: Value) -> SseEvent {
        SseEvent {
            event: Some(name.to_string()),
            data: data.to_string(),
        }
    }

    fn feed(events: &[SseEvent]) -> Result<ModelTurn, String> {
        let mut state = State::default();
        for e in events {
            state.event(e)?;
        }
        state.finish()
    }

    fn reply() -> Vec<SseEvent> {
        vec![
            event(
                "message_start",
                json!({"type": "message_start", "message": {"usage": {"input_tokens": 10,
                    "cache_read_input_tokens": 90, "output_tokens": 1}}}),
            ),
            event("ping", json!({"type": "ping"})),
            event(
                "content_block_start",
                json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 0, "delta": {"type": "text_delta", "text": "Wri"}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 0, "delta": {"type": "text_delta", "text": "ting."}}),
            ),
            event("content_block_stop", json!({"index": 0})),
            event(
                "content_block_start",
                json!({"index": 1, "content_block": {"type": "tool_use", "id": "toolu_1",
                    "name": "write_file", "input": {}}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"pa"}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "th\": \"a\"}"}}),
            ),
            event("content_block_stop", json!({"index": 1})),
            event(
                "message_delta",
                json!({"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 42}}),
            ),
            event("message_stop", json!({"type": "message_stop"})),
        ]
    }

    #[test]
    fn assembles_text_tool_input_stop_reason_and_usage() {
        let turn = feed(&reply()).unwrap();
        assert_eq!(turn.text, "Writing.");
        assert_eq!(turn.calls.len(), 1);
        assert_eq!(turn.calls[0].id, "toolu_1");
        assert_eq!(turn.calls[0].input, Ok(json!({"path": "a"})));
        assert_eq!(turn.stop.as_deref(), Some("tool_use"));
        assert_eq!(
            (
                turn.usage.input_tokens,
                turn.usage.output_tokens,
                turn.usage.cached_tokens
            ),
            (100, 42, 90)
        );
        assert_eq!(turn.assistant["content"][1]["input"], json!({"path": "a"}));
    }

    #[test]
    fn a_cut_an_error_event_or_a_malformed_event_is_an_error() {
        let events = reply();
        let cut = feed(&events[..events.len() - 1]).unwrap_err();
        assert!(cut.contains("cut short"), "{cut}");
        assert!(feed(&[]).unwrap_err().contains("message_start"));
        let mut failing = events[..3].to_vec();
        failing.push(event(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
        ));
        let error = feed(&failing).unwrap_err();
        assert!(error.contains("overloaded_error: busy"), "{error}");
        let mut bad = events[..2].to_vec();
        bad.push(SseEvent {
            event: Some("content_block_delta".to_string()),
            data: "{not json".to_string(),
        });
        assert!(feed(&bad).unwrap_err().contains("not valid JSON"));
        let orphan = vec![
            events[0].clone(),
            event(
                "content_block_delta",
                json!({"index": 5, "delta": {"type": "text_delta", "text": "x"}}),
            ),
        ];
        assert!(feed(&orphan).unwrap_err().contains("never started"));
    }
}
