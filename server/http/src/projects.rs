//! The registered projects as the daemon sees them: found by id in the
//! user's registry, read from their own stores, and watched for new events
//! (one follower thread per project with live SSE clients, however many
//! clients).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tdd_engine::registry::{ProjectEntry, Registry};
use tdd_engine::store::Queries;
use tdd_engine::view::{self, Follower};
use tokio::sync::watch;

use crate::error::ApiError;

/// A project in the overview.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProjectSummary {
    pub id: String,
    pub path: PathBuf,
    /// The directory's name.
    pub name: String,
    /// The directory is gone (or unreadable): shown, never an error page.
    pub missing: bool,
    /// Why its store could not be read, when it could not.
    pub problem: Option<String>,
    pub tasks: usize,
    /// Tasks by state (`done`, `failed`, `running`, …).
    pub by_state: std::collections::BTreeMap<String, usize>,
    /// The newest run's status (`running`, `paused`, `completed`, …).
    pub run_status: Option<String>,
    /// When the log last grew.
    pub last_activity: Option<String>,
    pub last_seq: i64,
    pub cost_usd: Option<f64>,
    /// Merge conflicts a task was re-run after, over every run.
    #[serde(default)]
    pub merge_conflicts: u64,
}

/// The registered project `id`, or a 404 that says how to register one.
pub fn find(registry: &Registry, id: &str) -> Result<ProjectEntry, ApiError> {
    let projects = registry
        .list()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let entry = projects.into_iter().find(|p| p.id == id).ok_or_else(|| {
        ApiError::not_found(format!(
            "no project `{id}` is registered: `GET /api/v1/projects` lists them; `tdd-orchestrator projects add <dir>` registers one"
        ))
    })?;
    if !entry.path.is_dir() {
        return Err(ApiError::not_found(format!(
            "project `{id}` is missing: {} is gone (`tdd-orchestrator projects remove {id}` forgets it)",
            entry.path.display()
        )));
    }
    Ok(entry)
}

/// One line of the overview, read from the project's own store.
pub fn summary(entry: &ProjectEntry) -> ProjectSummary {
    let mut summary = ProjectSummary {
        id: entry.id.clone(),
        name: entry
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: entry.path.clone(),
        missing: !entry.path.is_dir(),
        problem: None,
        tasks: 0,
        by_state: Default::default(),
        run_status: None,
        last_activity: None,
        last_seq: 0,
        cost_usd: None,
        merge_conflicts: 0,
    };
    if summary.missing {
        return summary;
    }
    let mut read = || -> Result<(), String> {
        let Some(reader) = view::open(&entry.path).map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let snapshot = view::snapshot(&reader, &entry.path).map_err(|e| e.to_string())?;
        summary.tasks = snapshot.tasks.len();
        for task in &snapshot.tasks {
            *summary.by_state.entry(task.state.clone()).or_default() += 1;
        }
        summary.run_status = snapshot.runs.last().map(|r| r.status.clone());
        summary.last_seq = snapshot.last_seq;
        summary.cost_usd = snapshot.usage.and_then(|u| u.cost_usd);
        summary.merge_conflicts = reader.merge_conflicts().map_err(|e| e.to_string())?;
        summary.last_activity = reader
            .events_after(snapshot.last_seq - 1, 1)
            .ok()
            .and_then(|e| e.into_iter().next())
            .map(|e| e.at);
        Ok(())
    };
    if let Err(problem) = read() {
        summary.problem = Some(problem);
    }
    summary
}

/// The newest sequence number of each watched project, for SSE clients to
/// wait on. A project is watched while someone listens.
#[derive(Default, Clone)]
pub struct Watches {
    inner: Arc<Mutex<HashMap<String, watch::Sender<i64>>>>,
}

/// How long the follower sleeps between checks when nothing wakes it.
const POLL: Duration = Duration::from_millis(250);

impl Watches {
    /// A receiver of the project's newest sequence number, starting the
    /// project's follower when it is the first.
    pub fn subscribe(&self, entry: &ProjectEntry) -> watch::Receiver<i64> {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = map.get(&entry.id)
            && !sender.is_closed()
        {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(0);
        map.insert(entry.id.clone(), sender.clone());
        let root = entry.path.clone();
        let spawned = std::thread::Builder::new()
            .name("tdd-http-follow".into())
            .spawn(move || follow(root, sender));
        if let Err(e) = spawned {
            tracing::error!("could not start a project follower: {e}");
        }
        receiver
    }
}

/// Publishes the store's newest sequence number until nobody listens.
fn follow(root: PathBuf, sender: watch::Sender<i64>) {
    let mut follower = Follower::new(&root);
    let mut reader = None;
    while !sender.is_closed() {
        if reader.is_none() {
            reader = view::open(&root).ok().flatten();
        }
        if let Some(r) = &reader {
            match r.last_seq() {
                Ok(seq) => {
                    sender.send_if_modified(|last| {
                        let changed = *last != seq;
                        *last = seq;
                        changed
                    });
                }
                Err(e) => {
                    tracing::warn!("following {}: {e}", root.display());
                    reader = None;
                }
            }
        }
        follower.wait(POLL);
    }
}
