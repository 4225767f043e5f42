//! One task through its stages (the gates are `tdd_gates`), sequentially, in its own
//! worktree: RED → GREEN → VERIFY → REFACTOR → MERGE.
//!
//! The worker only writes files; after each attempt the engine looks at what
//! changed (against the commit the stage started from), runs the tests itself
//! and asks [`gate::judge`]. Per stage:
//!
//! - RED, GREEN, REFACTOR: a baseline run of the whole suite, the worker's
//!   attempt, the diff, a second run, the verdict. GREEN and REFACTOR may not
//!   touch tests: a changed test file is put back at once and the attempt is a
//!   violation. A violation is fed back to the worker (the FIX loop) after the
//!   worktree is restored to the stage start, for at most
//!   [`PipelineContext::max_fix_attempts`] retries. A passed stage is committed
//!   (exactly the changed paths, the verdict's evidence as trailer).
//! - RED judged [`Outcome::AlreadyImplemented`]: its tests are committed and
//!   the task goes straight to VERIFY.
//! - VERIFY (no worker): the whole suite on the task's whole diff. A
//!   violation goes back to GREEN as a fix attempt with VERIFY's evidence
//!   (the FIX budget counts VERIFY's violations too), then VERIFY again; a
//!   task whose RED found the work already done has no GREEN to go back to,
//!   and fails. A retried task (a new run) gets the budget again, so `retry`
//!   of a task failed at VERIFY re-enters at GREEN.
//! - REFACTOR that never passes is rolled back to the pre-refactor commit and
//!   the task still merges its GREEN work.
//! - MERGE: under the merge lock, rebase onto the feature branch tip, the
//!   whole suite there (the gate judges the task's tests), fast-forward. (Or
//!   optimistically: the rebase and the tests outside the lock, the
//!   fast-forward only if the tip has not moved meanwhile, see
//!   [`PipelineContext::merge_rounds_outside_lock`].)
//!
//! A test run on files already tested (the same content tree, see
//! [`ReportCache`]) takes that run's report instead, and says so in the
//! evidence.
//!
//! An infrastructure error (a test run that could not run or cannot be judged,
//! a worker that could not start, git failing) or a provider outage stops the
//! task at once with that kind, never counted as a violation.
//!
//! Every attempt is kept in [`TaskOutcome::attempts`] (stage, attempt, worker,
//! timings, test summary, failure kind, reasons, evidence, diff) and, when the
//! context has a [`Recorder`], written to the store's `attempts` table as it
//! ends. A failed write does not change the task's outcome; the first one is
//! reported in [`TaskOutcome::record_error`].

mod escape;
mod finish;
mod record;
mod reports;
mod resume;
mod stage;

pub use record::report_json;
pub use reports::ReportCache;

use record::persist;
use resume::{ALREADY_IMPLEMENTED, ROLLED_BACK, prepare, record_found_merged};

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use git2::{Oid, Repository};
use serde_json::Value;
use tdd_core::config::Layout;
use tdd_core::plan::Task;
use tdd_gates::{
    Change, ChangeKind, Evidence, Outcome, Reason, Stage, TaskScope, Verdict, is_test_path,
};

use crate::git::{
    GitError, Project, Rebase, StageCommit, StageHistory, Tracking, Worktree, WorktreePool,
};
use crate::store::runs::RunId;
use crate::store::{PrdId, Store, TaskId};
use tdd_workers::process::CancelToken;
use tdd_workers::testrun::{TestRun, run_tests};
use tdd_workers::{Notice, StageRequest, Usage, Worker, WorkerError};

/// The worker name recorded for stages the engine runs itself.
pub const ENGINE: &str = "engine";

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
        }
    }
}

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
/// the content's tree id; `merge_wait`: waiting for the merge lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    pub git: Duration,
    pub diff: Duration,
    pub store: Duration,
    pub tests: Duration,
    pub worker: Duration,
    pub merge_wait: Duration,
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

/// Why a stage stopped the task.
struct Stop {
    stage: Stage,
    kind: FailureKind,
    message: String,
}

impl Stop {
    fn infra(stage: Stage, message: impl std::fmt::Display) -> Stop {
        Stop {
            stage,
            kind: FailureKind::Infrastructure,
            message: message.to_string(),
        }
    }
}

/// How a worker stage ended.
enum StageEnd {
    Passed,
    AlreadyImplemented,
    /// Every attempt was a violation; the worktree is back at the stage start.
    Rejected(String),
}

struct Run<'a> {
    ctx: &'a PipelineContext,
    task: &'a Task,
    wt: Worktree,
    scope: TaskScope,
    test_files: Vec<String>,
    out: TaskOutcome,
    spent: Cell<Timings>,
}

