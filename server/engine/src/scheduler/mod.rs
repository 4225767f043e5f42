//! The scheduler: a pool of workers takes the ready tasks of a [`TaskGraph`]
//! in parallel, each task through the stage pipeline in its own worktree
//! (ARCHITECTURE.md describes the whole engine).
//!
//! Pull-based: one thread per worker, and a worker takes the next ready task
//! the moment it is free. A task is **ready** when
//!
//! - every task it depends on has merged (or was skipped, see below),
//! - no running task writes a file it writes (`writes` overlap: the same path,
//!   or one path a directory holding the other), and
//! - the breakers allow it: [`Breakers::check_dispatch`] with the task's key,
//!   the stage `red` (where every task starts) and the worker's name.
//!
//! Among ready tasks the one heading the longest chain of dependents goes
//! first (the critical path: in plain graph order, workers idled at narrow
//! waves, see docs/performance.md); ties go by the graph's order: by wave,
//! then by position in [`TaskGraph::tasks`]. A stage breaker that refuses
//! only skips that task; a worker or system breaker that refuses keeps the
//! worker idle until the injected clock ([`SchedulerOptions::clock`]) passes
//! the breaker's time. A worker whose own breaker is open until a manual
//! reset leaves the run (no reset can happen while the scheduler owns the
//! breakers).
//!
//! After each task the outcome goes to [`Breakers::record_outcome`]: a merge
//! as a success of the stage it was dispatched for (`red`), a failure with the
//! stage that failed and its kind (violation, infrastructure, provider
//! outage; a merge conflict counts as a violation of `merge`). Every breaker
//! change is kept, in order, in [`SchedulerReport::breaker_changes`].
//!
//! A task that fails is not retried: it ends [`TaskEnd::Failed`] and every
//! task that depends on it, directly or not, ends [`TaskEnd::Blocked`] naming
//! it; tasks that do not depend on it go on. The exception is a provider
//! outage, which is not the task's fault: the task goes back to pending for
//! another worker, up to [`MAX_OUTAGE_REQUEUES`] times (the pipeline takes it
//! up where it stopped).
//!
//! **Setup tasks** (`TaskKind::Setup`) are dispatched like the others; the
//! pipeline does them without asking the worker (see `pipeline/setup.rs`).
//!
//! **Pause** ([`SchedulerOptions::pause`]): running tasks finish, no task
//! starts until it is lifted; [`run`] keeps waiting meanwhile (cancel ends
//! it). **Cancel** (the [`CancelToken`]): no task starts any more and `run`
//! returns once the running ones have returned; tasks never started end
//! [`TaskEnd::NotStarted`]. The token is handed to the [`TaskRunner`]; the
//! pipeline ([`PipelineRunner`]) puts it in its context, so running test runs
//! are killed (the task then ends as an infrastructure failure). The
//! [`Worker`] trait takes no token: a worker attempt that is under way is not
//! interrupted, the task stops at its next test run.

mod pick;
mod types;

pub use types::*;

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tdd_core::breaker::{BreakerConfig, Breakers, Change, Millis, Outcome};
use tdd_core::plan::{Task, TaskGraph};
use tdd_gates::Stage;

use crate::pipeline::{FailureKind, PipelineContext, TaskOutcome, TaskStatus, run_task};
use tdd_workers::Worker;
use tdd_workers::process::CancelToken;

use pick::{Pick, any_startable, pick};

/// How often a provider outage puts a task back for another worker before
/// it ends failed.
pub const MAX_OUTAGE_REQUEUES: u32 = 3;

/// The stage every dispatch is checked against: every task starts with RED.
const DISPATCH_STAGE: Stage = Stage::Red;

/// [`run`] with the stage pipeline in `ctx`. The feature branch is made once
/// up front so the workers do not race to create it (a failure there shows
/// again in each task's outcome).
pub fn run_pipeline(
    ctx: &PipelineContext,
    graph: &TaskGraph,
    workers: Vec<Box<dyn Worker>>,
    options: &SchedulerOptions,
    cancel: &CancelToken,
) -> SchedulerReport {
    let _ = ctx.project.ensure_feature_branch(&ctx.prd, &ctx.base);
    run(&PipelineRunner { ctx }, graph, workers, options, cancel)
}

