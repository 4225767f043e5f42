//! The API agent worker: its own tool loop against a model behind an HTTP
//! API, Anthropic Messages or OpenAI Chat Completions (non-streaming JSON in
//! this first slice).
//!
//! Each attempt sends the stage's prompt with the tools of [`tools`],
//! executes the model's tool calls in the worktree (permissions enforced
//! there), sends the results back, and stops at `finish`, at a reply with no
//! tool call, or after `max_turns` replies. What the model says is only a
//! summary: the gate judges the files. Provider trouble (429, 5xx, timeouts,
//! refused keys, bodies that are not JSON) becomes
//! [`WorkerError::ProviderOutage`] after the retries of [`http`].

mod anthropic;
mod http;
mod openai_chat;
mod prompt;
mod tools;

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::{StageRequest, Usage, Worker, WorkerError, WorkerReport};
use http::Http;
use tools::{FINISH, ToolOutput, Tools};

/// Output tokens asked for per reply.
const MAX_OUTPUT_TOKENS: u32 = 8_192;
/// Longest summary kept from the model.
const MAX_SUMMARY: usize = 2_000;

/// The wire protocol of the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiDialect {
    /// `POST {base_url}/v1/messages`; `base_url` without `/v1`
    /// (e.g. `https://api.anthropic.com`).
    Anthropic,
    /// `POST {base_url}/chat/completions`; `base_url` with `/v1`
    /// (e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`).
    OpenAiChat,
}

/// How long to wait between tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait; each retry doubles it, with jitter.
    pub base: Duration,
    /// The longest computed wait.
    pub cap: Duration,
    /// The longest `Retry-After` obeyed; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Everything an [`ApiWorker`] needs. `Debug` never shows the key.
#[derive(Clone)]
pub struct ApiConfig {
    pub dialect: ApiDialect,
    pub base_url: String,
    /// Sent only in the request headers (`x-api-key` or `Authorization`).
    pub api_key: String,
    pub model: String,
    /// Most model replies per attempt.
    pub max_turns: u32,
    /// Per HTTP request, connection included.
    pub timeout: Duration,
    /// Tries after the first before a provider outage is declared.
    pub max_retries: u32,
    pub backoff: Backoff,
}

impl ApiConfig {
    /// A configuration with the defaults: 40 turns, 120 s per request,
    /// 4 retries with the default backoff.
    pub fn new(
        dialect: ApiDialect,
        base_url: impl Into<String>,
        api_key: impl Into<String>,
        model: impl Into<String>,
    ) -> ApiConfig {
        ApiConfig {
            dialect,
            base_url: base_url.into(),
            api_key: api_key.into(),
            model: model.into(),
            max_turns: 40,
            timeout: Duration::from_secs(120),
            max_retries: 4,
            backoff: Backoff::default(),
        }
    }
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("dialect", &self.dialect)
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("max_turns", &self.max_turns)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// One model reply: its text, its tool calls, and the assistant message to
/// keep in the history (in the dialect's shape).
pub(super) struct ModelTurn {
    /// What this one call used.
    pub usage: Usage,
    pub text: String,
    pub calls: Vec<Call>,
    pub assistant: Value,
}

pub(super) struct Call {
    pub id: String,
    pub name: String,
    /// The arguments, or why they could not be read (told to the model).
    pub input: Result<Value, String>,
}

/// A worker that drives a model over its HTTP API. The API key lives only
/// in the HTTP client's default headers (marked sensitive), not in the
/// worker.
pub struct ApiWorker {
    name: String,
    dialect: ApiDialect,
    url: String,
    model: String,
    max_turns: u32,
    http: Http,
}

impl ApiWorker {
    /// Fails only when the HTTP client cannot be built (a key with
    /// characters a header cannot carry, say).
    pub fn new(name: impl Into<String>, config: ApiConfig) -> Result<ApiWorker, WorkerError> {
        let (url, headers) = match config.dialect {
            ApiDialect::Anthropic => (
                anthropic::url(&config.base_url),
                anthropic::headers(&config.api_key),
            ),
            ApiDialect::OpenAiChat => (
                openai_chat::url(&config.base_url),
                openai_chat::headers(&config.api_key),
            ),
        };
        let http = Http::new(headers, config.timeout, config.max_retries, config.backoff)?;
        Ok(ApiWorker {
            name: name.into(),
            dialect: config.dialect,
            url,
            model: config.model,
            max_turns: config.max_turns.max(1),
            http,
        })
    }

    fn body(&self, messages: &[Value]) -> Value {
        let specs = tools::specs();
        let build = match self.dialect {
            ApiDialect::Anthropic => anthropic::body,
            ApiDialect::OpenAiChat => openai_chat::body,
        };
        build(
            &self.model,
            MAX_OUTPUT_TOKENS,
            prompt::SYSTEM,
            messages,
            &specs,
        )
    }

    fn ask(&self, messages: &[Value]) -> Result<ModelTurn, WorkerError> {
        let reply = self.http.post(&self.url, &self.body(messages))?;
        let parsed = match self.dialect {
            ApiDialect::Anthropic => anthropic::parse(&reply),
            ApiDialect::OpenAiChat => openai_chat::parse(&reply),
        };
        parsed.map_err(|e| {
            WorkerError::ProviderOutage(format!(
                "{} sent a reply this client cannot read: {e}; check that the base URL serves \
                 the {:?} API",
                self.url, self.dialect
            ))
        })
    }
}

impl Worker for ApiWorker {
    fn name(&self) -> &str {
        &self.name
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let tools = Tools::new(&request.worktree, &request.writable);
        let first = prompt::user_message(request);
        let mut messages = vec![match self.dialect {
            ApiDialect::Anthropic => anthropic::user(&first),
            ApiDialect::OpenAiChat => openai_chat::user(&first),
        }];
        let mut used = Usage::default();
        for turn in 1..=self.max_turns {
            let reply = self.ask(&messages)?;
            used.add(reply.usage);
            messages.push(reply.assistant);
            if reply.calls.is_empty() {
                return Ok(report(&reply.text, turn, used));
            }
            let mut results = Vec::new();
            for call in &reply.calls {
                let output = match (&call.input, call.name.as_str()) {
                    (Ok(input), FINISH) => {
                        let summary = input["summary"].as_str().unwrap_or(&reply.text);
                        return Ok(report(summary, turn, used));
                    }
                    (Ok(input), name) => tools.run(name, input),
                    (Err(problem), _) => ToolOutput {
                        content: format!("error: {problem}"),
                        is_error: true,
                    },
                };
                results.push((call.id.clone(), output));
            }
            messages.extend(match self.dialect {
                ApiDialect::Anthropic => anthropic::results(&results),
                ApiDialect::OpenAiChat => openai_chat::results(&results),
            });
        }
        Ok(report(
            &format!(
                "stopped after {} model replies without finish",
                self.max_turns
            ),
            self.max_turns,
            used,
        ))
    }
}

fn report(summary: &str, turns: u32, usage: Usage) -> WorkerReport {
    WorkerReport {
        usage: Some(usage),
        summary: format!(
            "{} ({turns} model replies)",
            prompt::clip(summary.trim(), MAX_SUMMARY)
        ),
        exit_code: None,
    }
}
