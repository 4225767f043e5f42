//! Runs a decomposed PRD: its stored tasks go through the scheduler and the
//! stage pipeline, and every step is written back to the store as it happens,
//! so a run stopped at any point (a crash, SIGKILL, a cancel, the budget) is
//! taken up again by the next one with nothing lost and nothing done twice.
//!
//! - **One run per project at a time**: `.tdd/run.lock`, an OS file lock
//!   the kernel releases when the process dies.
//! - **Claims**: a task is claimed (status `running`) before its pipeline
//!   starts and released with its end status in one transaction. The
//!   watcher thread renews the run's and the claims' heartbeats, so a claim
//!   never expires under a long stage. Holding the run lock proves every
//!   other claim belongs to a dead process: a new run recovers them (their
//!   tasks go back to `pending`, with a `claim.recovered` event).
//! - **Resume**: the task branch's stage commits say which stages are done
//!   and the store's attempts say how far the FIX loop got (see
//!   [`crate::pipeline`]); a task merged just before a crash is recognised
//!   from the feature branch. `resume` continues the PRD's last run unless
//!   it completed (same run id, the FIX loops go on from their recorded
//!   attempts); `run` starts a new one and gives stages fresh FIX budgets.
//! - **Control from elsewhere**: `pause`, `cancel` and un-pausing are
//!   requests stored on the run ([`request`]); the watcher applies them.
//! - **Budget**: wall time (the watcher cancels at the deadline), and worker
//!   attempts, model tokens and US dollars over the whole run
//!   ([`meter::Meter`], which also prices each attempt's model use). A stopped run's
//!   unfinished tasks stay `pending`, never `failed`.
//! - Breaker changes are persisted with their transitions and events as the
//!   scheduler makes them.

mod control;
mod crashed;
mod event;
mod finish;
mod graph;
mod meter;
mod replan;
mod runner;
mod threads;
mod types;

pub use threads::RunThreads;
pub use types::{Budget, ExecError, RunRequest, RunStatus, RunSummary};

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tdd_core::pricing::PriceTable;

use control::{RunLock, Stopper, Watch, interrupts as interrupt_count, owner_id, watch};
pub use control::{StopReason, interrupt};
pub use event::{Emit, RunEvent};
use meter::{Meter, Totals};
use runner::StoreRunner;

use crate::breakers;
use crate::events::Event;
use crate::git::Project;
use crate::pipeline::{AttemptHook, NoticeHook, PipelineContext, Recorder};
use crate::planning;
use crate::project;
use crate::scheduler::{self, BreakerHook, SchedulerOptions, TaskEnd, WaitHook};
use crate::store::claims::RunControl;
use crate::store::runs::RunId;
use crate::store::{Queries, Store, StoreError, TaskStatus};
use tdd_workers::Worker;
use tdd_workers::process::CancelToken;

/// The name a PRD's branches carry: the configured prefix, else the file
/// name without its PRD extensions, as a branch-name component.
pub fn prd_name(prefix: Option<&str>, prd: &Path) -> String {
    if let Some(prefix) = prefix.filter(|p| !p.trim().is_empty()) {
        return sanitize(prefix);
    }
    let file = prd
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stem = file.as_str();
    for ext in [".md", ".yaml", ".yml", ".json", ".txt", ".prd"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    sanitize(stem)
}

fn sanitize(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "prd".to_string()
    } else {
        name
    }
}

