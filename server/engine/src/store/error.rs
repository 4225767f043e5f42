//! `StoreError`: every variant names the database file and says what to do.

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the directory {path} for the database: {source}")]
    CreateDir { path: PathBuf, source: io::Error },

    #[error("no database at {path}; it is created the first time the engine runs in this project")]
    Missing { path: PathBuf },

    #[error(
        "cannot open the database {path}: {source}; check that the file and its directory are readable and writable"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error(
        "{path}: SQLite refused write-ahead logging (the journal mode stayed {mode:?}); keep the project on a local file system, WAL does not work on network shares"
    )]
    NoWal { path: PathBuf, mode: String },

    #[error(
        "{path} is not an SQLite database, or it is damaged; move it aside and tdd-orchestrator will create a fresh one"
    )]
    NotADatabase { path: PathBuf },

    #[error(
        "{path} is damaged ({detail}); move it aside and tdd-orchestrator will create a fresh one, or restore a backup"
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "{path} is an SQLite database that tdd-orchestrator did not create (it has tables but no schema version); it was not touched, move it aside or point tdd-orchestrator at another project"
    )]
    Foreign { path: PathBuf },

    #[error(
        "{path} has schema version {found}, but this tdd-orchestrator supports up to version {supported}: upgrade tdd-orchestrator; the database was not touched"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error(
        "{path} has schema version {found}, older than this tdd-orchestrator's {supported}; open the project once with the engine (it upgrades the database on start), then read it again"
    )]
    Outdated {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error(
        "upgrading {path} to schema version {version} failed: {source}; the database was left at version {previous}"
    )]
    Migration {
        path: PathBuf,
        version: u32,
        previous: u32,
        source: rusqlite::Error,
    },

    #[error(
        "{path} stayed locked by another process for longer than the busy timeout; check for a stuck tdd-orchestrator process and try again"
    )]
    Busy { path: PathBuf },

    #[error("{path}: no {what} with id {id}")]
    NotFound {
        path: PathBuf,
        what: &'static str,
        id: i64,
    },

    #[error(
        "{path}: {what} holds {value:?}, which this tdd-orchestrator does not understand; was the database edited by hand or by a newer version?"
    )]
    BadValue {
        path: PathBuf,
        what: String,
        value: String,
    },

    #[error("{path}: {what} is not valid JSON ({source}); was the database edited by hand?")]
    BadJson {
        path: PathBuf,
        what: String,
        source: serde_json::Error,
    },

    #[error("{path}: database error: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Classifies a rusqlite error met while using the database at `path`.
    pub(crate) fn sql(path: &Path, source: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path,
                detail: source.to_string(),
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy { path },
            _ => StoreError::Sql { path, source },
        }
    }

    /// True for `SQLITE_BUSY` / `SQLITE_LOCKED` after the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy { .. })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches the database path to rusqlite results.
pub(crate) trait At<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> At<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|err| StoreError::sql(path, err))
    }
}
