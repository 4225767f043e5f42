//! `circuits`, `retry`, `skip`, and the attempts part of `tasks show`: what
//! an operator does by hand between (or during) runs. The engine side is
//! `tdd_engine::operations`.
//!
//! Exit codes: 0 done (or nothing to do), 1 refused or not found (the message
//! says what to do), 2 could not run (through `main`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use tdd_core::breaker::{Scope, Transition};
use tdd_engine::operations::{self, BreakerChange, BreakerStatus, OpError, TaskChange};
use tdd_engine::project;
use tdd_engine::store::claims::RunRow;
use tdd_engine::store::runs::{AttemptRow, RunId};
use tdd_workers::usage::Usage;

#[derive(Subcommand)]
pub enum CircuitsCommand {
    /// Every stored breaker: state, failures, when it opened, its last transition.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Close a breaker by hand (its failure count is cleared).
    Reset {
        #[arg(value_enum)]
        scope: ScopeArg,
        /// `<task key>:<stage>` for a stage, the worker's name, or `system`.
        name: String,
    },
    /// Open a breaker by hand until it is reset: nothing it guards is dispatched.
    Isolate {
        #[arg(value_enum)]
        scope: ScopeArg,
        /// `<task key>:<stage>` for a stage, the worker's name, or `system`.
        name: String,
        /// Why, kept with the transition.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    Stage,
    Worker,
    System,
}

impl From<ScopeArg> for Scope {
    fn from(arg: ScopeArg) -> Scope {
        match arg {
            ScopeArg::Stage => Scope::Stage,
            ScopeArg::Worker => Scope::Worker,
            ScopeArg::System => Scope::System,
        }
    }
}

#[derive(Args)]
pub struct RetryArgs {
    /// The task key, e.g. REQ-1/AC-1.1.
    pub key: String,
    /// The PRD the task belongs to (needed when several PRDs have the key).
    #[arg(long)]
    pub prd: Option<PathBuf>,
    /// Also delete the task's worktree and branch: it starts over from the
    /// feature branch instead of resuming from its stage commits.
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Args)]
pub struct SkipArgs {
    /// The task key, e.g. REQ-1/AC-1.1.
    pub key: String,
    /// The PRD the task belongs to (needed when several PRDs have the key).
    #[arg(long)]
    pub prd: Option<PathBuf>,
    /// Why, kept with the `task.skipped` event.
    #[arg(long, default_value = "skipped by the operator")]
    pub reason: String,
}

fn root() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    Ok(project::find_root(&cwd))
}

/// Prints the outcome, or the refusal with exit 1; anything else is exit 2.
fn report<T>(result: Result<T, OpError>, print: impl FnOnce(T)) -> Result<ExitCode> {
    match result {
        Ok(value) => {
            print(value);
            Ok(ExitCode::SUCCESS)
        }
        Err(err) if err.is_refusal() => {
            eprintln!("error: {err}");
            Ok(ExitCode::from(1))
        }
        Err(err) => Err(err.into()),
    }
}

pub fn circuits(command: CircuitsCommand) -> Result<ExitCode> {
    let root = root()?;
    match command {
        CircuitsCommand::Status { format } => {
            report(operations::breaker_statuses(&root), |all| match format {
                Format::Text => print!("{}", breakers_text(&all)),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&breakers_json(&all)).expect("JSON values print")
                ),
            })
        }
        CircuitsCommand::Reset { scope, name } => report(
            operations::reset_breaker(&root, scope.into(), &name),
            |change| print_breaker_change(&change, "closed already (its failure count cleared)"),
        ),
        CircuitsCommand::Isolate {
            scope,
            name,
            reason,
        } => report(
            operations::isolate_breaker(&root, scope.into(), &name, &reason),
            |change| print_breaker_change(&change, "open until reset already"),
        ),
    }
}

