//! The panel's view model: what every client (the editor panels over LSP,
//! the browser over HTTP + SSE, scripts) reads of a project. Everything here
//! is built from the store alone (plus the PRD files and git for previews
//! and diffs), so a process that did not start a run sees it exactly as the
//! one running it does.
//!
//! - [`snapshot`]: the whole state once, with the sequence number it is as
//!   of;
//! - [`events_after`]: the log after a sequence number, typed
//!   ([`crate::events`]); snapshot + events is the protocol's one model;
//! - [`task_detail`]: a task's attempts, their evidence and diffs;
//! - [`metrics`]: durations, verdicts, breaker trips, usage;
//! - [`Follower`]: wakes when the store may have new events.

mod detail;
mod follow;
mod metrics;
mod snapshot;
mod time;

use std::path::{Path, PathBuf};

pub use detail::{AttemptView, FileDiff, StageDiff, TaskDetail, TranscriptView, task_detail};
pub use follow::Follower;
pub use metrics::{Metrics, Percentiles, StageMetrics, WorkerUsage, metrics};
pub use snapshot::{
    BreakerView, PrdView, RunView, Snapshot, TaskView, Validation, WorkerView, snapshot,
};

use crate::events::LoggedEvent;
use crate::store::{Queries, Reader, Seq, StoreError};

/// The most events one request returns.
pub const MAX_EVENTS: usize = 10_000;

/// Reading a project's view failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no task `{key}` in {}: run `tdd-orchestrator status` to list tasks", .db.display())]
    NoTask { key: String, db: PathBuf },
    #[error("{key} matches tasks of several PRDs ({prds}); name the PRD too")]
    Ambiguous { key: String, prds: String },
}

/// The project's store for reading, or `None` before the first decompose.
pub fn open(root: &Path) -> Result<Option<Reader>, ViewError> {
    let path = crate::planning::database_path(root);
    if !path.is_file() {
        return Ok(None);
    }
    match Reader::open(&path) {
        // Written by an older version: upgrade it (as any engine start does), then read.
        Err(StoreError::Outdated { .. }) => {
            drop(crate::store::Store::open(&path)?);
            Ok(Some(Reader::open(path)?))
        }
        opened => Ok(Some(opened?)),
    }
}

/// Up to `limit` (at most [`MAX_EVENTS`]) events after `after`, in order.
pub fn events_after(
    reader: &impl Queries,
    after: Seq,
    limit: usize,
) -> Result<Vec<LoggedEvent>, ViewError> {
    // Events first: a PRD row is written with (or before) the first event
    // naming it, so paths read afterwards name every PRD those events do.
    // Read the other way round, a decomposition committed in between left
    // its events without their PRD.
    let rows = reader.events_after(after, limit.min(MAX_EVENTS))?;
    let paths = prd_paths(reader)?;
    Ok(rows
        .into_iter()
        .map(|row| LoggedEvent::from_row(row, |id| paths.get(&id).cloned()))
        .collect())
}

fn prd_paths(
    reader: &impl Queries,
) -> Result<std::collections::HashMap<crate::store::PrdId, String>, StoreError> {
    Ok(reader.prds()?.into_iter().map(|p| (p.id, p.path)).collect())
}
