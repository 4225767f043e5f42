//! Agent-CLI workers: Claude Code (`claude -p`), Codex CLI (`codex exec`)
//! and aider (`aider --message`) run headless, once per attempt, in the
//! task's worktree, with the stage prompt of the API worker. The process handling is the command worker's
//! ([`crate::process`]: own process group, killed as a group on timeout or
//! cancel); each preset only knows its command line, its environment and
//! how to read its output ([`claude`], [`codex`]: JSONL; [`aider`]: text).
//!
//! Every attempt gets a throwaway home directory (removed afterwards), so
//! the CLI sees no user settings, logins or session files, and writes none.
//! The key travels only in the CLI's environment.

mod aider;
mod claude;
mod codex;
mod scratch;

use crate::transcript::{Transcript, TranscriptFormat};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tdd_core::config::{AgentCli, AgentWorkerConfig};

use super::command::{quote, resolve_program, tail};
use super::{StageRequest, Usage, Worker, WorkerError, WorkerReport};
use crate::process::{self, CancelToken, Ending, Spec};
use crate::sandbox::{self, Allow, Sandbox};
use scratch::Scratch;

/// Longest summary kept from the CLI's final message.
const MAX_SUMMARY: usize = 2_000;
/// Longest prompt passed: it is one command-line argument, and Linux
/// refuses a single argument over 128 KiB.
const MAX_PROMPT_BYTES: usize = 100_000;

/// What a preset read from the CLI's output.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// The CLI finished its run: its last message and what it used.
    Done {
        summary: String,
        usage: Usage,
        model: Option<String>,
    },
    /// The model server failed, refused the key or could not be reached.
    Outage(String),
    /// The CLI reported a failure of its own (not the provider's).
    Failed(String),
    /// No final result line: what the output looked like instead.
    NoResult(String),
}

/// Runs Claude Code, Codex CLI or aider per attempt; see docs/workers.md.
pub struct AgentCliWorker {
    name: String,
    cli: AgentCli,
    /// As configured, for messages.
    shown: String,
    program: PathBuf,
    model: Option<String>,
    base_url: Option<String>,
    /// The name of the variable the key came from (for Codex's `env_key`).
    key_env: String,
    key: String,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
    /// No output and no file change this long: stuck, an outage.
    idle: Duration,
    cancel: CancelToken,
    sandbox: Option<Sandbox>,
    /// What the last failed attempt had used (see [`Worker::spent`]).
    failed_use: Option<Usage>,
}

