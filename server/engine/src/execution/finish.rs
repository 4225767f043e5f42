//! The run's end in the store: what the scheduler decided that the runner
//! did not write itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{ExecError, RunStatus};
use crate::events::Event;
use crate::pipeline::FailureKind;
use crate::scheduler::{SchedulerReport, TaskEnd};
use crate::store::runs::RunId;
use crate::store::{Queries, Store, TaskStatus};

/// Writes what the scheduler decided that the runner did not: tasks blocked
/// or never started, breaker changes, the run's end.
pub(super) fn finish(
    store: &Arc<Mutex<Store>>,
    prd_id: crate::store::PrdId,
    run_id: RunId,
    ids: &HashMap<String, crate::store::TaskId>,
    report: &SchedulerReport,
    status: &RunStatus,
) -> Result<(), ExecError> {
    let mut store = store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    store.write(|tx| {
        for task in &report.tasks {
            let Some(&id) = ids.get(&task.key) else {
                continue;
            };
            let current = tx
                .tasks(prd_id)?
                .into_iter()
                .find(|t| t.id == id)
                .map(|t| t.status);
            match &task.end {
                TaskEnd::Blocked { by } => {
                    let by_failed = ids.get(by).and_then(|b| {
                        tx.tasks(prd_id)
                            .ok()?
                            .into_iter()
                            .find(|t| t.id == *b)
                            .map(|t| t.status)
                    }) == Some(TaskStatus::Failed);
                    let new = if by_failed {
                        TaskStatus::Blocked
                    } else {
                        TaskStatus::Pending
                    };
                    tx.set_task_status(id, new)?;
                }
                // Outages put it back each time; past the bound it failed.
                TaskEnd::Failed(f) if f.kind == FailureKind::ProviderOutage => {
                    tx.set_task_status(id, TaskStatus::Failed)?;
                    let event = Event::TaskFailed {
                        stage: f.stage.as_str().to_string(),
                        failure_kind: f.kind.as_str().to_string(),
                        reason: f.reason.clone(),
                        model_usage: None,
                    };
                    tx.log(Some(prd_id), Some(&task.key), &event)?;
                }
                TaskEnd::NotStarted { .. } if current != Some(TaskStatus::Done) => {
                    tx.set_task_status(id, TaskStatus::Pending)?;
                }
                _ => {}
            }
        }
        tx.finish_run(run_id, status.as_str())?;
        let count = |f: fn(&TaskEnd) -> bool| report.tasks.iter().filter(|t| f(&t.end)).count();
        let used = tx
            .usage_by_run(prd_id)?
            .into_iter()
            .find(|(id, _)| *id == run_id);
        let event = Event::RunFinished {
            run: run_id.0,
            status: status.as_str().to_string(),
            merged: count(|e| matches!(e, TaskEnd::Merged)),
            failed: count(|e| matches!(e, TaskEnd::Failed(_))),
            blocked: count(|e| matches!(e, TaskEnd::Blocked { .. })),
            model_usage: used.map(|(_, usage)| usage),
        };
        tx.log(Some(prd_id), None, &event)?;
        Ok::<_, ExecError>(())
    })
}
