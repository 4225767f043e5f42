//! Workers: whatever writes a stage's files in a task worktree (a coding
//! agent, a model behind an API, or a script in tests). A worker only acts;
//! the engine decides from the test report and the diff whether the stage
//! passed (see [`crate::pipeline`]).

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use tdd_core::gate::Stage;
use tdd_core::plan::Task;

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
}

/// What a worker says it did. Only informative: the gate never trusts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// A short account of the attempt, for the logs.
    pub summary: String,
    /// The worker process's exit code, when it was a process.
    pub exit_code: Option<i32>,
}

/// Why a worker could not make its attempt. Kept apart from a gate violation
/// (the attempt happened, its output was wrong).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The model provider is unavailable (429, 5xx, timeout, auth): not the
    /// task's fault, and not the machine's.
    #[error("provider outage: {0}")]
    ProviderOutage(String),
    /// Anything else that stopped the worker (it could not start, crashed,
    /// could not write its files).
    #[error("worker failed: {0}")]
    Failed(String),
}

/// Something that performs stage attempts in a task worktree.
pub trait Worker: Send {
    /// Recorded with each attempt.
    fn name(&self) -> &str;
    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError>;
}

/// One scripted attempt.
#[derive(Clone, Debug)]
pub enum Script {
    /// Write these files (path relative to the worktree, contents).
    Write(Vec<(String, String)>),
    /// Change nothing.
    Nothing,
    /// Fail as the provider would.
    Outage(String),
}

/// The test double DESIGN.md names: a worker with no model that, for each
/// (task key, stage, attempt), writes the file contents it was given into the
/// worktree, or does nothing, or reports a provider outage. An attempt with no
/// script does nothing. It writes wherever it is told, writable or not, so
/// tests can check that the engine catches a worker that oversteps. Every
/// request it receives is kept in [`ScriptedWorker::requests`].
#[derive(Debug, Default)]
pub struct ScriptedWorker {
    name: String,
    scripts: HashMap<(String, Stage, u32), Script>,
    /// The requests received, in order.
    pub requests: Vec<StageRequest>,
}

impl ScriptedWorker {
    pub fn new(name: impl Into<String>) -> Self {
        ScriptedWorker {
            name: name.into(),
            ..ScriptedWorker::default()
        }
    }

    /// Scripts `attempt` (1-based) of `stage` of task `key`.
    pub fn on(mut self, key: &str, stage: Stage, attempt: u32, script: Script) -> Self {
        self.scripts
            .insert((key.to_string(), stage, attempt), script);
        self
    }

    /// Shorthand for [`Script::Write`] of one file.
    pub fn write(self, key: &str, stage: Stage, attempt: u32, path: &str, text: &str) -> Self {
        self.on(
            key,
            stage,
            attempt,
            Script::Write(vec![(path.to_string(), text.to_string())]),
        )
    }
}

impl Worker for ScriptedWorker {
    fn name(&self) -> &str {
        &self.name
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        self.requests.push(request.clone());
        let key = (request.task.key.clone(), request.stage, request.attempt);
        match self.scripts.get(&key) {
            None | Some(Script::Nothing) => Ok(WorkerReport {
                summary: "changed nothing".to_string(),
                exit_code: Some(0),
            }),
            Some(Script::Outage(message)) => Err(WorkerError::ProviderOutage(message.clone())),
            Some(Script::Write(files)) => {
                for (rel, text) in files {
                    let path = request.worktree.join(rel);
                    if let Some(parent) = path.parent() {
                        fs::create_dir_all(parent).map_err(|e| {
                            WorkerError::Failed(format!("{}: {e}", parent.display()))
                        })?;
                    }
                    fs::write(&path, text)
                        .map_err(|e| WorkerError::Failed(format!("{}: {e}", path.display())))?;
                }
                let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
                Ok(WorkerReport {
                    summary: format!("wrote {}", names.join(", ")),
                    exit_code: Some(0),
                })
            }
        }
    }
}
