//! Decomposing PRD files into the store, and reporting their state.
//! The passes themselves are pure (`tdd_core::plan`); this module reads the
//! files, scans the project and applies a re-plan in one transaction.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use tdd_core::analysis::{Options, analyze};
use tdd_core::model::Format;
use tdd_core::plan::replan::{Existing, Replan, replan};
use tdd_core::plan::{PlanError, ProjectFiles, TaskGraph, decompose, text_hash};

use crate::events::Event;
use crate::project::{self, ProjectError};
use crate::store::runs::RunId;
use crate::store::{NewTask, PrdId, Queries, Store, StoreError, TaskId, TaskStatus, WriteTx};
use tdd_workers::usage::Usage;

#[derive(Debug, thiserror::Error)]
pub enum PlanningError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} is not valid UTF-8: save it as UTF-8 and try again")]
    Encoding(PathBuf),
    #[error(
        "a run is in progress in this project: a new plan now would let it finish tasks under the old one; \
         wait for it, or `tdd-orchestrator pause` / `cancel` it, then decompose"
    )]
    RunInProgress,
}

/// A decomposed PRD, not yet stored.
pub struct Planned {
    /// The PRD's path relative to the project root, `/`-separated.
    pub path: String,
    pub text: String,
    pub format: Format,
    pub graph: TaskGraph,
    pub errors: Vec<PlanError>,
}

/// The PRD's path as stored: relative to the root when it is inside it.
pub fn relative_path(root: &Path, file: &Path) -> String {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let shown = absolute.strip_prefix(&root).unwrap_or(&absolute);
    shown
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads and decomposes one PRD file with the project's configuration and files.
pub fn plan_file(root: &Path, file: &Path) -> Result<Planned, PlanningError> {
    let bytes = project::read_file(file)?;
    let text = String::from_utf8(bytes).map_err(|_| PlanningError::Encoding(file.to_path_buf()))?;
    plan_text(root, file, text)
}

/// Decomposes `text` as the PRD at `file` (an editor's unsaved buffer, say).
pub fn plan_text(root: &Path, file: &Path, text: String) -> Result<Planned, PlanningError> {
    let config = project::load_config(root)?;
    let path = relative_path(root, file);
    let options = Options {
        max_bytes: config.prd.max_file_kib as usize * 1024,
    };
    let analysis = analyze(&path, &text, &options);
    let plan = decompose(&analysis.prd, &config.project.layout(), &scan_project(root));
    Ok(Planned {
        path,
        format: analysis.prd.format,
        graph: plan.graph,
        errors: plan.errors,
        text,
    })
}

/// Enough for any project a PRD plans; the scan stops there rather than crawl a huge tree.
const MAX_ENTRIES: usize = 50_000;
const MANIFESTS: &[&str] = &["pyproject.toml", "Cargo.toml", "package.json", "go.mod"];

/// The files and directories of the project, and its dependency manifests.
pub fn scan_project(root: &Path) -> ProjectFiles {
    let mut files = ProjectFiles::default();
    let walked = tdd_workers::walk::walk(root, root, MAX_ENTRIES);
    files.paths = walked.entries.into_iter().map(|e| e.path).collect();
    for manifest in MANIFESTS {
        let path = root.join(manifest);
        if fs::metadata(&path).is_ok_and(|m| m.len() < 1 << 20)
            && let Ok(text) = fs::read_to_string(&path)
        {
            files.manifests.insert(manifest.to_string(), text);
        }
    }
    files
}

fn is_done(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Done | TaskStatus::Passed)
}

/// Stores a plan, keeping what is done: unchanged tasks keep status and
/// history, changed ones are re-planned (done ones only flagged), removed
/// ones cancelled. One transaction; every change is an event.
pub fn apply(store: &mut Store, planned: &Planned) -> Result<Replan, PlanningError> {
    // A live run would finish re-planned tasks under the plan it read and
    // record them done with the new hash: "changed since done" would never
    // be raised. Refused, as `retry --fresh` is.
    let root = store.path().parent().and_then(Path::parent);
    if root.is_some_and(crate::execution::run_in_progress) {
        return Err(PlanningError::RunInProgress);
    }
    apply_during_run(store, planned)
}

