//! The panel protocol over LSP: answers to the `tdd/` requests (read on a
//! blocking thread from the store, like any second process would) and the
//! follower that pushes each new event of the log as `tdd/event`, whoever
//! wrote it: this server's run, a terminal `run`, the daemon.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tdd_engine::events::LoggedEvent;
use tdd_engine::store::Queries;
use tdd_engine::view::{self, Follower, Metrics, Snapshot, TaskDetail};

use crate::ext::{EventsParams, EventsResult, TaskDetailParams};

/// How long the follower sleeps when nothing wakes it (no inotify, or no
/// store yet): the bound on a pushed event's delay in that case.
const POLL: Duration = Duration::from_millis(250);
/// Events read per query while catching up.
const PAGE: usize = 1000;

pub fn snapshot(root: &Path) -> Result<Snapshot, String> {
    match view::open(root).map_err(|e| e.to_string())? {
        Some(reader) => view::snapshot(&reader, root).map_err(|e| e.to_string()),
        None => Ok(Snapshot::default()),
    }
}

pub fn events(root: &Path, params: &EventsParams) -> Result<EventsResult, String> {
    let Some(reader) = view::open(root).map_err(|e| e.to_string())? else {
        return Ok(EventsResult {
            events: Vec::new(),
            last_seq: 0,
        });
    };
    let limit = params.limit.unwrap_or(view::MAX_EVENTS);
    reader
        .read(|tx| -> Result<EventsResult, view::ViewError> {
            Ok(EventsResult {
                events: view::events_after(tx, params.after, limit)?,
                last_seq: tx.last_seq()?,
            })
        })
        .map_err(|e| e.to_string())
}

pub fn task_detail(root: &Path, params: &TaskDetailParams) -> Result<TaskDetail, String> {
    let reader = view::open(root)
        .map_err(|e| e.to_string())?
        .ok_or("no tasks yet: decompose a PRD first")?;
    let snapshot = view::snapshot(&reader, root).map_err(|e| e.to_string())?;
    view::task_detail(
        &reader,
        root,
        &snapshot,
        params.prd.as_deref(),
        &params.task,
    )
    .map_err(|e| e.to_string())
}

pub fn metrics(root: &Path) -> Result<Metrics, String> {
    match view::open(root).map_err(|e| e.to_string())? {
        Some(reader) => view::metrics(&reader).map_err(|e| e.to_string()),
        None => Ok(Metrics::default()),
    }
}

/// Stops the follower when dropped.
pub struct Following {
    stop: Arc<AtomicBool>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Pushes every event after the store's current last one to `send`, until
/// the result is dropped or `send` returns false (the session is gone).
pub fn follow(root: PathBuf, send: impl Fn(LoggedEvent) -> bool + Send + 'static) -> Following {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("tdd-follow".into())
        .spawn(move || {
            let mut follower = Follower::new(&root);
            let mut reader = view::open(&root).ok().flatten();
            // A store created after following began: all of it is new.
            let mut last = if reader.is_some() { None } else { Some(0) };
            while !stopped.load(Ordering::Relaxed) {
                if reader.is_none() {
                    reader = view::open(&root).ok().flatten();
                }
                if let Some(r) = &reader {
                    match push_new(r, &mut last, &send) {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(e) => {
                            tracing::warn!("following the event log: {e}");
                            reader = None;
                        }
                    }
                }
                follower.wait(POLL);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the event follower: {e}");
    }
    Following { stop }
}

/// Sends what is new since `last` (the first call only notes where the log
/// is). False when the receiver is gone.
fn push_new(
    reader: &tdd_engine::store::Reader,
    last: &mut Option<i64>,
    send: &impl Fn(LoggedEvent) -> bool,
) -> Result<bool, view::ViewError> {
    let Some(mut after) = *last else {
        *last = Some(reader.last_seq()?);
        return Ok(true);
    };
    loop {
        let page = view::events_after(reader, after, PAGE)?;
        let full = page.len() == PAGE;
        for event in page {
            after = event.seq;
            *last = Some(after);
            if !send(event) {
                return Ok(false);
            }
        }
        if !full {
            return Ok(true);
        }
    }
}
