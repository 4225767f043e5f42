//! What the three levels share: the state, the consecutive-failure count, the trial
//! bookkeeping, and the rule that every state change yields one [`Transition`].

use serde::{Deserialize, Serialize};

use super::{Decision, Millis, State, Transition, Verdict, trials_text};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Circuit {
    pub(super) state: State,
    /// Consecutive failures while closed.
    #[serde(default)]
    pub(super) failures: u32,
    /// When the breaker last went from not-open to open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) opened_at: Option<Millis>,
    /// When the last trial was let through (half-open only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) trial_at: Option<Millis>,
    /// The reason of the last transition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(super) reason: String,
}

impl Default for Circuit {
    fn default() -> Self {
        Circuit {
            state: State::Closed,
            failures: 0,
            opened_at: None,
            trial_at: None,
            reason: String::new(),
        }
    }
}

impl Circuit {
    /// Moves to `to`; `None` if that is where the breaker already is.
    pub(super) fn go(&mut self, to: State, now: Millis, reason: String) -> Option<Transition> {
        if self.state == to {
            return None;
        }
        let from = std::mem::replace(&mut self.state, to.clone());
        match to {
            State::Closed => {
                self.failures = 0;
                self.opened_at = None;
            }
            State::Open { .. } if !from.is_open() => self.opened_at = Some(now),
            State::Open { .. } | State::HalfOpen { .. } => {}
        }
        if !matches!(to, State::HalfOpen { .. }) {
            self.trial_at = None;
        }
        self.reason.clone_from(&reason);
        Some(Transition {
            from,
            to,
            at: now,
            reason,
        })
    }

    /// Open → half-open once the open time is over.
    pub(super) fn advance(
        &mut self,
        now: Millis,
        trials: u32,
        reason: impl FnOnce() -> String,
    ) -> Option<Transition> {
        match self.state {
            State::Open { until: Some(until) } if now >= until => self.go(
                State::HalfOpen {
                    trials_left: trials.max(1),
                },
                now,
                reason(),
            ),
            _ => None,
        }
    }

    /// The answer for a dispatch at `now`, without changing anything. A half-open breaker with
    /// no trial left grants a new one `retry_secs` after the last (its outcome was lost).
    pub(super) fn verdict(&self, now: Millis, retry_secs: u64) -> Verdict {
        match self.state {
            State::Closed => Verdict::Allow,
            State::Open { until: None } => Verdict::Refuse { until: None },
            State::Open { until: Some(until) } if now < until => {
                Verdict::Refuse { until: Some(until) }
            }
            State::Open { .. } => Verdict::Trial,
            State::HalfOpen { trials_left } if trials_left > 0 => Verdict::Trial,
            State::HalfOpen { .. } => match self.trial_at {
                Some(at) if now < at.plus_secs(retry_secs) => Verdict::Refuse {
                    until: Some(at.plus_secs(retry_secs)),
                },
                _ => Verdict::Trial,
            },
        }
    }

    /// Takes a trial (half-open only).
    pub(super) fn consume_trial(&mut self, now: Millis) {
        if let State::HalfOpen { trials_left } = &mut self.state {
            *trials_left = trials_left.saturating_sub(1);
            self.trial_at = Some(now);
        }
    }

    /// A trial ended without saying anything: give it back.
    pub(super) fn give_back_trial(&mut self, trials: u32) {
        if let State::HalfOpen { trials_left } = &mut self.state {
            *trials_left = (*trials_left + 1).min(trials.max(1));
        }
    }

    pub(super) fn allows(
        &mut self,
        now: Millis,
        trials: u32,
        retry_secs: u64,
        reason: impl FnOnce() -> String,
    ) -> Decision {
        let transition = self.advance(now, trials, reason);
        let verdict = self.verdict(now, retry_secs);
        if verdict == Verdict::Trial {
            self.consume_trial(now);
        }
        Decision {
            verdict,
            transition,
        }
    }

    /// A success: closed, the count is cleared; half-open, the trial closes
    /// the breaker; open, it is a late outcome of work dispatched before the
    /// breaker opened, and only a trial decides.
    pub(super) fn success(&mut self, now: Millis) -> Option<Transition> {
        match self.state {
            State::Closed => {
                self.failures = 0;
                None
            }
            State::HalfOpen { .. } => self.go(State::Closed, now, "trial succeeded".to_owned()),
            State::Open { .. } => None,
        }
    }

    /// A failure while closed: counted, and at `threshold` the breaker goes
    /// to `open`, its reason `why(failures)`.
    pub(super) fn count_failure(
        &mut self,
        threshold: u32,
        open: State,
        now: Millis,
        why: impl FnOnce(u32) -> String,
    ) -> Option<Transition> {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= threshold.max(1) {
            let reason = why(self.failures);
            self.go(open, now, reason)
        } else {
            None
        }
    }

    pub(super) fn reset(&mut self, now: Millis) -> Option<Transition> {
        self.failures = 0;
        self.go(State::Closed, now, "reset by user".to_owned())
    }

    pub(super) fn isolate(&mut self, now: Millis, reason: &str) -> Option<Transition> {
        let reason = reason.trim();
        let reason = if reason.is_empty() {
            "isolated by user".to_owned()
        } else {
            format!("isolated by user: {reason}")
        };
        self.go(State::Open { until: None }, now, reason)
    }
}

/// The methods every level's breaker has alike, delegated to its `circuit`:
/// `$open_secs` names the config field for how long it stays open, `$over`
/// what the reason says when that time is over (`pause over`, …).
macro_rules! circuit_methods {
    ($config:ty, $open_secs:ident, $over:literal) => {
        pub fn config(&self) -> &$config {
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
            let (secs, trials) = (self.config.$open_secs, self.config.trials);
            let over = || super::circuit::time_over(secs, $over, trials);
            self.circuit.advance(now, trials, over)
        }

        /// What `allows` would answer, without changing anything.
        pub fn verdict(&self, now: Millis) -> Verdict {
            self.circuit.verdict(now, self.config.$open_secs)
        }

        /// May work be dispatched at `now`? A trial answer uses up a trial.
        pub fn allows(&mut self, now: Millis) -> Decision {
            let (secs, trials) = (self.config.$open_secs, self.config.trials);
            let over = || super::circuit::time_over(secs, $over, trials);
            self.circuit.allows(now, trials, secs, over)
        }

        pub(super) fn consume_trial(&mut self, now: Millis) {
            self.circuit.consume_trial(now);
        }

        /// The work ended without a verdict at this level (a provider
        /// outage, an infrastructure error): a trial is given back.
        pub fn record_inconclusive(&mut self, _now: Millis) {
            self.circuit.give_back_trial(self.config.trials);
        }

        /// Open until a reset.
        pub fn isolate(&mut self, now: Millis, reason: &str) -> Option<Transition> {
            self.circuit.isolate(now, reason)
        }
    };
}
pub(super) use circuit_methods;

/// The reason of open → half-open: `60 s pause over: allowing 1 trial`.
pub(super) fn time_over(secs: u64, over: &str, trials: u32) -> String {
    format!("{secs} s {over}: allowing {}", trials_text(trials.max(1)))
}
