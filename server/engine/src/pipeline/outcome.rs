//! What a task's run through its stages leaves: each attempt's record, how
//! the task ended, and where its time went.

use std::time::{Duration, SystemTime};

use git2::Oid;
use serde_json::Value;
use tdd_gates::{Change, Outcome, Reason, Stage};
use tdd_workers::Usage;

use crate::git::Worktree;

/// How a stage failed: one type with the breakers, which count it.
pub use tdd_core::breaker::FailureKind;

/// One attempt at one stage.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub stage: Stage,
    /// 1-based, per stage.
    pub attempt: u32,
    pub worker: String,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    /// The exit code of the judged test run, when it exited.
    pub exit_code: Option<i32>,
    /// The judged test run: its summary and its failures ([`report_json`]).
    pub test_summary: Option<Value>,
    /// The gate's decision; `None` when it never got that far.
    pub outcome: Option<Outcome>,
    /// `None` when the attempt passed (or was judged already implemented).
    pub failure_kind: Option<FailureKind>,
    pub reasons: Vec<Reason>,
    /// The gate's evidence line, or the error that stopped the attempt.
    pub evidence: String,
    /// Test files the worker changed that the engine put back.
    pub reverted: Vec<String>,
    /// What the worker changed (VERIFY: the task's whole diff).
    pub changes: Vec<Change>,
    /// The model calls and tokens the worker reported.
    pub usage: Option<Usage>,
    /// The worker's account of the attempt, when it gave one.
    pub transcript: Option<tdd_workers::transcript::Transcript>,
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// The feature branch fast-forwarded to the task's work.
    Merged { feature_tip: Oid },
    /// A stage failed; `message` says why (the last reasons, or the error).
    Failed {
        stage: Stage,
        kind: FailureKind,
        message: String,
    },
    /// Rebasing onto the feature branch conflicted on these paths.
    MergeConflict { paths: Vec<String> },
}

/// Where a task's wall time went, summed over its stages. `git`: worktree,
/// commits, rebase, fast-forward; `diff`: what changed, putting paths back,
/// the content's tree id; `merge_wait`: waiting for the merge lock;
/// `test_wait`: waiting for a test slot ([`super::TestSlots`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    pub git: Duration,
    pub diff: Duration,
    pub store: Duration,
    pub tests: Duration,
    pub worker: Duration,
    pub merge_wait: Duration,
    pub test_wait: Duration,
    /// Test runs made, and test runs answered from an earlier report.
    pub test_runs: u32,
    pub reused_runs: u32,
}

#[derive(Clone, Debug)]
pub struct TaskOutcome {
    pub status: TaskStatus,
    pub attempts: Vec<AttemptRecord>,
    /// The stage commits made on the task branch, in order (before the rebase).
    pub commits: Vec<(Stage, Oid)>,
    /// RED found the behaviour already there; GREEN was skipped.
    pub already_implemented: bool,
    /// REFACTOR never passed and was rolled back.
    pub refactor_rolled_back: bool,
    /// The task's worktree, when one was created (removed again after a merge).
    pub worktree: Option<Worktree>,
    /// The first failure to write an attempt to the store, if any.
    pub record_error: Option<String>,
    /// Where the task's time went.
    pub timings: Timings,
}

impl TaskOutcome {
    pub fn merged(&self) -> bool {
        matches!(self.status, TaskStatus::Merged { .. })
    }
}
