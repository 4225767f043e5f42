//! The worker breaker: consecutive failures of one worker or provider, with pause extensions.

use serde::{Deserialize, Serialize};

use super::circuit::{Circuit, circuit_methods};
use super::{Decision, Millis, State, Transition, Verdict, WorkerConfig};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerBreaker {
    #[serde(skip)]
    config: WorkerConfig,
    #[serde(flatten)]
    circuit: Circuit,
    /// Failed trials since the breaker last closed.
    #[serde(default)]
    extensions: u32,
}

impl WorkerBreaker {
    /// A closed breaker.
    pub fn new(config: WorkerConfig) -> WorkerBreaker {
        WorkerBreaker {
            config,
            circuit: Circuit::default(),
            extensions: 0,
        }
    }

    /// The same state under another configuration (a deserialized breaker has the defaults).
    pub fn with_config(mut self, config: WorkerConfig) -> WorkerBreaker {
        self.config = config;
        self
    }

    circuit_methods!(WorkerConfig, pause_secs, "pause over");

    /// Failed trials since the breaker last closed.
    pub fn extensions(&self) -> u32 {
        self.extensions
    }

    pub fn record_success(&mut self, now: Millis) -> Option<Transition> {
        if matches!(self.circuit.state, State::HalfOpen { .. }) {
            self.extensions = 0;
        }
        self.circuit.success(now)
    }

    pub fn record_failure(&mut self, now: Millis) -> Option<Transition> {
        let secs = self.config.pause_secs;
        let paused = State::Open {
            until: Some(now.plus_secs(secs)),
        };
        match self.circuit.state {
            State::Closed => self
                .circuit
                .count_failure(self.config.failures, paused, now, |n| {
                    format!("{n} consecutive failures: paused for {secs} s")
                }),
            State::HalfOpen { .. } => {
                let max = self.config.max_extensions;
                if self.extensions >= max {
                    let reason = format!("trial failed after {max} extensions: open until reset");
                    self.circuit.go(State::Open { until: None }, now, reason)
                } else {
                    self.extensions += 1;
                    let reason = format!(
                        "trial failed: extension {} of {max}, paused for another {secs} s",
                        self.extensions
                    );
                    self.circuit.go(paused, now, reason)
                }
            }
            State::Open { .. } => None,
        }
    }

    /// Closed, count and extensions cleared.
    pub fn reset(&mut self, now: Millis) -> Option<Transition> {
        self.extensions = 0;
        self.circuit.reset(now)
    }

    /// Closed with nothing counted: the same as no breaker at all.
    pub fn is_idle(&self) -> bool {
        self.circuit.state == State::Closed && self.circuit.failures == 0 && self.extensions == 0
    }
}
