//! Workers: whatever writes a stage's files in a task worktree (a coding
//! agent, a model behind an API, an external program, or a script in tests),
//! and what they run: child processes in their own groups ([`process`]), the
//! project's test command ([`testrun`]), their transcripts ([`transcript`])
//! and model use ([`usage`]). A worker only acts; the engine (`tdd-engine`'s
//! pipeline) decides from the test report and the diff whether the stage
//! passed. This is the only crate that speaks HTTP ([`api`], [`outbound`]).
//!
//! The kinds, documented in `docs/workers.md`:
//!
//! - [`ScriptedWorker`]: replays file edits keyed by task, stage and attempt,
//!   built in code or read from a TOML script ([`ScriptedWorker::from_file`]).
//! - [`CommandWorker`]: runs a configured program in the worktree, the stage
//!   request as JSON on stdin and in `TDD_*` variables (the plugin protocol,
//!   [`WireRequest`]).
//! - [`ApiWorker`] (`api/`): its own tool loop against a model's HTTP API
//!   (Anthropic Messages, OpenAI Chat Completions), the stage's write
//!   permissions enforced in its tools, the key read from an environment
//!   variable.
//! - [`AgentCliWorker`] (`agent_cli/`): Claude Code or Codex CLI run
//!   headless per attempt (presets over the command worker's process
//!   handling), usage read from their JSONL output.
//!
//! [`from_config`] builds any of them from `[worker]` in `.tdd/config.toml`.

mod agent_cli;
pub mod api;
mod command;
pub mod human;
mod jitter;
pub mod outbound;
mod probe;
pub mod process;
mod protocol;
mod report_file;
pub mod sandbox;
mod script_file;
mod scripted;
pub mod testrun;
pub mod transcript;
pub mod usage;
pub mod walk;

pub use agent_cli::AgentCliWorker;
pub use api::{ApiConfig, ApiDialect, ApiWorker, Backoff, StageModels};
pub use command::{CommandWorker, DEFAULT_TIMEOUT};
pub use human::HumanWorker;
pub use jitter::Jitter;
pub use probe::TestProbe;
pub use protocol::{EX_TEMPFAIL, PROTOCOL_VERSION, WireRequest, WireTest};
pub use sandbox::Sandbox;
pub use script_file::ScriptError;
pub use scripted::{Script, ScriptedWorker};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tdd_core::config::{WorkerConfig, WorkerKind};
use tdd_core::plan::Task;
use tdd_gates::Stage;

use crate::process::CancelToken;
pub use crate::usage::Usage;

/// What a worker is asked to do: one attempt at one stage of one task.
#[derive(Clone, Debug)]
pub struct StageRequest {
    pub task: Task,
    pub stage: Stage,
    /// The task's worktree: the only directory the worker may write in.
    pub worktree: PathBuf,
    /// The paths (relative to the worktree) the worker may change: for RED the
    /// task's test files, for GREEN and REFACTOR `task.writes` minus them.
    pub writable: Vec<String>,
    /// On a FIX retry: why the previous attempt did not pass the gate.
    pub feedback: Option<String>,
    /// 1 for the first attempt at the stage, 2 for the first retry, …
    pub attempt: u32,
    /// Runs the task's tests in the worktree, for workers that check their
    /// work as they go (the API worker's `run_tests` tool); others ignore it.
    pub tests: Option<TestProbe>,
    /// Cancelled with the run: a worker that waits (for a person, say)
    /// stops waiting.
    pub cancel: CancelToken,
    /// Tells whoever watches the run something now (the human worker's
    /// instructions); `None` when nobody listens.
    pub notice: Option<Notice>,
}

/// A message for whoever watches the run, from inside an attempt.
#[derive(Clone)]
pub struct Notice(pub Arc<dyn Fn(&str) + Send + Sync>);

impl Notice {
    pub fn say(&self, message: &str) {
        (self.0)(message);
    }
}

impl std::fmt::Debug for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notice")
    }
}

/// What a worker says it did. Only informative: the gate never trusts it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerReport {
    /// A short account of the attempt, for the logs.
    pub summary: String,
    /// The worker process's exit code, when it was a process.
    pub exit_code: Option<i32>,
    /// What the model calls of the attempt used, when the worker knows.
    pub usage: Option<Usage>,
    /// The model that answered, when the worker knows: the run prices the
    /// usage with it when the worker did not give a cost.
    pub model: Option<String>,
    /// Changes the worker's own permissions refused (a write to a test
    /// file in GREEN, a path outside the worktree): each fails the attempt
    /// as a violation, like a change the diff audit puts back.
    pub denied: Vec<String>,
    /// What the worker said and did, with its own secrets redacted.
    pub transcript: Option<transcript::Transcript>,
}

