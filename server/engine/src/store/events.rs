//! The event log: append in the writer's transaction, read from anywhere by sequence number.

use std::path::Path;

use rusqlite::{Connection, params};

use super::WriteTx;
use super::error::{At, Result, StoreError};
use super::types::{EventRow, PrdId, Seq};

pub(super) fn after(
    conn: &Connection,
    db: &Path,
    after: Seq,
    limit: usize,
) -> Result<Vec<EventRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    select(
        conn,
        db,
        "SELECT seq, at, kind, prd_id, task_key, payload FROM events
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        params![after, limit],
    )
}

/// The events about task `key`, in order.
pub(super) fn of_task(conn: &Connection, db: &Path, key: &str) -> Result<Vec<EventRow>> {
    select(
        conn,
        db,
        "SELECT seq, at, kind, prd_id, task_key, payload FROM events
         WHERE task_key = ?1 ORDER BY seq",
        params![key],
    )
}

fn select(
    conn: &Connection,
    db: &Path,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<EventRow>> {
    let rows = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_map(params, |row| {
                let event = EventRow {
                    seq: row.get(0)?,
                    at: row.get(1)?,
                    kind: row.get(2)?,
                    prd_id: row.get(3)?,
                    task_key: row.get(4)?,
                    payload: serde_json::Value::Null,
                };
                Ok((event, row.get::<_, String>(5)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .at(db)?;
    rows.into_iter()
        .map(|(mut event, payload)| {
            event.payload =
                serde_json::from_str(&payload).map_err(|source| StoreError::BadJson {
                    path: db.to_path_buf(),
                    what: format!("the payload of event {}", event.seq),
                    source,
                })?;
            Ok(event)
        })
        .collect()
}

/// Events of one kind, in order.
pub(super) fn of_kind(conn: &Connection, db: &Path, kind: &str) -> Result<Vec<EventRow>> {
    let mut out = Vec::new();
    let mut after_seq = 0;
    loop {
        // Pages through `after` so each payload is parsed the one way.
        let page = after(conn, db, after_seq, 4096)?;
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        out.extend(page.into_iter().filter(|e| e.kind == kind));
    }
    Ok(out)
}

pub(super) fn last_seq(conn: &Connection, db: &Path) -> Result<Seq> {
    conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM events")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .at(db)
}

impl WriteTx<'_> {
    /// Appends an event, stamped with the transaction's time, and returns its sequence number.
    /// It becomes visible to readers when the transaction commits, together with the change it
    /// describes.
    pub fn append_event(
        &self,
        kind: &str,
        prd_id: Option<PrdId>,
        task_key: Option<&str>,
        payload: serde_json::Value,
    ) -> Result<Seq> {
        self.tx
            .prepare_cached(
                "INSERT INTO events (at, kind, prd_id, task_key, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    self.now,
                    kind,
                    prd_id,
                    task_key,
                    payload.to_string()
                ])
            })
            .at(self.path)?;
        Ok(self.tx.last_insert_rowid())
    }
}
