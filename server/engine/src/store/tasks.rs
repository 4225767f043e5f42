//! Tasks and their dependency edges.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::WriteTx;
use super::error::{At, Result, StoreError};
use super::types::{NewTask, PrdId, TaskId, TaskRow, TaskStatus};

const COLUMNS: &str = "id, prd_id, key, kind, title, requirement, status, content_hash, spec, \
                       prd_changed_since_done, created_at, updated_at";

/// A row as SQLite has it; [`RawTask::parse`] checks the text columns.
struct RawTask {
    row: TaskRow,
    status: String,
    spec: String,
}

fn raw(row: &Row<'_>) -> rusqlite::Result<RawTask> {
    Ok(RawTask {
        row: TaskRow {
            id: row.get(0)?,
            prd_id: row.get(1)?,
            key: row.get(2)?,
            kind: row.get(3)?,
            title: row.get(4)?,
            requirement: row.get(5)?,
            status: TaskStatus::Pending,
            content_hash: row.get(7)?,
            spec: serde_json::Value::Null,
            prd_changed_since_done: row.get(9)?,
            created_at: row.get(10)?,
            updated_at: row.get(11)?,
        },
        status: row.get(6)?,
        spec: row.get(8)?,
    })
}

impl RawTask {
    fn parse(self, db: &Path) -> Result<TaskRow> {
        let RawTask {
            mut row,
            status,
            spec,
        } = self;
        row.status = status.parse().map_err(|_| StoreError::BadValue {
            path: db.to_path_buf(),
            what: format!("the status of task {}", row.id),
            value: status.clone(),
        })?;
        row.spec = serde_json::from_str(&spec).map_err(|source| StoreError::BadJson {
            path: db.to_path_buf(),
            what: format!("the spec of task {}", row.id),
            source,
        })?;
        Ok(row)
    }
}

pub(super) fn by_prd(conn: &Connection, db: &Path, prd_id: PrdId) -> Result<Vec<TaskRow>> {
    let raws = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE prd_id = ?1 ORDER BY key"
        ))
        .and_then(|mut stmt| {
            stmt.query_map([prd_id], raw)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .at(db)?;
    raws.into_iter().map(|raw| raw.parse(db)).collect()
}

pub(super) fn by_key(
    conn: &Connection,
    db: &Path,
    prd_id: PrdId,
    key: &str,
) -> Result<Option<TaskRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE prd_id = ?1 AND key = ?2"
    ))
    .and_then(|mut stmt| stmt.query_row(params![prd_id, key], raw).optional())
    .at(db)?
    .map(|raw| raw.parse(db))
    .transpose()
}

pub(super) fn deps(conn: &Connection, db: &Path, prd_id: PrdId) -> Result<Vec<(String, String)>> {
    conn.prepare_cached(
        "SELECT t.key, d.key FROM task_deps
         JOIN tasks t ON t.id = task_deps.task_id
         JOIN tasks d ON d.id = task_deps.depends_on_id
         WHERE t.prd_id = ?1
         ORDER BY t.key, d.key",
    )
    .and_then(|mut stmt| {
        stmt.query_map([prd_id], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect()
    })
    .at(db)
}

impl WriteTx<'_> {
    pub fn insert_task(&self, prd_id: PrdId, task: &NewTask) -> Result<TaskId> {
        self.tx
            .prepare_cached(
                "INSERT INTO tasks (prd_id, key, kind, title, requirement, status, content_hash,
                                    spec, prd_changed_since_done, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    prd_id,
                    task.key,
                    task.kind,
                    task.title,
                    task.requirement,
                    task.status.as_str(),
                    task.content_hash,
                    task.spec.to_string(),
                    self.now,
                ])
            })
            .at(self.path)?;
        Ok(TaskId(self.tx.last_insert_rowid()))
    }

    /// The planner recomputed the task: new title, kind, hash and spec.
    pub fn update_task_plan(
        &self,
        task_id: TaskId,
        title: &str,
        kind: &str,
        content_hash: &str,
        spec: &serde_json::Value,
    ) -> Result<()> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE tasks SET title = ?2, kind = ?3, content_hash = ?4, spec = ?5,
                                  updated_at = ?6
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    task_id,
                    title,
                    kind,
                    content_hash,
                    spec.to_string(),
                    self.now
                ])
            })
            .at(self.path)?;
        self.expect_row(changed, "task", task_id.0)
    }

    pub fn set_task_status(&self, task_id: TaskId, status: TaskStatus) -> Result<()> {
        let changed = self
            .tx
            .prepare_cached("UPDATE tasks SET status = ?2, updated_at = ?3 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute(params![task_id, status.as_str(), self.now]))
            .at(self.path)?;
        self.expect_row(changed, "task", task_id.0)
    }

    /// Flags a done task whose part of the PRD changed after it was done.
    pub fn set_prd_changed_since_done(&self, task_id: TaskId, changed: bool) -> Result<()> {
        let rows = self
            .tx
            .prepare_cached(
                "UPDATE tasks SET prd_changed_since_done = ?2, updated_at = ?3 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![task_id, changed, self.now]))
            .at(self.path)?;
        self.expect_row(rows, "task", task_id.0)
    }

    /// The task now depends on exactly `depends_on` (duplicates are ignored; a task depending
    /// on itself or on a missing task is an error).
    pub fn replace_deps(&self, task_id: TaskId, depends_on: &[TaskId]) -> Result<()> {
        let exists: bool = self
            .tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ?1)",
                [task_id],
                |row| row.get(0),
            )
            .at(self.path)?;
        self.expect_row(usize::from(exists), "task", task_id.0)?;
        self.tx
            .execute("DELETE FROM task_deps WHERE task_id = ?1", [task_id])
            .at(self.path)?;
        let mut insert = self
            .tx
            .prepare_cached(
                "INSERT INTO task_deps (task_id, depends_on_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
            )
            .at(self.path)?;
        for dep in depends_on {
            insert.execute([task_id, *dep]).at(self.path)?;
        }
        Ok(())
    }

    /// Deletes the task and its dependency edges (either direction).
    pub fn delete_task(&self, task_id: TaskId) -> Result<()> {
        let changed = self
            .tx
            .execute("DELETE FROM tasks WHERE id = ?1", [task_id])
            .at(self.path)?;
        self.expect_row(changed, "task", task_id.0)
    }
}
