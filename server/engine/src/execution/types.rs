//! What a run is asked to do and what it answers: the request, the budget,
//! the end status, the summary (with the failures it leaves), and why a run
//! could not start.

use std::path::PathBuf;
use std::time::Duration;

use super::control::StopReason;
use super::event::Emit;
use super::graph;
use crate::breakers::BreakerError;
use crate::git::GitError;
use crate::planning;
use crate::project::ProjectError;
use crate::scheduler::{SchedulerReport, TaskEnd};
use crate::store::StoreError;
use crate::store::claims::ClaimRow;
use crate::store::runs::RunId;
use tdd_workers::Worker;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Breakers(#[from] BreakerError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another run is working in this project ({holder}); wait for it, or stop it with `tdd-orchestrator pause` or `cancel`"
    )]
    Busy { holder: String },
    #[error("{prd} has no tasks yet: run `tdd-orchestrator decompose {prd}` first")]
    NotDecomposed { prd: String },
    #[error(
        "{prd} has no unfinished run to resume (its last run completed, or it never ran): start one with `tdd-orchestrator run {prd}`"
    )]
    NothingToResume { prd: String },
    #[error("no run is in progress in this project")]
    NoActiveRun,
    #[error(
        "{requirement} has no task left to run (its tasks are done, failed or blocked; `tdd-orchestrator status` shows them)"
    )]
    NothingForRequirement { requirement: String },
    #[error("task `{key}` in the store cannot be read ({reason}); decompose the PRD again")]
    BadTask { key: String, reason: String },
    #[error("a run needs at least one worker")]
    NoWorkers,
    #[error(
        "{prd} changed since it was decomposed and is not valid now, so it was not re-planned and nothing ran: {problems} \
         (fix it, or `tdd-orchestrator validate {prd}` for the details)"
    )]
    InvalidPrd { prd: String, problems: String },
    #[error(transparent)]
    Planning(#[from] planning::PlanningError),
}

/// Limits on the whole run. Past one, no new stage attempt starts and the
/// run stops as `stopped: budget`, resumable.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Budget {
    pub wall_time: Option<Duration>,
    /// Worker attempts, every task and stage together.
    pub attempts: Option<u32>,
    /// Model tokens (input plus output), every attempt together.
    pub tokens: Option<u64>,
    /// US dollars of priced model calls.
    pub usd: Option<f64>,
}

pub struct RunRequest {
    pub root: PathBuf,
    /// The PRD file (absolute, or relative to `root`).
    pub prd: PathBuf,
    pub workers: Vec<Box<dyn Worker>>,
    /// Attempts per stage, the first one included (the FIX loop's bound).
    pub max_attempts: u32,
    pub budget: Budget,
    /// Continue the last unfinished run instead of starting a new one.
    pub resume: bool,
    /// Extra environment for the test runs.
    pub env: Vec<(String, String)>,
    pub test_timeout: Duration,
    pub heartbeat: Duration,
    pub emit: Option<Emit>,
    /// Run only this requirement's tasks (and the unfinished ones they
    /// depend on).
    pub requirement: Option<String>,
}

impl RunRequest {
    pub fn new(
        root: impl Into<PathBuf>,
        prd: impl Into<PathBuf>,
        workers: Vec<Box<dyn Worker>>,
    ) -> Self {
        RunRequest {
            root: root.into(),
            prd: prd.into(),
            workers,
            max_attempts: 3,
            budget: Budget::default(),
            resume: false,
            env: Vec::new(),
            test_timeout: Duration::from_secs(600),
            heartbeat: Duration::from_secs(2),
            emit: None,
            requirement: None,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Every task is done.
    Completed,
    /// Some task failed or is blocked by one.
    Failed,
    /// Stopped early; `resume` goes on.
    Stopped(StopReason),
}

/// How a run ended, as a sentence's end: "run 3 completed".
impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunStatus::Completed => f.write_str("completed"),
            RunStatus::Failed => f.write_str("finished with failures"),
            RunStatus::Stopped(StopReason::Cancelled) => f.write_str("was cancelled"),
            RunStatus::Stopped(StopReason::Budget(why)) => write!(f, "stopped: {why}"),
            RunStatus::Stopped(StopReason::ProviderUnreachable(why)) => {
                write!(f, "stopped: {why}")
            }
        }
    }
}

impl RunStatus {
    pub(super) fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Stopped(StopReason::Cancelled) => "cancelled",
            RunStatus::Stopped(StopReason::Budget(_)) => "budget",
            RunStatus::Stopped(StopReason::ProviderUnreachable(_)) => "unreachable",
        }
    }
}

#[derive(Debug)]
pub struct RunSummary {
    pub run_id: RunId,
    pub status: RunStatus,
    /// `tdd/<prd>`.
    pub feature_branch: String,
    pub report: SchedulerReport,
    pub recovered: Vec<ClaimRow>,
    /// Tasks finished before this run.
    pub finished_before: usize,
    /// Tasks an earlier run failed that this one did not take up (not
    /// retried), with the tasks each holds back.
    pub failed_before: Vec<(String, Vec<String>)>,
}

impl RunSummary {
    /// The tasks this run failed and the earlier failures it left standing,
    /// a line each (`failed: …`, `still failed from an earlier run: X
    /// (holding back Y)`); `None` when there are none.
    pub fn failures(&self) -> Option<String> {
        let failed: Vec<&str> = self
            .report
            .tasks
            .iter()
            .filter(|t| matches!(t.end, TaskEnd::Failed(_)))
            .map(|t| t.key.as_str())
            .collect();
        let before: Vec<String> = self
            .failed_before
            .iter()
            .map(|(key, held)| match held.is_empty() {
                true => key.clone(),
                false => format!("{key} (holding back {})", held.join(", ")),
            })
            .collect();
        let mut lines = Vec::new();
        if !failed.is_empty() {
            lines.push(format!("failed: {}", failed.join(", ")));
        }
        if !before.is_empty() {
            lines.push(format!(
                "still failed from an earlier run: {}",
                before.join("; ")
            ));
        }
        (!lines.is_empty()).then(|| lines.join("\n"))
    }

    /// The first task to look at: the first this run failed, else the
    /// first earlier failure left standing.
    pub fn first_failure(&self) -> Option<&str> {
        self.report
            .tasks
            .iter()
            .find(|t| matches!(t.end, TaskEnd::Failed(_)))
            .map(|t| t.key.as_str())
            .or_else(|| self.failed_before.first().map(|(key, _)| key.as_str()))
    }
}

/// The earlier failures still standing, each with the tasks it holds back.
pub(super) fn failed_before(
    remaining: &graph::Remaining,
    rows: &[crate::store::TaskRow],
) -> Vec<(String, Vec<String>)> {
    remaining
        .failed
        .iter()
        .map(|key| {
            let held: Vec<String> = remaining
                .blocked
                .iter()
                .filter(|(_, by)| by == key)
                .filter_map(|(id, _)| rows.iter().find(|r| r.id == *id))
                .map(|r| r.key.clone())
                .collect();
            (key.clone(), held)
        })
        .collect()
}
