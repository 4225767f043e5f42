//! The run threads a long-lived host (the language server, the daemon)
//! started, so that its shutdown can cancel them the way `cancel` does and
//! wait for them: their test runs and workers killed, each run recorded as
//! cancelled and resumable.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::store::claims::RunControl;

/// Shared handles to the run threads, each with its project root.
#[derive(Clone, Default)]
pub struct RunThreads(Arc<Mutex<Vec<(PathBuf, JoinHandle<()>)>>>);

impl RunThreads {
    /// Keeps `handle`, the thread running in `root`; forgets finished ones.
    pub fn track(&self, root: PathBuf, handle: JoinHandle<()>) {
        let mut threads = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        threads.retain(|(_, h)| !h.is_finished());
        threads.push((root, handle));
    }

    /// Cancels the runs still going and waits for their threads.
    pub fn cancel_all(&self) {
        let taken: Vec<_> = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        for (root, handle) in &taken {
            if !handle.is_finished() {
                let _ = super::request(root, Some(RunControl::Cancel));
            }
        }
        for (_, handle) in taken {
            let _ = handle.join();
        }
    }
}
