//! What keeps a run honest while it lasts: the project's run lock, the
//! owner's identity, and the watcher thread that renews heartbeats, applies
//! pause and cancel requests from other processes, and enforces the wall-time
//! budget.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::scheduler::PauseFlag;
use crate::store::Store;
use crate::store::claims::RunControl;
use crate::store::runs::RunId;
use tdd_workers::process::CancelToken;

use super::{Emit, ExecError, RunEvent};

/// Held for the whole run: at most one engine runs tasks in a project. The
/// kernel drops the lock when the process dies, however it dies, so a lock
/// that can be taken proves no claim in the store is held by a live run.
pub(super) struct RunLock {
    _file: File,
}

pub(super) fn lock_path(root: &Path) -> PathBuf {
    root.join(".tdd").join("run.lock")
}

impl RunLock {
    pub(super) fn acquire(root: &Path, owner: &str) -> Result<RunLock, ExecError> {
        let path = lock_path(root);
        let io = |source| ExecError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(ExecError::Busy {
                holder: holder.trim().to_string(),
            });
        }
        // Who holds it, for the message another process shows.
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{owner}").map_err(io)?;
        Ok(RunLock { _file: file })
    }

    /// Whether a live process holds the project's run lock.
    pub(super) fn held(root: &Path) -> bool {
        let Ok(file) = OpenOptions::new()
            .read(true)
            .write(true)
            .open(lock_path(root))
        else {
            return false;
        };
        // Taking it for a moment is the only way to ask, so another process
        // asking at the same instant looks like a run: a run holds it for
        // good, an asker for microseconds, so ask a few times.
        for attempt in 0..3 {
            if file.try_lock().is_ok() {
                let _ = file.unlock();
                return false;
            }
            if attempt < 2 {
                std::thread::sleep(Duration::from_millis(15));
            }
        }
        true
    }
}

/// `host:pid:start-ms`: unique per process, readable in `status`.
pub(super) fn owner_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{host}:{}:{ms}", std::process::id())
}

/// Why a run stopped before its tasks were done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// An operator asked (`cancel`).
    Cancelled,
    /// The wall-time or attempt budget is used up.
    Budget(String),
    /// The model provider never answered and a breaker stopped dispatch:
    /// what happened and what to check.
    ProviderUnreachable(String),
}

/// The first reason wins; later ones are ignored.
#[derive(Clone, Debug, Default)]
pub(super) struct Stopper(Arc<Mutex<Option<StopReason>>>);

impl Stopper {
    pub(super) fn stop(&self, reason: StopReason, cancel: &CancelToken, emit: &Emit) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            let text = match &reason {
                StopReason::Cancelled => "cancelled by request".to_string(),
                StopReason::Budget(why) | StopReason::ProviderUnreachable(why) => why.clone(),
            };
            *slot = Some(reason);
            drop(slot);
            emit(&RunEvent::Stopping { reason: &text });
        }
        cancel.cancel();
    }

    pub(super) fn reason(&self) -> Option<StopReason> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// How often this process was asked to stop its runs (SIGINT, SIGTERM, the
/// language server's shutdown). A count, so a run answers only the requests
/// made after it started.
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);

/// Stops every run of this process as `cancel` does: test runs and workers
/// are killed (whole process groups), the run is recorded as cancelled and
/// `resume` goes on from there. It only adds to an atomic counter, so a
/// signal handler may call it; the runs' watchers act within a tick.
pub fn interrupt() {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

pub(super) fn interrupts() -> u64 {
    INTERRUPTS.load(Ordering::SeqCst)
}

/// Everything the watcher needs.
pub(super) struct Watch<'a> {
    pub store: &'a Arc<Mutex<Store>>,
    pub run_id: RunId,
    pub owner: &'a str,
    pub pause: &'a PauseFlag,
    pub cancel: &'a CancelToken,
    pub stopper: &'a Stopper,
    pub emit: &'a Emit,
    pub interval: Duration,
    pub deadline: Option<(Instant, Duration)>,
    /// Set when the run is over.
    pub done: &'a AtomicBool,
    /// [`interrupts`] when the run started.
    pub interrupts: u64,
}

/// Heartbeats every `interval` until `done`; applies operator requests and
/// the wall-time budget between beats.
pub(super) fn watch(w: Watch<'_>) {
    let tick = Duration::from_millis(20).min(w.interval);
    let mut last = Instant::now() - w.interval;
    while !w.done.load(Ordering::SeqCst) {
        if interrupts() > w.interrupts {
            w.stopper.stop(StopReason::Cancelled, w.cancel, w.emit);
        }
        if let Some((at, limit)) = w.deadline
            && Instant::now() >= at
        {
            let why = format!(
                "the run's wall-time budget ({}s) is used up",
                limit.as_secs()
            );
            w.stopper.stop(StopReason::Budget(why), w.cancel, w.emit);
        }
        if last.elapsed() >= w.interval {
            last = Instant::now();
            beat(&w);
        }
        std::thread::sleep(tick);
    }
}

fn beat(w: &Watch<'_>) {
    let mut store = w.store.lock().unwrap_or_else(PoisonError::into_inner);
    // A failed beat (the database busy) is retried at the next one.
    let Ok(control) = store.write(|tx| tx.heartbeat(w.run_id, w.owner)) else {
        return;
    };
    match control {
        Some(RunControl::Cancel) => {
            drop(store);
            w.stopper.stop(StopReason::Cancelled, w.cancel, w.emit);
        }
        Some(RunControl::Pause) if !w.pause.is_paused() => {
            w.pause.pause();
            let _ = store.write(|tx| tx.set_run_status(w.run_id, "paused"));
            drop(store);
            (w.emit)(&RunEvent::Paused);
        }
        None if w.pause.is_paused() => {
            w.pause.resume();
            let _ = store.write(|tx| tx.set_run_status(w.run_id, "running"));
            drop(store);
            (w.emit)(&RunEvent::Unpaused);
        }
        _ => {}
    }
}
