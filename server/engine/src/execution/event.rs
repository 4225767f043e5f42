//! What a run tells its watchers as it goes: progress output, editor
//! notifications.

use std::sync::Arc;

use tdd_core::plan::Task;

use crate::pipeline::AttemptRecord;
use crate::scheduler::TaskEnd;
use crate::store::claims::ClaimRow;
use crate::store::runs::RunId;

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
