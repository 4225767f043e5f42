//! What the three levels share: the state, the consecutive-failure count, the trial
//! bookkeeping, and the rule that every state change yields one [`Transition`].

use serde::{Deserialize, Serialize};

use super::{Decision, Millis, State, Transition, Verdict};

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
