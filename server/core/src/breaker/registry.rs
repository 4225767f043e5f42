//! [`Breakers`]: every breaker of a project, consulted before each dispatch and fed each outcome.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    BreakerConfig, FailureKind, Millis, Outcome, SYSTEM_NAME, Scope, StageBreaker, State,
    SystemBreaker, Transition, Verdict, WorkerBreaker, stage_name,
};

/// One breaker of any level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Breaker {
    Stage(StageBreaker),
    Worker(WorkerBreaker),
    System(SystemBreaker),
}

impl Breaker {
    /// A closed breaker of `scope`.
    pub fn closed(scope: Scope, config: &BreakerConfig) -> Breaker {
        match scope {
            Scope::Stage => Breaker::Stage(StageBreaker::new(config.stage.clone())),
            Scope::Worker => Breaker::Worker(WorkerBreaker::new(config.worker.clone())),
            Scope::System => Breaker::System(SystemBreaker::new(config.system.clone())),
        }
    }

    /// Reads what [`Breaker::to_value`] wrote, for a breaker of `scope`. The configuration is the
    /// default one until [`Breaker::with_config`] (or [`Breakers::insert`]) sets it.
    pub fn from_value(
        scope: Scope,
        value: serde_json::Value,
    ) -> Result<Breaker, serde_json::Error> {
        Ok(match scope {
            Scope::Stage => Breaker::Stage(serde_json::from_value(value)?),
            Scope::Worker => Breaker::Worker(serde_json::from_value(value)?),
            Scope::System => Breaker::System(serde_json::from_value(value)?),
        })
    }

    /// The whole state (not the configuration), as JSON.
    pub fn to_value(&self) -> serde_json::Value {
        // Plain structs of strings, numbers and maps with string keys: this cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The same state under the level's part of `config`.
    pub fn with_config(self, config: &BreakerConfig) -> Breaker {
        match self {
            Breaker::Stage(b) => Breaker::Stage(b.with_config(config.stage.clone())),
            Breaker::Worker(b) => Breaker::Worker(b.with_config(config.worker.clone())),
            Breaker::System(b) => Breaker::System(b.with_config(config.system.clone())),
        }
    }

    pub fn scope(&self) -> Scope {
        match self {
            Breaker::Stage(_) => Scope::Stage,
            Breaker::Worker(_) => Scope::Worker,
            Breaker::System(_) => Scope::System,
        }
    }

    pub fn state(&self) -> &State {
        match self {
            Breaker::Stage(b) => b.state(),
            Breaker::Worker(b) => b.state(),
            Breaker::System(b) => b.state(),
        }
    }

    /// Consecutive failures (stage, worker) or failing workers (system).
    pub fn failures(&self) -> u32 {
        match self {
            Breaker::Stage(b) => b.failures(),
            Breaker::Worker(b) => b.failures(),
            Breaker::System(b) => b.failures(),
        }
    }

    pub fn opened_at(&self) -> Option<Millis> {
        match self {
            Breaker::Stage(b) => b.opened_at(),
            Breaker::Worker(b) => b.opened_at(),
            Breaker::System(b) => b.opened_at(),
        }
    }

    /// The reason of the last transition.
    pub fn reason(&self) -> &str {
        match self {
            Breaker::Stage(b) => b.reason(),
            Breaker::Worker(b) => b.reason(),
            Breaker::System(b) => b.reason(),
        }
    }

    /// What a dispatch at `now` would be told, without changing anything.
    pub fn verdict(&self, now: Millis) -> Verdict {
        match self {
            Breaker::Stage(b) => b.verdict(now),
            Breaker::Worker(b) => b.verdict(now),
            Breaker::System(b) => b.verdict(now),
        }
    }

    pub fn reset(&mut self, now: Millis) -> Option<Transition> {
        match self {
            Breaker::Stage(b) => b.reset(now),
            Breaker::Worker(b) => b.reset(now),
            Breaker::System(b) => b.reset(now),
        }
    }

    pub fn isolate(&mut self, now: Millis, reason: &str) -> Option<Transition> {
        match self {
            Breaker::Stage(b) => b.isolate(now, reason),
            Breaker::Worker(b) => b.isolate(now, reason),
            Breaker::System(b) => b.isolate(now, reason),
        }
    }
}

/// A breaker whose state changed: persist `breaker` under (`scope`, `name`) and, if there is
/// one, the transition with its event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub scope: Scope,
    pub name: String,
    /// The breaker's state after the change (closed for a breaker that was dropped as idle).
    pub breaker: Breaker,
    pub transition: Option<Transition>,
}

