//! Runs started from the daemon: each on a thread of its own, under the
//! project's run lock like any other; cancelled (their child processes
//! killed) and waited for when the daemon stops.

use std::path::PathBuf;

use tdd_engine::execution::{self, RunRequest, RunThreads};

use crate::error::ApiError;

#[derive(Clone, Default)]
pub struct Runs(RunThreads);

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
        self.0.track(root, handle);
        Ok(())
    }

    /// Cancels the runs still going and waits for them.
    pub fn stop_all(&self) {
        self.0.cancel_all();
    }
}