/// Why a worker could not make its attempt. Kept apart from a gate violation
/// (the attempt happened, its output was wrong): the pipeline records
/// `ProviderOutage` as a provider outage and `Failed` as an infrastructure
/// error, neither as a violation.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The model provider is unavailable (429, 5xx, timeout, auth): not the
    /// task's fault, and not the machine's.
    #[error("provider outage: {0}")]
    ProviderOutage(String),
    /// Anything else that stopped the worker (it could not start, crashed,
    /// timed out, could not write its files).
    #[error("worker failed: {0}")]
    Failed(String),
}

/// Something that performs stage attempts in a task worktree.
pub trait Worker: Send {
    /// Recorded with each attempt.
    fn name(&self) -> &str;
    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError>;
    /// True when the worker cannot write outside the worktree (its own
    /// tools refuse it), so the engine need not look for escaped writes
    /// around its attempts. A program it runs can write anywhere: false.
    fn confined_to_worktree(&self) -> bool {
        false
    }
    /// What the last [`Worker::perform`] that failed had used before it
    /// failed (the model calls an outage cut short), taken once; `None`
    /// when the worker used nothing it can count.
    fn spent(&mut self) -> Option<Usage> {
        None
    }
}

/// Why [`from_config`] could not build a worker. Each message says which
/// `.tdd/config.toml` key to set.
#[derive(Debug, thiserror::Error)]
pub enum WorkerConfigError {
    #[error(
        "no worker is configured: in .tdd/config.toml set [worker] kind = \"command\" with \
         [worker.command] program = \"…\" (see docs/workers.md), or kind = \"scripted\" with \
         [worker.scripted] script = \"…\""
    )]
    NotConfigured,
    #[error(
        "[worker] kind = \"{}\" needs a [worker.{}] table in .tdd/config.toml (see docs/workers.md)",
        .0.as_str(),
        .0.as_str()
    )]
    MissingTable(WorkerKind),
    #[error(
        "worker program `{program}` {problem}: set [worker.command] program in .tdd/config.toml \
         to an executable on PATH or a path from the project root"
    )]
    Program { program: String, problem: String },
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error(
        "[worker.api] reads its key from the environment variable {0}, which is not set: \
         export it (or name another one with api_key_env)"
    )]
    MissingKey(String),
    #[error("[worker.api]: {0}")]
    Api(String),
    #[error("[worker] kind = \"{}\" ([worker.agent]): {}", .0.as_str(), .1)]
    Agent(WorkerKind, String),
    #[error("{0}")]
    Sandbox(String),
}

/// Builds the configured worker, called `name` in the attempts it records.
/// Paths in the configuration are relative to `project_root`. A command
/// worker's program is looked up now, so a typo fails before any task starts.
pub fn from_config(
    config: &WorkerConfig,
    project_root: &Path,
    name: &str,
) -> Result<Box<dyn Worker>, WorkerConfigError> {
    match config.kind {
        None => Err(WorkerConfigError::NotConfigured),
        Some(kind @ WorkerKind::Api) => {
            let api = config
                .api
                .as_ref()
                .ok_or(WorkerConfigError::MissingTable(kind))?;
            process::mark_key_var(api.key_env());
            let key = std::env::var(api.key_env())
                .ok()
                .filter(|k| !k.trim().is_empty())
                .ok_or_else(|| WorkerConfigError::MissingKey(api.key_env().to_string()))?;
            let settings = ApiConfig::from_settings(api, key);
            let worker = ApiWorker::new(name, settings)
                .map_err(|e| WorkerConfigError::Api(e.to_string()))?;
            Ok(Box::new(worker))
        }
        Some(kind @ WorkerKind::Command) => {
            let command = config
                .command
                .as_ref()
                .ok_or(WorkerConfigError::MissingTable(kind))?;
            let sandbox = Sandbox::choose(config.sandbox).map_err(WorkerConfigError::Sandbox)?;
            let worker = CommandWorker::from_config(name, command, project_root).sandbox(sandbox);
            worker
                .resolve_program()
                .map_err(|problem| WorkerConfigError::Program {
                    program: command.program.clone(),
                    problem,
                })?;
            Ok(Box::new(worker))
        }
        Some(WorkerKind::Human) => Ok(Box::new(HumanWorker::new(name, project_root))),
        Some(kind @ (WorkerKind::ClaudeCode | WorkerKind::Codex | WorkerKind::Aider)) => {
            let cli = kind.agent_cli().expect("an agent CLI kind");
            let agent = config.agent.clone().unwrap_or_default();
            let sandbox = Sandbox::choose(config.sandbox).map_err(WorkerConfigError::Sandbox)?;
            let worker = AgentCliWorker::from_config(name, cli, &agent, project_root)
                .map_err(|problem| WorkerConfigError::Agent(kind, problem))?
                .sandbox(sandbox);
            worker.resolve_program().map_err(|problem| {
                let program = agent.program(cli);
                WorkerConfigError::Agent(kind, format!("program `{program}` {problem}"))
            })?;
            Ok(Box::new(worker))
        }
        Some(kind @ WorkerKind::Scripted) => {
            let scripted = config
                .scripted
                .as_ref()
                .ok_or(WorkerConfigError::MissingTable(kind))?;
            let worker = ScriptedWorker::from_file(&project_root.join(&scripted.script))?;
            Ok(Box::new(worker.named(name)))
        }
    }
}

