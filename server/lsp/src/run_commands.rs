//! `tdd.run`, `tdd.resume`, `tdd.pause`, `tdd.cancel` and
//! `tdd.resetBreaker`. A run goes on a thread of its own (it takes minutes);
//! its progress reaches the client as work-done progress (`$/progress`), its
//! end as a message. What it does is in the store's event log, which the
//! panel follows (`panel.rs`), whoever started the run.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use tdd_core::breaker::Scope;
use tdd_engine::execution::{self, RunEvent, RunStatus};
use tdd_engine::operations;
use tdd_engine::scheduler::TaskEnd;
use tdd_engine::store::claims::RunControl;

/// A step of a run's work-done progress.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Begin {
        title: String,
        message: String,
    },
    Report {
        message: String,
        percentage: Option<u32>,
    },
    End {
        message: String,
    },
}

/// Where a run's notices go: progress, then the closing message.
pub trait Notices: Send + Sync + 'static {
    fn progress(&self, step: Progress);
    fn finished(&self, ok: bool, message: String);
}

/// Starts a run (or resumes one, or lets a paused one go on) and returns at
/// once with what was started; the run reports through `notices`.
/// The runs a session started, each with its project root: the language
/// server's shutdown cancels them and waits for them ([`stop_all`]).
pub type Runs = execution::RunThreads;

pub fn start(
    root: PathBuf,
    prd: Option<PathBuf>,
    resume: bool,
    requirement: Option<String>,
    notices: Arc<dyn Notices>,
    runs: &Runs,
) -> Result<Value, String> {
    if execution::run_in_progress(&root) {
        if resume {
            let run = execution::request(&root, None).map_err(|e| e.to_string())?;
            return Ok(json!({ "run": run.0, "continued": true }));
        }
        return Err("a run is already working in this project: pause or cancel it first".into());
    }
    let prd = prd.ok_or("the command needs the uri of a decomposed PRD file")?;
    let mut request = execution::configured_request(&root, &prd)?;
    let count = request.workers.len();
    request.resume = resume;
    request.requirement = requirement;
    let sink = notices.clone();
    let counts = std::sync::Mutex::new((0usize, 0usize));
    request.emit = Some(Arc::new(move |event: &RunEvent<'_>| {
        if let Some(step) = progress_step(event, &counts) {
            sink.progress(step);
        }
    }));
    let thread_root = root.clone();
    let handle = std::thread::Builder::new()
        .name("tdd-run".into())
        .spawn(move || match execution::execute(request) {
            Ok(summary) => {
                let merged = summary
                    .report
                    .tasks
                    .iter()
                    .filter(|t| t.end == TaskEnd::Merged)
                    .count();
                let status = summary.status.to_string();
                notices.progress(Progress::End {
                    message: format!("{status}: {merged} merged"),
                });
                let mut message = format!(
                    "run {} {status}: {merged} merged into {}",
                    summary.run_id, summary.feature_branch
                );
                if let (Some(failures), Some(first)) = (summary.failures(), summary.first_failure())
                {
                    message.push_str(&format!(
                        "\n{failures}\n`tdd.retry` {first} tries it again, `tdd.skip` lets its \
                         dependents run"
                    ));
                }
                notices.finished(summary.status == RunStatus::Completed, message);
            }
            Err(e) => {
                notices.progress(Progress::End {
                    message: "could not start".into(),
                });
                notices.finished(false, format!("the run could not start: {e}"))
            }
        })
        .map_err(|e| format!("could not start the run's thread: {e}"))?;
    runs.track(thread_root, handle);
    Ok(json!({ "started": true, "resume": resume, "workers": count }))
}

/// Cancels the runs still going (as `tdd.cancel` does: their test runs and
/// workers are killed, each run is recorded as cancelled and can be resumed)
/// and waits for their threads. For the editor closing the server mid-run.
pub fn stop_all(runs: &Runs) {
    runs.cancel_all();
}

/// `tdd.pause` / `tdd.cancel`.
pub fn control(root: PathBuf, control: RunControl) -> Result<Value, String> {
    let run = execution::request(&root, Some(control)).map_err(|e| e.to_string())?;
    Ok(json!({ "run": run.0, "requested": control.as_str() }))
}

fn breaker_args(command: &str, args: &Value) -> Result<(Scope, String), String> {
    let usage =
        || format!("{command} needs {{\"scope\": \"stage\"|\"worker\"|\"system\", \"name\": …}}");
    let scope = args
        .get("scope")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Scope>().ok())
        .ok_or_else(usage)?;
    let name = args
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{command} needs the breaker's name"))?;
    Ok((scope, name.to_string()))
}

