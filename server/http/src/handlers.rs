//! The handlers of `/api/v1`. Reads go to the project's store on a blocking
//! thread; actions call the same engine operations the CLI and the language
//! server call, under the same run lock.

use std::path::{Path, PathBuf};

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tdd_core::breaker::Scope;
use tdd_engine::events::LoggedEvent;
use tdd_engine::registry::ProjectEntry;
use tdd_engine::store::Queries;
use tdd_engine::store::claims::RunControl;
use tdd_engine::view::{self, Metrics, Snapshot, TaskDetail};
use tdd_engine::{execution, operations, planning};

use crate::AppState;
use crate::error::ApiError;
use crate::projects::{self, ProjectSummary};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Runs `f` on a blocking thread (files, SQLite, git).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request's worker thread failed: {e}")))?
}

async fn project(state: &AppState, id: String) -> Result<ProjectEntry, ApiError> {
    let registry = state.registry.clone();
    blocking(move || projects::find(&registry, &id)).await
}

/// `f` on the registered project `id`, on one blocking thread.
async fn on_project<T: Send + 'static>(
    state: &AppState,
    id: String,
    f: impl FnOnce(ProjectEntry) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let registry = state.registry.clone();
    blocking(move || f(projects::find(&registry, &id)?)).await
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
}

pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