/// A request for task `T` (tests of the submodules).
#[cfg(test)]
fn test_request(worktree: &Path, stage: Stage, attempt: u32) -> StageRequest {
    StageRequest {
        task: Task {
            key: "T".to_string(),
            kind: tdd_core::plan::TaskKind::Implement,
            title: "t".to_string(),
            requirement: None,
            criteria: Vec::new(),
            test_file: None,
            impl_file: None,
            writes: Vec::new(),
            tests: Vec::new(),
            depends_on: Vec::new(),
            complexity: tdd_core::plan::Complexity {
                score: 1,
                level: tdd_core::plan::Level::Low,
            },
            hints: Vec::new(),
            components: Vec::new(),
            expected_tests: None,
            setup: None,
            content_hash: String::new(),
            source: tdd_core::text::Span::default(),
        },
        stage,
        worktree: worktree.to_path_buf(),
        writable: Vec::new(),
        feedback: None,
        attempt,
        tests: None,
        cancel: CancelToken::default(),
        notice: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tdd_core::config::parse_config;

    fn config(text: &str) -> WorkerConfig {
        parse_config(text).unwrap().worker
    }

    fn temp_root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tdd-worker-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn no_kind_says_how_to_configure_one() {
        let err = from_config(&WorkerConfig::default(), Path::new("."), "w").err();
        let message = err.unwrap().to_string();
        assert!(message.contains("[worker] kind = \"command\""), "{message}");
        assert!(message.contains("docs/workers.md"), "{message}");
    }

    #[test]
    fn a_kind_without_its_table_names_the_table() {
        let err = from_config(
            &config("[worker]\nkind = \"command\"\n"),
            Path::new("."),
            "w",
        );
        let message = err.err().unwrap().to_string();
        assert!(message.contains("[worker.command]"), "{message}");
    }

    #[test]
    fn a_missing_program_fails_at_configuration() {
        let text =
            "[worker]\nkind = \"command\"\n[worker.command]\nprogram = \"no-such-agent-xyz\"\n";
        let err = from_config(&config(text), Path::new("."), "w")
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(message.contains("`no-such-agent-xyz`"), "{message}");
        assert!(message.contains("not found on PATH"), "{message}");
        let text = "[worker]\nkind = \"command\"\n[worker.command]\nprogram = \"bin/agent\"\n";
        let root = temp_root("relprog");
        let message = from_config(&config(text), &root, "w")
            .err()
            .unwrap()
            .to_string();
        assert!(message.contains("does not exist"), "{message}");
    }

    #[test]
    fn builds_both_kinds() {
        let root = temp_root("kinds");
        std::fs::write(
            root.join("script.toml"),
            "[[step]]\ntask = \"T\"\nstage = \"red\"\n",
        )
        .unwrap();
        let text = "[worker]\nkind = \"scripted\"\n[worker.scripted]\nscript = \"script.toml\"\n";
        let worker = from_config(&config(text), &root, "scripted-1").unwrap();
        assert_eq!(worker.name(), "scripted-1");
        let text = "[worker]\nkind = \"command\"\n[worker.command]\nprogram = \"sh\"\n";
        let worker = from_config(&config(text), &root, "command-1").unwrap();
        assert_eq!(worker.name(), "command-1");
    }

    #[test]
    fn a_broken_script_names_the_file_and_position() {
        let root = temp_root("badscript");
        std::fs::write(
            root.join("s.toml"),
            "[[step]]\ntask = \"T\"\nstage = \"blue\"\n",
        )
        .unwrap();
        let text = "[worker]\nkind = \"scripted\"\n[worker.scripted]\nscript = \"s.toml\"\n";
        let message = from_config(&config(text), &root, "w")
            .err()
            .unwrap()
            .to_string();
        assert!(message.contains("s.toml:3:9"), "{message}");
    }
}