impl std::fmt::Debug for AgentCliWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCliWorker")
            .field("name", &self.name)
            .field("cli", &self.cli)
            .field("program", &self.program)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("key_env", &self.key_env)
            .field("key", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

impl AgentCliWorker {
    /// A worker running `program` (a name on `PATH` or a path with a `/`)
    /// as `cli`, with the key `key` and the CLI's default server and model.
    pub fn new(
        name: impl Into<String>,
        cli: AgentCli,
        program: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        let shown = program.into();
        AgentCliWorker {
            name: name.into(),
            cli,
            program: PathBuf::from(&shown),
            shown,
            model: None,
            base_url: None,
            key_env: cli.default_key_env().to_string(),
            key: key.into(),
            extra_args: Vec::new(),
            env: Vec::new(),
            timeout: Duration::from_secs(1800),
            idle: Duration::from_secs(tdd_core::config::DEFAULT_AGENT_IDLE_SECS),
            cancel: CancelToken::default(),
            sandbox: None,
            failed_use: None,
        }
    }

    /// The `[worker.agent]` table for `cli`; the key is read now from the
    /// variable it names, and a program path is relative to `project_root`.
    pub fn from_config(
        name: &str,
        cli: AgentCli,
        config: &AgentWorkerConfig,
        project_root: &Path,
    ) -> Result<Self, String> {
        let key_env = config.key_env(cli);
        process::mark_key_var(key_env);
        let key = std::env::var(key_env)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                format!(
                    "the key is read from the environment variable {key_env}, which is not \
                     set: export it (or name another one with api_key_env)"
                )
            })?;
        let program = config.program(cli);
        let mut worker = AgentCliWorker::new(name, cli, program, key)
            .timeout(Duration::from_secs(config.timeout_secs.get()))
            .idle_timeout(Duration::from_secs(config.idle_timeout_secs.get()))
            .extra_args(config.extra_args.iter().cloned());
        worker.key_env = key_env.to_string();
        worker.model = config.model.clone();
        worker.base_url = config.base_url.clone();
        if program.contains('/') {
            worker.program = project_root.join(program);
        }
        Ok(worker)
    }

    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Claude Code: without `/v1`; Codex: with it.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    pub fn extra_args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An extra environment variable (the preset's own ones win).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// An attempt that prints nothing and changes no file in the worktree
    /// this long is stopped as a provider outage (a model server that
    /// accepts the connection and never answers).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// A token that, once cancelled, stops a running attempt (its whole group).
    pub fn cancel_token(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Runs the CLI in `sandbox` (see [`crate::sandbox`]), its throwaway
    /// home writable; `None`: as is.
    pub fn sandbox(mut self, sandbox: Option<Sandbox>) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// The executable that would run, or what is wrong with it and how to
    /// install the CLI.
    pub fn resolve_program(&self) -> Result<PathBuf, String> {
        resolve_program(&self.shown, &self.program, &self.env).map_err(|problem| {
            format!(
                "{problem}: install it with `{}` or set [worker.agent] program in \
                 .tdd/config.toml",
                self.cli.install_command()
            )
        })
    }

    // Both with the key blanked: a provider may echo it in its error
    // ("Incorrect API key provided: sk-…"), and the CLI prints that.
    fn failed(&self, what: impl std::fmt::Display, stderr: &str) -> WorkerError {
        let message = format!("agent CLI `{}` {what}{}", self.shown, tail(stderr));
        WorkerError::Failed(crate::transcript::redact(&message, &[&self.key]))
    }

    fn outage(&self, what: impl std::fmt::Display) -> WorkerError {
        let message = format!(
            "agent CLI `{}` reported a provider outage: {what}",
            self.shown
        );
        WorkerError::ProviderOutage(crate::transcript::redact(&message, &[&self.key]))
    }

    /// The command line (after the program) and the environment of one run;
    /// `files` are those the stage may change that exist already.
    fn invocation(
        &self,
        prompt: &str,
        home: &Scratch,
        files: &[String],
    ) -> (Vec<String>, Vec<(String, String)>) {
        let model = self.model.as_deref();
        let base_url = self.base_url.as_deref();
        let (mut args, preset_env) = match self.cli {
            AgentCli::ClaudeCode => (
                claude::args(model, prompt),
                claude::env(base_url, &self.key),
            ),
            AgentCli::Codex => (
                codex::args(model, base_url, &self.key_env),
                codex::env(&self.key_env, &self.key, home),
            ),
            AgentCli::Aider => (Vec::new(), aider::env(base_url, &self.key)),
        };
        // Extra flags go before the prompt (Codex) and the files (aider).
        args.extend(self.extra_args.iter().cloned());
        match self.cli {
            AgentCli::ClaudeCode => {}
            AgentCli::Codex => args.push(prompt.to_string()),
            AgentCli::Aider => args.extend(aider::args(model, base_url, home, files, prompt)),
        }
        let mut env = self.env.clone();
        env.extend(home.env());
        env.extend(preset_env);
        (args, env)
    }
}

/// The stage prompt of the API worker, plus what a CLI agent needs to know.
fn prompt(request: &StageRequest) -> String {
    let mut text = super::api::prompt::user_message(request);
    if text.len() > MAX_PROMPT_BYTES {
        let mut cut = MAX_PROMPT_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n… (the task description was cut here: too long for a command line)\n");
    }
    let worktree = std::path::absolute(&request.worktree).unwrap_or(request.worktree.clone());
    text.push_str(&format!(
        "\nWorking directory: {}\n\
         Change only the writable paths listed above (relative to the working directory); \
         every other change is put back and fails the attempt. Do not run git commands: the \
         engine runs the tests, commits and merges itself. There is no `finish` tool: when \
         the stage is done, stop and reply with a one-line summary.\n",
        worktree.display()
    ));
    text
}

impl Worker for AgentCliWorker {
    fn name(&self) -> &str {
        &self.name
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        self.failed_use = None;
        let program = self
            .resolve_program()
            .map_err(|problem| self.failed(problem, ""))?;
        let home = Scratch::create()
            .map_err(|e| self.failed(format!("got no scratch home directory: {e}"), ""))?;
        let files = match self.cli {
            AgentCli::Aider => {
                aider::write_metadata(&home, self.model.as_deref(), self.base_url.as_deref())
                    .map_err(|e| self.failed(format!("could not write its model file: {e}"), ""))?;
                aider::existing(&request.worktree, &request.writable)
            }
            AgentCli::ClaudeCode | AgentCli::Codex => Vec::new(),
        };
        let (args, env) = self.invocation(&prompt(request), &home, &files);
        let allow = Allow {
            write: vec![home.path()],
            ..Allow::default()
        };
        let mut words: Vec<String> = match &self.sandbox {
            Some(sandbox) => sandbox.prefix(&request.worktree, &allow),
            None => Vec::new(),
        };
        words.push(program.display().to_string());
        words.extend(args);
        let words: Vec<String> = words.iter().map(|w| quote(w)).collect();
        let spec = Spec {
            // `exec`: the CLI itself leads the group that gets the signals;
            // stdin is /dev/null (Codex would wait on a pipe).
            command: format!("exec {} < /dev/null", words.join(" ")),
            cwd: request.worktree.clone(),
            env,
            timeout: self.timeout,
        };
        let started = Instant::now();
        let idle = process::Idle {
            after: self.idle,
            dir: request.worktree.clone(),
        };
        let finished = process::run_watched(&spec, &self.cancel, &idle).map_err(|e| {
            self.failed(
                format!("could not start in {}: {e}", request.worktree.display()),
                "",
            )
        })?;
        let wall_ms = started.elapsed().as_millis() as u64;
        drop(home);
        let result = self.read_run(&finished, wall_ms);
        // A failed attempt's usage waits for `spent`; a report carries its own.
        self.failed_use = match &result {
            Ok(_) => None,
            Err(_) => self.used(&finished.stdout),
        };
        result
    }

    fn spent(&mut self) -> Option<Usage> {
        self.failed_use.take()
    }
}

impl AgentCliWorker {
    /// The attempt's report or error, from how the CLI ended and what it
    /// printed.
    fn read_run(
        &self,
        finished: &process::Finished,
        wall_ms: u64,
    ) -> Result<WorkerReport, WorkerError> {
        let stderr = &finished.stderr;
        let verdict = match self.cli {
            AgentCli::ClaudeCode => claude::judge(&finished.stdout),
            AgentCli::Codex => codex::judge(&finished.stdout, wall_ms),
            AgentCli::Aider => aider::judge(&finished.stdout),
        };
        let code = match finished.ending {
            Ending::Exited(code) => code,
            Ending::Signalled(signal) => {
                return Err(self.failed(format!("crashed (killed by signal {signal})"), stderr));
            }
            Ending::TimedOut => {
                // A CLI still retrying the model server (Codex waits for an
                // unreachable one without end) is an outage.
                let retrying = match self.cli {
                    AgentCli::ClaudeCode => claude::retrying(&finished.stdout),
                    AgentCli::Codex => codex::reconnecting(&finished.stdout),
                    AgentCli::Aider => aider::retrying(&finished.stdout),
                };
                if let Some(why) = retrying {
                    return Err(
                        self.outage(format!("{why} (killed after {} s)", self.timeout.as_secs()))
                    );
                }
                return Err(self.failed(
                    format!(
                        "timed out after {} s and was killed with everything it started; \
                         raise [worker.agent] timeout_secs if it needs longer",
                        self.timeout.as_secs_f64()
                    ),
                    stderr,
                ));
            }
            Ending::Idle => {
                return Err(self.outage(format!(
                    "no output and no file change for {} s: the model server may not be \
                     answering (stopped; [worker.agent] idle_timeout_secs sets how long)",
                    self.idle.as_secs()
                )));
            }
            Ending::Cancelled => return Err(self.failed("was cancelled", stderr)),
        };
        let result = match verdict {
            Verdict::Outage(why) => Err(self.outage(why)),
            Verdict::Failed(why) => Err(self.failed(why, stderr)),
            Verdict::Done { .. } if code != 0 => Err(self.failed(
                format!("exited with code {code} after reporting success"),
                stderr,
            )),
            Verdict::Done {
                summary,
                usage,
                model,
            } => Ok(WorkerReport {
                summary,
                exit_code: Some(code),
                usage: Some(usage),
                model: model.or_else(|| self.model.clone()),
                transcript: Some(Transcript::new(
                    self.transcript_format(),
                    crate::transcript::redact(&finished.stdout, &[&self.key]),
                )),
                ..WorkerReport::default()
            }),
            Verdict::NoResult(seen) => match code {
                // The shell's codes for "not found" and "not executable".
                126 | 127 => Err(self.failed(
                    format!(
                        "could not start (exit {code}): install it with `{}`",
                        self.cli.install_command()
                    ),
                    stderr,
                )),
                code => Err(self.failed(
                    format!(
                        "exited with code {code} without a final result ({seen}); if the CLI \
                         itself is broken, reinstall it with `{}`",
                        self.cli.install_command()
                    ),
                    stderr,
                )),
            },
        };
        self.with_refusals(result, code, &finished.stdout, stderr)
    }
}

impl AgentCliWorker {
    /// What a failed run had used, as far as its output tells.
    fn used(&self, stdout: &str) -> Option<Usage> {
        match self.cli {
            AgentCli::ClaudeCode => claude::spent(stdout),
            AgentCli::Codex => codex::spent(stdout),
            AgentCli::Aider => aider::spent(stdout),
        }
    }

    /// What the CLI's stdout is: JSON events, or aider's plain text.
    fn transcript_format(&self) -> TranscriptFormat {
        match self.cli {
            AgentCli::ClaudeCode | AgentCli::Codex => TranscriptFormat::JsonLines,
            AgentCli::Aider => TranscriptFormat::Text,
        }
    }

    /// Writes the sandbox refused fail the attempt as a violation naming
    /// them: added to the report, or in place of the failure they caused.
    fn with_refusals(
        &self,
        result: Result<WorkerReport, WorkerError>,
        code: i32,
        stdout: &str,
        stderr: &str,
    ) -> Result<WorkerReport, WorkerError> {
        if self.sandbox.is_none() {
            return result;
        }
        let denied = sandbox::refused_writes(stdout, stderr);
        if denied.is_empty() {
            return result;
        }
        match result {
            Ok(mut report) => {
                report.denied.extend(denied);
                Ok(report)
            }
            Err(WorkerError::Failed(why)) => Ok(WorkerReport {
                summary: why,
                exit_code: Some(code),
                denied,
                transcript: Some(Transcript::new(
                    self.transcript_format(),
                    crate::transcript::redact(stdout, &[&self.key]),
                )),
                ..WorkerReport::default()
            }),
            Err(outage) => Err(outage),
        }
    }
}

/// The JSON objects of JSONL output, and how many non-empty lines were not
/// JSON objects (a CLI may print a stray line; a missing result is what
/// fails the attempt).
fn json_lines(stdout: &str) -> (Vec<serde_json::Value>, usize) {
    let mut values = Vec::new();
    let mut bad = 0;
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(value) if value.is_object() => values.push(value),
            _ => bad += 1,
        }
    }
    (values, bad)
}

/// What the output held when no final result was found.
fn describe_output(stdout: &str, events: usize, bad: usize) -> String {
    if stdout.trim().is_empty() {
        return "stdout was empty".to_string();
    }
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    format!(
        "{events} JSON events and {bad} lines that were not JSON; the last line: {}",
        clip(last.unwrap_or("").trim(), 300)
    )
}

/// Provider trouble by HTTP status: refused keys, rate limits, timeouts and
/// server errors. Other 4xx (a wrong model name or URL) are the setup's.
fn outage_status(status: u64) -> bool {
    matches!(status, 401 | 403 | 408 | 429) || status >= 500
}

/// At most `max` characters.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
