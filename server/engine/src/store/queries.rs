//! The read side, shared by [`Reader`](super::Reader), [`ReadTx`](super::ReadTx) and
//! [`WriteTx`](super::WriteTx) (which sees its own uncommitted changes).

use super::breakers::{BreakerRow, BreakerTransitionRow};
use super::claims::{ClaimRow, RunRow};
use super::error::Result;
use super::runs::{AttemptRow, RunId};
use super::types::{EventRow, PrdId, PrdRow, Seq, TaskId, TaskRow};
use super::webhooks::DeliveryRow;
use super::{breakers, claims, events, prds, runs, tasks, usage, webhooks};
use tdd_workers::usage::Usage;

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

    /// Every event about the task `key` (of any PRD), in order.
    fn events_of_task(&self, key: &str) -> Result<Vec<EventRow>> {
        events::of_task(self.conn(), self.db_path(), key)
    }

    /// Every event of `kind`, in order.
    fn events_of_kind(&self, kind: &str) -> Result<Vec<EventRow>> {
        events::of_kind(self.conn(), self.db_path(), kind)
    }

    /// The newest event's `seq`, 0 when the log is empty.
    fn last_seq(&self) -> Result<Seq> {
        events::last_seq(self.conn(), self.db_path())
    }

    /// The PRD's newest run, if it ever ran.
    fn latest_run(&self, prd_id: PrdId) -> Result<Option<RunRow>> {
        claims::latest_run(self.conn(), self.db_path(), prd_id)
    }

    fn run(&self, run_id: RunId) -> Result<Option<RunRow>> {
        claims::run(self.conn(), self.db_path(), run_id)
    }

    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<RunRow>> {
        claims::all_runs(self.conn(), self.db_path())
    }

    /// Runs not finished (running, paused, or stopped by a crash), newest first.
    fn unfinished_runs(&self) -> Result<Vec<RunRow>> {
        claims::unfinished_runs(self.conn(), self.db_path())
    }

    /// Every claim on a task, ordered by task key.
    fn claims(&self) -> Result<Vec<ClaimRow>> {
        claims::claims(self.conn(), self.db_path())
    }

    /// A task's attempts over every run, in the order they were recorded.
    fn task_attempts(&self, task_id: TaskId) -> Result<Vec<AttemptRow>> {
        runs::by_task(self.conn(), self.db_path(), task_id)
    }

    /// A run's attempts of one task at one stage, as (attempt number,
    /// failure kind, evidence), in the order they were recorded: what the
    /// pipeline asks before each attempt, without the rows' JSON columns.
    fn stage_attempts(
        &self,
        task_id: TaskId,
        run_id: RunId,
        stage: &str,
    ) -> Result<Vec<(u32, Option<String>, Option<String>)>> {
        runs::of_stage(self.conn(), self.db_path(), task_id, run_id, stage)
    }

    /// The stored transcripts of a task's attempts, by attempt id.
    fn task_transcripts(&self, task_id: TaskId) -> Result<Vec<runs::TranscriptRow>> {
        runs::transcripts_of_task(self.conn(), self.db_path(), task_id)
    }

    /// Every attempt of every task, in the order they were recorded.
    fn all_attempts(&self) -> Result<Vec<AttemptRow>> {
        runs::all(self.conn(), self.db_path())
    }

    /// Merge conflicts a task was re-run after (MERGE attempts that could not
    /// replay the task's commits onto the feature tip).
    fn merge_conflicts(&self) -> Result<u64> {
        runs::count_with_evidence(
            self.conn(),
            self.db_path(),
            "merge",
            crate::pipeline::MERGE_CONFLICT,
        )
    }

    /// The PRD's model usage per run, oldest first (runs that used none are left out).
    fn usage_by_run(&self, prd_id: PrdId) -> Result<Vec<(RunId, Usage)>> {
        usage::by_run(self.conn(), self.db_path(), prd_id)
    }

    /// Every stored circuit breaker, ordered by scope and name.
    fn breakers(&self) -> Result<Vec<BreakerRow>> {
        breakers::all(self.conn(), self.db_path())
    }

    /// The breaker (`scope`, `name`), if it was ever stored.
    fn breaker(&self, scope: &str, name: &str) -> Result<Option<BreakerRow>> {
        breakers::one(self.conn(), self.db_path(), scope, name)
    }

    /// Every breaker's transitions, oldest first.
    fn all_breaker_transitions(&self) -> Result<Vec<BreakerTransitionRow>> {
        breakers::all_transitions(self.conn(), self.db_path())
    }

    /// The breaker's transitions, oldest first.
    fn breaker_transitions(&self, scope: &str, name: &str) -> Result<Vec<BreakerTransitionRow>> {
        breakers::transitions(self.conn(), self.db_path(), scope, name)
    }

    /// The last event handled for the webhook receiver `hook`.
    fn webhook_cursor(&self, hook: &str) -> Result<Option<Seq>> {
        webhooks::cursor(self.conn(), self.db_path(), hook)
    }

    /// The newest `limit` delivery attempts, newest first.
    fn webhook_deliveries(&self, limit: usize) -> Result<Vec<DeliveryRow>> {
        webhooks::deliveries(self.conn(), self.db_path(), limit)
    }
}
