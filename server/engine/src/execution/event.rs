//! What a run tells its watchers as it goes: progress output, editor
//! notifications.

use std::sync::{Arc, Mutex, PoisonError};

use tdd_core::plan::Task;

use crate::events::Event;
use crate::pipeline::AttemptRecord;
use crate::scheduler::TaskEnd;
use crate::store::claims::ClaimRow;
use crate::store::runs::RunId;
use crate::store::{PrdId, Store};

/// What happens during a run, for progress output and notifications.
#[derive(Debug)]
pub enum RunEvent<'a> {
    Started {
        run_id: RunId,
        resumed: bool,
        /// Tasks this run will try.
        tasks: usize,
        /// Tasks finished before it.
        finished: usize,
        /// Tasks waiting on a failed task.
        blocked: usize,
        workers: usize,
    },
    /// A claim left by a process that died, taken back.
    Recovered {
        claim: &'a ClaimRow,
    },
    TaskStarted {
        key: &'a str,
        worker: &'a str,
    },
    Attempt {
        task: &'a Task,
        record: &'a AttemptRecord,
    },
    TaskEnded {
        key: &'a str,
        end: &'a TaskEnd,
    },
    Paused,
    Unpaused,
    Stopping {
        reason: &'a str,
    },
    Warning {
        message: &'a str,
    },
    /// A worker speaks to the person running the tasks (a human worker's
    /// instructions, what it waits for).
    Notice {
        key: &'a str,
        message: &'a str,
    },
}

/// Receives [`RunEvent`]s, from any thread.
pub type Emit = Arc<dyn Fn(&RunEvent<'_>) + Send + Sync>;

/// `emit`, with the events the store does not record elsewhere (pauses,
/// stops, warnings, notices) appended to the event log first. Never call the
/// result while holding `store`'s lock.
pub(super) fn logged(emit: Emit, store: Arc<Mutex<Store>>, prd: PrdId, run: RunId) -> Emit {
    Arc::new(move |event: &RunEvent<'_>| {
        let (task, entry) = match *event {
            RunEvent::Paused => (None, Event::RunPaused { run: run.0 }),
            RunEvent::Unpaused => (None, Event::RunUnpaused { run: run.0 }),
            RunEvent::Stopping { reason } => (
                None,
                Event::RunStopping {
                    run: run.0,
                    reason: reason.to_string(),
                },
            ),
            RunEvent::Warning { message } => (
                None,
                Event::Warning {
                    run: run.0,
                    message: message.to_string(),
                },
            ),
            RunEvent::Notice { key, message } => (
                Some(key),
                Event::Notice {
                    run: run.0,
                    message: message.to_string(),
                },
            ),
            _ => {
                emit(event);
                return;
            }
        };
        let written = store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(|tx| tx.log(Some(prd), task, &entry));
        if let Err(e) = written {
            tracing::warn!("could not log a run event: {e}");
        }
        emit(event);
    })
}
