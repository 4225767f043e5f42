//! One structured-output call to the model of `[worker.api]`, through the
//! API worker's HTTP client (retries, backoff, `Retry-After`, outages) and
//! reply parsers. Anthropic: one tool whose `input_schema` is the schema,
//! forced with `tool_choice`. OpenAI chat: `response_format` with the
//! schema. The JSON is taken from the tool call, else from the reply text
//! (which the caller repairs).

use serde_json::{Value, json};

use super::http::Http;
use super::{anthropic, openai_chat};
use crate::{ApiConfig, ApiDialect, Usage, WorkerError};

/// Output tokens asked for per reply: a requirement list of a long PRD fits.
const MAX_OUTPUT_TOKENS: u32 = 8_192;

/// What one call returned.
pub struct Answer {
    /// The tool call's input, when the model answered with the tool.
    pub json: Option<Value>,
    pub text: String,
    pub usage: Usage,
}

pub struct ModelClient {
    dialect: ApiDialect,
    url: String,
    model: String,
    http: Http,
}

impl ModelClient {
    pub fn new(config: &ApiConfig) -> Result<ModelClient, WorkerError> {
        let (url, http) = super::endpoint(config)?;
        Ok(ModelClient {
            dialect: config.dialect,
            url,
            model: config.model.clone(),
            http,
        })
    }

    /// The request body for one call; `name` names the answer's schema.
    pub fn body(&self, system: &str, user: &str, name: &str, schema: &Value) -> Value {
        match self.dialect {
            ApiDialect::Anthropic => json!({
                "model": self.model,
                "max_tokens": MAX_OUTPUT_TOKENS,
                "system": system,
                "messages": [{"role": "user", "content": user}],
                "tools": [{
                    "name": name,
                    "description": "Give your answer: one JSON object matching the schema.",
                    "input_schema": schema,
                }],
                "tool_choice": {"type": "tool", "name": name},
            }),
            ApiDialect::OpenAiChat => json!({
                "model": self.model,
                "max_tokens": MAX_OUTPUT_TOKENS,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema, "strict": false},
                },
            }),
        }
    }

    /// One call. Provider trouble is a [`WorkerError::ProviderOutage`]
    /// (after the HTTP client's retries); a reply in neither dialect's shape too.
    pub fn ask(
        &self,
        system: &str,
        user: &str,
        name: &str,
        schema: &Value,
    ) -> Result<Answer, WorkerError> {
        let reply = self
            .http
            // Assisted decomposition has no cancel of its own yet (Ctrl-C ends it).
            .post(
                &self.url,
                &self.body(system, user, name, schema),
                &crate::process::CancelToken::default(),
            )?;
        let parsed = match self.dialect {
            ApiDialect::Anthropic => anthropic::parse(&reply),
            ApiDialect::OpenAiChat => openai_chat::parse(&reply),
        };
        let turn = parsed.map_err(|e| {
            WorkerError::ProviderOutage(format!(
                "{} sent a reply this client cannot read: {e}; check that the base URL serves \
                 the {:?} API",
                self.url, self.dialect
            ))
        })?;
        // The forced tool first; any call whose input is an object next.
        let json = turn
            .calls
            .iter()
            .filter(|c| c.name == name)
            .chain(turn.calls.iter())
            .find_map(|c| c.input.as_ref().ok().filter(|v| v.is_object()).cloned());
        // A tool input sent as a JSON string is read as text (and repaired).
        let string_input = turn
            .calls
            .iter()
            .find_map(|c| c.input.as_ref().ok().and_then(Value::as_str));
        let text = match (&json, string_input) {
            (None, Some(s)) if turn.text.trim().is_empty() => s.to_string(),
            _ => turn.text,
        };
        Ok(Answer {
            json,
            text,
            usage: turn.usage,
        })
    }
}
