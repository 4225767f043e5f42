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

mod conflict;
mod context;
mod escape;
mod finish;
mod outcome;
mod record;
mod reports;
mod resume;
mod setup;
mod slots;
mod stage;

pub use context::{AttemptHook, NoticeHook, PipelineContext, Recorder};
pub use finish::CONFLICT as MERGE_CONFLICT;
pub use outcome::{AttemptRecord, FailureKind, TaskOutcome, TaskStatus, Timings};
pub use record::report_json;
use reports::Lookup;
pub use reports::ReportCache;
pub use slots::TestSlots;

use record::persist;
use resume::{ALREADY_IMPLEMENTED, ROLLED_BACK, prepare, record_found_merged};

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use git2::Oid;
use tdd_core::plan::{Task, TaskKind};
use tdd_gates::{
    Change, ChangeKind, Evidence, Outcome, Reason, Stage, TaskScope, Verdict, is_test_path,
};

use crate::git::{GitError, Rebase, StageCommit, StageHistory, Tracking, Worktree};
use tdd_workers::testrun::{TestRun, TestRunError, run_tests};
use tdd_workers::{Notice, StageRequest, Worker, WorkerError};

/// The worker name recorded for stages the engine runs itself.
pub const ENGINE: &str = "engine";

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
    let ended = match task.kind {
        TaskKind::Setup => run.setup(&history),
        _ => run.stages(worker, &history),
    };
    run.out.status = match ended {
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
        } else if !history.has(Stage::Refactor) {
            self.refactor(worker)?;
        }
        self.merge_or_rerun(worker)
    }

    /// REFACTOR; one that never passes is rolled back.
    fn refactor(&mut self, worker: &mut dyn Worker) -> Result<(), Stop> {
        if let StageEnd::Rejected(why) = self.worker_stage(Stage::Refactor, worker)? {
            // The worktree is already back at the pre-refactor commit; an
            // empty commit records the decision for a resumed run and the log.
            self.out.refactor_rolled_back = true;
            let summary = why.lines().next().unwrap_or_default().to_string();
            self.commit(Stage::Refactor, &summary, &[], Some(ROLLED_BACK))?;
        }
        Ok(())
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
        let content = self.time(|t| &mut t.diff, || self.wt.content_tree().ok().flatten());
        let count = |reused: bool| {
            let mut spent = self.spent.get();
            if reused {
                spent.reused_runs += 1;
            } else {
                spent.test_runs += 1;
            }
            self.spent.set(spent);
        };
        // Held while the suite runs: another task asking for the same content
        // waits for this report instead of running beside it.
        let _running = match content.map(|c| self.ctx.reports.lookup(c, only)) {
            Some(Lookup::Kept(run)) => {
                count(true);
                return Ok(run);
            }
            Some(Lookup::Run(running)) => Some(running),
            None => None,
        };
        count(false);
        // Held while the suite runs: no more runs at once than the slots.
        let slot = self.time(
            |t| &mut t.test_wait,
            || self.ctx.test_slots.take(&self.ctx.cancel),
        );
        let Some(_slot) = slot else {
            let command = self.ctx.layout.test_command.clone();
            return Err(Stop::infra(stage, TestRunError::Cancelled { command }));
        };
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
    let repo = wt.repo()?;
    let head = repo.head()?;
    Ok(head.peel_to_commit()?.id())
}
