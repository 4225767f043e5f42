//! The stage breaker: consecutive failures of one task's stage.

use serde::{Deserialize, Serialize};

use super::circuit::{Circuit, circuit_methods};
use super::{Decision, Millis, StageConfig, State, Transition, Verdict};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageBreaker {
    #[serde(skip)]
    config: StageConfig,
    #[serde(flatten)]
    circuit: Circuit,
}

impl StageBreaker {
    /// A closed breaker.
    pub fn new(config: StageConfig) -> StageBreaker {
        StageBreaker {
            config,
            circuit: Circuit::default(),
        }
    }

    /// The same state under another configuration (a deserialized breaker has the defaults).
    pub fn with_config(mut self, config: StageConfig) -> StageBreaker {
        self.config = config;
        self
    }

    circuit_methods!(StageConfig, open_secs, "elapsed");

    pub fn record_success(&mut self, now: Millis) -> Option<Transition> {
        self.circuit.success(now)
    }

    pub fn record_failure(&mut self, now: Millis) -> Option<Transition> {
        let secs = self.config.open_secs;
        let until = State::Open {
            until: Some(now.plus_secs(secs)),
        };
        match self.circuit.state {
            State::Closed => self
                .circuit
                .count_failure(self.config.failures, until, now, |n| {
                    format!("{n} consecutive failures: open for {secs} s")
                }),
            State::HalfOpen { .. } => {
                let reason = format!("trial failed: open for another {secs} s");
                self.circuit.go(until, now, reason)
            }
            State::Open { .. } => None,
        }
    }

    /// Closed, count cleared.
    pub fn reset(&mut self, now: Millis) -> Option<Transition> {
        self.circuit.reset(now)
    }

    /// Closed with nothing counted: the same as no breaker at all.
    pub fn is_idle(&self) -> bool {
        self.circuit.state == State::Closed && self.circuit.failures == 0
    }
}