/// [`apply`] by the run that holds the project's run lock: it re-plans a
/// changed PRD before it dispatches anything.
pub(crate) fn apply_during_run(
    store: &mut Store,
    planned: &Planned,
) -> Result<Replan, PlanningError> {
    let hash = text_hash(&planned.text);
    store.write(|tx| -> Result<Replan, PlanningError> {
        let prd = tx.upsert_prd(&planned.path, &hash, planned.format.as_str())?;
        let stored = tx.tasks(prd)?;
        let existing: Vec<Existing> = stored
            .iter()
            .map(|t| Existing {
                key: t.key.clone(),
                content_hash: t.content_hash.clone(),
                done: is_done(t.status),
                cancelled: t.status == TaskStatus::Cancelled,
            })
            .collect();
        let changes = replan(&existing, &planned.graph);
        let mut ids: BTreeMap<String, TaskId> =
            stored.iter().map(|t| (t.key.clone(), t.id)).collect();
        for task in &planned.graph.tasks {
            let spec = serde_json::to_value(task).expect("tasks serialise");
            let kind = serde_json::to_value(&task.kind).expect("kinds serialise");
            let kind = kind.as_str().unwrap_or("implement");
            let key = task.key.as_str();
            if changes.added.iter().any(|k| k == key) {
                let new = NewTask {
                    key: task.key.clone(),
                    kind: kind.to_string(),
                    title: task.title.clone(),
                    requirement: task.requirement.clone(),
                    status: TaskStatus::Pending,
                    content_hash: task.content_hash.clone(),
                    spec,
                };
                ids.insert(task.key.clone(), tx.insert_task(prd, &new)?);
                event(
                    tx,
                    prd,
                    key,
                    Event::TaskPlanned {
                        title: task.title.clone(),
                    },
                )?;
            } else if changes
                .replanned
                .iter()
                .chain(&changes.revived)
                .any(|k| k == key)
            {
                let id = ids[key];
                tx.update_task_plan(id, &task.title, kind, &task.content_hash, &spec)?;
                tx.set_task_status(id, TaskStatus::Pending)?;
                tx.set_prd_changed_since_done(id, false)?;
                let content_hash = task.content_hash.clone();
                event(tx, prd, key, Event::TaskReplanned { content_hash })?;
            } else if changes.changed_since_done.iter().any(|k| k == key) {
                let id = ids[key];
                tx.update_task_plan(id, &task.title, kind, &task.content_hash, &spec)?;
                tx.set_prd_changed_since_done(id, true)?;
                let content_hash = task.content_hash.clone();
                event(tx, prd, key, Event::TaskChangedSinceDone { content_hash })?;
            }
        }
        for key in &changes.cancelled {
            tx.set_task_status(ids[key], TaskStatus::Cancelled)?;
            event(tx, prd, key, Event::TaskCancelled {})?;
        }
        for task in &planned.graph.tasks {
            let deps: Vec<TaskId> = task
                .depends_on
                .iter()
                .filter_map(|d| ids.get(d).copied())
                .collect();
            tx.replace_deps(ids[&task.key], &deps)?;
        }
        tx.mark_decomposed(prd, &hash)?;
        let summary = Event::PrdDecomposed {
            path: planned.path.clone(),
            tasks: planned.graph.tasks.len(),
            unchanged: changes.unchanged.len(),
            added: changes.added.len(),
            replanned: changes.replanned.len() + changes.revived.len(),
            changed_since_done: changes.changed_since_done.len(),
            cancelled: changes.cancelled.len(),
        };
        tx.log(Some(prd), None, &summary)?;
        Ok(changes)
    })
}

