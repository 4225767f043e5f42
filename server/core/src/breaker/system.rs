//! The system breaker: the share of failing workers within a time window stops all dispatch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::circuit::{Circuit, circuit_methods};
use super::{Decision, Millis, State, SystemConfig, Transition, Verdict};

/// More workers than this are never tracked at once: the one heard from longest ago is dropped.
pub const MAX_TRACKED_WORKERS: usize = 1024;

/// A worker's latest outcomes: all the window needs, in constant space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Recent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    success: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<Millis>,
}

impl Recent {
    fn last(&self) -> Millis {
        self.success.max(self.failure).unwrap_or_default()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemBreaker {
    #[serde(skip)]
    config: SystemConfig,
    /// `failures` is the number of failing workers at the last outcome.
    #[serde(flatten)]
    circuit: Circuit,
    /// Workers heard from within the window, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    workers: BTreeMap<String, Recent>,
}

impl SystemBreaker {
    /// A closed breaker that has heard from no worker.
    pub fn new(config: SystemConfig) -> SystemBreaker {
        SystemBreaker {
            config,
            circuit: Circuit::default(),
            workers: BTreeMap::new(),
        }
    }

    /// The same state under another configuration (a deserialized breaker has the defaults).
    pub fn with_config(mut self, config: SystemConfig) -> SystemBreaker {
        self.config = config;
        self
    }

    circuit_methods!(SystemConfig, recovery_secs, "recovery over");

    fn within(&self, at: Millis, now: Millis) -> bool {
        now.since(at) < self.config.window_secs.saturating_mul(1000)
    }

    /// `(failing, active)` at `now`: workers with a failure, and workers with any outcome, within
    /// the window.
    pub fn counts(&self, now: Millis) -> (u32, u32) {
        let mut failing = 0u32;
        let mut active = 0u32;
        for recent in self.workers.values() {
            if self.within(recent.last(), now) {
                active += 1;
                if recent.failure.is_some_and(|at| self.within(at, now)) {
                    failing += 1;
                }
            }
        }
        (failing, active)
    }

    /// One outcome of `worker` at `now`: a success (`ok`) or a failure that counts at this level.
    /// Closed, a failure trips the breaker when enough workers are failing; half-open, the outcome
    /// decides; open, it is only remembered.
    pub fn record(&mut self, worker: &str, ok: bool, now: Millis) -> Option<Transition> {
        self.remember(worker, ok, now);
        let (failing, active) = self.counts(now);
        let recovery = self.config.recovery_secs;
        let reopen = State::Open {
            until: Some(now.plus_secs(recovery)),
        };
        let transition = match self.circuit.state {
            State::Closed if !ok && self.tripped(failing, active) => {
                let reason = format!(
                    "{failing} of {active} workers failed within the last {} s: dispatch stopped for {recovery} s",
                    self.config.window_secs
                );
                self.circuit.go(reopen, now, reason)
            }
            State::HalfOpen { .. } if ok => {
                self.circuit
                    .go(State::Closed, now, "trial succeeded".to_owned())
            }
            State::HalfOpen { .. } => {
                let reason = format!("trial failed: dispatch stopped for another {recovery} s");
                self.circuit.go(reopen, now, reason)
            }
            State::Closed | State::Open { .. } => None,
        };
        self.circuit.failures = failing;
        transition
    }

    pub fn record_success(&mut self, worker: &str, now: Millis) -> Option<Transition> {
        self.record(worker, true, now)
    }

    pub fn record_failure(&mut self, worker: &str, now: Millis) -> Option<Transition> {
        self.record(worker, false, now)
    }

    fn tripped(&self, failing: u32, active: u32) -> bool {
        active >= self.config.min_workers.max(1)
            && u64::from(failing) * 100
                >= u64::from(self.config.failing_percent) * u64::from(active)
    }

    fn remember(&mut self, worker: &str, ok: bool, now: Millis) {
        let window_ms = self.config.window_secs.saturating_mul(1000);
        self.workers
            .retain(|_, recent| now.since(recent.last()) < window_ms);
        if !self.workers.contains_key(worker) && self.workers.len() >= MAX_TRACKED_WORKERS {
            let oldest = self
                .workers
                .iter()
                .min_by_key(|(_, recent)| recent.last())
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                self.workers.remove(&oldest);
            }
        }
        let recent = self.workers.entry(worker.to_owned()).or_default();
        let slot = if ok {
            &mut recent.success
        } else {
            &mut recent.failure
        };
        *slot = Some(slot.map_or(now, |at| at.max(now)));
    }

    /// Closed, and every remembered outcome forgotten (they led to the state being reset).
    pub fn reset(&mut self, now: Millis) -> Option<Transition> {
        self.workers.clear();
        self.circuit.reset(now)
    }
}
