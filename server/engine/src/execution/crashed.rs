//! What a crash left failed. A task whose last attempt in the run being
//! resumed failed on infrastructure (a killed test run, a git lock the kill
//! left) failed because of the interruption, not of its work: `resume`
//! puts it back to pending, once per resume, and says so. A violation or a
//! provider outage stays as it was (`retry` is for those).

use crate::events::Event;
use crate::pipeline::FailureKind;
use crate::store::runs::RunId;
use crate::store::{PrdId, Queries, StoreError, TaskStatus, WriteTx};

/// The keys of the tasks put back to pending.
pub(super) fn retry_infrastructure_failures(
    tx: &WriteTx<'_>,
    prd: PrdId,
    run: RunId,
) -> Result<Vec<String>, StoreError> {
    let mut retried = Vec::new();
    for task in tx.tasks(prd)? {
        if task.status != TaskStatus::Failed {
            continue;
        }
        let attempts = tx.task_attempts(task.id)?;
        let last = attempts.last();
        let crashed = last.is_some_and(|a| {
            a.run_id == run
                && a.failure_kind.as_deref() == Some(FailureKind::Infrastructure.as_str())
        });
        if !crashed {
            continue;
        }
        tx.set_task_status(task.id, TaskStatus::Pending)?;
        let event = Event::TaskRetried {
            from: TaskStatus::Failed.as_str().to_string(),
            fresh: false,
            worktree_removed: false,
            branch_deleted: None,
            claim_released: false,
        };
        tx.log(Some(prd), Some(&task.key), &event)?;
        retried.push(task.key);
    }
    Ok(retried)
}
