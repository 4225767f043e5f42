//! What every task of a run shares: the project, the layout, the test
//! environment, the FIX budget, where attempts are recorded, and the hooks
//! a run listens on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tdd_core::config::Layout;
use tdd_core::plan::Task;
use tdd_workers::process::CancelToken;

use super::{AttemptRecord, ReportCache, TestSlots};
use crate::git::{Project, WorktreePool};
use crate::store::runs::RunId;
use crate::store::{PrdId, Store, TaskId};

/// What every task of a run shares.
#[derive(Clone, Debug)]
pub struct PipelineContext {
    pub project: Project,
    /// The PRD's name: the feature branch is `tdd/<prd>`.
    pub prd: String,
    /// The branch the feature branch starts from when it does not exist yet.
    pub base: String,
    pub layout: Layout,
    /// Extra environment for test runs (`PATH` to the toolchain, …).
    pub env: Vec<(String, String)>,
    pub test_timeout: Duration,
    /// FIX retries after a stage's first attempt (default 2).
    pub max_fix_attempts: u32,
    pub cancel: CancelToken,
    /// Where attempts are persisted; `None` keeps them in the outcome only.
    pub recorder: Option<Recorder>,
    /// Told of every attempt as it ends (progress output, notifications).
    pub on_attempt: Option<AttemptHook>,
    /// Told what a worker says to whoever watches, with the task's key.
    pub on_notice: Option<NoticeHook>,
    /// Lint and type commands VERIFY runs besides the suite: (name, command).
    pub checks: Vec<(String, String)>,
    /// Merged tasks' worktrees, kept for the next task (see `git::WorktreePool`).
    pub worktrees: WorktreePool,
    /// Test reports by the content they were run on (see [`ReportCache`]).
    pub reports: ReportCache,
    /// MERGE rounds that test outside the merge lock before one holds it
    /// from the rebase to the fast-forward (default 0: always held). With
    /// tests that are slow but not CPU-bound, and cores to spare, testing
    /// outside the lock lets merges overlap; on a busy machine each round
    /// that loses the race is a test run wasted.
    pub merge_rounds_outside_lock: u32,
    /// How many test runs go at once (default: one per core).
    pub test_slots: TestSlots,
}

/// A callback for each ended attempt, with the task it belongs to.
#[derive(Clone)]
pub struct AttemptHook(pub Arc<dyn Fn(&Task, &AttemptRecord) + Send + Sync>);

impl std::fmt::Debug for AttemptHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttemptHook")
    }
}

/// A callback for a worker's notices: (task key, message).
#[derive(Clone)]
pub struct NoticeHook(pub Arc<dyn Fn(&str, &str) + Send + Sync>);

impl std::fmt::Debug for NoticeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoticeHook")
    }
}

/// Persists attempts in the store, under one run.
#[derive(Clone, Debug)]
pub struct Recorder {
    pub store: Arc<Mutex<Store>>,
    pub run_id: RunId,
    /// The store's task ids, by task key.
    pub task_ids: HashMap<String, TaskId>,
    /// The PRD the run belongs to, for the events.
    pub prd_id: Option<PrdId>,
}

impl PipelineContext {
    pub fn new(project: Project, prd: &str, base: &str, layout: Layout) -> Self {
        PipelineContext {
            project,
            prd: prd.to_string(),
            base: base.to_string(),
            layout,
            env: Vec::new(),
            test_timeout: Duration::from_secs(600),
            max_fix_attempts: 2,
            cancel: CancelToken::default(),
            recorder: None,
            on_attempt: None,
            on_notice: None,
            checks: Vec::new(),
            worktrees: WorktreePool::default(),
            reports: ReportCache::default(),
            merge_rounds_outside_lock: 0,
            test_slots: TestSlots::default(),
        }
    }
}
