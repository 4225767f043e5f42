//! The breakers driven by a fake clock: plain `Millis` values, no sleeping.
//! Tests of the registry (dispatch, failure kinds, changes, persistence) and
//! property tests over arbitrary sequences.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::tests::*;
use super::*;

// ---------------------------------------------------------------- registry

fn registry() -> Breakers {
    Breakers::new(BreakerConfig::default())
}

const VIOLATION: Outcome = Outcome::Failure(FailureKind::Violation);
const OUTAGE: Outcome = Outcome::Failure(FailureKind::ProviderOutage);
const INFRA: Outcome = Outcome::Failure(FailureKind::Infrastructure);

#[test]
fn dispatch_is_refused_while_the_stage_breaker_is_open() {
    let mut r = registry();
    for i in 0..3 {
        r.check_dispatch("T1", "green", "w1", t(i)).unwrap();
        r.record_outcome("T1", "green", "w1", VIOLATION, t(i));
    }
    let blocked = r.check_dispatch("T1", "green", "w1", t(10)).unwrap_err();
    assert_eq!(blocked.scope, Scope::Stage);
    assert_eq!(blocked.name, "T1:green");
    assert_eq!(blocked.until, Some(t(302)));
    assert_eq!(blocked.reason, "3 consecutive failures: open for 300 s");
    assert_eq!(
        blocked.to_string(),
        "the stage breaker T1:green is open: 3 consecutive failures: open for 300 s"
    );
    // Other stages, tasks and the worker are untouched.
    r.check_dispatch("T1", "red", "w1", t(10)).unwrap();
    r.check_dispatch("T2", "green", "w1", t(10)).unwrap();
    assert_eq!(r.state(Scope::Worker, "w1"), State::Closed);

    // After recovery: one trial, then refused until its outcome.
    r.check_dispatch("T1", "green", "w2", t(302)).unwrap();
    let busy = r.check_dispatch("T1", "green", "w2", t(303)).unwrap_err();
    assert_eq!(busy.reason, "waiting for the outcome of a trial");
    assert_eq!(busy.state, State::HalfOpen { trials_left: 0 });
    r.record_outcome("T1", "green", "w2", Outcome::Success, t(304));
    r.check_dispatch("T1", "green", "w2", t(305)).unwrap();
    assert_eq!(
        r.get(Scope::Stage, "T1:green"),
        None,
        "closed and idle: dropped"
    );
}

#[test]
fn dispatch_is_refused_while_the_worker_breaker_is_open() {
    let mut r = registry();
    for (i, task) in ["T1", "T2", "T3"].into_iter().enumerate() {
        r.record_outcome(task, "red", "w1", OUTAGE, t(i as u64));
    }
    let blocked = r.check_dispatch("T9", "red", "w1", t(5)).unwrap_err();
    assert_eq!(
        (blocked.scope, blocked.name.as_str()),
        (Scope::Worker, "w1")
    );
    assert_eq!(blocked.until, Some(t(302)));
    // A provider outage says nothing about the stages.
    assert_eq!(r.get(Scope::Stage, "T1:red"), None);
    r.check_dispatch("T9", "red", "w2", t(5)).unwrap();
    r.check_dispatch("T9", "red", "w1", t(302)).unwrap();
}

#[test]
fn dispatch_is_refused_everywhere_while_the_system_breaker_is_open() {
    let mut r = registry();
    r.record_outcome("T1", "red", "w1", OUTAGE, t(0));
    r.record_outcome("T2", "red", "w2", OUTAGE, t(1));
    assert_eq!(r.state(Scope::System, SYSTEM_NAME), open_until(t(601)));
    let blocked = r.check_dispatch("T3", "red", "w3", t(2)).unwrap_err();
    assert_eq!(blocked.scope, Scope::System);
    assert_eq!(blocked.until, Some(t(601)));
    assert!(
        blocked
            .to_string()
            .starts_with("the system breaker is open: 2 of 2 workers")
    );
    // Recovery: the next dispatch is the trial, the one after waits for it.
    r.check_dispatch("T3", "red", "w3", t(601)).unwrap();
    assert_eq!(
        r.check_dispatch("T4", "red", "w3", t(602))
            .unwrap_err()
            .scope,
        Scope::System
    );
    r.record_outcome("T3", "red", "w3", Outcome::Success, t(603));
    r.check_dispatch("T4", "red", "w3", t(604)).unwrap();
}

