//! The worker breaker: consecutive failures of one worker or provider, with pause extensions.

use serde::{Deserialize, Serialize};

use super::circuit::Circuit;
use super::{Decision, Millis, State, Transition, Verdict, WorkerConfig, trials_text};

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

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    pub fn state(&self) -> &State {
        &self.circuit.state
    }

    /// Consecutive failures counted while closed.
    pub fn failures(&self) -> u32 {
        self.circuit.failures
    }

    /// Failed trials since the breaker last closed.
    pub fn extensions(&self) -> u32 {
        self.extensions
    }

    pub fn opened_at(&self) -> Option<Millis> {
        self.circuit.opened_at
    }

    /// The reason of the last transition ("" before the first).
    pub fn reason(&self) -> &str {
        &self.circuit.reason
    }

    /// Open → half-open when the pause is over; nothing else.
    pub fn advance(&mut self, now: Millis) -> Option<Transition> {
        let (secs, trials) = (self.config.pause_secs, self.config.trials);
        self.circuit
            .advance(now, trials, || pause_over(secs, trials))
    }

    /// What `allows` would answer, without changing anything.
    pub fn verdict(&self, now: Millis) -> Verdict {
        self.circuit.verdict(now, self.config.pause_secs)
    }

    /// May the worker take work at `now`? A trial answer uses up a trial.
    pub fn allows(&mut self, now: Millis) -> Decision {
        let (secs, trials) = (self.config.pause_secs, self.config.trials);
        self.circuit
            .allows(now, trials, secs, || pause_over(secs, trials))
    }

    pub(super) fn consume_trial(&mut self, now: Millis) {
        self.circuit.consume_trial(now);
    }

    pub fn record_success(&mut self, now: Millis) -> Option<Transition> {
        match self.circuit.state {
            State::Closed => {
                self.circuit.failures = 0;
                None
            }
            State::HalfOpen { .. } => {
                self.extensions = 0;
                self.circuit
                    .go(State::Closed, now, "trial succeeded".to_owned())
            }
            State::Open { .. } => None,
        }
    }

    pub fn record_failure(&mut self, now: Millis) -> Option<Transition> {
        let secs = self.config.pause_secs;
        let paused = State::Open {
            until: Some(now.plus_secs(secs)),
        };
        match self.circuit.state {
            State::Closed => {
                self.circuit.failures = self.circuit.failures.saturating_add(1);
                let failures = self.circuit.failures;
                if failures >= self.config.failures.max(1) {
                    let reason = format!("{failures} consecutive failures: paused for {secs} s");
                    self.circuit.go(paused, now, reason)
                } else {
                    None
                }
            }
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

    /// The work ended without a verdict on the worker (infrastructure error): a trial is given
    /// back.
    pub fn record_inconclusive(&mut self, _now: Millis) {
        self.circuit.give_back_trial(self.config.trials);
    }

    /// Closed, count and extensions cleared.
    pub fn reset(&mut self, now: Millis) -> Option<Transition> {
        self.extensions = 0;
        self.circuit.reset(now)
    }

    /// Open until a reset.
    pub fn isolate(&mut self, now: Millis, reason: &str) -> Option<Transition> {
        self.circuit.isolate(now, reason)
    }

    /// Closed with nothing counted: the same as no breaker at all.
    pub fn is_idle(&self) -> bool {
        self.circuit.state == State::Closed && self.circuit.failures == 0 && self.extensions == 0
    }
}

fn pause_over(secs: u64, trials: u32) -> String {
    format!(
        "{secs} s pause over: allowing {}",
        trials_text(trials.max(1))
    )
}
