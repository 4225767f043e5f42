//! Claims on running tasks, their heartbeats, and run control (migration 3).
//!
//! A run is owned by one process (`owner`, see [`crate::execution`]). When
//! that process takes a task it claims it; its heartbeat renews every claim it
//! holds, so a claim never expires under a long stage. A claim is released
//! when its task ends. Claims left by a process that died are recovered by
//! the next run of the project ([`WriteTx::recover_claims`]), which puts their
//! tasks back to `pending`.

use rusqlite::{OptionalExtension, Row, params};

use super::error::{At, Result};
use super::runs::RunId;
use super::{PrdId, TaskId, TaskStatus, WriteTx};

/// What an operator asked of a running run from another process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunControl {
    Pause,
    Cancel,
}

impl RunControl {
    pub fn as_str(self) -> &'static str {
        match self {
            RunControl::Pause => "pause",
            RunControl::Cancel => "cancel",
        }
    }

    fn parse(text: Option<String>) -> Option<RunControl> {
        match text.as_deref() {
            Some("pause") => Some(RunControl::Pause),
            Some("cancel") => Some(RunControl::Cancel),
            _ => None,
        }
    }
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: RunId,
    pub prd_id: PrdId,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `paused`, or how it ended (`completed`, `failed`,
    /// `cancelled`, `budget`, `interrupted`).
    pub status: String,
    /// The process that runs (or last ran) it.
    pub owner: Option<String>,
    pub heartbeat_at: Option<String>,
    pub control: Option<RunControl>,
}

/// A claim on a task.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRow {
    pub task_id: TaskId,
    pub task_key: String,
    pub run_id: RunId,
    pub owner: String,
    pub worker: String,
    pub claimed_at: String,
    pub heartbeat_at: String,
}

const RUN_COLUMNS: &str =
    "id, prd_id, started_at, finished_at, status, owner, heartbeat_at, control";

fn run_row(row: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: row.get(0)?,
        prd_id: row.get(1)?,
        started_at: row.get(2)?,
        finished_at: row.get(3)?,
        status: row.get(4)?,
        owner: row.get(5)?,
        heartbeat_at: row.get(6)?,
        control: RunControl::parse(row.get(7)?),
    })
}

fn claim_row(row: &Row<'_>) -> rusqlite::Result<ClaimRow> {
    Ok(ClaimRow {
        task_id: row.get(0)?,
        task_key: row.get(1)?,
        run_id: row.get(2)?,
        owner: row.get(3)?,
        worker: row.get(4)?,
        claimed_at: row.get(5)?,
        heartbeat_at: row.get(6)?,
    })
}

const CLAIM_SELECT: &str = "SELECT c.task_id, t.key, c.run_id, c.owner, c.worker, c.claimed_at,
                                   c.heartbeat_at
                            FROM claims c JOIN tasks t ON t.id = c.task_id";

pub(super) fn latest_run(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    prd_id: PrdId,
) -> Result<Option<RunRow>> {
    conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE prd_id = ?1 ORDER BY id DESC LIMIT 1"
    ))
    .and_then(|mut stmt| stmt.query_row([prd_id], run_row).optional())
    .at(db)
}

pub(super) fn run(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    run_id: RunId,
) -> Result<Option<RunRow>> {
    conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([run_id], run_row).optional())
        .at(db)
}

pub(super) fn all_runs(conn: &rusqlite::Connection, db: &std::path::Path) -> Result<Vec<RunRow>> {
    conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id"))
        .and_then(|mut stmt| stmt.query_map([], run_row)?.collect())
        .at(db)
}

pub(super) fn unfinished_runs(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
) -> Result<Vec<RunRow>> {
    conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE finished_at IS NULL ORDER BY id DESC"
    ))
    .and_then(|mut stmt| stmt.query_map([], run_row)?.collect())
    .at(db)
}

pub(super) fn claims(conn: &rusqlite::Connection, db: &std::path::Path) -> Result<Vec<ClaimRow>> {
    conn.prepare_cached(&format!("{CLAIM_SELECT} ORDER BY t.key"))
        .and_then(|mut stmt| stmt.query_map([], claim_row)?.collect())
        .at(db)
}

