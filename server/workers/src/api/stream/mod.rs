//! Assembling a streamed reply (server-sent events) into the same
//! [`ModelTurn`] the JSON path gives: text, tool calls with their input
//! put together from deltas, stop reason and usage. A stream that ends
//! before its terminal event, a malformed event or an `error` event is an
//! error here, which the HTTP layer retries and then reports as a provider
//! outage.

mod anthropic;
mod openai_chat;

use super::sse::SseEvent;
use super::{ApiDialect, ModelTurn};

/// The turn being put together from one stream.
pub(super) enum Assembler {
    Anthropic(anthropic::State),
    OpenAiChat(openai_chat::State),
}

impl Assembler {
    pub(super) fn new(dialect: ApiDialect) -> Assembler {
        match dialect {
            ApiDialect::Anthropic => Assembler::Anthropic(anthropic::State::default()),
            ApiDialect::OpenAiChat => Assembler::OpenAiChat(openai_chat::State::default()),
        }
    }

    /// Takes in one event.
    pub(super) fn event(&mut self, event: &SseEvent) -> Result<(), String> {
        match self {
            Assembler::Anthropic(state) => state.event(event),
            Assembler::OpenAiChat(state) => state.event(event),
        }
    }

    /// The terminal event has come: nothing after it matters.
    pub(super) fn done(&self) -> bool {
        match self {
            Assembler::Anthropic(state) => state.done(),
            Assembler::OpenAiChat(state) => state.done(),
        }
    }

    /// The turn, once the stream has ended.
    pub(super) fn finish(self) -> Result<ModelTurn, String> {
        match self {
            Assembler::Anthropic(state) => state.finish(),
            Assembler::OpenAiChat(state) => state.finish(),
        }
    }
}

/// The provider's message in an `error` event or chunk.
fn error_message(data: &serde_json::Value) -> String {
    let error = &data["error"];
    let kind = error["type"].as_str().unwrap_or("error");
    let message = error["message"]
        .as_str()
        .or_else(|| error.as_str())
        .unwrap_or("no message");
    super::prompt::clip(&format!("{kind}: {message}"), 500)
}

fn json(event: &SseEvent) -> Result<serde_json::Value, String> {
    serde_json::from_str(&event.data).map_err(|e| {
        format!(
            "an event is not valid JSON ({e}): {}",
            super::prompt::clip(&event.data, 200)
        )
    })
}