#[test]
fn a_refused_dispatch_wastes_no_trial() {
    let mut r = registry();
    for i in 0..3 {
        r.record_outcome("T1", "green", "w1", VIOLATION, t(i));
    }
    r.isolate(Scope::Worker, "w1", t(3), "broken credentials");
    // The stage's time is up, but the worker refuses: the stage goes half-open, keeps its trial.
    let blocked = r.check_dispatch("T1", "green", "w1", t(400)).unwrap_err();
    assert_eq!(blocked.scope, Scope::Worker);
    assert_eq!(blocked.until, None);
    assert_eq!(
        blocked.to_string(),
        "the worker breaker w1 is open until reset: isolated by user: broken credentials"
    );
    assert_eq!(
        r.state(Scope::Stage, "T1:green"),
        State::HalfOpen { trials_left: 1 }
    );
    r.check_dispatch("T1", "green", "w2", t(401)).unwrap();
    assert_eq!(
        r.state(Scope::Stage, "T1:green"),
        State::HalfOpen { trials_left: 0 }
    );
}

#[test]
fn failure_kinds_feed_their_own_levels() {
    let mut r = registry();
    for i in 0..10 {
        r.record_outcome("T1", "red", "w1", INFRA, t(i));
        r.record_outcome("T2", "red", "w2", INFRA, t(i));
    }
    assert!(
        r.take_changes().is_empty(),
        "infrastructure errors feed no breaker"
    );
    assert_eq!(r.entries().len(), 1, "only the system breaker");

    for i in 0..3 {
        r.record_outcome("T1", "red", "w1", VIOLATION, t(20 + i));
        r.record_outcome("T2", "red", "w2", VIOLATION, t(20 + i));
    }
    assert!(r.state(Scope::Stage, "T1:red").is_open());
    assert!(r.state(Scope::Stage, "T2:red").is_open());
    assert_eq!(r.state(Scope::Worker, "w1"), State::Closed);
    assert_eq!(r.state(Scope::System, SYSTEM_NAME), State::Closed);

    // Violations are answers: they break a run of provider failures.
    r.record_outcome("T3", "red", "w3", OUTAGE, t(30));
    r.record_outcome("T3", "red", "w3", OUTAGE, t(31));
    r.record_outcome("T4", "red", "w3", VIOLATION, t(32));
    r.record_outcome("T3", "red", "w3", OUTAGE, t(33));
    assert_eq!(r.state(Scope::Worker, "w3"), State::Closed);
    assert_eq!(r.get(Scope::Worker, "w3").unwrap().failures(), 1);
}