impl WriteTx<'_> {
    /// Starts a run owned by `owner`, with its first heartbeat.
    pub fn start_run(&self, prd_id: PrdId, owner: &str) -> Result<RunId> {
        self.tx
            .prepare_cached(
                "INSERT INTO runs (prd_id, started_at, status, owner, heartbeat_at)
                 VALUES (?1, ?2, 'running', ?3, ?2)",
            )
            .and_then(|mut stmt| stmt.execute(params![prd_id, self.now, owner]))
            .at(self.path)?;
        Ok(RunId(self.tx.last_insert_rowid()))
    }

    /// Takes over an unfinished run: a new owner, running again, no control.
    pub fn adopt_run(&self, run_id: RunId, owner: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE runs SET owner = ?2, heartbeat_at = ?3, status = 'running',
                                 finished_at = NULL, control = NULL
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![run_id, owner, self.now]))
            .at(self.path)?;
        Ok(())
    }

    /// Claims a task for `owner`'s `worker` and marks it running. `false`
    /// when another claim holds it.
    pub fn claim_task(
        &self,
        task_id: TaskId,
        run_id: RunId,
        owner: &str,
        worker: &str,
    ) -> Result<bool> {
        let inserted = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO claims (task_id, run_id, owner, worker, claimed_at, heartbeat_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )
            .and_then(|mut stmt| stmt.execute(params![task_id, run_id, owner, worker, self.now]))
            .at(self.path)?;
        if inserted == 1 {
            self.set_task_status(task_id, TaskStatus::Running)?;
        }
        Ok(inserted == 1)
    }

    /// Drops the claim on a task (its new status is set apart).
    pub fn release_claim(&self, task_id: TaskId) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM claims WHERE task_id = ?1")
            .and_then(|mut stmt| stmt.execute([task_id]))
            .at(self.path)?;
        Ok(())
    }

    /// Renews the run's and every claim's heartbeat of `owner`, and returns
    /// what an operator asked of the run meanwhile.
    pub fn heartbeat(&self, run_id: RunId, owner: &str) -> Result<Option<RunControl>> {
        self.tx
            .prepare_cached("UPDATE claims SET heartbeat_at = ?2 WHERE owner = ?1")
            .and_then(|mut stmt| stmt.execute(params![owner, self.now]))
            .at(self.path)?;
        self.tx
            .prepare_cached("UPDATE runs SET heartbeat_at = ?3 WHERE id = ?1 AND owner = ?2")
            .and_then(|mut stmt| stmt.execute(params![run_id, owner, self.now]))
            .at(self.path)?;
        let control: Option<String> = self
            .tx
            .prepare_cached("SELECT control FROM runs WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([run_id], |r| r.get(0)))
            .at(self.path)?;
        Ok(RunControl::parse(control))
    }

    /// Records what an operator asks of a run (`None` lifts a pause).
    pub fn set_run_control(&self, run_id: RunId, control: Option<RunControl>) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE runs SET control = ?2 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute(params![run_id, control.map(RunControl::as_str)]))
            .at(self.path)?;
        Ok(())
    }

    /// Sets a run's status without finishing it (`paused`, `running`).
    pub fn set_run_status(&self, run_id: RunId, status: &str) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE runs SET status = ?2 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute(params![run_id, status]))
            .at(self.path)?;
        Ok(())
    }

    /// Removes every claim not held by `owner`, puts its task back to
    /// `pending`, and returns the claims removed. Call it only while holding
    /// the project's run lock: then no other live process holds a claim.
    pub fn recover_claims(&self, owner: &str) -> Result<Vec<ClaimRow>> {
        let stale: Vec<ClaimRow> = self
            .tx
            .prepare_cached(&format!(
                "{CLAIM_SELECT} WHERE c.owner <> ?1 ORDER BY t.key"
            ))
            .and_then(|mut stmt| stmt.query_map([owner], claim_row)?.collect())
            .at(self.path)?;
        for claim in &stale {
            self.release_claim(claim.task_id)?;
            self.set_task_status(claim.task_id, TaskStatus::Pending)?;
        }
        Ok(stale)
    }
}
