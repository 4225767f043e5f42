//! The part of a PRD's stored plan a run still has to do.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tdd_core::plan::{Task, TaskGraph};

use crate::store::{TaskId, TaskRow, TaskStatus};

use super::ExecError;

/// What a run starts from.
#[derive(Debug)]
pub(super) struct Remaining {
    /// The tasks to run, in dependency order, with dependencies on finished
    /// tasks dropped.
    pub graph: TaskGraph,
    /// Tasks that cannot run because a task they depend on failed: (task, the
    /// failed task).
    pub blocked: Vec<(TaskId, String)>,
    /// Tasks finished before this run (merged, or skipped by the operator).
    pub finished: usize,
    /// Tasks that failed before this run and were not retried, by key.
    pub failed: Vec<String>,
    /// Store ids by task key, for every task of the PRD.
    pub ids: HashMap<String, TaskId>,
}

/// Whether a task counts as done for the tasks that depend on it.
pub(super) fn finished(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Done | TaskStatus::Cancelled)
}

/// Splits the PRD's tasks into finished, blocked (by a failed task) and to
/// run, the latter as a graph ordered by wave, then key.
pub(super) fn remaining(rows: &[TaskRow]) -> Result<Remaining, ExecError> {
    let mut tasks: BTreeMap<String, (TaskStatus, Task)> = BTreeMap::new();
    let mut ids = HashMap::new();
    for row in rows {
        let task: Task =
            serde_json::from_value(row.spec.clone()).map_err(|e| ExecError::BadTask {
                key: row.key.clone(),
                reason: e.to_string(),
            })?;
        ids.insert(row.key.clone(), row.id);
        tasks.insert(row.key.clone(), (row.status, task));
    }
    let finished_count = tasks.values().filter(|(s, _)| finished(*s)).count();

    // The failed task each unfinished task waits on, if any (transitively).
    let mut blocker: HashMap<String, Option<String>> = HashMap::new();
    fn blocked_by(
        key: &str,
        tasks: &BTreeMap<String, (TaskStatus, Task)>,
        memo: &mut HashMap<String, Option<String>>,
        depth: usize,
    ) -> Option<String> {
        if let Some(known) = memo.get(key) {
            return known.clone();
        }
        let found = match tasks.get(key) {
            None => None,
            Some((TaskStatus::Failed, _)) => Some(key.to_string()),
            Some((status, _)) if finished(*status) => None,
            // The plan is acyclic (decompose checks it); the bound guards a hand-edited store.
            Some(_) if depth > tasks.len() => None,
            Some((_, task)) => task
                .depends_on
                .iter()
                .find_map(|d| blocked_by(d, tasks, memo, depth + 1)),
        };
        memo.insert(key.to_string(), found.clone());
        found
    }

    let mut blocked = Vec::new();
    let mut failed = Vec::new();
    let mut todo: BTreeMap<String, Task> = BTreeMap::new();
    for (key, (status, task)) in &tasks {
        if *status == TaskStatus::Failed {
            failed.push(key.clone());
        }
        if finished(*status) || *status == TaskStatus::Failed {
            continue;
        }
        match blocked_by(key, &tasks, &mut blocker, 0) {
            Some(by) => blocked.push((ids[key], by)),
            None => {
                let mut task = task.clone();
                task.depends_on
                    .retain(|d| !tasks.get(d).is_some_and(|(s, _)| finished(*s)));
                todo.insert(key.clone(), task);
            }
        }
    }
    let graph = ordered(todo);
    Ok(Remaining {
        graph,
        blocked,
        finished: finished_count,
        failed,
        ids,
    })
}

/// Only the tasks of `requirement`, with the unfinished tasks they depend
/// on (which must run first).
pub(super) fn only_requirement(graph: TaskGraph, requirement: &str) -> TaskGraph {
    let by_key: BTreeMap<String, Task> = graph
        .tasks
        .into_iter()
        .map(|t| (t.key.clone(), t))
        .collect();
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = by_key
        .values()
        .filter(|t| t.requirement.as_deref() == Some(requirement))
        .map(|t| t.key.clone())
        .collect();
    while let Some(key) = stack.pop() {
        if !keep.insert(key.clone()) {
            continue;
        }
        if let Some(task) = by_key.get(&key) {
            stack.extend(
                task.depends_on
                    .iter()
                    .filter(|d| by_key.contains_key(*d))
                    .cloned(),
            );
        }
    }
    ordered(
        by_key
            .into_iter()
            .filter(|(k, _)| keep.contains(k))
            .collect(),
    )
}

/// Kahn's algorithm, one wave at a time, keys in order within a wave. A
/// dependency outside `todo` is kept (the scheduler reports it).
fn ordered(mut todo: BTreeMap<String, Task>) -> TaskGraph {
    let keys: BTreeSet<String> = todo.keys().cloned().collect();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut tasks = Vec::new();
    let mut waves = Vec::new();
    while !todo.is_empty() {
        let wave: Vec<String> = todo
            .iter()
            .filter(|(_, t)| {
                t.depends_on
                    .iter()
                    .all(|d| placed.contains(d) || !keys.contains(d))
            })
            .map(|(k, _)| k.clone())
            .collect();
        // A cycle (never from decompose): put the rest in one last wave.
        let wave = if wave.is_empty() {
            todo.keys().cloned().collect()
        } else {
            wave
        };
        for key in &wave {
            if let Some(task) = todo.remove(key) {
                tasks.push(task);
            }
            placed.insert(key.clone());
        }
        waves.push(wave);
    }
    TaskGraph {
        prd_id: None,
        prd_title: None,
        tasks,
        waves,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tdd_core::plan::Task;

    use super::{only_requirement, ordered};

    fn task(key: &str, requirement: &str, depends_on: &[&str]) -> (String, Task) {
        let mut task = Task::implementing(key, key, "t.py", "m.py");
        task.requirement = Some(requirement.to_string());
        task.depends_on = depends_on.iter().map(|d| d.to_string()).collect();
        (key.to_string(), task)
    }

    #[test]
    fn one_requirement_keeps_what_it_depends_on_and_nothing_else() {
        let graph = ordered(BTreeMap::from([
            task("REQ-1/AC-1.1", "REQ-1", &[]),
            task("REQ-1/AC-1.2", "REQ-1", &[]),
            task("REQ-2/AC-2.1", "REQ-2", &["REQ-1/AC-1.1"]),
            task("REQ-2/AC-2.2", "REQ-2", &["REQ-2/AC-2.1", "REQ-0/done"]),
            task("REQ-3/AC-3.1", "REQ-3", &[]),
        ]));
        let only = only_requirement(graph.clone(), "REQ-2");
        assert_eq!(
            only.waves,
            [
                vec!["REQ-1/AC-1.1".to_string()],
                vec!["REQ-2/AC-2.1".to_string()],
                vec!["REQ-2/AC-2.2".to_string()],
            ]
        );
        assert!(only_requirement(graph, "REQ-9").tasks.is_empty());
    }
}
