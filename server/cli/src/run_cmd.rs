//! `run`, `resume`, `pause`, `cancel`: driving a PRD's tasks through the
//! pipeline, with progress on the terminal (a bar) or plain lines otherwise.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tdd_core::config::WorkerKind;
use tdd_engine::execution::{
    self, Budget, Emit, RunEvent, RunRequest, RunStatus, RunSummary, StopReason,
};
use tdd_engine::pipeline::{AttemptRecord, FailureKind};
use tdd_engine::project;
use tdd_engine::scheduler::TaskEnd;
use tdd_engine::store::claims::RunControl;
use tdd_workers::Worker;

#[derive(Args, Clone)]
pub struct RunArgs {
    /// The PRD whose tasks to run (decompose it first). For `resume`, the
    /// PRD of the last unfinished run when omitted.
    pub prd: Option<PathBuf>,
    /// How many workers take tasks in parallel (default: [worker] count, else one per CPU core).
    #[arg(long)]
    pub workers: Option<u32>,
    /// Worker kind, overriding [worker] kind in .tdd/config.toml.
    #[arg(long, value_enum)]
    pub worker: Option<WorkerArg>,
    /// The scripted worker's script, overriding [worker.scripted] script.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Attempts per stage, the first one included (the FIX loop's bound).
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// Stop the run after this many worker attempts in all.
    #[arg(long)]
    pub budget_attempts: Option<u32>,
    /// Stop the run after this many minutes.
    #[arg(long)]
    pub budget_minutes: Option<f64>,
    /// Start no attempt once the run's model calls used this many tokens
    /// (input plus output; overrides [budget] tokens).
    #[arg(long)]
    pub budget_tokens: Option<u64>,
    /// Start no attempt once the run's priced model calls cost this many US
    /// dollars (overrides [budget] usd).
    #[arg(long)]
    pub budget_usd: Option<f64>,
    /// Limit for one test run, in seconds.
    #[arg(long, default_value_t = 600)]
    pub test_timeout: u64,
    /// Plain lines even on a terminal.
    #[arg(long)]
    pub plain: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum WorkerArg {
    Scripted,
    Command,
    Api,
    #[value(name = "claude_code")]
    ClaudeCode,
    Codex,
    Aider,
    Human,
}

fn root() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    Ok(project::find_root(&cwd))
}

