//! The API agent worker: its own tool loop against a model behind an HTTP
//! API, Anthropic Messages or OpenAI Chat Completions, streamed (server-sent
//! events: [`sse`], [`stream`]) or as plain JSON.
//!
//! Each attempt sends the stage's prompt with the tools of [`tools`],
//! executes the model's tool calls in the worktree (permissions enforced
//! there), sends the results back, and stops at `finish`, at a reply with no
//! tool call, or after `max_turns` replies. What the model says is only a
//! summary: the gate judges the files. Provider trouble (429, 5xx, timeouts,
//! refused keys, bodies that are not JSON, streams cut short or malformed)
//! becomes [`WorkerError::ProviderOutage`] after the retries of [`http`].

pub(crate) mod anthropic;
mod config;
mod context;
pub mod http;
pub(crate) mod openai_chat;
pub(crate) mod prompt;
mod sse;
mod stream;
pub mod structured;
mod tools;

use std::time::Duration;

use serde_json::{Value, json};

pub use config::{ApiConfig, ApiDialect, Backoff, StageModels};

use super::{StageRequest, Usage, Worker, WorkerError, WorkerReport};
use crate::transcript::{Transcript, TranscriptFormat};
use http::{Http, Streamed};
use tools::{FINISH, ToolOutput, ToolSpec, Tools};

/// Output tokens asked for per reply.
const MAX_OUTPUT_TOKENS: u32 = 8_192;
/// Longest summary kept from the model.
const MAX_SUMMARY: usize = 2_000;

/// One model reply: its text, its tool calls, and the assistant message to
/// keep in the history (in the dialect's shape).
#[derive(Debug)]
pub(crate) struct ModelTurn {
    /// What this one call used.
    pub usage: Usage,
    pub text: String,
    pub calls: Vec<Call>,
    pub assistant: Value,
    /// Why the model stopped (`end_turn`, `tool_use`, `max_tokens`;
    /// `stop`, `tool_calls`, `length`), when it said.
    pub stop: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub id: String,
    pub name: String,
    /// The arguments, or why they could not be read (told to the model).
    pub input: Result<Value, String>,
}

/// A worker that drives a model over its HTTP API. The API key is sent
/// only in the HTTP client's default headers (marked sensitive); the worker
/// keeps it apart solely to redact it from its transcripts.
pub struct ApiWorker {
    name: String,
    url: String,
    /// The settings, without the key.
    config: ApiConfig,
    http: Http,
    redact: Redactor,
    /// The model use of the last attempt that failed ([`Worker::spent`]).
    failed_use: Option<Usage>,
}

/// The URL a dialect posts to under `config`'s base URL, and an HTTP
/// client carrying its auth headers, timeout and retries. Fails only when
/// the client cannot be built (a key with characters a header cannot carry).
pub(crate) fn endpoint(config: &ApiConfig) -> Result<(String, Http), WorkerError> {
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
    Ok((url, http))
}

impl ApiWorker {
    /// Fails only when the HTTP client cannot be built (a key with
    /// characters a header cannot carry, say).
    pub fn new(name: impl Into<String>, config: ApiConfig) -> Result<ApiWorker, WorkerError> {
        let (url, http) = endpoint(&config)?;
        let mut config = config;
        let redact = Redactor(std::mem::take(&mut config.api_key));
        config.max_turns = config.max_turns.max(1);
        Ok(ApiWorker {
            name: name.into(),
            url,
            config,
            http,
            redact,
            failed_use: None,
        })
    }

    fn body(&self, model: &str, specs: &[ToolSpec], messages: &[Value]) -> Value {
        let build = match self.config.dialect {
            ApiDialect::Anthropic => anthropic::body,
            ApiDialect::OpenAiChat => openai_chat::body,
        };
        let mut body = build(model, MAX_OUTPUT_TOKENS, prompt::SYSTEM, messages, specs);
        if self.config.stream {
            body["stream"] = json!(true);
            if self.config.dialect == ApiDialect::OpenAiChat {
                body["stream_options"] = json!({"include_usage": true});
            }
        }
        body
    }

