//! Runs (one execution of a PRD's tasks) and their stage attempts
//! (migration 2: `runs`, `attempts`).

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Row, params};

use super::error::{At, Result};
use super::usage::count;
use super::{PrdId, ReadTx, TaskId, WriteTx};
use tdd_workers::transcript::Packed;
use tdd_workers::usage::Usage;

/// Row id of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ToSql for RunId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for RunId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(RunId)
    }
}

/// One stage attempt to record. Times are Unix milliseconds; the store keeps
/// them as RFC 3339 UTC like every other timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttempt {
    pub run_id: RunId,
    pub task_id: TaskId,
    /// `red`, `green`, `verify`, `refactor` or `merge`.
    pub stage: String,
    pub attempt: u32,
    pub worker: String,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub exit_code: Option<i32>,
    pub test_summary: Option<serde_json::Value>,
    /// `violation`, `infrastructure` or `provider_outage`; `None` when it passed.
    pub failure_kind: Option<String>,
    pub diff_stats: Option<serde_json::Value>,
    /// A summary: the gate's evidence line and reasons, or the error.
    pub evidence: Option<String>,
    /// What the worker's model calls used, when it reported it.
    pub usage: Option<Usage>,
    /// The worker's transcript of the attempt, packed for storage.
    pub transcript: Option<Packed>,
}

/// A stored transcript, still deflated.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptRow {
    pub attempt_id: i64,
    pub format: String,
    pub original_len: i64,
    pub truncated: bool,
    pub deflated: Vec<u8>,
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub id: i64,
    pub run_id: RunId,
    pub task_id: TaskId,
    pub stage: String,
    pub attempt: u32,
    pub worker: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub test_summary: Option<serde_json::Value>,
    pub failure_kind: Option<String>,
    pub diff_stats: Option<serde_json::Value>,
    pub evidence: Option<String>,
    pub usage: Option<Usage>,
}

/// Unix milliseconds to RFC 3339 UTC with milliseconds, in SQL.
const FROM_MS: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', ?1 / 1000.0, 'unixepoch')";

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn attempt_row(row: &Row<'_>) -> rusqlite::Result<AttemptRow> {
    Ok(AttemptRow {
        id: row.get(0)?,
        run_id: row.get(1)?,
        task_id: row.get(2)?,
        stage: row.get(3)?,
        attempt: row.get(4)?,
        worker: row.get(5)?,
        started_at: row.get(6)?,
        finished_at: row.get(7)?,
        exit_code: row.get(8)?,
        test_summary: json(row.get(9)?),
        failure_kind: row.get(10)?,
        diff_stats: json(row.get(11)?),
        evidence: row.get(12)?,
        usage: usage(row)?,
    })
}

/// Columns 13 to 18; an attempt without tokens had no model usage reported.
fn usage(row: &Row<'_>) -> rusqlite::Result<Option<Usage>> {
    let tokens_in: Option<i64> = row.get(13)?;
    let tokens_out: Option<i64> = row.get(14)?;
    if tokens_in.is_none() && tokens_out.is_none() {
        return Ok(None);
    }
    Ok(Some(Usage {
        input_tokens: count(row, 13)?,
        output_tokens: count(row, 14)?,
        cached_tokens: count(row, 15)?,
        calls: count(row, 16)? as u32,
        latency_ms: count(row, 17)?,
        cost_usd: row.get(18)?,
    }))
}