/// Plans `text` as the PRD at `file` and stores the plan (or, with
/// `dry_run`, only says what storing it would change). A PRD whose graph is
/// broken is refused with each error as `path:line:col: message`.
pub fn decompose_text(
    root: &Path,
    file: &Path,
    text: String,
    dry_run: bool,
) -> Result<(Planned, Replan), String> {
    let planned = plan_text(root, file, text).map_err(|e| e.to_string())?;
    if !planned.errors.is_empty() {
        let index = tdd_core::text::LineIndex::new(&planned.text);
        let lines: Vec<String> = planned
            .errors
            .iter()
            .map(|e| {
                let at = index.line_col(
                    &planned.text,
                    e.span.start,
                    tdd_core::text::ColumnUnit::Char,
                );
                format!(
                    "{}:{}:{}: {}",
                    planned.path,
                    at.line + 1,
                    at.col + 1,
                    e.message
                )
            })
            .collect();
        return Err(format!(
            "decomposition refused, nothing was stored: {}",
            lines.join("; ")
        ));
    }
    let database = database_path(root);
    let changes = if dry_run {
        preview(&database, &planned).map_err(|e| e.to_string())?
    } else {
        let mut store = Store::open(&database).map_err(|e| e.to_string())?;
        apply(&mut store, &planned).map_err(|e| e.to_string())?
    };
    Ok((planned, changes))
}

/// What `apply` would change, read without writing. With no store yet,
/// every task would be added.
pub fn preview(database: &Path, planned: &Planned) -> Result<Replan, PlanningError> {
    if !database.exists() {
        return Ok(replan(&[], &planned.graph));
    }
    let reader = crate::store::Reader::open(database)?;
    let existing = reader.read(|tx| -> Result<Vec<Existing>, StoreError> {
        let Some(prd) = tx.prd(&planned.path)? else {
            return Ok(Vec::new());
        };
        let tasks = tx.tasks(prd.id)?.into_iter().map(|t| Existing {
            done: is_done(t.status),
            cancelled: t.status == TaskStatus::Cancelled,
            key: t.key,
            content_hash: t.content_hash,
        });
        Ok(tasks.collect())
    })?;
    Ok(replan(&existing, &planned.graph))
}

fn event(tx: &WriteTx<'_>, prd: PrdId, key: &str, event: Event) -> Result<(), StoreError> {
    tx.log(Some(prd), Some(key), &event).map(|_| ())
}

/// One PRD's state, for `status`.
#[derive(Debug)]
pub struct PrdStatus {
    pub path: String,
    pub decomposed_at: Option<String>,
    /// `Some(true)` when the file changed since it was last decomposed;
    /// `None` when the file can no longer be read.
    pub changed_since_decomposition: Option<bool>,
    pub by_status: BTreeMap<String, usize>,
    /// Done tasks whose plan changed since they were done.
    pub flagged: Vec<String>,
    /// Model use per run that used a model, oldest first.
    pub usage_by_run: Vec<(RunId, Usage)>,
}

impl PrdStatus {
    /// Model use over every run of the PRD.
    pub fn total_usage(&self) -> Option<Usage> {
        Usage::total(self.usage_by_run.iter().map(|(_, u)| *u))
    }
}

pub fn status(store: &impl Queries, root: &Path) -> Result<Vec<PrdStatus>, StoreError> {
    let mut out = Vec::new();
    for prd in store.prds()? {
        let tasks = store.tasks(prd.id)?;
        let mut by_status = BTreeMap::new();
        for t in &tasks {
            *by_status.entry(t.status.as_str().to_string()).or_insert(0) += 1;
        }
        let current = fs::read_to_string(root.join(&prd.path))
            .ok()
            .map(|text| text_hash(&text));
        let changed = current.map(|hash| prd.decomposed_hash.as_deref() != Some(hash.as_str()));
        out.push(PrdStatus {
            path: prd.path,
            decomposed_at: prd.decomposed_at,
            changed_since_decomposition: changed,
            by_status,
            flagged: tasks
                .iter()
                .filter(|t| t.prd_changed_since_done)
                .map(|t| t.key.clone())
                .collect(),
            usage_by_run: store.usage_by_run(prd.id)?,
        });
    }
    Ok(out)
}

/// The store's database file for a project.
pub fn database_path(root: &Path) -> PathBuf {
    root.join(project::TDD_DIR).join(crate::store::DB_FILE)
}
