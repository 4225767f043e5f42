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
//!
//! One run at a time per content: tasks that start together on the same
//! feature tip ask for the same baseline, and the ones asking while it runs
//! wait for its report instead of running the suite beside it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use git2::Oid;

use tdd_workers::testrun::TestRun;

/// How many reports a run keeps; past that the oldest half is dropped.
const CAPACITY: usize = 256;

/// The reports of a run's test runs, shared by the clones of its context.
#[derive(Clone, Debug, Default)]
pub struct ReportCache(Arc<(Mutex<Entries>, Condvar)>);

type Key = (Oid, Vec<String>);

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<Key, (u64, TestRun)>,
    next: u64,
    /// Contents being tested right now.
    running: HashSet<Key>,
}

/// What [`ReportCache::lookup`] found.
pub(super) enum Lookup<'a> {
    /// A run on the same content, marked as reused.
    Kept(TestRun),
    /// None: the caller runs the tests, and others asking meanwhile wait
    /// until this is dropped (after [`ReportCache::put`], or on failure).
    Run(Running<'a>),
}

/// The right to test one content; dropping it lets the waiters go on.
pub(super) struct Running<'a> {
    cache: &'a ReportCache,
    key: Key,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let (lock, done) = &*self.cache.0;
        lock.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .running
            .remove(&self.key);
        done.notify_all();
    }
}

impl ReportCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The run kept for `content` limited to `only`; else, once no other
    /// run of it is going on, the right to make it.
    pub(super) fn lookup(&self, content: Oid, only: &[String]) -> Lookup<'_> {
        let key = (content, only.to_vec());
        let mut entries = self.entries();
        loop {
            if let Some((_, run)) = entries.by_key.get(&key) {
                return Lookup::Kept(run.clone());
            }
            if entries.running.insert(key.clone()) {
                return Lookup::Run(Running { cache: self, key });
            }
            entries = self
                .0
                .1
                .wait(entries)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Keeps `run`, which ran on `content`; `source` says where (`red of T-1`).
    pub(super) fn put(&self, content: Oid, only: &[String], run: &TestRun, source: String) {
        let mut entries = self.entries();
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
        self.entries().by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tdd_gates::report::{Runner, TestReport};
    use tdd_workers::process::{Ending, Finished};

    use super::*;

    fn run(command: &str) -> TestRun {
        TestRun {
            command: command.to_string(),
            report: TestReport::new(Runner::Pytest),
            finished: Finished {
                ending: Ending::Exited(0),
                stdout: String::new(),
                stderr: String::new(),
                duration: Duration::ZERO,
                truncated: false,
            },
            reused: None,
        }
    }

    /// Who asks while a run of the same content goes on waits for its
    /// report; a run that fails lets the next one try.
    #[test]
    fn one_run_per_content_and_the_others_wait_for_it() {
        let cache = ReportCache::default();
        let content = Oid::from_bytes(&[1; 20]).unwrap();
        let Lookup::Run(first) = cache.lookup(content, &[]) else {
            panic!("an empty cache has nothing kept");
        };
        let waiter = {
            let cache = cache.clone();
            std::thread::spawn(move || match cache.lookup(content, &[]) {
                Lookup::Kept(run) => run.reused,
                Lookup::Run(_) => None,
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "it must wait for the running one");
        cache.put(content, &[], &run("pytest"), "red of T-1".into());
        drop(first);
        assert_eq!(waiter.join().unwrap().as_deref(), Some("red of T-1"));

        // A run that ended without a report hands the content on.
        let other = Oid::from_bytes(&[2; 20]).unwrap();
        let failed = cache.lookup(other, &[]);
        assert!(matches!(failed, Lookup::Run(_)));
        drop(failed);
        assert!(matches!(cache.lookup(other, &[]), Lookup::Run(_)));
    }
}
