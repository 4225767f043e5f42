//! Runs started from the daemon: each on a thread of its own, under the
//! project's run lock like any other; cancelled (their child processes
//! killed) and waited for when the daemon stops.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tdd_engine::execution::{self, RunRequest};
use tdd_engine::store::claims::RunControl;

use crate::error::ApiError;

#[derive(Clone, Default)]
pub struct Runs(Arc<Mutex<Vec<(PathBuf, JoinHandle<()>)>>>);

impl Runs {
    pub fn start(&self, root: PathBuf, request: RunRequest) -> Result<(), ApiError> {
        let name = root.display().to_string();
        let handle = std::thread::Builder::new()
            .name("tdd-http-run".into())
            .spawn(move || match execution::execute(request) {
                Ok(summary) => tracing::info!("{name}: run {} {}", summary.run_id, summary.status),
                Err(e) => tracing::warn!("{name}: the run could not start: {e}"),
            })
            .map_err(|e| ApiError::internal(format!("could not start the run's thread: {e}")))?;
        let mut runs = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        runs.retain(|(_, h)| !h.is_finished());
        runs.push((root, handle));
        Ok(())
    }

    /// Cancels the runs still going and waits for them.
    pub fn stop_all(&self) {
        let taken: Vec<_> = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        for (root, handle) in &taken {
            if !handle.is_finished() {
                let _ = execution::request(root, Some(RunControl::Cancel));
            }
        }
        for (_, handle) in taken {
            let _ = handle.join();
        }
    }
}