    fn ask(
        &self,
        model: &str,
        specs: &[ToolSpec],
        messages: &[Value],
        cancel: &crate::process::CancelToken,
    ) -> Result<ModelTurn, WorkerError> {
        let body = self.body(model, specs, messages);
        let (reply, elapsed) = if self.config.stream {
            self.http
                .post_stream(&self.url, &body, self.config.dialect, cancel)?
        } else {
            let (value, elapsed) = self.http.post_timed(&self.url, &body, cancel)?;
            (Streamed::Json(value), elapsed)
        };
        let parsed = match reply {
            Streamed::Turn(turn) => Ok(turn),
            Streamed::Json(value) => match self.config.dialect {
                ApiDialect::Anthropic => anthropic::parse(&value),
                ApiDialect::OpenAiChat => openai_chat::parse(&value),
            },
        };
        let mut turn = parsed.map_err(|e| {
            WorkerError::ProviderOutage(format!(
                "{} sent a reply this client cannot read: {e}; check that the base URL serves \
                 the {:?} API",
                self.url, self.config.dialect
            ))
        })?;
        turn.usage.latency_ms = millis(elapsed);
        Ok(turn)
    }
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

impl Worker for ApiWorker {
    /// Its tools resolve every path inside the worktree.
    fn confined_to_worktree(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn spent(&mut self) -> Option<Usage> {
        self.failed_use.take()
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let model = self
            .config
            .model_for(request.stage, request.attempt)
            .to_string();
        let tools =
            Tools::new(&request.worktree, &request.writable).with_tests(request.tests.as_ref());
        // A provider may echo the key in an error body ("Incorrect API key
        // provided: …"): it never leaves the worker.
        let mut report = match self.attempt(request, &model, &tools) {
            Ok(report) => report,
            Err((error, used)) => {
                self.failed_use = (used.calls > 0).then_some(used);
                return Err(self.redact.error(error));
            }
        };
        report.model = Some(model);
        report.denied = tools.denied();
        Ok(report)
    }
}

impl ApiWorker {
    /// The tool loop of one attempt with `model`. A failure comes with what
    /// the calls before it used.
    fn attempt(
        &self,
        request: &StageRequest,
        model: &str,
        tools: &Tools<'_>,
    ) -> Result<WorkerReport, (WorkerError, Usage)> {
        let dialect = self.config.dialect;
        let specs = tools.specs();
        let first = prompt::user_message(request);
        let mut messages = vec![match dialect {
            ApiDialect::Anthropic => anthropic::user(&first),
            ApiDialect::OpenAiChat => openai_chat::user(&first),
        }];
        let mut used = Usage::default();
        let max_turns = self.config.max_turns;
        for turn in 1..=max_turns {
            let reply = match self.ask(model, &specs, &messages, &request.cancel) {
                Ok(reply) => reply,
                Err(error) => return Err((error, used)),
            };
            used.add(reply.usage);
            messages.push(reply.assistant);
            if reply.calls.is_empty() {
                let mut summary = reply.text.clone();
                if matches!(reply.stop.as_deref(), Some("max_tokens" | "length")) {
                    summary.push_str(" [the reply stopped at the output token limit]");
                }
                return Ok(self.report(&summary, turn, used, &messages));
            }
            let mut results = Vec::new();
            for call in &reply.calls {
                let output = match (&call.input, call.name.as_str()) {
                    (Ok(input), FINISH) => {
                        let summary = input["summary"].as_str().unwrap_or(&reply.text);
                        return Ok(self.report(summary, turn, used, &messages));
                    }
                    (Ok(input), name) => tools.run(name, input),
                    (Err(problem), _) => ToolOutput {
                        content: format!("error: {problem}"),
                        is_error: true,
                    },
                };
                results.push((call.id.clone(), output));
            }
            messages.extend(match dialect {
                ApiDialect::Anthropic => anthropic::results(&results),
                ApiDialect::OpenAiChat => openai_chat::results(&results),
            });
        }
        Ok(self.report(
            &format!("stopped after {max_turns} model replies without finish"),
            max_turns,
            used,
            &messages,
        ))
    }

    /// The attempt's report; its transcript is the conversation as sent.
    fn report(&self, summary: &str, turns: u32, usage: Usage, messages: &[Value]) -> WorkerReport {
        let conversation = serde_json::to_string_pretty(messages).unwrap_or_default();
        WorkerReport {
            usage: Some(usage),
            summary: self.redact.apply(&format!(
                "{} ({turns} model replies)",
                prompt::clip(summary.trim(), MAX_SUMMARY)
            )),
            exit_code: None,
            // Set by the caller, which knows the stage's model.
            model: None,
            denied: Vec::new(),
            transcript: Some(Transcript::new(
                TranscriptFormat::Messages,
                self.redact.apply(&conversation),
            )),
        }
    }
}

/// The worker's own key, kept only to take it out of what it reports.
struct Redactor(String);

impl Redactor {
    fn apply(&self, text: &str) -> String {
        crate::transcript::redact(text, &[&self.0])
    }

    fn error(&self, error: WorkerError) -> WorkerError {
        match error {
            WorkerError::ProviderOutage(text) => WorkerError::ProviderOutage(self.apply(&text)),
            WorkerError::Failed(text) => WorkerError::Failed(self.apply(&text)),
        }
    }
}
