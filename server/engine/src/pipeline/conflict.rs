//! A merge conflict: the feature branch moved while the task was merging,
//! and its commits do not replay onto the new tip. The task starts again
//! from its tests: its RED commit is replayed onto the new tip, GREEN runs
//! again told what conflicted (within GREEN's attempt budget), then VERIFY,
//! REFACTOR and MERGE. The conflicted MERGE attempt stays on record, and a
//! notice says the task runs again.

use super::finish::CONFLICT;
use super::*;

/// Re-runs after conflicts before the task ends as a merge conflict.
const MAX_CONFLICT_RERUNS: u32 = 2;

impl Run<'_> {
    /// MERGE; after a conflict, GREEN again on the new tip and MERGE again.
    pub(super) fn merge_or_rerun(&mut self, worker: &mut dyn Worker) -> Result<TaskStatus, Stop> {
        let mut reruns = 0;
        loop {
            let status = self.merge()?;
            let TaskStatus::MergeConflict { paths } = &status else {
                return Ok(status);
            };
            if reruns == MAX_CONFLICT_RERUNS || self.out.already_implemented {
                return Ok(status);
            }
            reruns += 1;
            let paths = paths.clone();
            let replayed = self
                .time(
                    |t| &mut t.git,
                    || {
                        self.ctx
                            .project
                            .replay_red_onto_feature(&self.wt, &self.ctx.prd)
                    },
                )
                .map_err(|e| Stop::infra(Stage::Green, e))?;
            if let Rebase::Conflict { paths, .. } = replayed {
                // Its own tests conflict with the new tip: a person decides.
                return Ok(TaskStatus::MergeConflict { paths });
            }
            let conflicted = paths.join(", ");
            if let Some(hook) = &self.ctx.on_notice {
                let message = format!(
                    "merge conflict on {conflicted}: GREEN again on the feature branch's new tip"
                );
                (hook.0)(&self.task.key, &message);
            }
            let base = self
                .time(|t| &mut t.git, || head(&self.wt))
                .map_err(|e| Stop::infra(Stage::Green, e))?;
            let base = self
                .wt
                .repo()
                .and_then(|repo| Ok(repo.find_commit(base)?.parent_id(0)?))
                .map_err(|e| Stop::infra(Stage::Green, e))?;
            let feedback = format!(
                "The feature branch moved while this task was merging, and its work no longer \
                 replays onto it: {CONFLICT} {conflicted}. The task's tests are in place on the \
                 new tip; make them pass again there (the other code is now part of the tip)."
            );
            if let StageEnd::Rejected(why) =
                self.worker_stage_with(Stage::Green, worker, Some(feedback))?
            {
                return Err(violation(Stage::Green, why));
            }
            self.verify_or_fix(base, worker)?;
            self.refactor(worker)?;
        }
    }
}
