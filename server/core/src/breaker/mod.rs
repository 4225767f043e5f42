//! Circuit breakers: pure state machines that decide whether work may be dispatched
//! (DESIGN §6). The engine persists them and turns every [`Transition`] into an event.
//!
//! Three levels, each a breaker with the states closed, open and half-open:
//!
//! - **Stage** ([`StageBreaker`], one per task and stage, named by [`stage_name`]): opens after
//!   3 consecutive failures, half-opens after 300 s with 1 trial; a successful trial closes it, a
//!   failed one re-opens it for another 300 s.
//! - **Worker** ([`WorkerBreaker`], one per worker or provider): 3 consecutive failures pause it
//!   for 300 s, then 1 trial; every failed trial re-opens it as an *extension*; a failed trial
//!   after the 3rd extension leaves it open until someone resets it.
//! - **System** ([`SystemBreaker`], one, named [`SYSTEM_NAME`]): fed every worker's outcomes
//!   ([`SystemBreaker::record`]); it opens when at least 50 % of the active workers (and at least
//!   2) failed within the last 300 s, stops all dispatch for 600 s, then lets the next dispatch
//!   through as a trial.
//!
//! Every number is in [`BreakerConfig`]. Time is a parameter ([`Millis`] since an epoch the caller
//! chooses and keeps), so nothing here reads a clock and every machine is tested with a fake one.
//!
//! # Which failures feed which level
//!
//! DESIGN §5 tells three kinds of failure apart; [`Breakers::record_outcome`] routes them:
//!
//! | outcome | stage | worker | system |
//! |---|---|---|---|
//! | success | success | success | success |
//! | [`FailureKind::Violation`] | **failure** | success | success |
//! | [`FailureKind::ProviderOutage`] | no signal | **failure** | **failure** |
//! | [`FailureKind::Infrastructure`] | no signal | no signal | no signal |
//!
//! - A violation is the worker's output failing the gate: evidence about the task and stage, not
//!   about the provider, which answered (so it counts as a success for the worker and system
//!   levels: an outage is not "consecutive" across answers).
//! - A provider outage (429, 5xx, timeout, auth) says nothing about the task: the stage never ran.
//! - An infrastructure error (runner crash, missing toolchain, full disk) is neither the worker's
//!   nor the task's fault; tripping breakers on it would hide the real problem behind "open"
//!   breakers, so it is reported on its own and the run handles it.
//! - "No signal" never changes a failure count, but a half-open breaker whose trial ended that way
//!   gets the trial back: the trial proved nothing.
//!
//! # Trials
//!
//! [`Verdict::Trial`] consumes one of a half-open breaker's trials. If a trial's outcome never
//! arrives (the process died mid-stage), the breaker grants a new trial once the level's open
//! duration has passed since the last one, so nothing waits forever without a reset.

mod circuit;
mod config;
mod registry;
mod stage;
mod system;
mod worker;

#[cfg(test)]
mod registry_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use config::{BreakerConfig, StageConfig, SystemConfig, WorkerConfig};
pub use registry::{Blocked, Breaker, Breakers, Change};
pub use stage::StageBreaker;
pub use system::{MAX_TRACKED_WORKERS, SystemBreaker};
pub use worker::WorkerBreaker;

/// The one system breaker's name.
pub const SYSTEM_NAME: &str = "system";

/// A point in time: milliseconds since an epoch the caller picks (the engine uses the Unix epoch,
/// so persisted times survive a restart).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    pub const fn from_secs(secs: u64) -> Millis {
        Millis(secs.saturating_mul(1000))
    }

    /// `self` plus `secs` seconds, saturating at the end of time.
    pub const fn plus_secs(self, secs: u64) -> Millis {
        Millis(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Milliseconds from `earlier` to `self`; 0 if `earlier` is later (a clock that went back).
    pub const fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A breaker's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum State {
    /// Work flows; failures are being counted.
    Closed,
    /// No work: until the given time, or until a manual reset when `None`.
    Open { until: Option<Millis> },
    /// Probing: this many trial dispatches may still start.
    HalfOpen { trials_left: u32 },
}

impl State {
    /// `closed`, `open` or `half_open`, as stored.
    pub const fn as_str(&self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open { .. } => "open",
            State::HalfOpen { .. } => "half_open",
        }
    }

    pub const fn is_open(&self) -> bool {
        matches!(self, State::Open { .. })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change, to persist and to announce as an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub at: Millis,
    /// Human-readable: "3 consecutive failures: open for 300 s", "reset by user" …
    pub reason: String,
}

/// What a breaker says about one dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// Closed: go.
    Allow,
    /// Half-open: go, as a trial whose outcome decides the breaker's fate.
    Trial,
    /// Do not dispatch. `until` is the earliest time the answer may change (`None`: not before a
    /// manual reset).
    Refuse { until: Option<Millis> },
}

impl Verdict {
    pub const fn allowed(self) -> bool {
        !matches!(self, Verdict::Refuse { .. })
    }
}

/// The answer of `allows`, with the transition that asking caused (open → half-open when the
/// open time is over).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub transition: Option<Transition>,
}

impl Decision {
    pub const fn allowed(&self) -> bool {
        self.verdict.allowed()
    }
}

/// The three breaker levels; also the `scope` column of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Stage,
    Worker,
    System,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Stage, Scope::Worker, Scope::System];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Stage => "stage",
            Scope::Worker => "worker",
            Scope::System => "system",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a breaker scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScope(pub String);

impl fmt::Display for UnknownScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown breaker scope {:?} (expected stage, worker or system)",
            self.0
        )
    }
}

impl std::error::Error for UnknownScope {}

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Scope, UnknownScope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// The three kinds of stage failure, one type for the breakers, the pipeline
/// and the store (which spells them as [`FailureKind::as_str`] does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The worker's output did not pass the gate.
    Violation,
    /// The runner crashed, the toolchain is missing, the disk is full …
    Infrastructure,
    /// 429, 5xx, timeout, auth.
    ProviderOutage,
}

impl FailureKind {
    /// `violation`, `infrastructure`, `provider_outage`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Violation => "violation",
            FailureKind::Infrastructure => "infrastructure",
            FailureKind::ProviderOutage => "provider_outage",
        }
    }
}

/// How a dispatched stage ended, as the breakers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "failure", rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure(FailureKind),
}

/// The name of the stage breaker of `stage` (`red`, `green` …) of the task `task_key`:
/// `<task_key>:<stage>`. The task key must identify the task in the whole project.
pub fn stage_name(task_key: &str, stage: &str) -> String {
    format!("{task_key}:{stage}")
}

/// The task key and stage of a stage breaker's name (split at the last `:`).
pub fn split_stage_name(name: &str) -> Option<(&str, &str)> {
    name.rsplit_once(':')
}

/// "1 trial", "2 trials".
fn trials_text(n: u32) -> String {
    if n == 1 {
        "1 trial".to_owned()
    } else {
        format!("{n} trials")
    }
}
