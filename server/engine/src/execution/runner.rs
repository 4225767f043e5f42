//! The scheduler's task runner for a stored run: claims the task, runs the
//! pipeline, records how it ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tdd_core::plan::Task;
use tdd_gates::Stage;

use crate::events::Event;
use crate::pipeline::{FailureKind, PipelineContext, TaskStatus as PipelineStatus};
use crate::scheduler::{PipelineRunner, Ran, TaskFailure, TaskRunner};
use crate::store::runs::RunId;
use crate::store::{PrdId, Queries, Store, StoreError, TaskId, TaskStatus};
use tdd_workers::Worker;
use tdd_workers::process::CancelToken;
use tdd_workers::usage::Usage;

use super::{Emit, RunEvent};

pub(super) struct StoreRunner<'a> {
    pub ctx: &'a PipelineContext,
    pub store: Arc<Mutex<Store>>,
    pub run_id: RunId,
    pub prd_id: PrdId,
    pub owner: String,
    pub ids: HashMap<String, TaskId>,
    pub emit: Emit,
}

impl StoreRunner<'_> {
    fn write<T>(
        &self,
        f: impl FnOnce(&crate::store::WriteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(f)
    }
}

fn infra(reason: String) -> Ran {
    Ran {
        result: Err(TaskFailure {
            stage: Stage::Red,
            kind: FailureKind::Infrastructure,
            reason,
        }),
        outcome: None,
    }
}

impl TaskRunner for StoreRunner<'_> {
    fn run_task(&self, task: &Task, worker: &mut dyn Worker, cancel: &CancelToken) -> Ran {
        let Some(&id) = self.ids.get(&task.key) else {
            return infra(format!("task `{}` is not in the store", task.key));
        };
        let claimed = self.write(|tx| {
            let claimed = tx.claim_task(id, self.run_id, &self.owner, worker.name())?;
            if claimed {
                let event = Event::TaskStarted {
                    run: self.run_id.0,
                    worker: worker.name().to_string(),
                };
                tx.log(Some(self.prd_id), Some(&task.key), &event)?;
            }
            Ok(claimed)
        });
        match claimed {
            Ok(true) => {}
            Ok(false) => return infra(format!("task `{}` is claimed by another run", task.key)),
            Err(e) => return infra(e.to_string()),
        }
        (self.emit)(&RunEvent::TaskStarted {
            key: &task.key,
            worker: worker.name(),
        });

        let ran = PipelineRunner { ctx: self.ctx }.run_task(task, worker, cancel);

        // Stopped by a cancel or the budget: not the task's fault, it resumes later.
        let interrupted = cancel.is_cancelled()
            && matches!(&ran.result, Err(f) if f.kind != FailureKind::Violation);
        // The event for the task's end, given its model use over every run.
        let end = |model_usage: Option<Usage>| -> (TaskStatus, Event) {
            match (&ran.result, &ran.outcome) {
                (Ok(()), outcome) => {
                    let feature_tip = outcome.as_ref().and_then(|o| match &o.status {
                        PipelineStatus::Merged { feature_tip } => Some(feature_tip.to_string()),
                        _ => None,
                    });
                    let event = Event::TaskMerged {
                        feature_tip,
                        model_usage,
                    };
                    (TaskStatus::Done, event)
                }
                (Err(f), _) if interrupted => {
                    let event = Event::TaskInterrupted {
                        stage: f.stage.as_str().to_string(),
                        reason: f.reason.clone(),
                        model_usage,
                    };
                    (TaskStatus::Pending, event)
                }
                // The scheduler hands it to another worker (or fails it after
                // its bound, which the run's end records).
                (Err(f), _) if f.kind == FailureKind::ProviderOutage => {
                    let event = Event::TaskOutage {
                        stage: f.stage.as_str().to_string(),
                        reason: f.reason.clone(),
                        worker: worker.name().to_string(),
                        model_usage,
                    };
                    (TaskStatus::Pending, event)
                }
                (Err(f), _) => {
                    let event = Event::TaskFailed {
                        stage: f.stage.as_str().to_string(),
                        failure_kind: f.kind.as_str().to_string(),
                        reason: f.reason.clone(),
                        model_usage,
                    };
                    (TaskStatus::Failed, event)
                }
            }
        };
        let recorded = self.write(|tx| {
            tx.release_claim(id)?;
            let total = Usage::total(tx.task_attempts(id)?.into_iter().filter_map(|a| a.usage));
            let (status, event) = end(total);
            tx.set_task_status(id, status)?;
            tx.log(Some(self.prd_id), Some(&task.key), &event)
        });
        if let Err(e) = recorded {
            // The branch holds the work; the next run reads it back from there.
            let message = format!("could not record the end of `{}`: {e}", task.key);
            (self.emit)(&RunEvent::Warning { message: &message });
        }
        ran
    }
}
