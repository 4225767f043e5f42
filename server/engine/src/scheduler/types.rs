//! The scheduler's public types: options, the pause flag, the task runner
//! and the report.

use super::*;

/// The time the breakers see.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// Milliseconds since the Unix epoch (the engine's breaker epoch).
pub fn system_clock() -> Clock {
    Arc::new(|| {
        Millis(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        )
    })
}

/// Set to stop starting tasks; clear to go on. Shared by its clones.
#[derive(Clone, Debug, Default)]
pub struct PauseFlag(Arc<AtomicBool>);

impl PauseFlag {
    pub fn pause(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
pub struct SchedulerOptions {
    /// The breakers at the start of the run (the final ones are in the report).
    pub breakers: Breakers,
    /// The time given to the breakers.
    pub clock: Clock,
    pub pause: PauseFlag,
    /// How often an idle worker looks again when nothing woke it (a breaker
    /// waiting for the clock, a pause).
    pub poll: Duration,
    /// Told of breaker changes as they happen (under the scheduler's lock:
    /// keep it short), so they can be persisted before the run ends.
    pub on_breaker_change: Option<BreakerHook>,
    /// Told once per worker and reason when a breaker holds dispatch (which
    /// breaker, until when, how to reset it), so a waiting run says why.
    pub on_wait: Option<WaitHook>,
}

/// A callback for a worker held by a breaker: the worker, then what holds it.
#[derive(Clone)]
pub struct WaitHook(pub Arc<dyn Fn(&str, &str) + Send + Sync>);

/// A callback for breaker changes, oldest first.
#[derive(Clone)]
pub struct BreakerHook(pub Arc<dyn Fn(&[Change]) + Send + Sync>);

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            breakers: Breakers::new(BreakerConfig::default()),
            clock: system_clock(),
            pause: PauseFlag::default(),
            poll: Duration::from_millis(10),
            on_breaker_change: None,
            on_wait: None,
        }
    }
}

impl fmt::Debug for SchedulerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerOptions")
            .field("breakers", &self.breakers)
            .field("pause", &self.pause)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// Why a task failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailure {
    pub stage: Stage,
    pub kind: FailureKind,
    pub reason: String,
}

/// How a task ended in this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskEnd {
    Merged,
    Failed(TaskFailure),
    /// A task it depends on (directly or not) failed: `by` is that task.
    Blocked {
        by: String,
    },
    /// Never started: cancelled, or no worker could take it.
    NotStarted {
        reason: String,
    },
}

/// What a [`TaskRunner`] says about one task.
#[derive(Clone, Debug)]
pub struct Ran {
    pub result: Result<(), TaskFailure>,
    /// The pipeline's full account, when the runner has one.
    pub outcome: Option<TaskOutcome>,
}

/// Takes one task through its stages with one worker. [`PipelineRunner`] is
/// the real one; tests of the dispatch logic use fakes.
pub trait TaskRunner: Sync {
    fn run_task(&self, task: &Task, worker: &mut dyn Worker, cancel: &CancelToken) -> Ran;
}

/// [`run_task`] in `ctx`, with the scheduler's cancel token in place of the
/// context's. Merges are serialized by the pipeline (the merge lock is held
/// from the rebase through the fast-forward).
#[derive(Clone, Copy, Debug)]
pub struct PipelineRunner<'a> {
    pub ctx: &'a PipelineContext,
}

impl TaskRunner for PipelineRunner<'_> {
    fn run_task(&self, task: &Task, worker: &mut dyn Worker, cancel: &CancelToken) -> Ran {
        let mut ctx = self.ctx.clone();
        ctx.cancel = cancel.clone();
        let outcome = run_task(&ctx, task, worker);
        let result = match &outcome.status {
            TaskStatus::Merged { .. } => Ok(()),
            TaskStatus::Failed {
                stage,
                kind,
                message,
            } => Err(TaskFailure {
                stage: *stage,
                kind: *kind,
                reason: message.clone(),
            }),
            TaskStatus::MergeConflict { paths } => Err(TaskFailure {
                stage: Stage::Merge,
                kind: FailureKind::Violation,
                reason: format!(
                    "rebasing onto the feature branch conflicted on {}",
                    paths.join(", ")
                ),
            }),
        };
        Ran {
            result,
            outcome: Some(outcome),
        }
    }
}

/// One task's end.
#[derive(Clone, Debug)]
pub struct TaskReport {
    pub key: String,
    pub end: TaskEnd,
    /// The worker that ran it, if one did.
    pub worker: Option<String>,
    pub outcome: Option<TaskOutcome>,
}

/// The tasks one worker ran, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerRun {
    pub name: String,
    pub tasks: Vec<String>,
    /// The last breaker refusal it met, if any.
    pub last_refusal: Option<String>,
}

/// When a task ran (times since the start of [`run`], taken under the
/// scheduler's lock: a task that starts after another ended has
/// `started >= ended` of that one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub task: String,
    pub worker: String,
    pub started: Duration,
    pub ended: Duration,
    /// The injected clock at the start.
    pub clock_started: Millis,
}

impl Span {
    /// Whether the two ran at the same time at some moment.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.started < other.ended && other.started < self.ended
    }
}

#[derive(Clone, Debug)]
pub struct SchedulerReport {
    /// Every task of the graph, in the graph's order.
    pub tasks: Vec<TaskReport>,
    /// Every worker, in the order given.
    pub workers: Vec<WorkerRun>,
    /// One span per task that ran, in the order they ended.
    pub timeline: Vec<Span>,
    pub breakers: Breakers,
    /// Every breaker change of the run, oldest first (to persist and announce).
    pub breaker_changes: Vec<Change>,
    pub cancelled: bool,
    /// Set when the run ended because the model provider looks unreachable:
    /// a breaker stopped dispatch and no model call of the run ever got an
    /// answer. What to say (the last outage, what to check).
    pub unreachable: Option<String>,
}

impl SchedulerReport {
    pub fn task(&self, key: &str) -> Option<&TaskReport> {
        self.tasks.iter().find(|t| t.key == key)
    }

    pub fn end(&self, key: &str) -> Option<&TaskEnd> {
        self.task(key).map(|t| &t.end)
    }

    pub fn span(&self, key: &str) -> Option<&Span> {
        self.timeline.iter().find(|s| s.task == key)
    }
}