/// Dispatch refused by an open (or trial-busy half-open) breaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub scope: Scope,
    pub name: String,
    pub state: State,
    /// The earliest time the answer may change; `None`: not before a manual reset.
    pub until: Option<Millis>,
    pub reason: String,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::System => write!(f, "the system breaker is {}", self.state)?,
            scope => write!(f, "the {scope} breaker {} is {}", self.name, self.state)?,
        }
        if self.until.is_none() && self.state.is_open() {
            f.write_str(" until reset")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for Blocked {}

/// Every breaker of a project. A stage or worker breaker that is closed with nothing counted is
/// not kept (absent means closed), so memory follows the trouble, not the plan's size.
///
/// Every call that changes a breaker queues a [`Change`]; the engine drains them with
/// [`Breakers::take_changes`] after each call and persists them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Saved")]
pub struct Breakers {
    config: BreakerConfig,
    stages: BTreeMap<String, StageBreaker>,
    workers: BTreeMap<String, WorkerBreaker>,
    system: SystemBreaker,
    #[serde(skip)]
    changes: Vec<Change>,
}

/// The serialized form; the breakers get the registry's configuration back on reading.
#[derive(Deserialize)]
struct Saved {
    #[serde(default)]
    config: BreakerConfig,
    #[serde(default)]
    stages: BTreeMap<String, StageBreaker>,
    #[serde(default)]
    workers: BTreeMap<String, WorkerBreaker>,
    #[serde(default)]
    system: SystemBreaker,
}

impl From<Saved> for Breakers {
    fn from(saved: Saved) -> Breakers {
        let mut breakers = Breakers::new(saved.config);
        breakers.insert(SYSTEM_NAME, Breaker::System(saved.system));
        for (name, b) in saved.stages {
            breakers.insert(&name, Breaker::Stage(b));
        }
        for (name, b) in saved.workers {
            breakers.insert(&name, Breaker::Worker(b));
        }
        breakers
    }
}

/// What an outcome tells one level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signal {
    Success,
    Failure,
    Nothing,
}

