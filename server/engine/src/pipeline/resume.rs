//! Picking a task up where an interrupted run left it.
//!
//! The task branch is the source of truth: a stage is done when its commit
//! (with its `Tdd-Stage` trailer) is there, so a resumed task starts at the
//! first stage without one, from a worktree put back to its last commit. The
//! store adds the attempts already made at that stage in this run, so the FIX
//! loop goes on from them instead of starting over. A stage committed just
//! before a crash, with no attempt recorded for it, gets its attempt
//! recorded from the commit's trailers.

use super::*;
use crate::git::{StageHistory, Tracking};
use crate::store::runs::{AttemptRow, RunId};
use crate::store::{Queries, ReadTx, StoreError, TaskId};

/// Trailer note of a RED whose tests passed at once.
pub(super) const ALREADY_IMPLEMENTED: &str = "already-implemented";
/// Trailer note of a REFACTOR that never passed and was rolled back.
pub(super) const ROLLED_BACK: &str = "rolled-back";

/// The task's worktree: the one an earlier run left (put back to its last
/// commit) or one from the pool (a new checkout when it has none), on the
/// task branch if it exists, its writes tracked as `track` says.
fn prepare_worktree(
    ctx: &PipelineContext,
    key: &str,
    track: Option<Tracking>,
) -> Result<Worktree, GitError> {
    ctx.project.ensure_feature_branch(&ctx.prd, &ctx.base)?;
    if ctx.project.worktree_path(key).exists() {
        match ctx.project.open_worktree(&ctx.prd, key) {
            Ok(mut wt) => {
                let head = head(&wt)?;
                let changes = wt.changes(head)?;
                let paths: Vec<&str> = changes.iter().flat_map(|c| c.paths()).collect();
                if !paths.is_empty() {
                    wt.restore_paths(&paths)?;
                }
                if let Some(how) = track {
                    wt.track(how)?;
                }
                return Ok(wt);
            }
            // Half made or damaged: the branch keeps the committed work.
            Err(_) => ctx.project.remove_worktree(key)?,
        }
    }
    ctx.project
        .checkout_task(&ctx.worktrees, &ctx.prd, key, track)
}

/// [`prepare_worktree`], then a branch without stage commits moves to the
/// feature tip: it holds nothing, and tasks merged since must be visible.
pub(super) fn prepare(
    ctx: &PipelineContext,
    key: &str,
    track: Option<Tracking>,
) -> Result<(Worktree, StageHistory), GitError> {
    let wt = prepare_worktree(ctx, key, track)?;
    let mut history = wt.stage_history(key)?;
    if history.stages.is_empty() {
        ctx.project.restart_on_feature(&wt, &ctx.prd)?;
        history = wt.stage_history(key)?;
    }
    Ok((wt, history))
}

/// What a stage's earlier attempts in this run leave to the next one.
#[derive(Default)]
pub(super) struct Prior {
    pub number: u32,
    pub violations: u32,
    pub feedback: Option<String>,
}

/// Every recorded attempt of the task, when attempts are recorded.
fn recorded(ctx: &PipelineContext, key: &str) -> Vec<AttemptRow> {
    read_task(ctx, key, |tx, task_id, _| tx.task_attempts(task_id))
}