#[test]
fn changes_carry_every_transition_in_order() {
    let mut r = registry();
    for i in 0..3 {
        r.record_outcome("T1", "green", "w1", VIOLATION, t(i));
    }
    let changes = r.take_changes();
    // Stage failures 1, 2 (no transition) and 3 (closed -> open); the worker never changed
    // (successes on an idle breaker); the system remembered w1 each time.
    let stage: Vec<_> = changes.iter().filter(|c| c.scope == Scope::Stage).collect();
    assert_eq!(stage.len(), 2, "{stage:#?}");
    assert_eq!(stage[0].transition, None);
    assert_eq!(stage[0].breaker.failures(), 2, "refreshed in place");
    let opened = stage[1].transition.as_ref().unwrap();
    assert_eq!(
        (opened.from.as_str(), opened.to.as_str()),
        ("closed", "open")
    );
    assert!(changes.iter().all(|c| c.scope != Scope::Worker));
    assert!(r.take_changes().is_empty());

    // Open -> half-open and the trial taken: one change, with the transition and the state
    // after the trial was taken.
    r.check_dispatch("T1", "green", "w1", t(400)).unwrap();
    let changes = r.take_changes();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(
        changes[0].transition.as_ref().unwrap().to.as_str(),
        "half_open"
    );
    assert_eq!(
        changes[0].breaker.state(),
        &State::HalfOpen { trials_left: 0 }
    );

    // The trial succeeds: the breaker is dropped, the change says closed.
    r.record_outcome("T1", "green", "w1", Outcome::Success, t(401));
    let changes = r.take_changes();
    let stage = changes.iter().find(|c| c.scope == Scope::Stage).unwrap();
    assert_eq!(stage.breaker.state(), &State::Closed);
    assert_eq!(stage.transition.as_ref().unwrap().reason, "trial succeeded");
}

#[test]
fn registry_reset_and_isolate() {
    let mut r = registry();
    assert_eq!(r.reset(Scope::Stage, "nothing:red", t(0)), None);
    let isolated = r.isolate(Scope::Stage, "T1:red", t(1), "flaky").unwrap();
    assert_eq!(isolated.to, State::Open { until: None });
    assert!(r.check_dispatch("T1", "red", "w1", t(1_000_000)).is_err());
    let reset = r.reset(Scope::Stage, "T1:red", t(1_000_001)).unwrap();
    assert_eq!(reset.reason, "reset by user");
    r.check_dispatch("T1", "red", "w1", t(1_000_002)).unwrap();
    assert_eq!(r.get(Scope::Stage, "T1:red"), None);
    let changes = r.take_changes();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1].breaker.state(), &State::Closed);

    r.isolate(Scope::System, SYSTEM_NAME, t(5), "maintenance");
    assert_eq!(
        r.check_dispatch("T1", "red", "w1", t(6)).unwrap_err().scope,
        Scope::System
    );
}

#[test]
fn breakers_round_trip_through_json_with_their_configuration() {
    let config = BreakerConfig {
        stage: StageConfig {
            failures: 2,
            ..StageConfig::default()
        },
        ..BreakerConfig::default()
    };
    let mut r = Breakers::new(config.clone());
    r.record_outcome("T1", "red", "w1", VIOLATION, t(0));
    r.record_outcome("T1", "green", "w1", OUTAGE, t(1));
    r.record_outcome("T2", "green", "w2", OUTAGE, t(2));
    r.take_changes();
    let json = serde_json::to_string(&r).unwrap();
    let mut back: Breakers = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    // The configuration came back into the breakers: a second failure opens (2, not 3).
    back.record_outcome("T1", "red", "w1", VIOLATION, t(3));
    assert!(back.state(Scope::Stage, "T1:red").is_open());

    // One breaker at a time, as the engine stores them.
    for (scope, name, breaker) in r.entries() {
        let again = Breaker::from_value(scope, breaker.to_value())
            .unwrap()
            .with_config(&config);
        assert_eq!(again, breaker, "{scope} {name}");
    }
}

