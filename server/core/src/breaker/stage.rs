//! The stage breaker: consecutive failures of one task's stage.

use serde::{Deserialize, Serialize};

use super::circuit::Circuit;
use super::{Decision, Millis, StageConfig, State, Transition, Verdict, trials_text};

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

    pub fn config(&self) -> &StageConfig {
        &self.config
    }

    pub fn state(&self) -> &State {
        &self.circuit.state
    }

    /// Consecutive failures counted while closed.
    pub fn failures(&self) -> u32 {
        self.circuit.failures
    }

    pub fn opened_at(&self) -> Option<Millis> {
        self.circuit.opened_at
    }

    /// The reason of the last transition ("" before the first).
    pub fn reason(&self) -> &str {
        &self.circuit.reason
    }

    /// Open → half-open when the open time is over; nothing else.
    pub fn advance(&mut self, now: Millis) -> Option<Transition> {
        let (secs, trials) = (self.config.open_secs, self.config.trials);
        self.circuit
            .advance(now, trials, || opened_for(secs, trials))
    }

    /// What `allows` would answer, without changing anything.
    pub fn verdict(&self, now: Millis) -> Verdict {
        self.circuit.verdict(now, self.config.open_secs)
    }

    /// May the stage be dispatched at `now`? A trial answer uses up a trial.
    pub fn allows(&mut self, now: Millis) -> Decision {
        let (secs, trials) = (self.config.open_secs, self.config.trials);
        self.circuit
            .allows(now, trials, secs, || opened_for(secs, trials))
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
                self.circuit
                    .go(State::Closed, now, "trial succeeded".to_owned())
            }
            // A late outcome of work dispatched before the breaker opened: only a trial decides.
            State::Open { .. } => None,
        }
    }

    pub fn record_failure(&mut self, now: Millis) -> Option<Transition> {
        let secs = self.config.open_secs;
        let until = State::Open {
            until: Some(now.plus_secs(secs)),
        };
        match self.circuit.state {
            State::Closed => {
                self.circuit.failures = self.circuit.failures.saturating_add(1);
                let failures = self.circuit.failures;
                if failures >= self.config.failures.max(1) {
                    let reason = format!("{failures} consecutive failures: open for {secs} s");
                    self.circuit.go(until, now, reason)
                } else {
                    None
                }
            }
            State::HalfOpen { .. } => {
                let reason = format!("trial failed: open for another {secs} s");
                self.circuit.go(until, now, reason)
            }
            State::Open { .. } => None,
        }
    }

    /// The stage ended without a verdict on the task (provider outage, infrastructure error): the
    /// count stays, a trial is given back.
    pub fn record_inconclusive(&mut self, _now: Millis) {
        self.circuit.give_back_trial(self.config.trials);
    }

    /// Closed, count cleared.
    pub fn reset(&mut self, now: Millis) -> Option<Transition> {
        self.circuit.reset(now)
    }

    /// Open until a reset.
    pub fn isolate(&mut self, now: Millis, reason: &str) -> Option<Transition> {
        self.circuit.isolate(now, reason)
    }

    /// Closed with nothing counted: the same as no breaker at all.
    pub fn is_idle(&self) -> bool {
        self.circuit.state == State::Closed && self.circuit.failures == 0
    }
}

fn opened_for(secs: u64, trials: u32) -> String {
    format!("{secs} s elapsed: allowing {}", trials_text(trials.max(1)))
}
