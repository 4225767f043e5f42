//! The project database, `.tdd/orchestrator.db` (SQLite, WAL).
//!
//! Invariants:
//! - One writer. [`Store`] owns the only write connection; every change goes through
//!   [`Store::write`], one `BEGIN IMMEDIATE` transaction per call. The events that describe a
//!   change are appended with [`WriteTx::append_event`] in that same transaction, so the log
//!   and the state never disagree, even after a crash.
//! - The event log is append-only: `seq` runs 1, 2, 3 … without holes, and every consumer
//!   (terminal, LSP, a second process) reads it with [`Queries::events_after`].
//! - Readers use their own connections ([`Store::reader`], [`Reader::open`]) and never block
//!   the writer nor see a half-written transaction.
//! - The schema is versioned in `PRAGMA user_version` and migrated on open; a database newer
//!   than the binary is refused without being touched.
//! - No secrets: there is no column for keys or tokens, keep it that way.

pub mod breakers;
pub mod claims;
mod error;
mod events;
mod migrations;
mod prds;
mod queries;
pub mod runs;
mod tasks;
mod types;
pub mod usage;
pub mod webhooks;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use error::At;
pub use error::{Result, StoreError};
pub use migrations::{LATEST_VERSION, migrate_to};
pub use queries::Queries;
pub use types::{
    EventRow, NewTask, PrdId, PrdRow, Seq, TaskId, TaskRow, TaskStatus, UnknownStatus,
};

/// Where the database lives inside `.tdd/`.
pub const DB_FILE: &str = "orchestrator.db";

/// How long a connection waits for another one's lock before giving up with [`StoreError::Busy`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite's own clock, formatted as RFC 3339 UTC with milliseconds.
const SQL_NOW: &str = "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

type Clock = Box<dyn Fn() -> String + Send>;

/// The single writer of a project database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    clock: Option<Clock>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating it and its parent directories if needed) and migrates the database.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT).at(&path)?;

        // Look before changing anything: a foreign or too new file must stay as it is, and
        // switching to WAL rewrites the header.
        let found = migrations::user_version(&conn).at(&path)?;
        if found > LATEST_VERSION {
            return Err(StoreError::TooNew {
                path,
                found,
                supported: LATEST_VERSION,
            });
        }
        // Tables with version 0 is someone else's database, unless another of
        // our processes committed its first migration between the two reads
        // (tables and version commit together): read the version again.
        if found == 0
            && migrations::has_objects(&conn).at(&path)?
            && migrations::user_version(&conn).at(&path)? == 0
        {
            return Err(StoreError::Foreign { path });
        }

        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .at(&path)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal { path, mode });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .at(&path)?;
        conn.pragma_update(None, "foreign_keys", true).at(&path)?;
        migrations::migrate(&conn, &path, LATEST_VERSION)?;
        Ok(Store {
            conn,
            path,
            clock: None,
        })
    }

    /// Timestamps come from `clock` (UTC RFC 3339 text) instead of SQLite's clock.
    pub fn with_clock(mut self, clock: impl Fn() -> String + Send + 'static) -> Store {
        self.clock = Some(Box::new(clock));
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: committed if `f` returns `Ok`, rolled back
    /// if it returns `Err` (or panics).
    pub fn write<T, E>(&mut self, f: impl FnOnce(&WriteTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&self.path)?;
        let now = match &self.clock {
            Some(clock) => clock(),
            None => tx.query_row(SQL_NOW, [], |row| row.get(0)).at(&self.path)?,
        };
        let write = WriteTx {
            tx,
            path: &self.path,
            now,
        };
        let value = f(&write)?;
        write.tx.commit().at(&self.path)?;
        Ok(value)
    }

    /// Runs `f` on one consistent snapshot, on the write connection.
    pub fn read<T, E>(&self, f: impl FnOnce(&ReadTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        read_tx(&self.conn, &self.path, f)
    }

    /// A new read-only connection to the same database, for another thread.
    pub fn reader(&self) -> Result<Reader> {
        Reader::open(&self.path)
    }
}

/// A read-only connection (`PRAGMA query_only`). Each [`Queries`] call on it is its own
/// snapshot; use [`Reader::read`] to make several calls on one snapshot.
pub struct Reader {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("path", &self.path).finish()
    }
}

impl Reader {
    /// Opens an existing database for reading, from this process or another one.
    pub fn open(path: impl AsRef<Path>) -> Result<Reader> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(StoreError::Missing { path });
        }
        // Read-write at the file level so WAL's shared memory works whoever else has the file
        // open; `query_only` makes the connection refuse every write.
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT).at(&path)?;
        conn.pragma_update(None, "query_only", true).at(&path)?;
        let found = migrations::user_version(&conn).at(&path)?;
        if found > LATEST_VERSION {
            return Err(StoreError::TooNew {
                path,
                found,
                supported: LATEST_VERSION,
            });
        }
        if found < LATEST_VERSION {
            if found == 0 && migrations::has_objects(&conn).at(&path)? {
                return Err(StoreError::Foreign { path });
            }
            return Err(StoreError::Outdated {
                path,
                found,
                supported: LATEST_VERSION,
            });
        }
        Ok(Reader { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on one consistent snapshot.
    pub fn read<T, E>(&self, f: impl FnOnce(&ReadTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        read_tx(&self.conn, &self.path, f)
    }
}

fn read_tx<T, E>(
    conn: &Connection,
    path: &Path,
    f: impl FnOnce(&ReadTx<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred).at(path)?;
    let read = ReadTx { tx, path };
    let value = f(&read)?;
    read.tx.commit().at(path)?;
    Ok(value)
}

/// One write transaction; see [`Store::write`].
pub struct WriteTx<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
    now: String,
}

impl WriteTx<'_> {
    /// The transaction's timestamp: every row it stamps gets this one.
    pub fn now(&self) -> &str {
        &self.now
    }
}

/// One read snapshot; see [`Reader::read`] and [`Store::read`].
pub struct ReadTx<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
}

impl queries::sealed::Db for WriteTx<'_> {
    fn conn(&self) -> &Connection {
        &self.tx
    }
    fn db_path(&self) -> &Path {
        self.path
    }
}

impl queries::sealed::Db for ReadTx<'_> {
    fn conn(&self) -> &Connection {
        &self.tx
    }
    fn db_path(&self) -> &Path {
        self.path
    }
}

impl queries::sealed::Db for Reader {
    fn conn(&self) -> &Connection {
        &self.conn
    }
    fn db_path(&self) -> &Path {
        &self.path
    }
}

impl Queries for WriteTx<'_> {}
impl Queries for ReadTx<'_> {}
impl Queries for Reader {}