#[test]
fn config_defaults_and_partial_files() {
    let c = BreakerConfig::default();
    assert_eq!(
        (c.stage.failures, c.stage.open_secs, c.stage.trials),
        (3, 300, 1)
    );
    assert_eq!(
        (
            c.worker.failures,
            c.worker.pause_secs,
            c.worker.max_extensions
        ),
        (3, 300, 3)
    );
    assert_eq!(
        (
            c.system.failing_percent,
            c.system.min_workers,
            c.system.window_secs,
            c.system.recovery_secs
        ),
        (50, 2, 300, 600)
    );
    let partial: BreakerConfig =
        serde_json::from_str(r#"{"worker": {"max_extensions": 5}}"#).unwrap();
    assert_eq!(partial.worker.max_extensions, 5);
    assert_eq!(partial.worker.pause_secs, 300);
    assert!(serde_json::from_str::<BreakerConfig>(r#"{"stage": {"failurez": 1}}"#).is_err());
}

#[test]
fn scope_and_stage_names() {
    for scope in Scope::ALL {
        assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
    }
    assert!("global".parse::<Scope>().is_err());
    let name = stage_name("REQ-1/AC-1.1", "green");
    assert_eq!(split_stage_name(&name), Some(("REQ-1/AC-1.1", "green")));
    assert_eq!(split_stage_name("a:b:red"), Some(("a:b", "red")));
}

// ---------------------------------------------------------------- properties

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    Allows,
    Success(usize),
    Failure(usize),
    Inconclusive,
    Reset,
    Isolate,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0u64..700_000).prop_map(Op::Advance),
        4 => Just(Op::Allows),
        3 => (0usize..4).prop_map(Op::Success),
        4 => (0usize..4).prop_map(Op::Failure),
        1 => Just(Op::Inconclusive),
        1 => Just(Op::Reset),
        1 => Just(Op::Isolate),
    ];
    prop::collection::vec(op, 0..120)
}

/// The three levels behind one face, for the property.
enum Any {
    Stage(StageBreaker),
    Worker(WorkerBreaker),
    System(SystemBreaker),
}

impl Any {
    fn state(&self) -> State {
        match self {
            Any::Stage(b) => b.state().clone(),
            Any::Worker(b) => b.state().clone(),
            Any::System(b) => b.state().clone(),
        }
    }

    fn apply(&mut self, op: &Op, now: Millis) -> (Option<Transition>, Option<bool>) {
        const WORKERS: [&str; 4] = ["a", "b", "c", "d"];
        let mut allowed = None;
        let transition = match (self, op) {
            (_, Op::Advance(_)) => None,
            (Any::Stage(b), Op::Allows) => allows(b.allows(now), &mut allowed),
            (Any::Worker(b), Op::Allows) => allows(b.allows(now), &mut allowed),
            (Any::System(b), Op::Allows) => allows(b.allows(now), &mut allowed),
            (Any::Stage(b), Op::Success(_)) => b.record_success(now),
            (Any::Worker(b), Op::Success(_)) => b.record_success(now),
            (Any::System(b), Op::Success(w)) => b.record(WORKERS[*w], true, now),
            (Any::Stage(b), Op::Failure(_)) => b.record_failure(now),
            (Any::Worker(b), Op::Failure(_)) => b.record_failure(now),
            (Any::System(b), Op::Failure(w)) => b.record(WORKERS[*w], false, now),
            (Any::Stage(b), Op::Inconclusive) => {
                b.record_inconclusive(now);
                None
            }
            (Any::Worker(b), Op::Inconclusive) => {
                b.record_inconclusive(now);
                None
            }
            (Any::System(b), Op::Inconclusive) => {
                b.record_inconclusive(now);
                None
            }
            (Any::Stage(b), Op::Reset) => b.reset(now),
            (Any::Worker(b), Op::Reset) => b.reset(now),
            (Any::System(b), Op::Reset) => b.reset(now),
            (Any::Stage(b), Op::Isolate) => b.isolate(now, "p"),
            (Any::Worker(b), Op::Isolate) => b.isolate(now, "p"),
            (Any::System(b), Op::Isolate) => b.isolate(now, "p"),
        };
        (transition, allowed)
    }
}

fn allows(decision: Decision, allowed: &mut Option<bool>) -> Option<Transition> {
    *allowed = Some(decision.allowed());
    decision.transition
}

fn closed_to_traffic(state: &State, now: Millis) -> bool {
    match state {
        State::Open { until: None } => true,
        State::Open { until: Some(until) } => *until > now,
        _ => false,
    }
}