/// `tdd.resetBreaker` with `{ "scope": "stage|worker|system", "name": … }`.
pub fn reset_breaker(root: PathBuf, args: &Value) -> Result<Value, String> {
    let (scope, name) = breaker_args("tdd.resetBreaker", args)?;
    let change = operations::reset_breaker(&root, scope, &name).map_err(|e| e.to_string())?;
    Ok(json!({ "scope": scope.as_str(), "name": name, "reset": change.transition.is_some() }))
}

/// `tdd.isolateBreaker` with `{ "scope", "name", "reason"? }`: opens it
/// until a reset.
pub fn isolate_breaker(root: PathBuf, args: &Value) -> Result<Value, String> {
    let (scope, name) = breaker_args("tdd.isolateBreaker", args)?;
    let reason = args
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("isolated from the editor");
    let change =
        operations::isolate_breaker(&root, scope, &name, reason).map_err(|e| e.to_string())?;
    Ok(json!({ "scope": scope.as_str(), "name": name, "isolated": change.transition.is_some() }))
}

/// The task key of `{ "task": … }` and its PRD's path if given.
fn task_args(
    command: &str,
    root: &std::path::Path,
    args: &Value,
) -> Result<(String, Option<PathBuf>), String> {
    let task = args
        .get("task")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{command} needs {{\"task\": \"<task key>\"}}"))?;
    let prd = args
        .get("prd")
        .and_then(Value::as_str)
        .map(|p| root.join(p));
    Ok((task.to_string(), prd))
}

/// `tdd.retry` with `{ "task", "prd"?, "fresh"? }`: a failed, blocked or
/// skipped task back to pending.
pub fn retry(root: PathBuf, args: &Value) -> Result<Value, String> {
    let (task, prd) = task_args("tdd.retry", &root, args)?;
    let fresh = args.get("fresh").and_then(Value::as_bool).unwrap_or(false);
    let change =
        operations::retry(&root, &task, prd.as_deref(), fresh).map_err(|e| e.to_string())?;
    Ok(json!({ "task": change.key, "from": change.from.as_str(), "to": change.to.as_str() }))
}

/// `tdd.skip` with `{ "task", "prd"?, "reason"? }`.
pub fn skip(root: PathBuf, args: &Value) -> Result<Value, String> {
    let (task, prd) = task_args("tdd.skip", &root, args)?;
    let reason = args
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("skipped from the editor");
    let change =
        operations::skip(&root, &task, prd.as_deref(), reason).map_err(|e| e.to_string())?;
    Ok(json!({ "task": change.key, "from": change.from.as_str(), "to": change.to.as_str() }))
}

/// `tdd.done` with `{ "task": "REQ-1/AC-1.1" }`: the person finished the
/// stage the human worker waits on.
pub fn done(root: PathBuf, args: &Value) -> Result<Value, String> {
    let task = args
        .get("task")
        .and_then(Value::as_str)
        .ok_or("tdd.done needs {\"task\": \"<task key>\"}")?;
    tdd_workers::human::done(&root, task).map_err(|e| e.to_string())?;
    Ok(json!({ "task": task, "done": true }))
}

/// The progress step an event makes, counting tasks `(ended, to run)`.
fn progress_step(
    event: &RunEvent<'_>,
    counts: &std::sync::Mutex<(usize, usize)>,
) -> Option<Progress> {
    let mut counts = counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match event {
        RunEvent::Started {
            run_id,
            tasks,
            resumed,
            ..
        } => {
            *counts = (0, *tasks);
            let verb = if *resumed { "resumed" } else { "run" };
            Some(Progress::Begin {
                title: format!("tdd: {verb} {run_id}"),
                message: format!("0/{tasks} tasks"),
            })
        }
        RunEvent::TaskEnded { key, end } => {
            counts.0 += 1;
            let (ended, total) = *counts;
            let how = match end {
                TaskEnd::Merged => "merged",
                TaskEnd::Failed(_) => "failed",
                TaskEnd::Blocked { .. } => "blocked",
                TaskEnd::NotStarted { .. } => "not started",
            };
            Some(Progress::Report {
                message: format!("{ended}/{total} tasks ({key} {how})"),
                percentage: Some((ended * 100).checked_div(total).unwrap_or(100).min(100) as u32),
            })
        }
        RunEvent::Paused => Some(Progress::Report {
            message: "paused".into(),
            percentage: None,
        }),
        _ => None,
    }
}
