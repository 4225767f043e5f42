//! The breakers' numbers, with DESIGN §6's defaults.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    pub stage: StageConfig,
    pub worker: WorkerConfig,
    pub system: SystemConfig,
}

/// One breaker per task and stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StageConfig {
    /// Consecutive failures that open the breaker (at least 1).
    pub failures: u32,
    /// Seconds open before a trial.
    pub open_secs: u64,
    /// Trial dispatches allowed while half-open (at least 1).
    pub trials: u32,
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig {
            failures: 3,
            open_secs: 300,
            trials: 1,
        }
    }
}

/// One breaker per worker or provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Consecutive failures that pause the worker (at least 1).
    pub failures: u32,
    /// Seconds of each pause, the first and every extension.
    pub pause_secs: u64,
    /// Trial dispatches allowed while half-open (at least 1).
    pub trials: u32,
    /// Failed trials that extend the pause; the next failed trial leaves the breaker open until
    /// a manual reset.
    pub max_extensions: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            failures: 3,
            pause_secs: 300,
            trials: 1,
            max_extensions: 3,
        }
    }
}

/// The one breaker that stops all dispatch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SystemConfig {
    /// Share of the active workers, in percent, that must have failed within the window.
    pub failing_percent: u32,
    /// Fewer active workers than this never trip the breaker.
    pub min_workers: u32,
    /// Seconds of history: a worker is active if it reported an outcome within the window, and
    /// failing if one of those was a failure.
    pub window_secs: u64,
    /// Seconds open before the next dispatch is let through as a trial.
    pub recovery_secs: u64,
    /// Trial dispatches allowed while half-open (at least 1).
    pub trials: u32,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            failing_percent: 50,
            min_workers: 2,
            window_secs: 300,
            recovery_secs: 600,
            trials: 1,
        }
    }
}