/// Takes one task through all its stages and merges it into `tdd/<prd>`.
pub fn run_task(ctx: &PipelineContext, task: &Task, worker: &mut dyn Worker) -> TaskOutcome {
    // `TDD_LOG=debug` shows each attempt under its task.
    let _span = tracing::info_span!("task", prd = %ctx.prd, key = %task.key).entered();
    let mut out = TaskOutcome {
        status: TaskStatus::Failed {
            stage: Stage::Red,
            kind: FailureKind::Infrastructure,
            message: String::new(),
        },
        attempts: Vec::new(),
        commits: Vec::new(),
        already_implemented: false,
        refactor_rolled_back: false,
        worktree: None,
        record_error: None,
        timings: Timings::default(),
    };
    let infra = |e: GitError| TaskStatus::Failed {
        stage: Stage::Red,
        kind: FailureKind::Infrastructure,
        message: e.to_string(),
    };
    // Merged by a run that stopped before it could say so.
    match ctx.project.merged_task(&ctx.prd, &task.key) {
        Ok(Some(feature_tip)) => {
            let _ = ctx.project.remove_worktree(&task.key);
            out.record_error = record_found_merged(ctx, task, feature_tip);
            out.status = TaskStatus::Merged { feature_tip };
            return out;
        }
        Ok(None) => {}
        Err(e) => {
            out.status = infra(e);
            return out;
        }
    }
    // A worker that writes only through this process (scripted, API) is
    // watched by inotify events: its changes cost what it touched. A
    // program's writes (perhaps through mmap, which raises no event) are
    // found by a stat scan of the tree (see git/watch.rs).
    let track = Some(if worker.confined_to_worktree() {
        Tracking::Events
    } else {
        Tracking::Stat
    });
    let prepared = Instant::now();
    let found = prepare(ctx, &task.key, track);
    out.timings.git += prepared.elapsed();
    let (wt, history) = match found {
        Ok(found) => found,
        Err(e) => {
            out.status = infra(e);
            return out;
        }
    };
    out.worktree = Some(wt.clone());
    let language = ctx.layout.language;
    let mut test_files: Vec<String> = task.test_file.iter().cloned().collect();
    for path in &task.writes {
        if is_test_path(language, path) && !test_files.contains(path) {
            test_files.push(path.clone());
        }
    }
    let scope = TaskScope {
        test_files: test_files.clone(),
        writable: task.writes.clone(),
        language,
    };
    let spent = Cell::new(out.timings);
    let mut run = Run {
        ctx,
        task,
        wt,
        scope,
        test_files,
        out,
        spent,
    };
    run.recover_records(&history);
    run.out.status = match run.stages(worker, &history) {
        Ok(status) => status,
        Err(stop) => TaskStatus::Failed {
            stage: stop.stage,
            kind: stop.kind,
            message: stop.message,
        },
    };
    if run.out.merged() {
        // The branch keeps the work; the worktree goes to the next task.
        run.time(
            |t| &mut t.git,
            || ctx.project.park_worktree(&ctx.worktrees, run.wt.clone()),
        )
        .ok();
    } else {
        // Left for a person to look at, or for a resumed run.
        let _ = run.wt.sync_index();
    }
    run.out.timings = run.spent.get();
    tracing::info!(status = ?run.out.status, "task ended");
    run.out
}