/// `read` on the store with the task's id and the run's, or nothing (the
/// default) when attempts are not recorded or the read fails.
fn read_task<T: Default>(
    ctx: &PipelineContext,
    key: &str,
    read: impl FnOnce(&ReadTx<'_>, TaskId, RunId) -> Result<T, StoreError>,
) -> T {
    let Some(recorder) = &ctx.recorder else {
        return T::default();
    };
    let Some(task_id) = recorder.task_ids.get(key) else {
        return T::default();
    };
    let store = recorder
        .store
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    store
        .read(|tx| read(tx, *task_id, recorder.run_id))
        .unwrap_or_default()
}

/// A task found merged at its start: records its MERGE attempt if the run
/// that merged it stopped before recording it.
pub(super) fn record_found_merged(
    ctx: &PipelineContext,
    task: &Task,
    feature_tip: Oid,
) -> Option<String> {
    let recorder = ctx.recorder.as_ref()?;
    let recorded = recorded(ctx, &task.key);
    if recorded
        .iter()
        .any(|a| a.stage == "merge" && a.failure_kind.is_none())
    {
        return None;
    }
    let prior = recorded
        .iter()
        .filter(|a| a.run_id == recorder.run_id && a.stage == "merge")
        .map(|a| a.attempt)
        .max()
        .unwrap_or(0);
    let now = SystemTime::now();
    let record = AttemptRecord {
        stage: Stage::Merge,
        attempt: prior + 1,
        worker: ENGINE.to_string(),
        started_at: now,
        finished_at: now,
        exit_code: None,
        test_summary: None,
        outcome: Some(Outcome::Passed),
        failure_kind: None,
        reasons: Vec::new(),
        evidence: format!(
            "found merged at {feature_tip:.10} (the run stopped before recording it)"
        ),
        reverted: Vec::new(),
        changes: Vec::new(),
        usage: None,
        transcript: None,
    };
    persist(recorder, task, &record).err()
}

impl Run<'_> {
    fn recorded(&self) -> Vec<AttemptRow> {
        recorded(self.ctx, &self.task.key)
    }

    /// What this run already recorded at `stage`: the highest attempt
    /// number, how many attempts were violations (the FIX budget they used),
    /// and the last violation's evidence as feedback for the next attempt.
    pub(super) fn prior_attempts(&self, stage: Stage) -> Prior {
        // With a store, what this run recorded (an earlier process's
        // attempts too); without one, this task's own attempts so far (a
        // VERIFY rejection sends a task back to GREEN).
        // (number, a violation?, evidence)
        let prior: Vec<(u32, bool, Option<String>)> = match &self.ctx.recorder {
            Some(_) => read_task(self.ctx, &self.task.key, |tx, task_id, run_id| {
                tx.stage_attempts(task_id, run_id, stage.as_str())
            })
            .into_iter()
            .map(|(attempt, failure_kind, evidence)| {
                let violation = failure_kind.as_deref() == Some(FailureKind::Violation.as_str());
                (attempt, violation, evidence)
            })
            .collect(),
            None => self
                .out
                .attempts
                .iter()
                .filter(|a| a.stage == stage)
                .map(|a| {
                    let violation = a.failure_kind == Some(FailureKind::Violation);
                    (a.attempt, violation, Some(a.evidence.clone()))
                })
                .collect(),
        };
        let violations: Vec<&Option<String>> = prior
            .iter()
            .filter(|(_, violation, _)| *violation)
            .map(|(_, _, evidence)| evidence)
            .collect();
        Prior {
            number: prior.iter().map(|(n, _, _)| *n).max().unwrap_or(0),
            violations: violations.len() as u32,
            feedback: violations.last().and_then(|evidence| (*evidence).clone()),
        }
    }

    /// Records a passed attempt for each committed stage the store has none
    /// for (the run stopped between the commit and the record).
    pub(super) fn recover_records(&mut self, history: &StageHistory) {
        if self.ctx.recorder.is_none() || history.stages.is_empty() {
            return;
        }
        let recorded = self.recorded();
        for done in &history.stages {
            if done.outcome.as_deref() == Some(ROLLED_BACK) {
                continue;
            }
            let known = recorded
                .iter()
                .any(|a| a.stage == done.stage.as_str() && a.failure_kind.is_none());
            if known {
                continue;
            }
            let now = SystemTime::now();
            let attempt = self.prior_attempts(done.stage).number + 1;
            self.push(AttemptRecord {
                stage: done.stage,
                attempt,
                worker: ENGINE.to_string(),
                started_at: now,
                finished_at: now,
                exit_code: None,
                test_summary: None,
                outcome: Some(if done.outcome.as_deref() == Some(ALREADY_IMPLEMENTED) {
                    Outcome::AlreadyImplemented
                } else {
                    Outcome::Passed
                }),
                failure_kind: None,
                reasons: Vec::new(),
                evidence: format!(
                    "{} (recorded from stage commit {:.10}: the run stopped before recording it)",
                    done.evidence, done.oid
                ),
                reverted: Vec::new(),
                changes: Vec::new(),
                usage: None,
                transcript: None,
            });
        }
    }
}
