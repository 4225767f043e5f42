//! The stages the engine performs alone: VERIFY and MERGE, and recording
//! their attempts.

use super::*;
use tdd_gates::CheckRun;
use tdd_workers::process::{self, Ending, Spec};

/// How a MERGE attempt that could not replay the task's commits begins its
/// evidence (the paths follow).
pub const CONFLICT: &str = "rebasing onto the feature branch conflicts on";

impl Run<'_> {
    /// VERIFY: the whole suite on the task's whole diff since `base`.
    pub(super) fn verify(&mut self, base: Oid) -> Result<(), Stop> {
        let stage = Stage::Verify;
        let started_at = SystemTime::now();
        let changes = self
            .time(|t| &mut t.diff, || self.wt.changes(base))
            .map_err(|e| Stop::infra(stage, e))?;
        let run = self.test_run(stage, &[]);
        let run = match run {
            Ok(run) => run,
            Err(stop) => {
                self.engine_record(stage, started_at, &stop);
                return Err(stop);
            }
        };
        let evidence = Evidence {
            before: None,
            sources: self.sources(&changes),
            base_sources: self.base_sources(base, &changes),
            changes,
            after: run.report.clone(),
            checks: self.checks(),
        };
        let mut verdict = tdd_gates::judge(stage, &self.scope, &evidence);
        stage::note_reused(&mut verdict, None, run.reused.as_deref());
        if verdict.outcome == Outcome::Passed
            && let Err(stop) = self.commit(stage, &verdict.evidence, &[], None)
        {
            self.engine_record(stage, started_at, &stop);
            return Err(stop);
        }
        self.judged_engine_stage(stage, started_at, &run, &verdict, evidence.changes)
    }

    /// The configured lint and type commands, in the worktree. One that
    /// cannot start fails like one that reports problems, with the reason.
    fn checks(&self) -> Vec<CheckRun> {
        self.ctx
            .checks
            .iter()
            .map(|(name, command)| {
                let spec = Spec {
                    command: command.clone(),
                    cwd: self.wt.path.clone(),
                    env: self.ctx.env.clone(),
                    timeout: self.ctx.test_timeout,
                };
                let (passed, output) = match process::run_without_keys(&spec, &self.ctx.cancel) {
                    Ok(done) => (
                        done.ending == Ending::Exited(0),
                        format!("{}{}", done.stdout, done.stderr),
                    ),
                    Err(e) => (false, format!("could not start it: {e}")),
                };
                let lines: Vec<&str> = output.lines().collect();
                CheckRun {
                    name: name.clone(),
                    command: command.clone(),
                    passed,
                    output_tail: lines[lines.len().saturating_sub(40)..].join("\n"),
                }
            })
            .collect()
    }

    /// MERGE: rebase, the tests on the new tip, the gate, fast-forward.
    ///
    /// For its first [`PipelineContext::merge_rounds_outside_lock`] rounds
    /// the task rebases and tests without the merge lock and takes it only
    /// to fast-forward, which is made only if the tip the tests ran on is
    /// still the feature tip (else the next round). After them, or from the
    /// start by default, it holds the lock from the rebase to the
    /// fast-forward: with CPU-bound tests every round that loses the race is
    /// a whole test run wasted (measured in docs/performance.md).
    pub(super) fn merge(&mut self) -> Result<TaskStatus, Stop> {
        let stage = Stage::Merge;
        let started_at = SystemTime::now();
        let mut round = 0;
        loop {
            round += 1;
            let held = (round > self.ctx.merge_rounds_outside_lock)
                .then(|| self.time(|t| &mut t.merge_wait, || self.ctx.project.merge_lock()))
                .transpose()
                .map_err(|e| Stop::infra(stage, e))?;
            let rebase = self
                .time(
                    |t| &mut t.git,
                    || {
                        self.ctx
                            .project
                            .rebase_onto_feature(&self.wt, &self.ctx.prd)
                    },
                )
                .map_err(|e| Stop::infra(stage, e))?;
            if let Rebase::Conflict { paths, .. } = rebase {
                let stop = Stop {
                    stage,
                    kind: FailureKind::Violation,
                    message: format!("{CONFLICT} {}", paths.join(", ")),
                };
                self.engine_record(stage, started_at, &stop);
                return Ok(TaskStatus::MergeConflict { paths });
            }
            // The whole suite, judged on the task's tests (the gate picks
            // them): one runner process as a scoped run is, and the report of
            // the tip that becomes the feature tip, which the next task's RED
            // baseline then reuses.
            let run = match self.test_run(stage, &[]) {
                Ok(run) => run,
                Err(stop) => {
                    self.engine_record(stage, started_at, &stop);
                    return Err(stop);
                }
            };
            let evidence = Evidence::new(run.report.clone());
            let mut verdict = match self.task.kind {
                // No task test to judge: the tip must still run and collect.
                TaskKind::Setup => tdd_gates::judge_setup(&evidence),
                _ => tdd_gates::judge(stage, &self.scope, &evidence),
            };
            stage::note_reused(&mut verdict, None, run.reused.as_deref());
            if verdict.outcome != Outcome::Passed {
                self.judged_engine_stage(stage, started_at, &run, &verdict, Vec::new())?;
                return Err(Stop::infra(stage, "the MERGE gate failed without a reason"));
            }
            let lock = match held {
                Some(lock) => lock,
                None => self
                    .time(|t| &mut t.merge_wait, || self.ctx.project.merge_lock())
                    .map_err(|e| Stop::infra(stage, e))?,
            };
            // The fast-forward first, then its record: a run that stops between
            // the two finds the task merged and records it then.
            let forwarded = self.time(
                |t| &mut t.git,
                || {
                    self.ctx
                        .project
                        .fast_forward_feature_locked(&lock, &self.ctx.prd, &self.wt)
                },
            );
            match forwarded {
                Ok(tip) => {
                    drop(lock);
                    if round > 1 {
                        verdict
                            .evidence
                            .push_str(&format!("; rebased and tested {round} times"));
                    }
                    self.judged_engine_stage(stage, started_at, &run, &verdict, Vec::new())?;
                    return Ok(TaskStatus::Merged { feature_tip: tip });
                }
                // Another task merged since the rebase: go again on the new tip.
                Err(GitError::NotFastForward { .. }) => continue,
                Err(e) => {
                    let stop = Stop::infra(stage, e);
                    self.engine_record(stage, started_at, &stop);
                    return Err(stop);
                }
            }
        }
    }

    /// Records a stage the engine ran itself; a verdict other than `Passed` stops the task.
    pub(super) fn judged_engine_stage(
        &mut self,
        stage: Stage,
        started_at: SystemTime,
        run: &TestRun,
        verdict: &Verdict,
        changes: Vec<Change>,
    ) -> Result<(), Stop> {
        let kind = match verdict.outcome {
            Outcome::Passed => None,
            Outcome::Infrastructure => Some(FailureKind::Infrastructure),
            Outcome::Violation | Outcome::AlreadyImplemented => Some(FailureKind::Violation),
        };
        self.push(AttemptRecord {
            exit_code: match run.finished.ending {
                Ending::Exited(code) => Some(code),
                _ => None,
            },
            test_summary: Some(report_json(&run.report)),
            outcome: Some(verdict.outcome),
            failure_kind: kind,
            reasons: verdict.reasons.clone(),
            evidence: verdict.evidence.clone(),
            changes,
            ..self.engine_attempt(stage, started_at)
        });
        match kind {
            None => Ok(()),
            Some(kind) => Err(Stop {
                stage,
                kind,
                message: describe(verdict),
            }),
        }
    }

    /// Records a stage the engine ran itself that stopped before a verdict.
    pub(super) fn engine_record(&mut self, stage: Stage, started_at: SystemTime, stop: &Stop) {
        self.push(AttemptRecord {
            failure_kind: Some(stop.kind),
            evidence: stop.message.clone(),
            ..self.engine_attempt(stage, started_at)
        });
    }

    /// The engine's next attempt of `stage`, ended now, with nothing in it yet.
    fn engine_attempt(&self, stage: Stage, started_at: SystemTime) -> AttemptRecord {
        AttemptRecord {
            stage,
            attempt: self.prior_attempts(stage).number + 1,
            worker: ENGINE.to_string(),
            started_at,
            finished_at: SystemTime::now(),
            exit_code: None,
            test_summary: None,
            outcome: None,
            failure_kind: None,
            reasons: Vec::new(),
            evidence: String::new(),
            reverted: Vec::new(),
            changes: Vec::new(),
            usage: None,
            transcript: None,
        }
    }
}