impl WriteTx<'_> {
    /// Starts a run of a PRD's tasks, with this status (`running`, …).
    pub fn insert_run(&self, prd_id: PrdId, status: &str) -> Result<RunId> {
        self.tx
            .prepare_cached("INSERT INTO runs (prd_id, started_at, status) VALUES (?1, ?2, ?3)")
            .and_then(|mut stmt| stmt.execute(params![prd_id, self.now, status]))
            .at(self.path)?;
        Ok(RunId(self.tx.last_insert_rowid()))
    }

    /// Ends a run with its final status.
    pub fn finish_run(&self, run_id: RunId, status: &str) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE runs SET finished_at = ?2, status = ?3 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute(params![run_id, self.now, status]))
            .at(self.path)?;
        Ok(())
    }

    /// Records one stage attempt and returns its row id.
    pub fn insert_attempt(&self, attempt: &NewAttempt) -> Result<i64> {
        let started: String = self
            .tx
            .query_row(&format!("SELECT {FROM_MS}"), [attempt.started_at_ms], |r| {
                r.get(0)
            })
            .at(self.path)?;
        let finished: Option<String> = match attempt.finished_at_ms {
            Some(ms) => Some(
                self.tx
                    .query_row(&format!("SELECT {FROM_MS}"), [ms], |r| r.get(0))
                    .at(self.path)?,
            ),
            None => None,
        };
        self.tx
            .prepare_cached(
                "INSERT INTO attempts (run_id, task_id, stage, attempt, worker, started_at,
                                       finished_at, exit_code, test_summary, failure_kind,
                                       diff_stats, evidence, tokens_in, tokens_out,
                                       tokens_cached, model_calls, latency_ms, cost_usd)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                         ?15, ?16, ?17, ?18)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    attempt.run_id,
                    attempt.task_id,
                    attempt.stage,
                    attempt.attempt,
                    attempt.worker,
                    started,
                    finished,
                    attempt.exit_code,
                    attempt.test_summary.as_ref().map(|v| v.to_string()),
                    attempt.failure_kind,
                    attempt.diff_stats.as_ref().map(|v| v.to_string()),
                    attempt.evidence,
                    attempt.usage.map(|u| u.input_tokens as i64),
                    attempt.usage.map(|u| u.output_tokens as i64),
                    attempt.usage.map(|u| u.cached_tokens as i64),
                    attempt.usage.map(|u| i64::from(u.calls)),
                    attempt.usage.map(|u| u.latency_ms as i64),
                    attempt.usage.and_then(|u| u.cost_usd),
                ])
            })
            .at(self.path)?;
        let id = self.tx.last_insert_rowid();
        if let Some(packed) = &attempt.transcript {
            self.tx
                .prepare_cached(
                    "INSERT INTO attempt_transcripts
                         (attempt_id, format, original_len, truncated, deflated)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        id,
                        packed.format.as_str(),
                        packed.original_len as i64,
                        packed.truncated,
                        packed.deflated,
                    ])
                })
                .at(self.path)?;
        }
        Ok(id)
    }
}

/// The transcripts of a task's attempts.
pub(super) fn transcripts_of_task(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    task_id: TaskId,
) -> Result<Vec<TranscriptRow>> {
    conn.prepare_cached(
        "SELECT t.attempt_id, t.format, t.original_len, t.truncated, t.deflated
         FROM attempt_transcripts t JOIN attempts a ON a.id = t.attempt_id
         WHERE a.task_id = ?1 ORDER BY t.attempt_id",
    )
    .and_then(|mut stmt| {
        stmt.query_map([task_id], |r| {
            Ok(TranscriptRow {
                attempt_id: r.get(0)?,
                format: r.get(1)?,
                original_len: r.get(2)?,
                truncated: r.get(3)?,
                deflated: r.get(4)?,
            })
        })?
        .collect()
    })
    .at(db)
}

const ATTEMPT_COLUMNS: &str = "id, run_id, task_id, stage, attempt, worker, started_at, \
                               finished_at, exit_code, test_summary, failure_kind, diff_stats, evidence, \
                               tokens_in, tokens_out, tokens_cached, model_calls, latency_ms, cost_usd";

pub(super) fn by_task(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    task_id: TaskId,
) -> Result<Vec<AttemptRow>> {
    conn.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE task_id = ?1 ORDER BY id"
    ))
    .and_then(|mut stmt| stmt.query_map([task_id], attempt_row)?.collect())
    .at(db)
}

pub(super) fn of_stage(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    task_id: TaskId,
    run_id: RunId,
    stage: &str,
) -> Result<Vec<(u32, Option<String>, Option<String>)>> {
    conn.prepare_cached(
        "SELECT attempt, failure_kind, evidence FROM attempts \
         WHERE task_id = ?1 AND run_id = ?2 AND stage = ?3 ORDER BY id",
    )
    .and_then(|mut stmt| {
        stmt.query_map(rusqlite::params![task_id, run_id, stage], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect()
    })
    .at(db)
}

/// How many attempts of `stage` have an evidence starting with `prefix`.
pub(super) fn count_with_evidence(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    stage: &str,
    prefix: &str,
) -> Result<u64> {
    conn.query_row(
        "SELECT count(*) FROM attempts WHERE stage = ?1 AND substr(evidence, 1, length(?2)) = ?2",
        rusqlite::params![stage, prefix],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.max(0) as u64)
    .at(db)
}

/// Every attempt, in the order they were recorded.
pub(super) fn all(conn: &rusqlite::Connection, db: &std::path::Path) -> Result<Vec<AttemptRow>> {
    conn.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts ORDER BY id"
    ))
    .and_then(|mut stmt| stmt.query_map([], attempt_row)?.collect())
    .at(db)
}

impl ReadTx<'_> {
    /// A run's attempts, in the order they were recorded.
    pub fn attempts(&self, run_id: RunId) -> Result<Vec<AttemptRow>> {
        self.tx
            .prepare_cached(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE run_id = ?1 ORDER BY id"
            ))
            .and_then(|mut stmt| stmt.query_map([run_id], attempt_row)?.collect())
            .at(self.path)
    }
}
