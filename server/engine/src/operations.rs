//! What an operator does by hand to a project's stored tasks and circuit
//! breakers: retry a task, skip it, and read, reset or isolate breakers.
//!
//! Every change is one store transaction that appends its event (`task.retry`,
//! `task.skipped`, `breaker_transition`), like any other write. A task that a
//! live run is working on is never touched: its claim belongs to that run.
//! What a run does with the statuses set here is [`crate::execution`]'s rule:
//! `pending` runs, `cancelled` counts as finished for the tasks that depend on
//! it, and `blocked` is recomputed from failed tasks at each run's start.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::events::Event;
use tdd_core::breaker::{Scope, State, Transition, split_stage_name};

use crate::breakers::{self, BreakerError};
use crate::execution;
use crate::git::{GitError, Project};
use crate::planning;
use crate::project::{self, ProjectError};
use crate::store::breakers::{BreakerRow, BreakerTransitionRow};
use crate::store::{PrdRow, Queries, Reader, Seq, Store, StoreError, TaskRow, TaskStatus, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(
        "nothing has been decomposed in this project yet: run `tdd-orchestrator decompose <prd>` first"
    )]
    NoStore,
    #[error("{prd} has not been decomposed: run `tdd-orchestrator decompose {prd}` first")]
    UnknownPrd { prd: String },
    #[error("no task `{key}`{within}: `tdd-orchestrator tasks list` shows the keys")]
    NoSuchTask { key: String, within: String },
    #[error("`{key}` is a task of several PRDs ({prds}): name one with --prd <file>")]
    Ambiguous { key: String, prds: String },
    #[error(
        "there is no {scope} breaker named {name:?}: `tdd-orchestrator circuits status` lists the stored ones"
    )]
    UnknownBreaker { scope: Scope, name: String },
    /// The operation does not apply to the task as it is; the text says why and what to do.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Breaker(BreakerError),
}

impl OpError {
    /// A refusal or a name that matches nothing (the operator can fix the
    /// request), as opposed to something that could not run.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            OpError::NoStore
                | OpError::UnknownPrd { .. }
                | OpError::NoSuchTask { .. }
                | OpError::Ambiguous { .. }
                | OpError::UnknownBreaker { .. }
                | OpError::Refused(_)
        )
    }
}

impl From<BreakerError> for OpError {
    fn from(err: BreakerError) -> Self {
        match err {
            BreakerError::Unknown { scope, name, .. } => OpError::UnknownBreaker { scope, name },
            BreakerError::BadName { .. } => OpError::Refused(err.to_string()),
            BreakerError::Store(err) => OpError::Store(err),
            other => OpError::Breaker(other),
        }
    }
}

/// A task and the PRD it belongs to.
#[derive(Debug, Clone)]
pub struct FoundTask {
    pub prd: PrdRow,
    pub task: TaskRow,
}