impl Breakers {
    /// No breaker open.
    pub fn new(config: BreakerConfig) -> Breakers {
        Breakers {
            system: SystemBreaker::new(config.system.clone()),
            config,
            stages: BTreeMap::new(),
            workers: BTreeMap::new(),
            changes: Vec::new(),
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Puts a (loaded) breaker under `name`, with this registry's configuration. The system
    /// breaker's name is always [`SYSTEM_NAME`]. Queues no change.
    pub fn insert(&mut self, name: &str, breaker: Breaker) {
        match breaker.with_config(&self.config) {
            Breaker::Stage(b) => {
                self.stages.insert(name.to_owned(), b);
            }
            Breaker::Worker(b) => {
                self.workers.insert(name.to_owned(), b);
            }
            Breaker::System(b) => self.system = b,
        }
    }

    /// The breaker (`None` for a stage or worker breaker that is not kept: it is closed).
    pub fn get(&self, scope: Scope, name: &str) -> Option<Breaker> {
        match scope {
            Scope::Stage => self.stages.get(name).cloned().map(Breaker::Stage),
            Scope::Worker => self.workers.get(name).cloned().map(Breaker::Worker),
            Scope::System => Some(Breaker::System(self.system.clone())),
        }
    }

    /// The breaker's state; closed if it is not kept.
    pub fn state(&self, scope: Scope, name: &str) -> State {
        self.get(scope, name)
            .map_or(State::Closed, |b| b.state().clone())
    }

    /// Every kept breaker: the system one, then stages and workers by name.
    pub fn entries(&self) -> Vec<(Scope, String, Breaker)> {
        let mut all = vec![(
            Scope::System,
            SYSTEM_NAME.to_owned(),
            Breaker::System(self.system.clone()),
        )];
        all.extend(
            self.stages
                .iter()
                .map(|(n, b)| (Scope::Stage, n.clone(), Breaker::Stage(b.clone()))),
        );
        all.extend(
            self.workers
                .iter()
                .map(|(n, b)| (Scope::Worker, n.clone(), Breaker::Worker(b.clone()))),
        );
        all
    }

    /// The changes queued since the last call, oldest first.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Consults the system breaker, `worker`'s breaker and the breaker of `stage` of `task_key`,
    /// in that order, before a dispatch. Open breakers whose time is over go half-open first.
    /// The first one that refuses blocks the dispatch; if none does, every half-open one among
    /// them gives up a trial (and only then, so a refused dispatch wastes no trial).
    pub fn check_dispatch(
        &mut self,
        task_key: &str,
        stage: &str,
        worker: &str,
        now: Millis,
    ) -> Result<(), Blocked> {
        let stage_key = stage_name(task_key, stage);

        if let Some(t) = self.system.advance(now) {
            self.note(Scope::System, SYSTEM_NAME, Some(t));
        }
        if let Some(t) = self.workers.get_mut(worker).and_then(|b| b.advance(now)) {
            self.note(Scope::Worker, worker, Some(t));
        }
        if let Some(t) = self.stages.get_mut(&stage_key).and_then(|b| b.advance(now)) {
            self.note(Scope::Stage, &stage_key, Some(t));
        }

        let consulted = [
            (Scope::System, SYSTEM_NAME),
            (Scope::Worker, worker),
            (Scope::Stage, stage_key.as_str()),
        ];
        let mut trials = Vec::new();
        for (scope, name) in consulted {
            let Some(breaker) = self.get(scope, name) else {
                continue;
            };
            match breaker.verdict(now) {
                Verdict::Allow => {}
                Verdict::Trial => trials.push(scope),
                Verdict::Refuse { until } => {
                    let reason = match breaker.state() {
                        State::HalfOpen { .. } => "waiting for the outcome of a trial".to_owned(),
                        _ => breaker.reason().to_owned(),
                    };
                    return Err(Blocked {
                        scope,
                        name: name.to_owned(),
                        state: breaker.state().clone(),
                        until,
                        reason,
                    });
                }
            }
        }

        for scope in trials {
            match scope {
                Scope::System => {
                    self.system.consume_trial(now);
                    self.note(Scope::System, SYSTEM_NAME, None);
                }
                Scope::Worker => {
                    if let Some(b) = self.workers.get_mut(worker) {
                        b.consume_trial(now);
                    }
                    self.note(Scope::Worker, worker, None);
                }
                Scope::Stage => {
                    if let Some(b) = self.stages.get_mut(&stage_key) {
                        b.consume_trial(now);
                    }
                    self.note(Scope::Stage, &stage_key, None);
                }
            }
        }
        Ok(())
    }

    /// Feeds the outcome of `stage` of `task_key` run by `worker` to the breakers it concerns
    /// (see the module documentation for which failure feeds which level).
    pub fn record_outcome(
        &mut self,
        task_key: &str,
        stage: &str,
        worker: &str,
        outcome: Outcome,
        now: Millis,
    ) {
        let (at_stage, at_worker) = match outcome {
            Outcome::Success => (Signal::Success, Signal::Success),
            Outcome::Failure(FailureKind::Violation) => (Signal::Failure, Signal::Success),
            Outcome::Failure(FailureKind::ProviderOutage) => (Signal::Nothing, Signal::Failure),
            Outcome::Failure(FailureKind::Infrastructure) => (Signal::Nothing, Signal::Nothing),
        };
        self.feed_stage(&stage_name(task_key, stage), at_stage, now);
        self.feed_worker(worker, at_worker, now);
        self.feed_system(worker, at_worker, now);
    }

    fn feed_stage(&mut self, name: &str, signal: Signal, now: Millis) {
        let config = &self.config.stage;
        let fresh = || StageBreaker::new(config.clone());
        if let Some(transition) = feed(&mut self.stages, name, fresh, signal, now) {
            self.note(Scope::Stage, name, transition);
        }
    }

    fn feed_worker(&mut self, name: &str, signal: Signal, now: Millis) {
        let config = &self.config.worker;
        let fresh = || WorkerBreaker::new(config.clone());
        if let Some(transition) = feed(&mut self.workers, name, fresh, signal, now) {
            self.note(Scope::Worker, name, transition);
        }
    }

    fn feed_system(&mut self, worker: &str, signal: Signal, now: Millis) {
        let before = self.system.clone();
        let transition = match signal {
            Signal::Success => self.system.record(worker, true, now),
            Signal::Failure => self.system.record(worker, false, now),
            Signal::Nothing => {
                self.system.record_inconclusive(now);
                None
            }
        };
        if self.system != before || transition.is_some() {
            self.note(Scope::System, SYSTEM_NAME, transition);
        }
    }

    /// Closes the breaker by hand; `None` if it was not open or half-open.
    pub fn reset(&mut self, scope: Scope, name: &str, now: Millis) -> Option<Transition> {
        let mut breaker = self.get(scope, name)?;
        let before = breaker.clone();
        let transition = breaker.reset(now);
        if breaker != before {
            self.replace(name, breaker);
            self.note(scope, name, transition.clone());
        }
        transition
    }

    /// Opens the breaker by hand, until a reset (creating it if needed).
    pub fn isolate(
        &mut self,
        scope: Scope,
        name: &str,
        now: Millis,
        reason: &str,
    ) -> Option<Transition> {
        let mut breaker = self
            .get(scope, name)
            .unwrap_or_else(|| Breaker::closed(scope, &self.config));
        let transition = breaker.isolate(now, reason);
        if transition.is_some() {
            self.replace(name, breaker);
            self.note(scope, name, transition.clone());
        }
        transition
    }

    /// Keeps `breaker` under `name`, or drops it when it is idle.
    fn replace(&mut self, name: &str, breaker: Breaker) {
        match breaker {
            Breaker::Stage(b) if b.is_idle() => {
                self.stages.remove(name);
            }
            Breaker::Worker(b) if b.is_idle() => {
                self.workers.remove(name);
            }
            other => self.insert(name, other),
        }
    }

    /// Queues a change of (`scope`, `name`) with the breaker's current state. A change without a
    /// transition only refreshes the state of a change already queued for the same breaker.
    fn note(&mut self, scope: Scope, name: &str, transition: Option<Transition>) {
        let breaker = self
            .get(scope, name)
            .unwrap_or_else(|| Breaker::closed(scope, &self.config));
        if transition.is_none()
            && let Some(queued) = self
                .changes
                .iter_mut()
                .rev()
                .find(|c| c.scope == scope && c.name == name)
        {
            queued.breaker = breaker;
            return;
        }
        self.changes.push(Change {
            scope,
            name: name.to_owned(),
            breaker,
            transition,
        });
    }
}

/// What the stage and worker breakers share for feeding: outcomes in, and
/// whether they still carry anything worth keeping.
trait Counting: Clone + PartialEq {
    fn success(&mut self, now: Millis) -> Option<Transition>;
    fn failure(&mut self, now: Millis) -> Option<Transition>;
    fn inconclusive(&mut self, now: Millis);
    fn idle(&self) -> bool;
}

/// Both answer with their own `record_*` methods.
macro_rules! counting {
    ($($breaker:ty),*) => {$(
        impl Counting for $breaker {
            fn success(&mut self, now: Millis) -> Option<Transition> {
                self.record_success(now)
            }
            fn failure(&mut self, now: Millis) -> Option<Transition> {
                self.record_failure(now)
            }
            fn inconclusive(&mut self, now: Millis) {
                self.record_inconclusive(now);
            }
            fn idle(&self) -> bool {
                self.is_idle()
            }
        }
    )*};
}
counting!(StageBreaker, WorkerBreaker);

/// Feeds `signal` to the breaker `name` in `map` (a closed one from `fresh`
/// when absent), dropping it again when idle ("absent = closed"). Returns
/// `Some(transition)` when anything about the breaker changed.
fn feed<B: Counting>(
    map: &mut BTreeMap<String, B>,
    name: &str,
    fresh: impl FnOnce() -> B,
    signal: Signal,
    now: Millis,
) -> Option<Option<Transition>> {
    let mut breaker = map.remove(name).unwrap_or_else(fresh);
    let before = breaker.clone();
    let transition = match signal {
        Signal::Success => breaker.success(now),
        Signal::Failure => breaker.failure(now),
        Signal::Nothing => {
            breaker.inconclusive(now);
            None
        }
    };
    let changed = breaker != before || transition.is_some();
    if !breaker.idle() {
        map.insert(name.to_owned(), breaker);
    }
    changed.then_some(transition)
}
