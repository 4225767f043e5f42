//! The whole state of a project at one sequence number.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tdd_core::analysis::{Options, analyze};
use tdd_core::breaker::State;
use tdd_core::diagnostic::Severity;
use tdd_core::plan::text_hash;

use super::ViewError;
use crate::breakers::{from_row, rfc3339};
use crate::store::runs::AttemptRow;
use crate::store::{Queries, Reader, Seq, TaskRow};
use tdd_workers::usage::Usage;

/// A project's state as of `last_seq`: apply the events after it to stay
/// current.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    /// The newest event this snapshot includes (0: none yet).
    pub last_seq: Seq,
    pub prds: Vec<PrdView>,
    /// Ordered by PRD, then key.
    pub tasks: Vec<TaskView>,
    /// Oldest first.
    pub runs: Vec<RunView>,
    pub workers: Vec<WorkerView>,
    /// Every stored breaker; one never stored is closed.
    pub breakers: Vec<BreakerView>,
    /// Model use over every run of every PRD.
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PrdView {
    /// Relative to the project root.
    pub path: String,
    pub title: Option<String>,
    pub format: String,
    pub decomposed_at: Option<String>,
    /// The file changed since it was last decomposed; `None` when it can no
    /// longer be read.
    pub changed_since_decomposed: Option<bool>,
    /// What validating the file finds now; `None` when it can no longer be
    /// read.
    pub validation: Option<Validation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Validation {
    pub errors: usize,
    pub warnings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskView {
    pub prd: String,
    pub key: String,
    pub title: String,
    /// `test`, `setup`, …
    pub kind: String,
    pub requirement: Option<String>,
    pub criteria: Vec<String>,
    /// 0 for a task with no dependencies, else one more than its deepest
    /// dependency's.
    pub wave: u32,
    pub depends_on: Vec<String>,
    /// The files the task may write.
    pub files: Vec<String>,
    /// `pending`, `ready`, `running`, `passed`, `failed`, `blocked`,
    /// `cancelled` or `done`.
    pub state: String,
    /// The stage of its newest attempt.
    pub stage: Option<String>,
    /// Stage attempts over every run.
    pub attempts: u32,
    /// The worker holding it now, else the one of its newest attempt.
    pub worker: Option<String>,
    /// Why its newest attempt failed, when it did.
    pub last_failure: Option<String>,
    /// The PRD changed after it was done.
    pub prd_changed_since_done: bool,
    pub usage: Option<Usage>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunView {
    pub id: i64,
    pub prd: String,
    /// `running`, `paused`, or how it ended (`completed`, `failed`,
    /// `cancelled`, `budget`, `interrupted`).
    pub status: String,
    /// What an operator asked of it: `pause` or `cancel`.
    pub control: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub heartbeat_at: Option<String>,
    /// Attempts recorded in this run, and of those how many passed.
    pub attempts: u32,
    pub passed: u32,
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkerView {
    /// `w1`, `w2`, … as the run named them.
    pub id: String,
    /// The configured kind (`api`, `claude_code`, …), when configured.
    pub kind: Option<String>,
    /// The task it holds now.
    pub task: Option<String>,
    pub stages_passed: u32,
    pub stages_failed: u32,
    pub last_heartbeat: Option<String>,
    /// Its worker breaker's state, when one was ever stored.
    pub breaker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BreakerView {
    /// `stage`, `worker` or `system`.
    pub scope: String,
    /// `<task>:<stage>` for a stage breaker, the worker's id, or `system`.
    pub name: String,
    /// `closed`, `open` or `half_open`.
    pub state: String,
    pub failures: u32,
    pub opened_at: Option<String>,
    /// Open: when the next trial may start (`None`: after a manual reset).
    pub next_trial: Option<String>,
    /// Half-open: trials left.
    pub trials_left: Option<u32>,
    pub reason: Option<String>,
}

/// Reads the project's state in one read transaction. `root` is where the
/// PRD paths are relative to.
pub fn snapshot(reader: &Reader, root: &Path) -> Result<Snapshot, ViewError> {
    let worker_kind = crate::project::load_config(root)
        .ok()
        .and_then(|c| c.worker.kind)
        .and_then(|k| serde_json::to_value(k).ok())
        .and_then(|v| v.as_str().map(str::to_string));
    reader.read(|tx| {
        let last_seq = tx.last_seq()?;
        let attempts = tx.all_attempts()?;
        let claims = tx.claims()?;
        let mut by_task: HashMap<i64, Vec<&AttemptRow>> = HashMap::new();
        for attempt in &attempts {
            by_task.entry(attempt.task_id.0).or_default().push(attempt);
        }
        let held: HashMap<i64, &str> = claims
            .iter()
            .map(|c| (c.task_id.0, c.worker.as_str()))
            .collect();

        let mut prds = Vec::new();
        let mut tasks = Vec::new();
        let mut prd_path = HashMap::new();
        for prd in tx.prds()? {
            prd_path.insert(prd.id, prd.path.clone());
            let rows = tx.tasks(prd.id)?;
            let deps = tx.deps(prd.id)?;
            let waves = waves(&rows, &deps);
            // Grouped once: a scan of every edge per task is quadratic.
            let mut deps_of: HashMap<&str, Vec<String>> = HashMap::new();
            for (task, on) in &deps {
                deps_of.entry(task.as_str()).or_default().push(on.clone());
            }
            for row in rows {
                let empty = Vec::new();
                let mine = by_task.get(&row.id.0).unwrap_or(&empty);
                let depends_on = deps_of.remove(row.key.as_str()).unwrap_or_default();
                let wave = waves.get(&row.key).copied().unwrap_or(0);
                let worker = held.get(&row.id.0).map(|w| w.to_string());
                tasks.push(task_view(&prd.path, row, mine, depends_on, wave, worker));
            }
            prds.push(prd_view(root, prd));
        }

        let runs = tx
            .runs()?
            .into_iter()
            .map(|run| {
                let mine: Vec<&AttemptRow> =
                    attempts.iter().filter(|a| a.run_id == run.id).collect();
                RunView {
                    id: run.id.0,
                    prd: prd_path.get(&run.prd_id).cloned().unwrap_or_default(),
                    status: run.status,
                    control: run.control.map(|c| c.as_str().to_string()),
                    started_at: run.started_at,
                    finished_at: run.finished_at,
                    heartbeat_at: run.heartbeat_at,
                    attempts: mine.len() as u32,
                    passed: mine.iter().filter(|a| a.failure_kind.is_none()).count() as u32,
                    usage: Usage::total(mine.iter().filter_map(|a| a.usage)),
                }
            })
            .collect::<Vec<_>>();

        let breakers: Vec<BreakerView> = tx
            .breakers()?
            .iter()
            .map(|row| breaker_view(reader.path(), row))
            .collect();
        let workers = workers(&attempts, &claims, &runs, &breakers, worker_kind);
        let usage = Usage::total(attempts.iter().filter_map(|a| a.usage));
        Ok(Snapshot {
            last_seq,
            prds,
            tasks,
            runs,
            workers,
            breakers,
            usage,
        })
    })
}

fn prd_view(root: &Path, prd: crate::store::PrdRow) -> PrdView {
    let text = std::fs::read_to_string(root.join(&prd.path)).ok();
    let analysis = text
        .as_deref()
        .map(|text| analyze(&prd.path, text, &Options::default()));
    let count = |severity: Severity, a: &tdd_core::analysis::Analysis| {
        a.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    };
    PrdView {
        // The front matter's title, else a Markdown file's first heading.
        title: analysis
            .as_ref()
            .and_then(|a| a.prd.meta.title.as_ref())
            .map(|t| t.value.clone())
            .or_else(|| {
                let text = text.as_deref()?;
                let heading = text.lines().find_map(|l| l.strip_prefix("# "))?;
                Some(heading.trim().to_string())
            }),
        validation: analysis.as_ref().map(|a| Validation {
            errors: count(Severity::Error, a),
            warnings: count(Severity::Warning, a),
        }),
        changed_since_decomposed: text
            .map(|text| prd.decomposed_hash.as_deref() != Some(text_hash(&text).as_str())),
        path: prd.path,
        format: prd.format,
        decomposed_at: prd.decomposed_at,
    }
}

fn task_view(
    prd: &str,
    row: TaskRow,
    attempts: &[&AttemptRow],
    depends_on: Vec<String>,
    wave: u32,
    holder: Option<String>,
) -> TaskView {
    let strings = |field: &str| -> Vec<String> {
        row.spec[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let last = attempts.last();
    TaskView {
        prd: prd.to_string(),
        criteria: strings("criteria"),
        files: strings("writes"),
        depends_on,
        wave,
        state: row.status.as_str().to_string(),
        stage: last.map(|a| a.stage.clone()),
        attempts: attempts.len() as u32,
        worker: holder.or_else(|| last.map(|a| a.worker.clone())),
        last_failure: last
            .filter(|a| a.failure_kind.is_some())
            .and_then(|a| a.evidence.clone()),
        usage: Usage::total(attempts.iter().filter_map(|a| a.usage)),
        key: row.key,
        title: row.title,
        kind: row.kind,
        requirement: row.requirement,
        prd_changed_since_done: row.prd_changed_since_done,
        updated_at: row.updated_at,
    }
}

/// Each task's wave: 0 without dependencies, else one more than its deepest
/// dependency's. A cycle (the planner refuses them) counts as wave 0.
fn waves(rows: &[TaskRow], deps: &[(String, String)]) -> HashMap<String, u32> {
    let mut on: HashMap<&str, Vec<&str>> = HashMap::new();
    for (task, dep) in deps {
        on.entry(task.as_str()).or_default().push(dep.as_str());
    }
    fn wave<'a>(
        key: &'a str,
        on: &HashMap<&'a str, Vec<&'a str>>,
        memo: &mut HashMap<&'a str, u32>,
        visiting: &mut Vec<&'a str>,
    ) -> u32 {
        if let Some(&w) = memo.get(key) {
            return w;
        }
        if visiting.contains(&key) {
            return 0;
        }
        visiting.push(key);
        let w = on.get(key).map_or(0, |deps| {
            deps.iter()
                .map(|d| wave(d, on, memo, visiting) + 1)
                .max()
                .unwrap_or(0)
        });
        visiting.pop();
        memo.insert(key, w);
        w
    }
    let mut memo = HashMap::new();
    for row in rows {
        wave(&row.key, &on, &mut memo, &mut Vec::new());
    }
    memo.into_iter().map(|(k, w)| (k.to_string(), w)).collect()
}

fn breaker_view(db: &Path, row: &crate::store::breakers::BreakerRow) -> BreakerView {
    let parsed = from_row(db, row).ok().map(|(_, b)| b);
    let (next_trial, trials_left) = match parsed.as_ref().map(|b| b.state()) {
        Some(State::Open { until }) => (until.map(rfc3339), None),
        Some(State::HalfOpen { trials_left }) => (None, Some(*trials_left)),
        _ => (None, None),
    };
    BreakerView {
        scope: row.scope.clone(),
        name: row.name.clone(),
        state: row.state.clone(),
        failures: row.failures,
        opened_at: row.opened_at.clone(),
        next_trial,
        trials_left,
        reason: parsed
            .map(|b| b.reason().to_string())
            .filter(|r| !r.is_empty()),
    }
}

/// The workers of the newest run (or of runs holding claims now), with
/// their stage verdicts over that run.
fn workers(
    attempts: &[AttemptRow],
    claims: &[crate::store::claims::ClaimRow],
    runs: &[RunView],
    breakers: &[BreakerView],
    kind: Option<String>,
) -> Vec<WorkerView> {
    let Some(newest) = runs.last() else {
        return Vec::new();
    };
    let new = |id: &str| WorkerView {
        id: id.to_string(),
        kind: kind.clone(),
        task: None,
        stages_passed: 0,
        stages_failed: 0,
        last_heartbeat: None,
        breaker: breakers
            .iter()
            .find(|b| b.scope == "worker" && b.name == id)
            .map(|b| b.state.clone()),
    };
    let mut by_id: BTreeMap<String, WorkerView> = BTreeMap::new();
    // The engine's own MERGE attempts are not a worker's.
    let ours = |a: &&AttemptRow| a.run_id.0 == newest.id && a.worker != crate::pipeline::ENGINE;
    for attempt in attempts.iter().filter(ours) {
        let worker = by_id
            .entry(attempt.worker.clone())
            .or_insert_with(|| new(&attempt.worker));
        match attempt.failure_kind {
            None => worker.stages_passed += 1,
            Some(_) => worker.stages_failed += 1,
        }
        worker.last_heartbeat = attempt
            .finished_at
            .clone()
            .or(Some(attempt.started_at.clone()));
    }
    for claim in claims {
        let worker = by_id
            .entry(claim.worker.clone())
            .or_insert_with(|| new(&claim.worker));
        worker.task = Some(claim.task_key.clone());
        worker.last_heartbeat = Some(claim.heartbeat_at.clone());
    }
    by_id.into_values().collect()
}
