//! Schema migrations: embedded SQL, numbered from 1, recorded in `PRAGMA user_version`.
//!
//! A migration is never edited once released; a change to the schema is a new file at the end
//! of [`MIGRATIONS`]. Each one runs in its own `BEGIN IMMEDIATE` transaction together with the
//! `user_version` bump, so a crash leaves the database at the previous version, never between.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::error::{At, Result, StoreError};

struct Migration {
    version: u32,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/0001_plan.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/0002_execution.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/0003_claims.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/0004_usage.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/0005_webhooks.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/0006_transcripts.sql"),
    },
];

/// The schema version this binary writes and reads.
pub const LATEST_VERSION: u32 = MIGRATIONS.len() as u32;

pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// True when the schema holds objects of its own (tables, views …).
pub(crate) fn has_objects(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%')",
        [],
        |row| row.get(0),
    )
}

/// Brings the database up to `target` (at most [`LATEST_VERSION`]).
pub(crate) fn migrate(conn: &Connection, path: &Path, target: u32) -> Result<()> {
    for migration in MIGRATIONS.iter().filter(|m| m.version <= target) {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).at(path)?;
        // Read again under the write lock: another process may have upgraded meanwhile.
        let current = user_version(&tx).at(path)?;
        if current > LATEST_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: current,
                supported: LATEST_VERSION,
            });
        }
        if current >= migration.version {
            continue;
        }
        let failed = |source| StoreError::Migration {
            path: path.to_path_buf(),
            version: migration.version,
            previous: current,
            source,
        };
        tx.execute_batch(migration.sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", migration.version)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(())
}

/// Applies the migrations up to `version` (capped at [`LATEST_VERSION`]) on a raw connection.
/// For tests that need a database as an older binary left it.
#[doc(hidden)]
pub fn migrate_to(conn: &Connection, version: u32) -> Result<()> {
    let path = PathBuf::from(conn.path().unwrap_or(":memory:"));
    migrate(conn, &path, version.min(LATEST_VERSION))
}
