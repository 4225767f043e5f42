//! The event log's entries, typed: one enum for every kind the engine
//! writes, so a writer and every reader (terminal, language server, daemon,
//! webhooks) agree on each kind's fields. Adding a kind is adding a variant.
//!
//! The store keeps the kind and the fields apart (`events.kind`,
//! `events.payload`); on the wire an entry is
//! `{ seq, at, prd?, task?, kind, data }`. A row whose kind or fields this
//! version does not know (written by a newer one, or broken) is read as
//! [`Event::Other`] with its fields as they are, never dropped.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{EventRow, PrdId, Seq, StoreError, WriteTx};
use tdd_workers::usage::Usage;

/// A run's row id, as events carry it.
pub type RunNumber = i64;

/// What happened. The tag is the kind stored in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "data")]
pub enum Event {
    /// A PRD was decomposed into tasks, or re-planned.
    #[serde(rename = "prd_decomposed")]
    PrdDecomposed {
        path: String,
        tasks: usize,
        unchanged: usize,
        added: usize,
        replanned: usize,
        changed_since_done: usize,
        cancelled: usize,
    },
    #[serde(rename = "task_planned")]
    TaskPlanned { title: String },
    /// The task's plan changed before it was done: it starts again.
    #[serde(rename = "task_replanned")]
    TaskReplanned { content_hash: String },
    /// The PRD changed after the task was done: the work may need redoing.
    #[serde(rename = "task_changed_since_done")]
    TaskChangedSinceDone { content_hash: String },
    /// The criterion behind the task left the PRD.
    #[serde(rename = "task_cancelled")]
    TaskCancelled {},
    #[serde(rename = "run.started")]
    RunStarted { run: RunNumber, owner: String },
    #[serde(rename = "run.resumed")]
    RunResumed { run: RunNumber, owner: String },
    #[serde(rename = "run.finished")]
    RunFinished {
        run: RunNumber,
        /// `completed`, `failed`, `cancelled`, `interrupted`, `budget_exceeded` …
        status: String,
        merged: usize,
        failed: usize,
        blocked: usize,
        model_usage: Option<Usage>,
    },
    #[serde(rename = "run.pause_requested")]
    PauseRequested { run: RunNumber },
    #[serde(rename = "run.cancel_requested")]
    CancelRequested { run: RunNumber },
    #[serde(rename = "run.continue_requested")]
    ContinueRequested { run: RunNumber },
    /// The run stopped dispatching (its workers finish their current stage).
    #[serde(rename = "run.paused")]
    RunPaused { run: RunNumber },
    #[serde(rename = "run.unpaused")]
    RunUnpaused { run: RunNumber },
    /// The run is stopping early: cancelled, or over its budget.
    #[serde(rename = "run.stopping")]
    RunStopping { run: RunNumber, reason: String },
    /// Something went wrong that did not stop the run.
    #[serde(rename = "run.warning")]
    Warning { run: RunNumber, message: String },
    /// A worker speaks to the person running the tasks (a human worker
    /// waits for them).
    #[serde(rename = "task.notice")]
    Notice { run: RunNumber, message: String },
    /// A claim left by a process that died, taken back.
    #[serde(rename = "claim.recovered")]
    ClaimRecovered {
        owner: String,
        worker: String,
        run: RunNumber,
        heartbeat_at: String,
    },
    #[serde(rename = "task.started")]
    TaskStarted { run: RunNumber, worker: String },
    /// One stage attempt, judged by its gate.
    #[serde(rename = "stage.attempt")]
    StageJudged {
        run: RunNumber,
        /// `red`, `green`, `verify`, `refactor` or `merge`.
        stage: String,
        /// 1-based, per stage.
        attempt: u32,
        worker: String,
        passed: bool,
        /// `violation`, `infrastructure` or `provider_outage` when it failed.
        failure_kind: Option<String>,
        /// The gate's evidence line, or the error that stopped the attempt.
        evidence: String,
        /// Why the gate refused it (empty when it passed).
        #[serde(default)]
        reasons: Vec<ReasonView>,
        usage: Option<Usage>,
    },
    #[serde(rename = "task.merged")]
    TaskMerged {
        feature_tip: Option<String>,
        /// The task's model use over every run.
        model_usage: Option<Usage>,
    },
    /// Stopped by a cancel or the budget; it resumes later.
    #[serde(rename = "task.interrupted")]
    TaskInterrupted {
        stage: String,
        reason: String,
        model_usage: Option<Usage>,
    },
    /// The provider failed; the task goes back to the queue.
    #[serde(rename = "task.outage")]
    TaskOutage {
        stage: String,
        reason: String,
        worker: String,
        model_usage: Option<Usage>,
    },
    #[serde(rename = "task.failed")]
    TaskFailed {
        stage: String,
        /// `violation`, `infrastructure` or `provider_outage`.
        #[serde(alias = "kind")]
        failure_kind: String,
        reason: String,
        #[serde(default)]
        model_usage: Option<Usage>,
    },
    /// Skipped by the operator (`by`) or by the run (nothing to do).
    #[serde(rename = "task.skipped")]
    TaskSkipped {
        reason: String,
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        by: Option<String>,
    },
    /// Put back to pending by the operator.
    #[serde(rename = "task.retry")]
    TaskRetried {
        from: String,
        fresh: bool,
        worktree_removed: bool,
        /// The task branch deleted (`--fresh`).
        branch_deleted: Option<String>,
        claim_released: bool,
    },
    /// A circuit breaker changed state.
    #[serde(rename = "breaker_transition")]
    BreakerTransition {
        /// `stage`, `worker` or `system`.
        scope: String,
        name: String,
        from: String,
        to: String,
        reason: String,
        transition_id: i64,
        /// Open: when it half-opens (`null`: not before a reset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
        /// Half-open: trials left.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trials: Option<u32>,
    },
    /// A kind, or fields, this version does not know.
    #[serde(untagged)]
    Other { kind: String, data: Value },
}