/// The workers the configuration (and the flags over it) asks for.
pub fn workers(root: &Path, args: &RunArgs) -> Result<Vec<Box<dyn Worker>>> {
    let mut config = project::load_config(root)?.worker;
    if let Some(kind) = args.worker {
        config.kind = Some(match kind {
            WorkerArg::Scripted => WorkerKind::Scripted,
            WorkerArg::Command => WorkerKind::Command,
            WorkerArg::Api => WorkerKind::Api,
            WorkerArg::ClaudeCode => WorkerKind::ClaudeCode,
            WorkerArg::Codex => WorkerKind::Codex,
            WorkerArg::Aider => WorkerKind::Aider,
            WorkerArg::Human => WorkerKind::Human,
        });
    }
    if let Some(script) = &args.script {
        config.kind.get_or_insert(WorkerKind::Scripted);
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        config.scripted = Some(tdd_core::config::ScriptedWorkerConfig {
            script: cwd.join(script).display().to_string(),
        });
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let count = args.workers.unwrap_or(config.count_or_cores(cores));
    if count == 0 {
        bail!("--workers must be at least 1");
    }
    if count as usize > cores {
        // Measured (docs/performance.md): with CPU-bound tests, 4 workers on
        // 2 cores finished no sooner than 2; test runs take a slot per core.
        eprintln!(
            "note: {count} workers on {cores} cores: test runs go {cores} at a time; \
             more workers than cores help only when workers wait on a model or a person"
        );
    }
    (1..=count)
        .map(|n| tdd_workers::from_config(&config, root, &format!("w{n}")).map_err(Into::into))
        .collect()
}

pub fn run(args: RunArgs, resume: bool) -> Result<ExitCode> {
    let root = root()?;
    if resume && execution::run_in_progress(&root) {
        if !live_run_paused(&root) {
            println!(
                "a run is already working in this project (not paused): nothing to resume; \
                 `tdd-orchestrator pause` or `cancel` it"
            );
            return Ok(ExitCode::SUCCESS);
        }
        // A live run that was paused: let it go on.
        let run = execution::request(&root, None)?;
        println!("run {run}: asked to go on");
        return Ok(ExitCode::SUCCESS);
    }
    let prd = match &args.prd {
        Some(prd) => absolute(prd)?,
        None if resume => unfinished_prd(&root)?,
        None => bail!("name the PRD to run: `tdd-orchestrator run <prd>`"),
    };
    // What the project lacks before what the configuration does: a run
    // outside a git repository, or of a PRD that is not there, says so first.
    tdd_engine::git::Project::open(&root)?;
    if !prd.is_file() {
        eprintln!(
            "error: {} is not a file: name the PRD to run (`tdd-orchestrator status` lists the decomposed ones)",
            prd.display()
        );
        return Ok(ExitCode::from(1));
    }
    crate::serve_cmd::register(&root);
    let summary = match execute_run(&root, prd, &args, resume) {
        Ok(summary) => summary,
        // Refused, not broken (docs/operations.md): exit 1 with what to do.
        Err(e)
            if e.downcast_ref::<execution::ExecError>()
                .is_some_and(refused) =>
        {
            eprintln!("error: {}", crate::describe(&e));
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e),
    };
    Ok(print_summary(&summary))
}

/// Errors that refuse the request rather than fail to carry it out.
fn refused(e: &execution::ExecError) -> bool {
    use execution::ExecError::*;
    matches!(
        e,
        NotDecomposed { .. }
            | NothingToResume { .. }
            | NothingForRequirement { .. }
            | InvalidPrd { .. }
    )
}

/// The live run is paused, or asked to pause.
fn live_run_paused(root: &Path) -> bool {
    use tdd_engine::store::{Queries, Reader};
    let Ok(reader) = Reader::open(tdd_engine::planning::database_path(root)) else {
        return false;
    };
    let runs = reader.runs().unwrap_or_default();
    runs.iter()
        .rev()
        .find(|r| r.finished_at.is_none())
        .is_some_and(|r| r.status == "paused" || r.control == Some(RunControl::Pause))
}

/// Builds the workers and runs (or resumes) the PRD, printing progress.
pub fn execute_run(root: &Path, prd: PathBuf, args: &RunArgs, resume: bool) -> Result<RunSummary> {
    let workers = workers(root, args)?;
    let mut request = RunRequest::new(root, prd, workers);
    request.resume = resume;
    request.max_attempts = args.max_attempts.max(1);
    request.test_timeout = Duration::from_secs(args.test_timeout);
    request.budget = Budget {
        wall_time: args
            .budget_minutes
            .map(|m| Duration::from_secs_f64(m * 60.0)),
        attempts: args.budget_attempts,
        tokens: args.budget_tokens,
        usd: args.budget_usd,
    };
    let printer = Printer::new(!args.plain && std::io::stdout().is_terminal());
    request.emit = Some(printer.emit());
    stop_on_signals();
    let summary = execution::execute(request)?;
    printer.finish();
    Ok(summary)
}

/// The PRD of the newest run that did not complete.
fn unfinished_prd(root: &Path) -> Result<PathBuf> {
    use tdd_engine::store::{Queries, Reader};
    let db = tdd_engine::planning::database_path(root);
    let found = if db.exists() {
        let reader = Reader::open(&db)?;
        reader.read(|tx| {
            // The newest run that did not complete, over every PRD.
            let mut best = None;
            for prd in tx.prds()? {
                if let Some(run) = tx.latest_run(prd.id)?.filter(|r| r.status != "completed")
                    && best.as_ref().is_none_or(|(id, _)| run.id > *id)
                {
                    best = Some((run.id, prd));
                }
            }
            Ok::<_, tdd_engine::store::StoreError>(best.map(|(_, prd)| prd))
        })?
    } else {
        None
    };
    match found {
        Some(prd) => Ok(root.join(prd.path)),
        None => bail!("no run to resume: start one with `tdd-orchestrator run <prd>`"),
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    Ok(cwd.join(path))
}

pub fn control(control: Option<RunControl>) -> Result<ExitCode> {
    let root = root()?;
    let run = execution::request(&root, control)?;
    let what = match control {
        Some(RunControl::Pause) => "asked to pause: running stages finish, none starts",
        Some(RunControl::Cancel) => "asked to cancel: running test runs are stopped",
        None => "asked to go on",
    };
    println!("run {run}: {what}");
    Ok(ExitCode::SUCCESS)
}

/// `done <task>`: the person finished the stage the human worker waits on.
pub fn done(task: &str) -> Result<ExitCode> {
    let root = root()?;
    match tdd_workers::human::done(&root, task) {
        Ok(_) => {
            println!("{task}: done; the run judges it now");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Prints run events as lines, above a progress bar on a terminal.
#[derive(Clone)]
pub struct Printer {
    bar: Option<ProgressBar>,
}

impl Printer {
    pub fn new(terminal: bool) -> Printer {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} tasks  {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Printer { bar }
    }

    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }

    pub fn emit(&self) -> Emit {
        let printer = self.clone();
        Arc::new(move |event: &RunEvent<'_>| printer.event(event))
    }

    fn event(&self, event: &RunEvent<'_>) {
        match event {
            RunEvent::Started {
                run_id,
                resumed,
                tasks,
                finished,
                blocked,
                workers,
            } => {
                if let Some(bar) = &self.bar {
                    bar.set_length(*tasks as u64);
                }
                let verb = if *resumed { "resumed" } else { "started" };
                self.line(&format!(
                    "run {run_id} {verb}: {tasks} tasks to run, {finished} done before, {blocked} blocked, {workers} workers"
                ));
            }
            RunEvent::Recovered { claim } => self.line(&format!(
                "recovered {} from a run that stopped (worker {}, last heartbeat {})",
                claim.task_key, claim.worker, claim.heartbeat_at
            )),
            RunEvent::TaskStarted { key, worker } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{worker}: {key}"));
                }
                self.line(&format!("[{worker}] {key}: started"));
            }
            RunEvent::Attempt { task, record } => self.line(&attempt_line(&task.key, record)),
            RunEvent::TaskEnded { .. } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            RunEvent::Paused => self.line("paused: running stages finish, none starts"),
            RunEvent::Unpaused => self.line("going on"),
            RunEvent::Stopping { reason } => self.line(&format!("stopping: {reason}")),
            RunEvent::Warning { message } => self.line(&format!("warning: {message}")),
            RunEvent::Notice { key, message } => self.line(&format!("{key}: {message}")),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `[w1] REQ-1/AC-1.1 red #1: passed — 1 failed (assertion)` and the reasons.
pub fn attempt_line(key: &str, record: &AttemptRecord) -> String {
    let verdict = match record.failure_kind {
        None if record.outcome == Some(tdd_gates::Outcome::AlreadyImplemented) => {
            "already implemented".to_string()
        }
        None => "passed".to_string(),
        Some(FailureKind::Violation) => "REJECTED".to_string(),
        Some(FailureKind::Infrastructure) => "infrastructure error".to_string(),
        Some(FailureKind::ProviderOutage) => "provider outage".to_string(),
    };
    let mut line = format!(
        "[{}] {key} {} #{}: {verdict} — {}",
        record.worker,
        record.stage.as_str(),
        record.attempt,
        record.evidence.lines().next().unwrap_or_default()
    );
    for reason in &record.reasons {
        line.push_str(&format!("\n      [{}] {}", reason.code, reason.message));
    }
    for path in &record.reverted {
        line.push_str(&format!("\n      reverted {path}"));
    }
    line
}

/// The run's outcome per task; exit 0 only when every task is done.
pub fn print_summary(summary: &RunSummary) -> ExitCode {
    let mut merged = 0;
    // Said once, under the tasks, rather than on each task it held back.
    let stop_why = match &summary.status {
        RunStatus::Stopped(StopReason::ProviderUnreachable(why)) => Some(why.as_str()),
        _ => None,
    };
    // Keys in one column, however long (`SETUP/package:src/ledger`).
    let width = summary
        .report
        .tasks
        .iter()
        .map(|t| t.key.chars().count())
        .max()
        .unwrap_or(0)
        .max(16);
    for task in &summary.report.tasks {
        let text = match &task.end {
            TaskEnd::Merged => {
                merged += 1;
                "merged".to_string()
            }
            TaskEnd::Failed(f) => format!(
                "failed at {} ({}): {}",
                f.stage.as_str(),
                f.kind.as_str(),
                first_line(&f.reason)
            ),
            TaskEnd::Blocked { by } => format!("blocked by {by}"),
            TaskEnd::NotStarted { reason } if Some(reason.as_str()) == stop_why => {
                "not started".to_string()
            }
            TaskEnd::NotStarted { reason } => format!("not started: {reason}"),
        };
        println!("  {:<width$} {text}", task.key);
    }
    let status = match &summary.status {
        // It says what to do itself.
        RunStatus::Stopped(StopReason::ProviderUnreachable(_)) => summary.status.to_string(),
        RunStatus::Stopped(_) => format!("{}; `tdd-orchestrator resume` goes on", summary.status),
        done => done.to_string(),
    };
    println!(
        "run {} {status}: {merged} merged now, {} done before, feature branch {}",
        summary.run_id, summary.finished_before, summary.feature_branch
    );
    if let Some(hint) = next_steps(summary) {
        println!("{hint}");
    }
    match summary.status {
        RunStatus::Completed => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// What to do about the tasks that failed: a run that ends with failures
/// says which and how to go on, instead of leaving the user to guess.
fn next_steps(summary: &RunSummary) -> Option<String> {
    let said = summary.failures()?;
    let first = summary.first_failure()?;
    Some(format!(
        "{}\n\
         next: `tdd-orchestrator tasks show {first}` shows what it was told; \
         `tdd-orchestrator retry {first}` tries it again where it stopped, \
         `retry --fresh {first}` from a clean worktree, `skip {first}` lets its dependents run; \
         a retry that does not start is held by a circuit breaker: `tdd-orchestrator circuits status`, then `circuits reset <scope> <name>`",
        said
    ))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Ctrl-C or SIGTERM during a run stops it the way `cancel` does: test runs
/// and workers (in process groups of their own, which a terminal's Ctrl-C
/// does not reach) are killed, the run is recorded as cancelled, and
/// `resume` goes on. A second signal ends the process at once.
#[allow(unsafe_code)]
fn stop_on_signals() {
    extern "C" fn on_signal(_: libc::c_int) {
        execution::interrupt();
    }
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only adds to an atomic counter (async-signal
        // safe); SA_RESETHAND puts the default action back for the next one.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}