fn breakers_text(all: &[BreakerStatus]) -> String {
    if all.is_empty() {
        return "No circuit breaker is stored yet: they appear when a run records failures.\n"
            .to_string();
    }
    let width = all.iter().map(|b| b.row.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for b in all {
        let row = &b.row;
        let mut line = format!(
            "{:6}  {:width$}  {:9}  failures {}",
            row.scope, row.name, row.state, row.failures
        );
        if let Some(at) = &row.opened_at {
            line.push_str(&format!("  opened {at}"));
        }
        if let Some(detail) = &b.detail {
            line.push_str(&format!("  ({detail})"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(t) = &b.last_transition {
            out.push_str(&format!(
                "        last: {} → {} at {}: {}\n",
                t.from_state,
                t.to_state,
                t.at,
                t.reason.as_deref().unwrap_or("no reason recorded")
            ));
        }
    }
    if all.iter().any(|b| b.row.state != "closed") {
        out.push_str("Close one with `tdd-orchestrator circuits reset <scope> <name>`.\n");
    }
    out
}

fn breakers_json(all: &[BreakerStatus]) -> Value {
    let breakers: Vec<Value> = all
        .iter()
        .map(|b| {
            json!({
                "scope": b.row.scope,
                "name": b.row.name,
                "state": b.row.state,
                "failures": b.row.failures,
                "opened_at": b.row.opened_at,
                "detail": b.detail,
                "last_transition": b.last_transition.as_ref().map(|t| json!({
                    "from": t.from_state,
                    "to": t.to_state,
                    "at": t.at,
                    "reason": t.reason,
                })),
            })
        })
        .collect();
    json!({ "breakers": breakers })
}

fn print_breaker_change(change: &BreakerChange, unchanged: &str) {
    let what = format!("{} breaker {}", change.scope, change.name);
    match &change.transition {
        Some(Transition {
            from, to, reason, ..
        }) => println!("{what}: {from} → {to} ({reason})"),
        None => println!("{what}: {unchanged}"),
    }
    if change.run_in_progress {
        println!(
            "note: a run is in progress; it read the breakers when it started and may not see this change before the next run"
        );
    }
}

pub fn retry(args: RetryArgs) -> Result<ExitCode> {
    let root = root()?;
    let result = operations::retry(&root, &args.key, args.prd.as_deref(), args.fresh);
    report(result, |change| {
        if let Some(path) = &change.removed_worktree {
            println!("removed worktree {}", path.display());
        }
        if let Some(branch) = &change.deleted_branch {
            println!("deleted branch {branch}");
        }
        print_task_change(&change, "retry");
        if !change.waits_on_failed.is_empty() {
            println!(
                "note: it depends on failed {}: it stays blocked until that is retried or skipped",
                change.waits_on_failed.join(", ")
            );
        }
        for name in &change.open_breakers {
            println!(
                "note: its stage breaker {name} is open: `tdd-orchestrator circuits reset stage {name}` lets it run"
            );
        }
    })
}

pub fn skip(args: SkipArgs) -> Result<ExitCode> {
    let root = root()?;
    let result = operations::skip(&root, &args.key, args.prd.as_deref(), &args.reason);
    report(result, |change| {
        print_task_change(&change, "skip");
        if !change.dependents.is_empty() {
            println!(
                "tasks that depend on it may now run: {}",
                change.dependents.join(", ")
            );
        }
        println!(
            "note: decomposing {} again brings a skipped task back as pending",
            change.prd
        );
    })
}

fn print_task_change(change: &TaskChange, what: &str) {
    let (key, prd) = (&change.key, &change.prd);
    if change.seq.is_none() || change.from == change.to {
        println!("{key} ({prd}) is {} already", change.to);
    } else {
        println!("{key} ({prd}): {} → {}", change.from, change.to);
    }
    if change.released_claim {
        println!("released the claim left by a run that stopped");
    }
    let next = if what == "retry" {
        "it runs"
    } else {
        "its dependents run"
    };
    if change.run_in_progress {
        println!(
            "note: a run is in progress and will not pick this up: {next} at the next `tdd-orchestrator run {prd}`"
        );
    } else {
        println!("{next} at the next `tdd-orchestrator run {prd}`");
    }
}

/// Every attempt of a task, grouped by run, for `tasks show`.
pub fn attempts_text(attempts: &[AttemptRow], runs: &HashMap<RunId, RunRow>) -> String {
    if attempts.is_empty() {
        return "attempts   none yet\n".to_string();
    }
    let mut out = format!("attempts   {}\n", attempts.len());
    if let Some(total) = Usage::total(attempts.iter().filter_map(|a| a.usage)) {
        out.push_str(&format!("model use  {total}\n"));
    }
    let mut run = None;
    for a in attempts {
        if run != Some(a.run_id) {
            run = Some(a.run_id);
            let status = runs
                .get(&a.run_id)
                .map(|r| format!(" ({}, started {})", r.status, r.started_at))
                .unwrap_or_default();
            out.push_str(&format!("  run {}{status}\n", a.run_id));
        }
        out.push_str(&attempt_text(a));
    }
    out
}

fn attempt_text(a: &AttemptRow) -> String {
    let outcome = match (a.failure_kind.as_deref(), &a.finished_at) {
        (None, None) => "unfinished",
        (None, Some(_)) => "passed",
        (Some("provider_outage"), _) => "provider outage",
        (Some(kind), _) => kind,
    };
    let finished = a.finished_at.as_deref().map(|f| same_day(&a.started_at, f));
    let mut out = format!(
        "    {} #{}  {outcome}  worker {}  {} → {}\n",
        a.stage,
        a.attempt,
        a.worker,
        a.started_at,
        finished.unwrap_or("…")
    );
    if let Some(usage) = &a.usage {
        out.push_str(&format!("      model  {usage}\n"));
    }
    if let Some(summary) = &a.test_summary {
        let exit = a
            .exit_code
            .map(|c| format!(" (exit {c})"))
            .unwrap_or_default();
        out.push_str(&format!("      tests  {}{exit}\n", counts(summary)));
    }
    if let Some(diff) = &a.diff_stats {
        let paths = diff["paths"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|p| !p.is_empty())
            .map(|p| format!(": {p}"))
            .unwrap_or_default();
        out.push_str(&format!("      diff   {}{paths}\n", counts(diff)));
    }
    for line in a.evidence.as_deref().unwrap_or_default().lines() {
        out.push_str(&format!("      {line}\n"));
    }
    out
}

/// The finish time without its date when it is the start's date.
fn same_day<'a>(started: &str, finished: &'a str) -> &'a str {
    match (started.split_once('T'), finished.split_once('T')) {
        (Some((day, _)), Some((other, time))) if day == other => time,
        _ => finished,
    }
}

/// `failed 0, passed 1, …` from an object's numeric fields.
fn counts(value: &Value) -> String {
    let Some(map) = value.as_object() else {
        return value.to_string();
    };
    map.iter()
        .filter(|(_, v)| v.is_number())
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