fn check_level(mut breaker: Any, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut now = Millis(0);
    for op in ops {
        if let Op::Advance(ms) = op {
            now = Millis(now.0 + ms);
        }
        let before = breaker.state();
        let (transition, allowed) = breaker.apply(op, now);
        if allowed == Some(true) {
            prop_assert!(
                !closed_to_traffic(&before, now),
                "allowed at {now:?} while {before:?}"
            );
        }
        if let Some(tr) = transition {
            prop_assert_eq!(&tr.from, &before);
            prop_assert_eq!(tr.at, now);
            prop_assert!(tr.from != tr.to);
            prop_assert!(!tr.reason.is_empty());
            if !matches!(op, Op::Allows) {
                prop_assert_eq!(&tr.to, &breaker.state());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn stage_breaker_properties(ops in ops()) {
        check_level(Any::Stage(stage()), &ops)?;
    }

    #[test]
    fn worker_breaker_properties(ops in ops()) {
        check_level(Any::Worker(worker()), &ops)?;
    }

    #[test]
    fn system_breaker_properties(ops in ops()) {
        check_level(Any::System(system()), &ops)?;
    }

    /// Through the registry: a dispatch is never let through an open breaker, and the queued
    /// changes account for every state change (what the engine persists is what is in memory).
    #[test]
    fn registry_properties(
        steps in prop::collection::vec(
            (0u64..400_000, 0usize..3, 0usize..2, 0usize..3, 0usize..6),
            0..150,
        )
    ) {
        const TASKS: [&str; 3] = ["T1", "T2", "T3"];
        const STAGES: [&str; 2] = ["red", "green"];
        const WORKERS: [&str; 3] = ["w1", "w2", "w3"];
        let mut r = registry();
        let mut now = Millis(0);
        let mut shadow: BTreeMap<(Scope, String), State> = BTreeMap::new();
        for (advance, task, stage, worker, what) in steps {
            now = Millis(now.0 + advance);
            let (task, stage, worker) = (TASKS[task], STAGES[stage], WORKERS[worker]);
            let consulted = [
                (Scope::System, SYSTEM_NAME.to_owned()),
                (Scope::Worker, worker.to_owned()),
                (Scope::Stage, stage_name(task, stage)),
            ];
            match what {
                0 | 1 => {
                    let before: Vec<State> =
                        consulted.iter().map(|(s, n)| r.state(*s, n)).collect();
                    if r.check_dispatch(task, stage, worker, now).is_ok() {
                        for state in &before {
                            prop_assert!(!closed_to_traffic(state, now), "let through {state:?}");
                        }
                    }
                }
                2 => r.record_outcome(task, stage, worker, Outcome::Success, now),
                3 => r.record_outcome(task, stage, worker, VIOLATION, now),
                4 => r.record_outcome(task, stage, worker, OUTAGE, now),
                _ => {
                    let (scope, name) = &consulted[(advance % 3) as usize];
                    if advance % 2 == 0 {
                        r.reset(*scope, name, now);
                    } else {
                        r.isolate(*scope, name, now, "p");
                    }
                }
            }
            for change in r.take_changes() {
                let key = (change.scope, change.name.clone());
                let known = shadow.get(&key).cloned().unwrap_or(State::Closed);
                if let Some(tr) = &change.transition {
                    prop_assert_eq!(&tr.from, &known, "{:?}", change);
                    prop_assert_eq!(tr.to.as_str(), change.breaker.state().as_str());
                }
                shadow.insert(key, change.breaker.state().clone());
            }
            for ((scope, name), state) in &shadow {
                prop_assert_eq!(&r.state(*scope, name), state, "{} {}", scope, name);
            }
            for (scope, name, breaker) in r.entries() {
                let known = shadow.get(&(scope, name.clone())).cloned().unwrap_or(State::Closed);
                prop_assert_eq!(breaker.state(), &known, "{} {} was never queued", scope, name);
            }
        }
    }
}
