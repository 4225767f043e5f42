//! How many test runs go at once. A suite is usually CPU-bound: with more
//! runs than cores they only share the CPU (4 workers on 2 cores finished
//! later than 2), while workers waiting on a model have every reason to
//! overlap. So workers run in parallel as asked and their test runs take a
//! slot, one per core by default.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use tdd_workers::process::CancelToken;

/// Shared by the tasks of a run.
#[derive(Clone, Debug)]
pub struct TestSlots(Arc<Slots>);

#[derive(Debug)]
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A slot held; given back when dropped.
#[derive(Debug)]
pub struct Slot<'a>(&'a Slots);

impl TestSlots {
    /// `n` runs at once (at least one).
    pub fn new(n: usize) -> Self {
        TestSlots(Arc::new(Slots {
            free: Mutex::new(n.max(1)),
            freed: Condvar::new(),
        }))
    }

    /// One run per core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Waits for a free slot; `None` when the run is cancelled first.
    pub fn take(&self, cancel: &CancelToken) -> Option<Slot<'_>> {
        let slots = &*self.0;
        let mut free = slots.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            if cancel.is_cancelled() {
                return None;
            }
            // Woken by a slot given back; the timeout only notices a cancel.
            free = slots
                .freed
                .wait_timeout(free, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *free -= 1;
        Some(Slot(slots))
    }
}

impl Default for TestSlots {
    fn default() -> Self {
        Self::per_core()
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(PoisonError::into_inner);
        *free += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_than_the_slots_run_at_once() {
        let slots = TestSlots::new(2);
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let cancel = CancelToken::default();
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    let _slot = slots.take(&cancel).expect("not cancelled");
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert!(slots.take(&cancel).is_some(), "every slot came back");
    }

    #[test]
    fn a_cancelled_run_stops_waiting() {
        let slots = TestSlots::new(1);
        let cancel = CancelToken::default();
        let _held = slots.take(&cancel).unwrap();
        cancel.cancel();
        assert!(slots.take(&cancel).is_none());
    }
}
