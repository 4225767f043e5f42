//! Ids, the task status and the plain rows the store hands out.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// Sequence number of an event: 1, 2, 3 … with no holes.
pub type Seq = i64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }
    };
}

id_type!(
    /// Row id of a PRD.
    PrdId
);
id_type!(
    /// Row id of a task.
    TaskId
);

/// Where a task is in its life. Stored as the lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Pending,
    Ready,
    Running,
    Passed,
    Failed,
    Blocked,
    Cancelled,
    Done,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 8] = [
        TaskStatus::Pending,
        TaskStatus::Ready,
        TaskStatus::Running,
        TaskStatus::Passed,
        TaskStatus::Failed,
        TaskStatus::Blocked,
        TaskStatus::Cancelled,
        TaskStatus::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Ready => "ready",
            TaskStatus::Running => "running",
            TaskStatus::Passed => "passed",
            TaskStatus::Failed => "failed",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Done => "done",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the task statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown task status {0:?} (expected one of pending, ready, running, passed, failed, blocked, cancelled, done)"
)]
pub struct UnknownStatus(pub String);

impl FromStr for TaskStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrdRow {
    pub id: PrdId,
    /// As the caller gave it (the store does not normalise paths).
    pub path: String,
    pub content_hash: String,
    pub format: String,
    pub decomposed_at: Option<String>,
    pub decomposed_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: TaskId,
    pub prd_id: PrdId,
    pub key: String,
    pub kind: String,
    pub title: String,
    pub requirement: Option<String>,
    pub status: TaskStatus,
    pub content_hash: String,
    /// Everything the planner computed for the task.
    pub spec: serde_json::Value,
    pub prd_changed_since_done: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A task as the planner creates it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub key: String,
    pub kind: String,
    pub title: String,
    pub requirement: Option<String>,
    pub status: TaskStatus,
    pub content_hash: String,
    pub spec: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: Seq,
    /// UTC, RFC 3339.
    pub at: String,
    pub kind: String,
    pub prd_id: Option<PrdId>,
    pub task_key: Option<String>,
    pub payload: serde_json::Value,
}
