//! Test each tree once. A test run's report depends on the files the runner
//! reads, so a run is kept under the tree id of the worktree's content at its
//! start (tracked and untracked files git does not ignore) and the test files
//! it was limited to; a later run on the same content is answered from it.
//! In a task that is GREEN's baseline (RED's judged run), VERIFY and
//! REFACTOR's baseline (GREEN's judged run), and the next task's RED baseline
//! (the merged tip, tested by REFACTOR). Any touched file changes the tree id,
//! so a changed tree is never judged from an old report.
//!
//! Only tracked worktrees have a content tree that costs what was touched;
//! an untracked one is always run (computing its tree would scan it whole).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use git2::Oid;

use tdd_workers::testrun::TestRun;

/// How many reports a run keeps; past that the oldest half is dropped.
const CAPACITY: usize = 256;

/// The reports of a run's test runs, shared by the clones of its context.
#[derive(Clone, Debug, Default)]
pub struct ReportCache(Arc<Mutex<Entries>>);

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<(Oid, Vec<String>), (u64, TestRun)>,
    next: u64,
}

impl ReportCache {
    /// The run kept for `content` limited to `only`, marked as reused.
    pub(super) fn get(&self, content: Oid, only: &[String]) -> Option<TestRun> {
        let entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .by_key
            .get(&(content, only.to_vec()))
            .map(|(_, run)| run.clone())
    }

    /// Keeps `run`, which ran on `content`; `source` says where (`red of T-1`).
    pub(super) fn put(&self, content: Oid, only: &[String], run: &TestRun, source: String) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.by_key.len() >= CAPACITY {
            let mut ages: Vec<u64> = entries.by_key.values().map(|(n, _)| *n).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            entries.by_key.retain(|_, (n, _)| *n >= cut);
        }
        let mut kept = run.clone();
        kept.reused = Some(source);
        let n = entries.next;
        entries.next += 1;
        entries.by_key.insert((content, only.to_vec()), (n, kept));
    }

    /// How many reports are kept.
    pub fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_key
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
