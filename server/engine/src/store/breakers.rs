//! Circuit breakers: one row per breaker (its whole state as JSON in `data`) and the history of
//! their transitions. The state machines are `tdd_core::breaker`; `crate::breakers` ties the two.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::WriteTx;
use super::error::{At, Result, StoreError};

/// A breaker as stored. `scope` is `stage`, `worker` or `system`; `state` is `closed`, `open` or
/// `half_open`.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerRow {
    pub scope: String,
    pub name: String,
    pub state: String,
    pub failures: u32,
    /// UTC, RFC 3339; when the breaker last opened (`None` when closed).
    pub opened_at: Option<String>,
    /// Everything the state machine needs to carry on.
    pub data: Option<serde_json::Value>,
}

/// One state change of a breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerTransitionRow {
    pub id: i64,
    pub scope: String,
    pub name: String,
    pub from_state: String,
    pub to_state: String,
    /// UTC, RFC 3339.
    pub at: String,
    pub reason: Option<String>,
}

const COLUMNS: &str = "scope, name, state, failures, opened_at, data";

/// A row as SQLite has it; `data` is checked when parsed.
fn raw(row: &Row<'_>) -> rusqlite::Result<(BreakerRow, Option<String>)> {
    Ok((
        BreakerRow {
            scope: row.get(0)?,
            name: row.get(1)?,
            state: row.get(2)?,
            failures: row.get(3)?,
            opened_at: row.get(4)?,
            data: None,
        },
        row.get(5)?,
    ))
}

fn parse(db: &Path, (mut row, data): (BreakerRow, Option<String>)) -> Result<BreakerRow> {
    if let Some(data) = data {
        row.data = Some(
            serde_json::from_str(&data).map_err(|source| StoreError::BadJson {
                path: db.to_path_buf(),
                what: format!("the data of the {} breaker {:?}", row.scope, row.name),
                source,
            })?,
        );
    }
    Ok(row)
}

pub(super) fn all(conn: &Connection, db: &Path) -> Result<Vec<BreakerRow>> {
    let raws = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM breakers ORDER BY scope, name"
        ))
        .and_then(|mut stmt| {
            stmt.query_map([], raw)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .at(db)?;
    raws.into_iter().map(|raw| parse(db, raw)).collect()
}

pub(super) fn one(
    conn: &Connection,
    db: &Path,
    scope: &str,
    name: &str,
) -> Result<Option<BreakerRow>> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM breakers WHERE scope = ?1 AND name = ?2"
        ))
        .and_then(|mut stmt| stmt.query_row([scope, name], raw).optional())
        .at(db)?;
    raw.map(|raw| parse(db, raw)).transpose()
}

const TRANSITION_SELECT: &str =
    "SELECT id, scope, name, from_state, to_state, at, reason FROM breaker_transitions";

fn transition_row(row: &Row<'_>) -> rusqlite::Result<BreakerTransitionRow> {
    Ok(BreakerTransitionRow {
        id: row.get(0)?,
        scope: row.get(1)?,
        name: row.get(2)?,
        from_state: row.get(3)?,
        to_state: row.get(4)?,
        at: row.get(5)?,
        reason: row.get(6)?,
    })
}

pub(super) fn transitions(
    conn: &Connection,
    db: &Path,
    scope: &str,
    name: &str,
) -> Result<Vec<BreakerTransitionRow>> {
    conn.prepare_cached(&format!(
        "{TRANSITION_SELECT} WHERE scope = ?1 AND name = ?2 ORDER BY id"
    ))
    .and_then(|mut stmt| stmt.query_map([scope, name], transition_row)?.collect())
    .at(db)
}

pub(super) fn all_transitions(conn: &Connection, db: &Path) -> Result<Vec<BreakerTransitionRow>> {
    conn.prepare_cached(&format!("{TRANSITION_SELECT} ORDER BY id"))
        .and_then(|mut stmt| stmt.query_map([], transition_row)?.collect())
        .at(db)
}

impl WriteTx<'_> {
    /// Inserts or replaces the breaker (`scope`, `name`). `state` must be `closed`, `open` or
    /// `half_open` and `scope` `stage`, `worker` or `system` (the schema refuses anything else).
    pub fn save_breaker(
        &self,
        scope: &str,
        name: &str,
        state: &str,
        failures: u32,
        opened_at: Option<&str>,
        data: Option<&serde_json::Value>,
    ) -> Result<()> {
        let data = data.map(serde_json::Value::to_string);
        self.tx
            .prepare_cached(
                "INSERT INTO breakers (scope, name, state, failures, opened_at, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (scope, name) DO UPDATE
                 SET state = excluded.state, failures = excluded.failures,
                     opened_at = excluded.opened_at, data = excluded.data",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![scope, name, state, failures, opened_at, data])
            })
            .at(self.path)?;
        Ok(())
    }

    /// Records a transition of the breaker (`scope`, `name`), stamped with the transaction's
    /// time, and returns its id. The caller appends the matching event in the same transaction.
    pub fn record_breaker_transition(
        &self,
        scope: &str,
        name: &str,
        from: &str,
        to: &str,
        reason: &str,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO breaker_transitions (scope, name, from_state, to_state, at, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut stmt| stmt.execute(params![scope, name, from, to, self.now, reason]))
            .at(self.path)?;
        Ok(self.tx.last_insert_rowid())
    }
}
