//! The read side, shared by [`Reader`](super::Reader), [`ReadTx`](super::ReadTx) and
//! [`WriteTx`](super::WriteTx) (which sees its own uncommitted changes).

use super::error::Result;
use super::types::{EventRow, PrdId, PrdRow, Seq, TaskRow};
use super::{events, prds, tasks};

pub(crate) mod sealed {
    use std::path::Path;

    use rusqlite::Connection;

    /// Not nameable outside the store: only the store's types implement [`super::Queries`].
    pub trait Db {
        fn conn(&self) -> &Connection;
        fn db_path(&self) -> &Path;
    }
}

/// Reads. Bring it into scope with `use tdd_engine::store::Queries`.
pub trait Queries: sealed::Db {
    /// The PRD stored under `path`, exactly as it was given to `upsert_prd`.
    fn prd(&self, path: &str) -> Result<Option<PrdRow>> {
        prds::by_path(self.conn(), self.db_path(), path)
    }

    /// Every PRD, ordered by path.
    fn prds(&self) -> Result<Vec<PrdRow>> {
        prds::all(self.conn(), self.db_path())
    }

    /// The PRD's tasks, ordered by key.
    fn tasks(&self, prd_id: PrdId) -> Result<Vec<TaskRow>> {
        tasks::by_prd(self.conn(), self.db_path(), prd_id)
    }

    fn task(&self, prd_id: PrdId, key: &str) -> Result<Option<TaskRow>> {
        tasks::by_key(self.conn(), self.db_path(), prd_id, key)
    }

    /// The PRD's dependency edges as `(task key, key of the task it depends on)`, sorted.
    fn deps(&self, prd_id: PrdId) -> Result<Vec<(String, String)>> {
        tasks::deps(self.conn(), self.db_path(), prd_id)
    }

    /// Up to `limit` events with `seq > after`, in order. Start from 0.
    fn events_after(&self, after: Seq, limit: usize) -> Result<Vec<EventRow>> {
        events::after(self.conn(), self.db_path(), after, limit)
    }

    /// The newest event's `seq`, 0 when the log is empty.
    fn last_seq(&self) -> Result<Seq> {
        events::last_seq(self.conn(), self.db_path())
    }
}