enum Slot {
    Pending,
    Running { started: Duration, clock: Millis },
    Done(TaskEnd),
}

struct State {
    slots: Vec<Slot>,
    worker_of: Vec<Option<String>>,
    outcomes: Vec<Option<TaskOutcome>>,
    breakers: Breakers,
    changes: Vec<Change>,
    timeline: Vec<Span>,
    runs: Vec<WorkerRun>,
    on_change: Option<BreakerHook>,
    /// Per task: how often a provider outage sent it back to pending.
    requeues: Vec<u32>,
    /// Some worker attempt ended other than by a provider outage: the
    /// provider (if any) answered at least once.
    answered: bool,
    /// The last provider outage's reason, when no connection could be made.
    last_outage: Option<String>,
    /// Why the run ended for an unreachable provider.
    unreachable: Option<String>,
}

impl State {
    /// Every task still pending ends "not started", saying `why`.
    fn end_pending(&mut self, plan: &Plan<'_>, why: &str) {
        for &i in &plan.order {
            if matches!(self.slots[i], Slot::Pending) {
                self.slots[i] = Slot::Done(TaskEnd::NotStarted {
                    reason: why.to_string(),
                });
            }
        }
    }

    fn drain_changes(&mut self) {
        let changes = self.breakers.take_changes();
        if let Some(hook) = &self.on_change
            && !changes.is_empty()
        {
            (hook.0)(&changes);
        }
        self.changes.extend(changes);
    }

    fn pending(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Pending))
            .count()
    }

    fn running(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Running { .. }))
            .count()
    }
}

struct Plan<'g> {
    tasks: &'g [Task],
    /// Task indices in dispatch order: longest chain of dependents first, then wave, then position.
    order: Vec<usize>,
    /// Per task: the indices of its dependencies (`None`: unknown key).
    deps: Vec<Vec<Option<usize>>>,
}

/// Runs every task of `graph` with `workers` (see the module documentation).
pub fn run(
    runner: &dyn TaskRunner,
    graph: &TaskGraph,
    workers: Vec<Box<dyn Worker>>,
    options: &SchedulerOptions,
    cancel: &CancelToken,
) -> SchedulerReport {
    let plan = plan(graph);
    let n = graph.tasks.len();
    let mut state = State {
        slots: (0..n).map(|_| Slot::Pending).collect(),
        worker_of: vec![None; n],
        outcomes: vec![None; n],
        breakers: options.breakers.clone(),
        on_change: options.on_breaker_change.clone(),
        requeues: vec![0; n],
        answered: false,
        last_outage: None,
        unreachable: None,
        changes: Vec::new(),
        timeline: Vec::new(),
        runs: workers
            .iter()
            .map(|w| WorkerRun {
                name: w.name().to_string(),
                tasks: Vec::new(),
                last_refusal: None,
            })
            .collect(),
    };
    for (i, deps) in plan.deps.iter().enumerate() {
        if matches!(state.slots[i], Slot::Pending)
            && let Some(pos) = deps.iter().position(Option::is_none)
        {
            let missing = &graph.tasks[i].depends_on[pos];
            state.slots[i] = Slot::Done(TaskEnd::NotStarted {
                reason: format!("it depends on `{missing}`, which is not in the plan"),
            });
            block_dependents(&mut state, &plan, i);
        }
    }
    let shared = (Mutex::new(state), Condvar::new());
    let start = Instant::now();

    // Each worker thread logs under the caller's span (the run's).
    let span = tracing::Span::current();
    std::thread::scope(|scope| {
        for (index, worker) in workers.into_iter().enumerate() {
            let shared = &shared;
            let plan = &plan;
            let span = span.clone();
            scope.spawn(move || {
                let _entered = span.entered();
                work(index, worker, runner, plan, shared, options, cancel, start)
            });
        }
    });

    let state = shared
        .0
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let cancelled = cancel.is_cancelled();
    let tasks = graph
        .tasks
        .iter()
        .zip(state.slots)
        .zip(state.worker_of)
        .zip(state.outcomes)
        .map(|(((task, slot), worker), outcome)| TaskReport {
            key: task.key.clone(),
            end: match slot {
                Slot::Done(end) => end,
                _ if cancelled => TaskEnd::NotStarted {
                    reason: "the run was cancelled before it started".to_string(),
                },
                _ => TaskEnd::NotStarted {
                    reason: "no worker could take it (every worker left the run)".to_string(),
                },
            },
            worker,
            outcome,
        })
        .collect();
    SchedulerReport {
        tasks,
        workers: state.runs,
        timeline: state.timeline,
        breakers: state.breakers,
        breaker_changes: state.changes,
        cancelled,
        unreachable: state.unreachable,
    }
}

