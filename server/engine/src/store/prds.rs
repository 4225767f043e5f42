//! PRDs: one row per PRD file.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::WriteTx;
use super::error::{At, Result, StoreError};
use super::types::{PrdId, PrdRow};

const COLUMNS: &str = "id, path, content_hash, format, decomposed_at, decomposed_hash";

fn row(row: &Row<'_>) -> rusqlite::Result<PrdRow> {
    Ok(PrdRow {
        id: row.get(0)?,
        path: row.get(1)?,
        content_hash: row.get(2)?,
        format: row.get(3)?,
        decomposed_at: row.get(4)?,
        decomposed_hash: row.get(5)?,
    })
}

pub(super) fn by_path(conn: &Connection, db: &Path, path: &str) -> Result<Option<PrdRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM prds WHERE path = ?1"))
        .and_then(|mut stmt| stmt.query_row([path], row).optional())
        .at(db)
}

pub(super) fn all(conn: &Connection, db: &Path) -> Result<Vec<PrdRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM prds ORDER BY path"))
        .and_then(|mut stmt| stmt.query_map([], row)?.collect())
        .at(db)
}

impl WriteTx<'_> {
    /// Records the PRD at `path` (new, or with a new hash or format) and returns its id.
    pub fn upsert_prd(&self, path: &str, content_hash: &str, format: &str) -> Result<PrdId> {
        self.tx
            .prepare_cached(
                "INSERT INTO prds (path, content_hash, format) VALUES (?1, ?2, ?3)
                 ON CONFLICT (path) DO UPDATE
                 SET content_hash = excluded.content_hash, format = excluded.format
                 RETURNING id",
            )
            .and_then(|mut stmt| stmt.query_row(params![path, content_hash, format], |r| r.get(0)))
            .at(self.path)
    }

    /// The PRD was decomposed at this transaction's time from the content with `hash`.
    pub fn mark_decomposed(&self, prd_id: PrdId, hash: &str) -> Result<()> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE prds SET decomposed_at = ?2, decomposed_hash = ?3 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![prd_id, self.now, hash]))
            .at(self.path)?;
        self.expect_row(changed, "PRD", prd_id.0)
    }

    /// Deletes the PRD with its tasks, dependencies, runs and attempts (not its events: the log
    /// is append-only).
    pub fn delete_prd(&self, prd_id: PrdId) -> Result<()> {
        let changed = self
            .tx
            .execute("DELETE FROM prds WHERE id = ?1", [prd_id])
            .at(self.path)?;
        self.expect_row(changed, "PRD", prd_id.0)
    }

    pub(super) fn expect_row(&self, changed: usize, what: &'static str, id: i64) -> Result<()> {
        if changed == 0 {
            return Err(StoreError::NotFound {
                path: self.path.to_path_buf(),
                what,
                id,
            });
        }
        Ok(())
    }
}