pub async fn list_projects(State(state): State<AppState>) -> ApiResult<Vec<ProjectSummary>> {
    let registry = state.registry.clone();
    blocking(move || {
        let entries = registry
            .list()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(Json(entries.iter().map(projects::summary).collect()))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AddProject {
    /// The project's directory, absolute.
    pub path: PathBuf,
}

pub async fn add_project(
    State(state): State<AppState>,
    Json(body): Json<AddProject>,
) -> ApiResult<ProjectEntry> {
    let registry = state.registry.clone();
    blocking(move || {
        if !body.path.is_absolute() || !body.path.is_dir() {
            return Err(ApiError::bad_request(format!(
                "{} is not a directory: give the project's absolute path",
                body.path.display()
            )));
        }
        registry
            .add(&body.path)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

pub async fn snapshot(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Snapshot> {
    on_project(&state, id, move |entry| match view::open(&entry.path)? {
        Some(reader) => Ok(Json(view::snapshot(&reader, &entry.path)?)),
        None => Ok(Json(Snapshot::default())),
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EventsQuery {
    /// The last sequence number the client has (default 0). For SSE the
    /// `Last-Event-ID` header, when sent, wins.
    pub after: Option<i64>,
    /// At most this many (JSON only; default and ceiling 10,000).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EventsPage {
    pub events: Vec<LoggedEvent>,
    /// The newest sequence number when the page was read.
    pub last_seq: i64,
}

/// JSON, or server-sent events when the request accepts `text/event-stream`.
pub async fn events(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let entry = project(&state, id).await?;
    let wants_sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if wants_sse {
        let resume = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("Last-Event-ID {v:?} is not a sequence number"))
                })
            })
            .transpose()?;
        let after = resume.or(query.after).unwrap_or(0);
        let changes = state.watches.subscribe(&entry);
        return Ok(crate::sse::stream(entry.path, after, changes).into_response());
    }
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(view::MAX_EVENTS);
    let page = blocking(move || {
        let Some(reader) = view::open(&entry.path)? else {
            return Ok(EventsPage {
                events: Vec::new(),
                last_seq: 0,
            });
        };
        reader.read(|tx| -> Result<EventsPage, ApiError> {
            Ok(EventsPage {
                events: view::events_after(tx, after, limit)?,
                last_seq: tx.last_seq()?,
            })
        })
    })
    .await?;
    Ok(Json(page).into_response())
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskQuery {
    /// The PRD's path; needed only when two PRDs have the key.
    pub prd: Option<String>,
}

pub async fn task_detail(
    State(state): State<AppState>,
    UrlPath((id, key)): UrlPath<(String, String)>,
    Query(query): Query<TaskQuery>,
) -> ApiResult<TaskDetail> {
    on_project(&state, id, move |entry| {
        let reader = view::open(&entry.path)?
            .ok_or_else(|| ApiError::not_found("no tasks yet: decompose a PRD first"))?;
        let snapshot = view::snapshot(&reader, &entry.path)?;
        let key = key.trim_start_matches('/');
        let detail = view::task_detail(&reader, &entry.path, &snapshot, query.prd.as_deref(), key)?;
        Ok(Json(detail))
    })
    .await
}

pub async fn metrics(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Metrics> {
    on_project(&state, id, move |entry| match view::open(&entry.path)? {
        Some(reader) => Ok(Json(view::metrics(&reader)?)),
        None => Ok(Json(Metrics::default())),
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PrdBody {
    /// The PRD file, relative to the project root.
    pub path: String,
    /// Its text, to validate a version not on disk (an upload); the file's
    /// content otherwise.
    pub text: Option<String>,
}

/// The PRD's absolute path, refusing one outside the project.
fn prd_path(root: &Path, rel: &str) -> Result<PathBuf, ApiError> {
    let rel_path = Path::new(rel);
    let escapes = rel_path.is_absolute()
        || rel_path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if rel.is_empty() || escapes {
        return Err(ApiError::bad_request(format!(
            "{rel:?}: give the PRD's path relative to the project root, inside it"
        )));
    }
    Ok(root.join(rel_path))
}

fn prd_text(file: &Path, text: Option<String>) -> Result<String, ApiError> {
    match text {
        Some(text) => Ok(text),
        None => std::fs::read_to_string(file)
            .map_err(|e| ApiError::bad_request(format!("{}: {e}", file.display()))),
    }
}

/// Diagnostics and the dry-run plan of a PRD: nothing is stored.
pub async fn preview(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<PrdBody>,
) -> ApiResult<Value> {
    on_project(&state, id, move |entry| {
        let file = prd_path(&entry.path, &body.path)?;
        let text = prd_text(&file, body.text)?;
        let analysis = tdd_core::analysis::analyze(&body.path, &text, &Default::default());
        let index = tdd_core::text::LineIndex::new(&text);
        let diagnostics: Vec<Value> = analysis
            .diagnostics
            .iter()
            .map(|d| {
                let at = index.line_col(&text, d.span.start, tdd_core::text::ColumnUnit::Char);
                json!({
                    "code": d.code.as_str(),
                    "severity": d.severity.as_str(),
                    "message": d.message,
                    "line": at.line + 1,
                    "column": at.col + 1,
                })
            })
            .collect();
        let plan = match planning::decompose_text(&entry.path, &file, text, true) {
            Ok((planned, changes)) => json!({
                "tasks": planned.graph.tasks.len(),
                "waves": planned.graph.waves,
                "graph": planned.graph,
                "changes": {
                    "added": changes.added, "replanned": changes.replanned,
                    "revived": changes.revived, "changed_since_done": changes.changed_since_done,
                    "cancelled": changes.cancelled, "unchanged": changes.unchanged.len(),
                },
            }),
            Err(refused) => json!({ "refused": refused }),
        };
        Ok(Json(json!({ "diagnostics": diagnostics, "plan": plan })))
    })
    .await
}

pub async fn decompose(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<PrdBody>,
) -> ApiResult<Value> {
    on_project(&state, id, move |entry| {
        let file = prd_path(&entry.path, &body.path)?;
        let text = prd_text(&file, body.text)?;
        let (planned, changes) = planning::decompose_text(&entry.path, &file, text, false)
            .map_err(ApiError::bad_request)?;
        Ok(Json(json!({
            "prd": planned.path,
            "tasks": planned.graph.tasks.len(),
            "added": changes.added.len(),
            "replanned": changes.replanned.len() + changes.revived.len(),
            "cancelled": changes.cancelled.len(),
        })))
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunBody {
    /// The decomposed PRD, relative to the project root.
    pub prd: String,
    /// Go on with its last unfinished run.
    #[serde(default)]
    pub resume: bool,
    /// Run only this requirement's tasks (and the unfinished ones they
    /// depend on), e.g. `REQ-2`.
    pub requirement: Option<String>,
}

/// Starts a run in the daemon (202): it goes on after the response, under
/// the project's run lock; its progress is in the event log.
pub async fn run(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<RunBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let entry = project(&state, id).await?;
    let runs = state.runs.clone();
    let started = blocking(move || {
        let root = entry.path.clone();
        if execution::run_in_progress(&root) {
            if body.resume {
                let run = execution::request(&root, None)
                    .map_err(|e| ApiError::conflict(e.to_string()))?;
                return Ok(json!({ "run": run.0, "continued": true }));
            }
            return Err(ApiError::conflict(
                "a run is already working in this project: pause or cancel it first",
            ));
        }
        let file = prd_path(&root, &body.prd)?;
        let mut request =
            execution::configured_request(&root, &file).map_err(ApiError::bad_request)?;
        request.resume = body.resume;
        request.requirement = body.requirement;
        let workers = request.workers.len();
        runs.start(root, request)?;
        Ok(json!({ "started": true, "resume": body.resume, "workers": workers }))
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

pub async fn pause(state: State<AppState>, id: UrlPath<String>) -> ApiResult<Value> {
    control(state, id, Some(RunControl::Pause)).await
}

pub async fn cancel(state: State<AppState>, id: UrlPath<String>) -> ApiResult<Value> {
    control(state, id, Some(RunControl::Cancel)).await
}

/// Lets a paused run go on.
pub async fn proceed(state: State<AppState>, id: UrlPath<String>) -> ApiResult<Value> {
    control(state, id, None).await
}

async fn control(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    control: Option<RunControl>,
) -> ApiResult<Value> {
    on_project(&state, id, move |entry| {
        let run = execution::request(&entry.path, control)
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        let asked = control.map_or("continue", RunControl::as_str);
        Ok(Json(json!({ "run": run.0, "requested": asked })))
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskBody {
    /// The task's key, e.g. `REQ-1/AC-1.1`.
    pub task: String,
    /// The PRD's path, when two PRDs have the key.
    pub prd: Option<String>,
    /// `retry`: also delete its worktree and branch.
    #[serde(default)]
    pub fresh: bool,
    /// `skip`: why (kept in the log).
    pub reason: Option<String>,
}

fn op_error(e: operations::OpError) -> ApiError {
    ApiError::conflict(e.to_string())
}

pub async fn retry(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<TaskBody>,
) -> ApiResult<Value> {
    on_project(&state, id, move |entry| {
        let prd = body.prd.as_deref().map(|p| entry.path.join(p));
        let change = operations::retry(&entry.path, &body.task, prd.as_deref(), body.fresh)
            .map_err(op_error)?;
        Ok(Json(
            json!({ "task": change.key, "from": change.from.as_str(), "to": change.to.as_str() }),
        ))
    })
    .await
}

pub async fn skip(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<TaskBody>,
) -> ApiResult<Value> {
    on_project(&state, id, move |entry| {
        let prd = body.prd.as_deref().map(|p| entry.path.join(p));
        let reason = body
            .reason
            .as_deref()
            .unwrap_or("skipped from the dashboard");
        let change =
            operations::skip(&entry.path, &body.task, prd.as_deref(), reason).map_err(op_error)?;
        Ok(Json(
            json!({ "task": change.key, "from": change.from.as_str(), "to": change.to.as_str() }),
        ))
    })
    .await
}

/// The human worker: the person finished the stage it waits on.
pub async fn done(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<TaskBody>,
) -> ApiResult<Value> {
    on_project(&state, id, move |entry| {
        tdd_workers::human::done(&entry.path, &body.task)
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        Ok(Json(json!({ "task": body.task, "done": true })))
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BreakerBody {
    /// `stage`, `worker` or `system`.
    pub scope: String,
    /// `<task>:<stage>`, the worker's id, or `system`.
    pub name: String,
    /// `isolate`: why (kept in the log).
    pub reason: Option<String>,
}

fn scope(name: &str) -> Result<Scope, ApiError> {
    name.parse::<Scope>()
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

pub async fn reset_breaker(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<BreakerBody>,
) -> ApiResult<Value> {
    on_project(&state, id, move |entry| {
        let change = operations::reset_breaker(&entry.path, scope(&body.scope)?, &body.name)
            .map_err(op_error)?;
        Ok(Json(json!({ "scope": body.scope, "name": body.name, "changed": change.transition.is_some() })))
    })
    .await
}

pub async fn isolate_breaker(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<BreakerBody>,
) -> ApiResult<Value> {
    on_project(&state, id, move |entry| {
        let reason = body.reason.as_deref().unwrap_or("isolated from the dashboard");
        let change =
            operations::isolate_breaker(&entry.path, scope(&body.scope)?, &body.name, reason)
                .map_err(op_error)?;
        Ok(Json(json!({ "scope": body.scope, "name": body.name, "changed": change.transition.is_some() })))
    })
    .await
}

/// `GET /metrics`: the registered projects' counts, in Prometheus' text
/// format.
pub async fn prometheus(State(state): State<AppState>) -> Result<Response, ApiError> {
    let registry = state.registry.clone();
    let text = blocking(move || {
        let entries = registry
            .list()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(crate::prometheus::render(
            &entries.iter().map(projects::summary).collect::<Vec<_>>(),
        ))
    })
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