/// Runs (or resumes) the PRD's remaining tasks; see the module docs.
pub fn execute(mut req: RunRequest) -> Result<RunSummary, ExecError> {
    // A stop asked for (SIGINT, say) from here on ends this run.
    let interrupts = interrupt_count();
    if req.workers.is_empty() {
        return Err(ExecError::NoWorkers);
    }
    let emit: Emit = req
        .emit
        .clone()
        .unwrap_or_else(|| Arc::new(|_: &RunEvent<'_>| {}));
    let config = project::load_config(&req.root)?;
    let git = Project::open(&req.root)?;
    let owner = owner_id();
    let _lock = RunLock::acquire(&req.root, &owner)?;
    // A run killed mid-update leaves git's lock files behind (a ref or a
    // worktree's index): with the run lock held, no other run is alive.
    git.clear_stale_locks()?;
    // And the worktrees its pool had parked (a whole checkout each).
    git.remove_stale_parked()?;
    let mut store = Store::open(planning::database_path(&req.root))?;
    let prd_path = if req.prd.is_absolute() {
        req.prd.clone()
    } else {
        req.root.join(&req.prd)
    };
    let rel = planning::relative_path(&req.root, &prd_path);
    let not_decomposed = || ExecError::NotDecomposed { prd: rel.clone() };
    let prd = store.read(|tx| tx.prd(&rel))?.ok_or_else(not_decomposed)?;
    let _span = tracing::info_span!("run", prd = %rel).entered();
    replan::refresh_plan(&req.root, &prd_path, &rel, &prd, &mut store, &emit)?;
    let rows = store.read(|tx| tx.tasks(prd.id))?;
    if rows.is_empty() {
        return Err(not_decomposed());
    }
    if let Some(requirement) = &req.requirement {
        let left = graph::only_requirement(graph::remaining(&rows)?.graph, requirement);
        if left.tasks.is_empty() {
            return Err(ExecError::NothingForRequirement {
                requirement: requirement.clone(),
            });
        }
    }

    // Where the log stood before this run: a new webhook receiver gets what follows.
    let log_start = store.read(|tx| tx.last_seq())?;
    // Take back dead claims and pick the run, in one transaction.
    let mut retried = Vec::new();
    let (run_id, recovered) = store.write(|tx| {
        let recovered = tx.recover_claims(&owner)?;
        for claim in &recovered {
            let event = Event::ClaimRecovered {
                owner: claim.owner.clone(),
                worker: claim.worker.clone(),
                run: claim.run_id.0,
                heartbeat_at: claim.heartbeat_at.clone(),
            };
            tx.log(Some(prd.id), Some(&claim.task_key), &event)?;
        }
        let latest = tx.latest_run(prd.id)?;
        let run_id = match (req.resume, latest) {
            // Stopped by a crash, a cancel, the budget, or with failures
            // since retried: any run but a completed one goes on.
            (true, Some(run)) if run.status != "completed" => {
                tx.adopt_run(run.id, &owner)?;
                retried = crashed::retry_infrastructure_failures(tx, prd.id, run.id)?;
                let owner = owner.clone();
                tx.log(
                    Some(prd.id),
                    None,
                    &Event::RunResumed {
                        run: run.id.0,
                        owner,
                    },
                )?;
                run.id
            }
            (true, _) => return Err(ExecError::NothingToResume { prd: rel.clone() }),
            (false, previous) => {
                if let Some(run) = previous.filter(|r| r.finished_at.is_none()) {
                    tx.finish_run(run.id, "interrupted")?;
                }
                let id = tx.start_run(prd.id, &owner)?;
                let owner = owner.clone();
                tx.log(Some(prd.id), None, &Event::RunStarted { run: id.0, owner })?;
                id
            }
        };
        Ok::<_, ExecError>((run_id, recovered))
    })?;
    for claim in &recovered {
        emit(&RunEvent::Recovered { claim });
    }
    for key in &retried {
        emit(&RunEvent::Notice {
            key,
            message: "failed on infrastructure in the interrupted run: retried",
        });
    }
    let rows = store.read(|tx| tx.tasks(prd.id))?;
    let mut remaining = graph::remaining(&rows)?;
    if let Some(requirement) = &req.requirement {
        remaining.graph = graph::only_requirement(remaining.graph, requirement);
    }
    store.write(|tx| {
        for (id, _) in &remaining.blocked {
            tx.set_task_status(*id, TaskStatus::Blocked)?;
        }
        Ok::<_, StoreError>(())
    })?;
    let breakers = breakers::load(&store, config.breakers.clone())?;
    emit(&RunEvent::Started {
        run_id,
        resumed: req.resume,
        tasks: remaining.graph.tasks.len(),
        finished: remaining.finished,
        blocked: remaining.blocked.len(),
        workers: req.workers.len(),
    });

    let store = Arc::new(Mutex::new(store));
    // Pauses, warnings and notices go into the log as well, so a panel that
    // opens later (or another process) sees them.
    let emit = event::logged(emit, store.clone(), prd.id, run_id);
    let name = prd_name(config.project.prefix.as_deref(), &prd_path);
    let mut ctx = PipelineContext::new(
        git,
        &name,
        &config.project.base_branch,
        config.project.layout(),
    );
    ctx.env = std::mem::take(&mut req.env);
    ctx.test_timeout = req.test_timeout;
    ctx.checks = config.verify.commands.clone().into_iter().collect();
    ctx.max_fix_attempts = req.max_attempts.max(1) - 1;
    ctx.recorder = Some(Recorder {
        store: store.clone(),
        run_id,
        task_ids: remaining.ids.clone(),
        prd_id: Some(prd.id),
    });
    let hook_emit = emit.clone();
    ctx.on_attempt = Some(AttemptHook(Arc::new(move |task, record| {
        hook_emit(&RunEvent::Attempt { task, record })
    })));
    let notice_emit = emit.clone();
    ctx.on_notice = Some(NoticeHook(Arc::new(move |key, message| {
        notice_emit(&RunEvent::Notice { key, message })
    })));

    let cancel = CancelToken::default();
    let stopper = Stopper::default();
    let budget = Budget {
        tokens: req.budget.tokens.or(config.budget.tokens),
        usd: req.budget.usd.or(config.budget.usd),
        ..req.budget
    };
    let used_before = {
        let store = store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        store.read(|tx| meter::used_by_run(tx, prd.id, run_id))?
    };
    let meter = Meter {
        prices: PriceTable::new(&config.pricing),
        budget,
        totals: Arc::new(Mutex::new(Totals::resumed(used_before))),
        cancel: cancel.clone(),
        stopper: stopper.clone(),
        emit: emit.clone(),
    };
    let workers: Vec<Box<dyn Worker>> = std::mem::take(&mut req.workers)
        .into_iter()
        .map(|inner| meter.wrap(inner))
        .collect();
    // Breaker changes are saved as they happen, so a crash keeps them.
    let hook_store = store.clone();
    let hook_emit = emit.clone();
    let wait_emit = emit.clone();
    let options = SchedulerOptions {
        breakers,
        on_breaker_change: Some(BreakerHook(Arc::new(move |changes| {
            let saved = hook_store
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .write(|tx| breakers::persist_changes(tx, changes));
            // The store's lock is free again: the warning is logged too.
            if let Err(e) = saved {
                let message = format!("could not save a breaker change: {e}");
                hook_emit(&RunEvent::Warning { message: &message });
            }
        }))),
        on_wait: Some(WaitHook(Arc::new(move |worker, why| {
            let message = format!("[{worker}] {why}");
            wait_emit(&RunEvent::Warning { message: &message });
        }))),
        ..SchedulerOptions::default()
    };
    let runner = StoreRunner {
        ctx: &ctx,
        store: store.clone(),
        run_id,
        prd_id: prd.id,
        owner: owner.clone(),
        ids: remaining.ids.clone(),
        emit: emit.clone(),
    };
    // Webhooks are delivered by whichever process runs the project's run.
    let warn_emit = emit.clone();
    let deliverer = crate::webhooks::start(&req.root, &config.webhooks, log_start, &|message| {
        warn_emit(&RunEvent::Warning { message: &message })
    });
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let report = std::thread::scope(|scope| {
        scope.spawn(|| {
            watch(Watch {
                store: &store,
                run_id,
                owner: &owner,
                pause: &options.pause,
                cancel: &cancel,
                stopper: &stopper,
                emit: &emit,
                interval: req.heartbeat,
                deadline: req.budget.wall_time.map(|w| (started + w, w)),
                done: &done,
                interrupts,
            })
        });
        // Made once up front so workers do not race to create it; a failure
        // shows again in each task's outcome.
        let _ = ctx.project.ensure_feature_branch(&ctx.prd, &ctx.base);
        let report = scheduler::run(&runner, &remaining.graph, workers, &options, &cancel);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        report
    });
    for task in &report.tasks {
        emit(&RunEvent::TaskEnded {
            key: &task.key,
            end: &task.end,
        });
    }

    let status = match stopper.reason() {
        Some(reason) => RunStatus::Stopped(reason),
        None if report.unreachable.is_some() => RunStatus::Stopped(
            StopReason::ProviderUnreachable(report.unreachable.clone().unwrap_or_default()),
        ),
        None if report
            .tasks
            .iter()
            .all(|t| matches!(t.end, TaskEnd::Merged))
            && remaining.blocked.is_empty()
            && remaining.failed.is_empty() =>
        {
            RunStatus::Completed
        }
        None => RunStatus::Failed,
    };
    finish::finish(&store, prd.id, run_id, &remaining.ids, &report, &status)?;
    if let Some(deliverer) = deliverer {
        deliverer.finish();
    }
    Ok(RunSummary {
        run_id,
        status,
        feature_branch: format!("tdd/{name}"),
        report,
        recovered,
        finished_before: remaining.finished,
        failed_before: types::failed_before(&remaining, &rows),
    })
}

/// Asks the project's running run to pause, go on (`None`), or cancel.
/// Returns the run asked.
pub fn request(root: &Path, control: Option<RunControl>) -> Result<RunId, ExecError> {
    if !RunLock::held(root) {
        return Err(ExecError::NoActiveRun);
    }
    let mut store = Store::open(planning::database_path(root))?;
    let run = store
        .read(|tx| tx.unfinished_runs())?
        .into_iter()
        .next()
        .ok_or(ExecError::NoActiveRun)?;
    store.write(|tx| {
        tx.set_run_control(run.id, control)?;
        let event = match control {
            Some(RunControl::Pause) => Event::PauseRequested { run: run.id.0 },
            Some(RunControl::Cancel) => Event::CancelRequested { run: run.id.0 },
            None => Event::ContinueRequested { run: run.id.0 },
        };
        tx.log(Some(run.prd_id), None, &event)
    })?;
    Ok(run.id)
}

/// A run of `prd` with the workers `.tdd/config.toml` names (one per core
/// when it does not say how many): what an editor or the daemon starts.
pub fn configured_request(root: &Path, prd: &Path) -> Result<RunRequest, String> {
    let config = project::load_config(root).map_err(|e| e.to_string())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = (1..=config.worker.count_or_cores(cores))
        .map(|n| tdd_workers::from_config(&config.worker, root, &format!("w{n}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok(RunRequest::new(root, prd, workers))
}

/// Whether a run is working in the project right now.
pub fn run_in_progress(root: &Path) -> bool {
    RunLock::held(root)
}
