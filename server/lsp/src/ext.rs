//! The `tdd/` protocol extensions: every custom request and notification,
//! with its parameters and result. `docs/lsp-extensions.md` documents them
//! and records a hash of this file; a test fails when one changes without
//! the other. Their JSON Schemas are generated into `schemas/lsp/`.
//!
//! The results are the engine's view model (`tdd_engine::view`), which the
//! HTTP daemon serves unchanged: one model, two transports.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tdd_engine::events::LoggedEvent;
use tdd_engine::view::{Metrics, Snapshot, TaskDetail};
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::request::Request;

/// `tdd/snapshot`: the project's whole state, as of `last_seq`.
pub enum SnapshotRequest {}

impl Request for SnapshotRequest {
    type Params = Option<SnapshotParams>;
    type Result = Snapshot;
    const METHOD: &'static str = "tdd/snapshot";
}

/// No parameters yet; an object so fields can be added.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotParams {}

/// `tdd/events`: the log after a sequence number.
pub enum EventsRequest {}

impl Request for EventsRequest {
    type Params = EventsParams;
    type Result = EventsResult;
    const METHOD: &'static str = "tdd/events";
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EventsParams {
    /// The last sequence number the client has (0 for everything).
    pub after: i64,
    /// At most this many events (default and ceiling: 10,000). Ask again
    /// after the last one returned while `events` is full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EventsResult {
    /// In order, without holes.
    pub events: Vec<LoggedEvent>,
    /// The newest sequence number in the store when the page was read.
    pub last_seq: i64,
}

/// `tdd/taskDetail`: one task's attempts, reports, stage diffs and events.
pub enum TaskDetailRequest {}

impl Request for TaskDetailRequest {
    type Params = TaskDetailParams;
    type Result = TaskDetail;
    const METHOD: &'static str = "tdd/taskDetail";
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TaskDetailParams {
    /// The task's key, e.g. `REQ-1/AC-1.1`.
    pub task: String,
    /// The PRD's path relative to the root; needed only when two PRDs have
    /// a task with this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prd: Option<String>,
}

/// `tdd/metrics`: durations, verdicts, breaker trips, usage.
pub enum MetricsRequest {}

impl Request for MetricsRequest {
    type Params = Option<SnapshotParams>;
    type Result = Metrics;
    const METHOD: &'static str = "tdd/metrics";
}

/// `tdd/event`: one new entry of the project's event log, pushed to clients
/// that opted in to the panel protocol, from runs started anywhere. A client
/// applies it when `seq` is one more than its last; on a gap it asks
/// `tdd/events { after: last }`; an entry it already has it ignores.
pub enum EventNotification {}

impl Notification for EventNotification {
    type Params = LoggedEvent;
    const METHOD: &'static str = "tdd/event";
}

/// The schemas of every extension's parameters and results, by file name
/// under `schemas/lsp/`.
pub fn schemas() -> Vec<(&'static str, String)> {
    fn pretty<T: JsonSchema>() -> String {
        let schema = schemars::schema_for!(T);
        let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialise");
        text.push('\n');
        text
    }
    vec![
        ("snapshot.schema.json", pretty::<Snapshot>()),
        ("events-params.schema.json", pretty::<EventsParams>()),
        ("events-result.schema.json", pretty::<EventsResult>()),
        ("event.schema.json", pretty::<LoggedEvent>()),
        (
            "task-detail-params.schema.json",
            pretty::<TaskDetailParams>(),
        ),
        ("task-detail.schema.json", pretty::<TaskDetail>()),
        ("metrics.schema.json", pretty::<Metrics>()),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Notification, Request};

    fn repo(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    /// FNV-1a, 64 bits: stable across Rust versions, enough to notice an edit.
    fn fnv(text: &str) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.replace("\r\n", "\n").bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }

    /// `schemas/lsp/` holds exactly the generated schemas. After changing a
    /// type: `UPDATE_SCHEMAS=1 cargo test -p tdd-lsp --lib`, and commit.
    #[test]
    fn schemas_are_current() {
        for (file, generated) in super::schemas() {
            tdd_test_support::check_generated(
                &format!("schemas/lsp/{file}"),
                &generated,
                "cargo test -p tdd-lsp --lib",
            );
        }
    }

    /// `docs/lsp-extensions.md` records the hash of this file: a change here
    /// must be looked at in the doc too (rust-analyzer's check, same idea).
    #[test]
    fn the_extensions_doc_is_in_step_with_ext_rs() {
        let source = std::fs::read_to_string(repo("server/lsp/src/ext.rs")).unwrap();
        let doc = std::fs::read_to_string(repo("docs/lsp-extensions.md")).unwrap();
        let expected = format!("ext.rs hash: {}", fnv(&source));
        assert!(
            doc.contains(&expected),
            "server/lsp/src/ext.rs changed: update docs/lsp-extensions.md to match, then set its line `{expected}`"
        );
        for method in [
            super::SnapshotRequest::METHOD,
            super::EventsRequest::METHOD,
            super::TaskDetailRequest::METHOD,
            super::MetricsRequest::METHOD,
            super::EventNotification::METHOD,
        ] {
            assert!(
                doc.contains(&format!("## `{method}`")),
                "docs/lsp-extensions.md has no section for {method}"
            );
        }
    }
}
