//! What the runs measured: stage durations, verdicts, breaker trips, model
//! use, and tasks merged over time.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ViewError, time};
use crate::store::{Queries, Reader};
use tdd_workers::usage::Usage;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metrics {
    /// Per stage (`red`, `green`, `verify`, `refactor`, `merge`).
    pub stages: BTreeMap<String, StageMetrics>,
    /// Transitions to open, per breaker scope.
    pub breaker_trips: BTreeMap<String, u32>,
    /// Model use per worker.
    pub usage_by_worker: Vec<WorkerUsage>,
    /// Every merge, in order: when, and how many tasks were merged by then.
    pub merged_over_time: Vec<MergedPoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageMetrics {
    pub attempts: u32,
    pub passed: u32,
    /// Failed attempts by kind: `violation`, `infrastructure`,
    /// `provider_outage`.
    pub failed: BTreeMap<String, u32>,
    /// Wall time of an attempt, in milliseconds.
    pub duration_ms: Option<Percentiles>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Percentiles {
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
    pub max: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkerUsage {
    pub worker: String,
    pub usage: Usage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MergedPoint {
    pub at: String,
    pub merged: u32,
}

pub fn metrics(reader: &Reader) -> Result<Metrics, ViewError> {
    reader.read(|tx| {
        let mut stages: BTreeMap<String, StageMetrics> = BTreeMap::new();
        let mut durations: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
        for attempt in tx.all_attempts()? {
            let stage = stages.entry(attempt.stage.clone()).or_default();
            stage.attempts += 1;
            match &attempt.failure_kind {
                None => stage.passed += 1,
                Some(kind) => *stage.failed.entry(kind.clone()).or_default() += 1,
            }
            let took = attempt
                .finished_at
                .as_deref()
                .and_then(time::millis)
                .zip(time::millis(&attempt.started_at));
            if let Some((end, start)) = took {
                durations
                    .entry(attempt.stage)
                    .or_default()
                    .push(end - start);
            }
            if let Some(used) = attempt.usage {
                usage.entry(attempt.worker).or_default().add(used);
            }
        }
        for (stage, mut ms) in durations {
            if let Some(metrics) = stages.get_mut(&stage) {
                metrics.duration_ms = percentiles(&mut ms);
            }
        }
        let mut breaker_trips = BTreeMap::new();
        for t in tx.all_breaker_transitions()? {
            if t.to_state == "open" {
                *breaker_trips.entry(t.scope).or_default() += 1;
            }
        }
        let merged_over_time = tx
            .events_of_kind("task.merged")?
            .into_iter()
            .zip(1..)
            .map(|(event, merged)| MergedPoint {
                at: event.at,
                merged,
            })
            .collect();
        Ok(Metrics {
            stages,
            breaker_trips,
            usage_by_worker: usage
                .into_iter()
                .map(|(worker, usage)| WorkerUsage { worker, usage })
                .collect(),
            merged_over_time,
        })
    })
}

/// Nearest-rank percentiles; `None` for no samples.
fn percentiles(samples: &mut [i64]) -> Option<Percentiles> {
    samples.sort_unstable();
    let at = |p: usize| samples[((samples.len() * p).div_ceil(100)).saturating_sub(1)];
    let max = *samples.last()?;
    Some(Percentiles {
        p50: at(50),
        p90: at(90),
        p99: at(99),
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::percentiles;

    #[test]
    fn nearest_rank() {
        let mut ms: Vec<i64> = (1..=100).rev().collect();
        let p = percentiles(&mut ms).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50, 90, 99, 100));
        assert_eq!(percentiles(&mut [7]).unwrap().p50, 7);
        assert!(percentiles(&mut []).is_none());
    }
}