/// The task with `key` (exact, else ignoring ASCII case), in the PRD at `prd`
/// when given (a path as the user typed it), else in the only PRD that has it.
pub fn find_task(
    db: &impl Queries,
    root: &Path,
    key: &str,
    prd: Option<&Path>,
) -> Result<FoundTask, OpError> {
    let wanted = prd.map(|p| planning::relative_path(root, p));
    let prds: Vec<PrdRow> = db
        .prds()?
        .into_iter()
        .filter(|p| wanted.as_ref().is_none_or(|w| w == &p.path))
        .collect();
    if let Some(prd) = wanted.filter(|_| prds.is_empty()) {
        return Err(OpError::UnknownPrd { prd });
    }
    let mut found = Vec::new();
    for prd in prds {
        let task = match db.task(prd.id, key)? {
            Some(task) => Some(task),
            None => db
                .tasks(prd.id)?
                .into_iter()
                .find(|t| t.key.eq_ignore_ascii_case(key)),
        };
        if let Some(task) = task {
            found.push(FoundTask { prd, task });
        }
    }
    match found.len() {
        0 => Err(OpError::NoSuchTask {
            key: key.to_string(),
            within: prd
                .map(|p| format!(" in {}", planning::relative_path(root, p)))
                .unwrap_or_default(),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(OpError::Ambiguous {
            key: key.to_string(),
            prds: found
                .iter()
                .map(|f| f.prd.path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// What `retry` or `skip` did to a task.
#[derive(Debug, Clone)]
pub struct TaskChange {
    pub prd: String,
    pub key: String,
    pub from: TaskStatus,
    pub to: TaskStatus,
    /// The event appended; `None` when nothing changed.
    pub seq: Option<Seq>,
    /// A claim left by a process that died was dropped with the change.
    pub released_claim: bool,
    /// `retry --fresh`: the worktree that was removed and the branch deleted.
    pub removed_worktree: Option<PathBuf>,
    pub deleted_branch: Option<String>,
    /// `retry`: failed tasks it depends on (directly or not): it stays blocked
    /// until they are retried or skipped.
    pub waits_on_failed: Vec<String>,
    /// `retry`: the task's open stage breakers, which would keep it from running.
    pub open_breakers: Vec<String>,
    /// `skip`: the tasks that depend on it directly.
    pub dependents: Vec<String>,
    /// A run is working in the project: it will not pick the task up.
    pub run_in_progress: bool,
}

/// Puts a `failed`, `blocked`, `cancelled` (or `passed`) task back to
/// `pending` with a `task.retry` event. With `fresh`, also deletes its
/// worktree and task branch first, so it starts over from the feature branch
/// instead of resuming from its stage commits.
pub fn retry(
    root: &Path,
    key: &str,
    prd: Option<&Path>,
    fresh: bool,
) -> Result<TaskChange, OpError> {
    let (mut store, found, live) = open_task(root, key, prd)?;
    check_retry(&store, &found.task, live, fresh)?;
    let (mut removed_worktree, mut deleted_branch) = (None, None);
    if fresh {
        // Before the status changes: if git fails, the task stays as it was
        // and the retry can simply be run again.
        let git = Project::open(root)?;
        let config = project::load_config(root)?;
        let prd_name = execution::prd_name(
            config.project.prefix.as_deref(),
            &root.join(&found.prd.path),
        );
        let path = git.worktree_path(&found.task.key);
        if path.exists() {
            removed_worktree = Some(path);
        }
        git.remove_worktree(&found.task.key)?;
        deleted_branch = git.delete_task_branch(&prd_name, &found.task.key)?;
    }
    store.write(|tx| -> Result<TaskChange, OpError> {
        let task = current(tx, &found)?;
        check_retry_status(tx, &task, live, fresh)?;
        let released_claim = release_dead_claim(tx, &task)?;
        let changed = task.status != TaskStatus::Pending;
        if changed {
            tx.set_task_status(task.id, TaskStatus::Pending)?;
        }
        let seq = if changed || fresh {
            let event = Event::TaskRetried {
                from: task.status.as_str().to_string(),
                fresh,
                worktree_removed: removed_worktree.is_some(),
                branch_deleted: deleted_branch.clone(),
                claim_released: released_claim,
            };
            Some(tx.log(Some(found.prd.id), Some(&task.key), &event)?)
        } else {
            None
        };
        let statuses: HashMap<String, TaskStatus> = tx
            .tasks(found.prd.id)?
            .into_iter()
            .map(|t| (t.key, t.status))
            .collect();
        let deps = tx.deps(found.prd.id)?;
        Ok(TaskChange {
            prd: found.prd.path.clone(),
            key: task.key.clone(),
            from: task.status,
            to: TaskStatus::Pending,
            seq,
            released_claim,
            removed_worktree,
            deleted_branch,
            waits_on_failed: failed_ancestors(&task.key, &deps, &statuses),
            open_breakers: open_stage_breakers(tx, &task.key)?,
            dependents: Vec::new(),
            run_in_progress: live,
        })
    })
}

/// Marks a task that is not done `cancelled` (skipped by the operator: the
/// tasks that depend on it may run) with a `task.skipped` event carrying the
/// reason.
pub fn skip(
    root: &Path,
    key: &str,
    prd: Option<&Path>,
    reason: &str,
) -> Result<TaskChange, OpError> {
    let (mut store, found, live) = open_task(root, key, prd)?;
    store.write(|tx| -> Result<TaskChange, OpError> {
        let task = current(tx, &found)?;
        match task.status {
            TaskStatus::Done => {
                return Err(OpError::Refused(format!(
                    "`{}` is done: there is nothing to skip",
                    task.key
                )));
            }
            TaskStatus::Running if live => return Err(running_refusal(tx, &task, "skip")),
            _ => {}
        }
        let released_claim = release_dead_claim(tx, &task)?;
        let changed = task.status != TaskStatus::Cancelled;
        let seq = if changed {
            tx.set_task_status(task.id, TaskStatus::Cancelled)?;
            let event = Event::TaskSkipped {
                reason: reason.to_string(),
                from: Some(task.status.as_str().to_string()),
                by: Some("operator".to_string()),
            };
            Some(tx.log(Some(found.prd.id), Some(&task.key), &event)?)
        } else {
            None
        };
        let dependents = tx
            .deps(found.prd.id)?
            .into_iter()
            .filter(|(_, dep)| dep == &task.key)
            .map(|(dependent, _)| dependent)
            .collect();
        Ok(TaskChange {
            prd: found.prd.path.clone(),
            key: task.key.clone(),
            from: task.status,
            to: TaskStatus::Cancelled,
            seq,
            released_claim,
            removed_worktree: None,
            deleted_branch: None,
            waits_on_failed: Vec::new(),
            open_breakers: Vec::new(),
            dependents,
            run_in_progress: live,
        })
    })
}

/// The store (for writing), the task, and whether a run is live.
fn open_task(
    root: &Path,
    key: &str,
    prd: Option<&Path>,
) -> Result<(Store, FoundTask, bool), OpError> {
    let db = planning::database_path(root);
    if !db.exists() {
        return Err(OpError::NoStore);
    }
    // Asked before reading: a run that starts right after only sees the
    // change at its next start, which is what the messages say.
    let live = execution::run_in_progress(root);
    let store = Store::open(&db)?;
    let found = store.read(|tx| find_task(tx, root, key, prd))?;
    Ok((store, found, live))
}

/// The task as it is inside the write transaction.
fn current(tx: &WriteTx<'_>, found: &FoundTask) -> Result<TaskRow, OpError> {
    tx.task(found.prd.id, &found.task.key)?
        .ok_or_else(|| OpError::NoSuchTask {
            key: found.task.key.clone(),
            within: format!(" in {}", found.prd.path),
        })
}

fn check_retry(store: &Store, task: &TaskRow, live: bool, fresh: bool) -> Result<(), OpError> {
    store.read(|tx| check_retry_status(tx, task, live, fresh))
}

fn check_retry_status(
    db: &impl Queries,
    task: &TaskRow,
    live: bool,
    fresh: bool,
) -> Result<(), OpError> {
    match task.status {
        TaskStatus::Done => Err(OpError::Refused(format!(
            "`{}` is done: there is nothing to retry",
            task.key
        ))),
        TaskStatus::Running if live => Err(running_refusal(db, task, "retry")),
        // The live run may claim a pending task at any moment: its worktree is not ours to delete.
        TaskStatus::Pending | TaskStatus::Ready if live && fresh => Err(OpError::Refused(format!(
            "`{}` is {} and a run is in progress that may start it at any moment: wait for the run to end (or `tdd-orchestrator cancel` it), then retry --fresh",
            task.key, task.status
        ))),
        _ => Ok(()),
    }
}

fn running_refusal(db: &impl Queries, task: &TaskRow, what: &str) -> OpError {
    let holder = db
        .claims()
        .ok()
        .and_then(|claims| claims.into_iter().find(|c| c.task_id == task.id))
        .map(|c| format!(" in run {} (worker {})", c.run_id, c.worker))
        .unwrap_or_default();
    OpError::Refused(format!(
        "`{}` is running{holder}: wait for it to end, or stop the run with `tdd-orchestrator cancel`, then {what} it",
        task.key
    ))
}

/// A `running` task when no run is live was left by a process that died:
/// its claim goes with the change (the next run would recover it anyway).
fn release_dead_claim(tx: &WriteTx<'_>, task: &TaskRow) -> Result<bool, OpError> {
    if task.status != TaskStatus::Running {
        return Ok(false);
    }
    let held = tx.claims()?.iter().any(|c| c.task_id == task.id);
    if held {
        tx.release_claim(task.id)?;
    }
    Ok(held)
}

/// Failed tasks `key` depends on, through unfinished tasks, sorted.
fn failed_ancestors(
    key: &str,
    deps: &[(String, String)],
    statuses: &HashMap<String, TaskStatus>,
) -> Vec<String> {
    let mut failed = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec![key.to_string()];
    while let Some(current) = todo.pop() {
        for (_, dep) in deps.iter().filter(|(task, _)| task == &current) {
            if !seen.insert(dep.clone()) {
                continue;
            }
            match statuses.get(dep) {
                Some(TaskStatus::Failed) => {
                    failed.insert(dep.clone());
                }
                Some(TaskStatus::Done | TaskStatus::Cancelled) | None => {}
                Some(_) => todo.push(dep.clone()),
            }
        }
    }
    failed.into_iter().collect()
}

/// Names of the task's stage breakers that are not closed.
fn open_stage_breakers(db: &impl Queries, key: &str) -> Result<Vec<String>, OpError> {
    Ok(db
        .breakers()?
        .into_iter()
        .filter(|b| b.scope == Scope::Stage.as_str() && b.state != "closed")
        .filter(|b| split_stage_name(&b.name).is_some_and(|(task, _)| task == key))
        .map(|b| b.name)
        .collect())
}

/// A stored breaker as `circuits status` shows it.
#[derive(Debug, Clone)]
pub struct BreakerStatus {
    pub row: BreakerRow,
    /// "until reset", "until <time>", "2 trials left", or why the state cannot be read.
    pub detail: Option<String>,
    pub last_transition: Option<BreakerTransitionRow>,
}

/// Every stored breaker, ordered by scope and name (none when nothing was stored yet).
pub fn breaker_statuses(root: &Path) -> Result<Vec<BreakerStatus>, OpError> {
    let db = planning::database_path(root);
    if !db.exists() {
        return Ok(Vec::new());
    }
    let reader = Reader::open(&db)?;
    let statuses = reader.read(|tx| -> Result<Vec<BreakerStatus>, StoreError> {
        let mut out = Vec::new();
        for row in tx.breakers()? {
            let last_transition = tx.breaker_transitions(&row.scope, &row.name)?.pop();
            let detail = match breakers::from_row(&db, &row) {
                Ok((_, breaker)) => match breaker.state() {
                    State::Open { until: None } => Some("until reset".to_string()),
                    State::Open { until: Some(at) } => {
                        Some(format!("until {}", breakers::rfc3339(*at)))
                    }
                    State::HalfOpen { trials_left } => Some(format!("{trials_left} trials left")),
                    State::Closed => None,
                },
                Err(err) => Some(err.to_string()),
            };
            out.push(BreakerStatus {
                row,
                detail,
                last_transition,
            });
        }
        Ok(out)
    })?;
    Ok(statuses)
}

/// What a reset or isolate did.
#[derive(Debug, Clone)]
pub struct BreakerChange {
    pub scope: Scope,
    pub name: String,
    /// `None` when the breaker was in that state already.
    pub transition: Option<Transition>,
    pub run_in_progress: bool,
}

/// Closes a stored breaker by hand ([`breakers::reset`]).
pub fn reset_breaker(root: &Path, scope: Scope, name: &str) -> Result<BreakerChange, OpError> {
    let mut store = open_store(root)?;
    let transition = breakers::reset(&mut store, scope, name, breakers::now())?;
    Ok(BreakerChange {
        scope,
        name: name.to_string(),
        transition,
        run_in_progress: execution::run_in_progress(root),
    })
}

/// Opens a breaker by hand until a reset, creating it if needed ([`breakers::isolate`]).
pub fn isolate_breaker(
    root: &Path,
    scope: Scope,
    name: &str,
    reason: &str,
) -> Result<BreakerChange, OpError> {
    let mut store = open_store(root)?;
    let transition = breakers::isolate(&mut store, scope, name, reason, breakers::now())?;
    Ok(BreakerChange {
        scope,
        name: name.to_string(),
        transition,
        run_in_progress: execution::run_in_progress(root),
    })
}

fn open_store(root: &Path) -> Result<Store, OpError> {
    let db = planning::database_path(root);
    if !db.exists() {
        return Err(OpError::NoStore);
    }
    Ok(Store::open(&db)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_ancestors_stop_at_finished_tasks() {
        let deps = [("c", "b"), ("b", "a"), ("c", "d"), ("d", "e")]
            .map(|(t, d)| (t.to_string(), d.to_string()));
        let statuses: HashMap<String, TaskStatus> = [
            ("a", TaskStatus::Failed),
            ("b", TaskStatus::Blocked),
            ("c", TaskStatus::Blocked),
            ("d", TaskStatus::Cancelled),
            ("e", TaskStatus::Failed),
        ]
        .map(|(k, s)| (k.to_string(), s))
        .into_iter()
        .collect();
        // `e` is behind a skipped task: it no longer blocks `c`.
        assert_eq!(failed_ancestors("c", &deps, &statuses), ["a"]);
        assert!(failed_ancestors("a", &deps, &statuses).is_empty());
    }
}