/// One reason a gate gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReasonView {
    /// Stable, e.g. `red.wrong_failure`.
    pub code: String,
    pub message: String,
    /// The test id or path concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Event {
    /// The kind, as stored.
    pub fn kind(&self) -> String {
        match self {
            Event::Other { kind, .. } => kind.clone(),
            known => split(known).0,
        }
    }

    /// Reads a stored row's kind and fields.
    pub fn decode(kind: &str, data: &Value) -> Event {
        let tagged = serde_json::json!({ "kind": kind, "data": data });
        match serde_json::from_value::<Event>(tagged) {
            // A known kind with fields it cannot read lands in `Other` too.
            Ok(event) => event,
            Err(_) => Event::Other {
                kind: kind.to_string(),
                data: data.clone(),
            },
        }
    }
}

/// The kind and the fields, as the store keeps them.
fn split(event: &Event) -> (String, Value) {
    match serde_json::to_value(event) {
        Ok(Value::Object(mut map)) => {
            let kind = match map.remove("kind") {
                Some(Value::String(kind)) => kind,
                _ => String::new(),
            };
            (kind, map.remove("data").unwrap_or(Value::Null))
        }
        // Every variant serialises to an object with a string tag.
        _ => unreachable!("an event serialises to a tagged object"),
    }
}

/// An entry of the log as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoggedEvent {
    /// The sequence number: 1, 2, 3 … with no holes. A client that sees a
    /// gap asks for the events after the last one it has.
    pub seq: Seq,
    /// UTC, RFC 3339.
    pub at: String,
    /// The PRD's path, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prd: Option<String>,
    /// The task's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(flatten)]
    pub event: Event,
}

impl LoggedEvent {
    /// A stored row, with its PRD's path looked up by `prd_path`.
    pub fn from_row(row: EventRow, prd_path: impl Fn(PrdId) -> Option<String>) -> LoggedEvent {
        LoggedEvent {
            seq: row.seq,
            event: Event::decode(&row.kind, &row.payload),
            at: row.at,
            prd: row.prd_id.and_then(prd_path),
            task: row.task_key,
        }
    }
}

impl WriteTx<'_> {
    /// Appends a typed event; see [`WriteTx::append_event`].
    pub fn log(
        &self,
        prd: Option<PrdId>,
        task: Option<&str>,
        event: &Event,
    ) -> Result<Seq, StoreError> {
        let (kind, data) = split(event);
        self.append_event(&kind, prd, task, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_kind_round_trips_through_the_stored_form() {
        let event = Event::TaskFailed {
            stage: "green".into(),
            failure_kind: "violation".into(),
            reason: "tests still fail".into(),
            model_usage: None,
        };
        let (kind, data) = split(&event);
        assert_eq!(kind, "task.failed");
        assert_eq!(Event::decode(&kind, &data), event);
    }

    #[test]
    fn older_rows_and_unknown_kinds_are_read_not_dropped() {
        // Before this enum, `task.failed` named its failure kind `kind`.
        let old = serde_json::json!({ "stage": "red", "kind": "violation", "reason": "r" });
        assert!(matches!(
            Event::decode("task.failed", &old),
            Event::TaskFailed { failure_kind, .. } if failure_kind == "violation"
        ));
        let unknown = serde_json::json!({ "n": 1 });
        assert_eq!(
            Event::decode("from.the_future", &unknown),
            Event::Other {
                kind: "from.the_future".into(),
                data: unknown.clone()
            }
        );
        let broken = serde_json::json!({ "run": "not a number" });
        assert!(matches!(
            Event::decode("run.started", &broken),
            Event::Other { .. }
        ));
    }

    #[test]
    fn on_the_wire_an_entry_is_flat() {
        let entry = LoggedEvent {
            seq: 7,
            at: "2026-01-01T00:00:00.000Z".into(),
            prd: Some("docs/a.prd.md".into()),
            task: Some("REQ-1/AC-1.1".into()),
            event: Event::TaskStarted {
                run: 2,
                worker: "w1".into(),
            },
        };
        let wire = serde_json::to_value(&entry).unwrap();
        assert_eq!(wire["kind"], "task.started");
        assert_eq!(wire["data"]["worker"], "w1");
        assert_eq!(serde_json::from_value::<LoggedEvent>(wire).unwrap(), entry);
    }
}