impl Run<'_> {
    /// Runs `f`, adding its wall time to the part `part` picks.
    fn time<T>(&self, part: fn(&mut Timings) -> &mut Duration, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = f();
        let mut spent = self.spent.get();
        *part(&mut spent) += started.elapsed();
        self.spent.set(spent);
        result
    }

    /// Keeps an attempt, and writes it to the store when there is a recorder.
    ///
    /// An attempt cut short by a cancel (or the run's budget) is not evidence:
    /// it is not written, and a resumed run makes it again under the same
    /// number, as after a crash.
    fn push(&mut self, record: AttemptRecord) {
        tracing::debug!(
            stage = record.stage.as_str(),
            attempt = record.attempt,
            worker = %record.worker,
            outcome = ?record.outcome,
            failure = record.failure_kind.map(FailureKind::as_str),
            ms = record
                .finished_at
                .duration_since(record.started_at)
                .unwrap_or_default()
                .as_millis() as u64,
            "attempt"
        );
        let interrupted = self.ctx.cancel.is_cancelled()
            && record.failure_kind == Some(FailureKind::Infrastructure);
        if let Some(recorder) = &self.ctx.recorder
            && !interrupted
            && let Err(error) =
                self.time(|t| &mut t.store, || persist(recorder, self.task, &record))
            && self.out.record_error.is_none()
        {
            self.out.record_error = Some(error);
        }
        if let Some(hook) = &self.ctx.on_attempt {
            (hook.0)(self.task, &record);
        }
        self.out.attempts.push(record);
    }

    /// The stages `history` (the task branch) does not hold yet, in order.
    fn stages(
        &mut self,
        worker: &mut dyn Worker,
        history: &StageHistory,
    ) -> Result<TaskStatus, Stop> {
        let red = if !history.has(Stage::Red) {
            self.worker_stage(Stage::Red, worker)?
        } else if history.outcome(Stage::Red) == Some(ALREADY_IMPLEMENTED) {
            StageEnd::AlreadyImplemented
        } else {
            StageEnd::Passed
        };
        match red {
            StageEnd::Passed => {
                if !history.has(Stage::Green)
                    && let StageEnd::Rejected(why) = self.worker_stage(Stage::Green, worker)?
                {
                    return Err(violation(Stage::Green, why));
                }
            }
            StageEnd::AlreadyImplemented => self.out.already_implemented = true,
            StageEnd::Rejected(why) => return Err(violation(Stage::Red, why)),
        }
        if !history.has(Stage::Verify) {
            self.verify_or_fix(history.base, worker)?;
        }
        if history.outcome(Stage::Refactor) == Some(ROLLED_BACK) {
            self.out.refactor_rolled_back = true;
        } else if !history.has(Stage::Refactor)
            && let StageEnd::Rejected(why) = self.worker_stage(Stage::Refactor, worker)?
        {
            // The worktree is already back at the pre-refactor commit; an
            // empty commit records the decision for a resumed run and the log.
            self.out.refactor_rolled_back = true;
            let summary = why.lines().next().unwrap_or_default().to_string();
            self.commit(Stage::Refactor, &summary, &[], Some(ROLLED_BACK))?;
        }
        self.merge()
    }

    /// VERIFY; each violation goes back to GREEN with its evidence while the
    /// FIX budget lasts (VERIFY's violations recorded by this run count
    /// against it, so a resumed run does not start over).
    fn verify_or_fix(&mut self, base: Oid, worker: &mut dyn Worker) -> Result<(), Stop> {
        let mut fixes = self
            .ctx
            .max_fix_attempts
            .saturating_sub(self.prior_attempts(Stage::Verify).violations);
        loop {
            let stop = match self.verify(base) {
                Ok(()) => return Ok(()),
                Err(stop) => stop,
            };
            if stop.kind != FailureKind::Violation || self.out.already_implemented || fixes == 0 {
                return Err(stop);
            }
            fixes -= 1;
            let feedback = format!(
                "VERIFY rejected the GREEN work: {}. Fix the code (not the tests) so that \
                 the whole suite and every check pass.",
                stop.message
            );
            if let StageEnd::Rejected(why) =
                self.worker_stage_with(Stage::Green, worker, Some(feedback))?
            {
                return Err(violation(Stage::Green, why));
            }
        }
    }

    /// The paths the worker may change at `stage`.
    fn writable(&self, stage: Stage) -> Vec<String> {
        match stage {
            Stage::Red => self.test_files.clone(),
            _ => self
                .task
                .writes
                .iter()
                .filter(|w| !self.is_test_file(w))
                .cloned()
                .collect(),
        }
    }

    fn is_test_file(&self, path: &str) -> bool {
        stage::is_within(path, &self.test_files) || is_test_path(self.ctx.layout.language, path)
    }

    /// The tests run in the worktree, or the report of a run on the very
    /// same files (see [`ReportCache`]), marked as reused.
    fn test_run(&self, stage: Stage, only: &[String]) -> Result<TestRun, Stop> {
        let content = self.time(
            |t| &mut t.diff,
            || self.wt.content_tree().ok().flatten().map(|(_, tree)| tree),
        );
        let count = |reused: bool| {
            let mut spent = self.spent.get();
            if reused {
                spent.reused_runs += 1;
            } else {
                spent.test_runs += 1;
            }
            self.spent.set(spent);
        };
        if let Some(content) = content
            && let Some(run) = self.ctx.reports.get(content, only)
        {
            count(true);
            return Ok(run);
        }
        count(false);
        let run = self
            .time(
                |t| &mut t.tests,
                || {
                    run_tests(
                        &self.ctx.layout,
                        &self.wt.path,
                        only,
                        self.ctx.env.clone(),
                        self.ctx.test_timeout,
                        &self.ctx.cancel,
                    )
                },
            )
            .map_err(|e| Stop::infra(stage, e))?;
        if let Some(content) = content {
            let source = format!("{} of {}", stage.as_str(), self.task.key);
            self.ctx.reports.put(content, only, &run, source);
        }
        Ok(run)
    }
}

fn violation(stage: Stage, message: String) -> Stop {
    Stop {
        stage,
        kind: FailureKind::Violation,
        message,
    }
}

/// The verdict's reasons, one per line, for the worker and the task's status.
fn describe(verdict: &Verdict) -> String {
    let mut text = format!("{} ({})", stage_outcome(verdict.outcome), verdict.evidence);
    for reason in &verdict.reasons {
        text.push_str(&format!("\n- [{}] {}", reason.code, reason.message));
    }
    text
}

fn stage_outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::AlreadyImplemented => "already implemented",
        Outcome::Violation => "the gate rejected the attempt",
        Outcome::Infrastructure => "the test run could not be judged",
    }
}

fn head(wt: &Worktree) -> Result<Oid, GitError> {
    let repo = Repository::open(&wt.path)?;
    let head = repo.head()?;
    Ok(head.peel_to_commit()?.id())
}