fn plan(graph: &TaskGraph) -> Plan<'_> {
    let index: HashMap<&str, usize> = graph
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    let mut wave = vec![usize::MAX; graph.tasks.len()];
    for (w, keys) in graph.waves.iter().enumerate() {
        for key in keys {
            if let Some(&i) = index.get(key.as_str()) {
                wave[i] = wave[i].min(w);
            }
        }
    }
    let mut order: Vec<usize> = (0..graph.tasks.len()).collect();
    order.sort_by_key(|&i| (wave[i], i));
    let deps: Vec<Vec<Option<usize>>> = graph
        .tasks
        .iter()
        .map(|t| {
            t.depends_on
                .iter()
                .map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    // Chain lengths, dependents before their dependencies (a dependent sits in
    // a later wave). Only a priority: a cycle or a task in no wave just gets a
    // shorter chain than it has.
    let mut chain = vec![1usize; graph.tasks.len()];
    for &i in order.iter().rev() {
        for &d in deps[i].iter().flatten() {
            chain[d] = chain[d].max(chain[i] + 1);
        }
    }
    order.sort_by_key(|&i| (std::cmp::Reverse(chain[i]), wave[i], i));
    Plan {
        tasks: &graph.tasks,
        order,
        deps,
    }
}

fn lock(mutex: &Mutex<State>) -> MutexGuard<'_, State> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One worker's thread.
#[allow(clippy::too_many_arguments)]
fn work(
    index: usize,
    mut worker: Box<dyn Worker>,
    runner: &dyn TaskRunner,
    plan: &Plan<'_>,
    (mutex, wake): &(Mutex<State>, Condvar),
    options: &SchedulerOptions,
    cancel: &CancelToken,
    start: Instant,
) {
    let name = worker.name().to_string();
    let mut state = lock(mutex);
    loop {
        if cancel.is_cancelled() || state.pending() == 0 {
            break;
        }
        if !options.pause.is_paused() {
            if state.running() == 0 && !any_startable(&state, plan) {
                // Only a dependency cycle leaves pending tasks that nothing can free.
                for &i in &plan.order {
                    if matches!(state.slots[i], Slot::Pending) {
                        state.slots[i] = Slot::Done(TaskEnd::NotStarted {
                            reason: "its dependencies can never merge (a cycle)".to_string(),
                        });
                    }
                }
                wake.notify_all();
                break;
            }
            let now = (options.clock)();
            match pick(&mut state, plan, &name, now) {
                Pick::Task(i) => {
                    let started = start.elapsed();
                    state.slots[i] = Slot::Running {
                        started,
                        clock: now,
                    };
                    state.worker_of[i] = Some(name.clone());
                    state.runs[index].tasks.push(plan.tasks[i].key.clone());
                    drop(state);
                    let task = &plan.tasks[i];
                    let ran = catch_unwind(AssertUnwindSafe(|| {
                        runner.run_task(task, worker.as_mut(), cancel)
                    }))
                    .unwrap_or_else(|_| Ran {
                        result: Err(TaskFailure {
                            stage: DISPATCH_STAGE,
                            kind: FailureKind::Infrastructure,
                            reason: "the task runner panicked".to_string(),
                        }),
                        outcome: None,
                    });
                    state = lock(mutex);
                    finish(&mut state, plan, i, ran, &name, options, start);
                    wake.notify_all();
                    continue;
                }
                Pick::Retire(why) => {
                    state.runs[index].last_refusal = Some(why);
                    break;
                }
                Pick::Unreachable(why) if state.running() == 0 => {
                    state.end_pending(plan, &why);
                    state.unreachable = Some(why);
                    wake.notify_all();
                    break;
                }
                // Another worker's task may still get an answer.
                Pick::Unreachable(why) => {
                    state.runs[index].last_refusal = Some(why);
                }
                Pick::Stuck(why) if state.running() == 0 => {
                    // Nothing runs that could change it: end, saying why.
                    state.end_pending(plan, &why);
                    wake.notify_all();
                    break;
                }
                Pick::Stuck(why) => {
                    if Some(&why) != state.runs[index].last_refusal.as_ref() {
                        if let Some(hook) = &options.on_wait {
                            (hook.0)(&name, &why);
                        }
                        state.runs[index].last_refusal = Some(why);
                    }
                }
                Pick::Wait(refusal) => {
                    if refusal != state.runs[index].last_refusal
                        && let (Some(hook), Some(why)) = (&options.on_wait, &refusal)
                    {
                        (hook.0)(&name, why);
                    }
                    if refusal.is_some() {
                        state.runs[index].last_refusal = refusal;
                    }
                }
            }
        }
        state = wake
            .wait_timeout(state, options.poll)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    drop(state);
    wake.notify_all();
}

fn finish(
    state: &mut State,
    plan: &Plan<'_>,
    i: usize,
    ran: Ran,
    worker: &str,
    options: &SchedulerOptions,
    start: Instant,
) {
    let key = &plan.tasks[i].key;
    if let Slot::Running { started, clock, .. } = state.slots[i] {
        state.timeline.push(Span {
            task: key.clone(),
            worker: worker.to_string(),
            started,
            ended: start.elapsed(),
            clock_started: clock,
        });
    }
    let (stage, outcome) = match &ran.result {
        Ok(()) => (DISPATCH_STAGE, Outcome::Success),
        Err(failure) => (failure.stage, Outcome::Failure(failure.kind)),
    };
    let now = (options.clock)();
    state
        .breakers
        .record_outcome(key, stage.as_str(), worker, outcome, now);
    state.drain_changes();
    // Did the provider answer? Any worker attempt that did not end in an
    // outage says so (an engine-only stage says nothing about it).
    if let Some(outcome) = &ran.outcome {
        state.answered |= outcome.attempts.iter().any(|a| {
            a.worker != crate::pipeline::ENGINE
                && a.failure_kind != Some(FailureKind::ProviderOutage)
        });
    }
    if let Err(failure) = &ran.result
        && failure.kind == FailureKind::ProviderOutage
    {
        // Only "no connection at all" says unreachable: a 429 or 5xx came
        // from a provider that is there, and its breaker's pause is right.
        state.last_outage =
            tdd_workers::api::http::is_unreachable(&failure.reason).then(|| failure.reason.clone());
    }
    state.outcomes[i] = ran.outcome;
    match ran.result {
        Ok(()) => state.slots[i] = Slot::Done(TaskEnd::Merged),
        // Not the task's fault: another worker (or this one, once its
        // breaker lets it) takes it again, a bounded number of times.
        Err(failure)
            if failure.kind == FailureKind::ProviderOutage
                && state.requeues[i] < MAX_OUTAGE_REQUEUES =>
        {
            state.requeues[i] += 1;
            state.slots[i] = Slot::Pending;
        }
        Err(failure) => {
            state.slots[i] = Slot::Done(TaskEnd::Failed(failure));
            block_dependents(state, plan, i);
        }
    }
}

/// Every pending task that depends on `failed`, directly or not, ends blocked by it.
fn block_dependents(state: &mut State, plan: &Plan<'_>, failed: usize) {
    let by = plan.tasks[failed].key.clone();
    let mut stopped = vec![failed];
    while let Some(f) = stopped.pop() {
        for i in 0..state.slots.len() {
            if matches!(state.slots[i], Slot::Pending) && plan.deps[i].contains(&Some(f)) {
                state.slots[i] = Slot::Done(TaskEnd::Blocked { by: by.clone() });
                stopped.push(i);
            }
        }
    }
}
