//! Circuit breakers persisted in a real SQLite store: state and history survive a reopen, every
//! transition is announced by exactly one event, and reset / isolate work through the store.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tdd_core::breaker::{
    BreakerConfig, Breakers, FailureKind, Millis, Outcome, SYSTEM_NAME, Scope, State, stage_name,
};
use tdd_engine::breakers::{self, BreakerError, EVENT_KIND};
use tdd_engine::store::{Queries, Reader, Store, StoreError};

/// 2025-01-01T00:00:00.000Z
const T0: Millis = Millis(1_735_689_600_000);

fn at(secs: u64) -> Millis {
    T0.plus_secs(secs)
}

fn db(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("breakers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join(".tdd").join("orchestrator.db")
}

fn flush(store: &mut Store, breakers: &mut Breakers) {
    let changes = breakers.take_changes();
    store
        .write(|tx| breakers::persist_changes(tx, &changes))
        .unwrap();
}

const VIOLATION: Outcome = Outcome::Failure(FailureKind::Violation);

/// Three failed GREEN attempts of T1 on worker w1, each dispatched through the breakers.
fn open_stage(store: &mut Store, breakers: &mut Breakers) {
    for i in 0..3 {
        breakers.check_dispatch("T1", "green", "w1", at(i)).unwrap();
        breakers.record_outcome("T1", "green", "w1", VIOLATION, at(i));
        flush(store, breakers);
    }
}

#[test]
fn an_open_stage_breaker_survives_a_reopen_of_the_store() {
    let path = db("reopen");
    let name = stage_name("T1", "green");
    {
        let mut store = Store::open(&path).unwrap();
        let mut breakers = Breakers::new(BreakerConfig::default());
        open_stage(&mut store, &mut breakers);
        assert!(
            breakers
                .check_dispatch("T1", "green", "w1", at(10))
                .is_err()
        );
    }

    let store = Store::open(&path).unwrap();
    let rows = store.read(|tx| tx.breakers()).unwrap();
    let row = rows
        .iter()
        .find(|r| r.scope == "stage" && r.name == name)
        .expect("stage row");
    assert_eq!(row.state, "open");
    assert_eq!(row.failures, 3);
    assert_eq!(row.opened_at.as_deref(), Some("2025-01-01T00:00:02.000Z"));

    let transitions = store
        .read(|tx| tx.breaker_transitions("stage", &name))
        .unwrap();
    assert_eq!(transitions.len(), 1, "{transitions:#?}");
    assert_eq!(
        (
            transitions[0].from_state.as_str(),
            transitions[0].to_state.as_str()
        ),
        ("closed", "open")
    );
    assert_eq!(
        transitions[0].reason.as_deref(),
        Some("3 consecutive failures: open for 300 s")
    );

    // The reloaded breakers still refuse, until the same instant as before, then allow a trial.
    let mut breakers = breakers::load(&store, BreakerConfig::default()).unwrap();
    assert_eq!(
        breakers.state(Scope::Stage, &name),
        State::Open {
            until: Some(at(302))
        }
    );
    let blocked = breakers
        .check_dispatch("T1", "green", "w1", at(100))
        .unwrap_err();
    assert_eq!(blocked.until, Some(at(302)));
    breakers
        .check_dispatch("T1", "green", "w1", at(302))
        .unwrap();
    assert_eq!(
        breakers.state(Scope::Stage, &name),
        State::HalfOpen { trials_left: 0 }
    );

    // A second process reads the same thing.
    let reader = Reader::open(&path).unwrap();
    let rows = reader.breakers().unwrap();
    let again = breakers::from_rows(&path, &rows, BreakerConfig::default()).unwrap();
    assert_eq!(
        again.state(Scope::Stage, &name),
        State::Open {
            until: Some(at(302))
        }
    );
}

#[test]
fn every_transition_has_exactly_one_matching_event() {
    let path = db("events");
    let mut store = Store::open(&path).unwrap();
    let mut breakers = Breakers::new(BreakerConfig::default());

    // Stage: closed -> open -> half-open -> open -> half-open -> closed.
    open_stage(&mut store, &mut breakers);
    breakers
        .check_dispatch("T1", "green", "w1", at(302))
        .unwrap();
    breakers.record_outcome("T1", "green", "w1", VIOLATION, at(303));
    flush(&mut store, &mut breakers);
    breakers
        .check_dispatch("T1", "green", "w1", at(603))
        .unwrap();
    breakers.record_outcome("T1", "green", "w1", Outcome::Success, at(604));
    flush(&mut store, &mut breakers);

    // System: two workers in outages trip it; the worker w2 opens after three.
    let outage = Outcome::Failure(FailureKind::ProviderOutage);
    breakers.record_outcome("T2", "red", "w2", outage, at(700));
    breakers.record_outcome("T3", "red", "w3", outage, at(701));
    breakers.record_outcome("T2", "red", "w2", outage, at(702));
    breakers.record_outcome("T2", "red", "w2", outage, at(703));
    flush(&mut store, &mut breakers);

    // By hand, through the store.
    breakers::isolate(&mut store, Scope::Worker, "w9", "bad key", at(800)).unwrap();
    breakers::reset(&mut store, Scope::System, SYSTEM_NAME, at(801)).unwrap();

    let events = store.read(|tx| tx.events_after(0, 1000)).unwrap();
    let events: Vec<_> = events.iter().filter(|e| e.kind == EVENT_KIND).collect();
    let mut by_transition = BTreeMap::new();
    for event in &events {
        let id = event.payload["transition_id"]
            .as_i64()
            .expect("transition_id");
        assert!(
            by_transition.insert(id, *event).is_none(),
            "two events for transition {id}"
        );
    }

    let mut count = 0;
    let rows = store.read(|tx| tx.breakers()).unwrap();
    for row in &rows {
        let transitions = store
            .read(|tx| tx.breaker_transitions(&row.scope, &row.name))
            .unwrap();
        let mut previous = "closed".to_owned();
        for transition in transitions {
            count += 1;
            let event = by_transition
                .get(&transition.id)
                .unwrap_or_else(|| panic!("no event for {transition:?}"));
            let p = &event.payload;
            assert_eq!(p["scope"], row.scope.as_str());
            assert_eq!(p["name"], row.name.as_str());
            assert_eq!(p["from"], transition.from_state.as_str());
            assert_eq!(p["to"], transition.to_state.as_str());
            assert_eq!(p["reason"].as_str(), transition.reason.as_deref());
            assert_eq!(event.at, transition.at, "same transaction, same time");
            assert_eq!(transition.from_state, previous, "{transition:?}");
            previous.clone_from(&transition.to_state);
            if row.scope == "stage" {
                assert_eq!(event.task_key.as_deref(), Some("T1"));
            }
        }
        assert_eq!(
            previous, row.state,
            "the last transition leads to the row's state"
        );
    }
    assert_eq!(count, events.len(), "no event without a transition");
    // stage: 5, system: open + reset, worker w2: open, w9: isolated.
    assert_eq!(count, 9, "{rows:#?}");

    let stage_name = stage_name("T1", "green");
    let stage_reasons: Vec<_> = store
        .read(|tx| tx.breaker_transitions("stage", &stage_name))
        .unwrap()
        .into_iter()
        .map(|t| t.reason.unwrap())
        .collect();
    assert_eq!(
        stage_reasons,
        [
            "3 consecutive failures: open for 300 s",
            "300 s elapsed: allowing 1 trial",
            "trial failed: open for another 300 s",
            "300 s elapsed: allowing 1 trial",
            "trial succeeded",
        ]
    );
    let opened = events
        .iter()
        .find(|e| e.payload["name"] == "w9")
        .expect("isolation event");
    assert_eq!(opened.payload["until"], serde_json::Value::Null);
    assert_eq!(opened.payload["reason"], "isolated by user: bad key");
}

#[test]
fn reset_through_the_store_closes_the_breaker() {
    let path = db("reset");
    let name = stage_name("T1", "green");
    let mut store = Store::open(&path).unwrap();
    let mut running = Breakers::new(BreakerConfig::default());
    open_stage(&mut store, &mut running);

    let transition = breakers::reset(&mut store, Scope::Stage, &name, at(10))
        .unwrap()
        .expect("open -> closed");
    assert_eq!(transition.to, State::Closed);
    assert_eq!(transition.reason, "reset by user");

    let row = store
        .read(|tx| tx.breaker("stage", &name))
        .unwrap()
        .unwrap();
    assert_eq!((row.state.as_str(), row.failures), ("closed", 0));
    assert_eq!(row.opened_at, None);

    // A fresh load allows the dispatch; the engine that had it in memory picks it up by reloading.
    let mut loaded = breakers::load(&store, BreakerConfig::default()).unwrap();
    loaded.check_dispatch("T1", "green", "w1", at(11)).unwrap();
    assert!(running.check_dispatch("T1", "green", "w1", at(11)).is_err());
    store
        .read(|tx| -> Result<(), BreakerError> {
            breakers::reload(&mut running, tx, &path, Scope::Stage, &name)
        })
        .unwrap();
    running.check_dispatch("T1", "green", "w1", at(11)).unwrap();

    // Again: nothing to do. Unknown breakers are an error that names them.
    assert_eq!(
        breakers::reset(&mut store, Scope::Stage, &name, at(12)).unwrap(),
        None
    );
    let err = breakers::reset(&mut store, Scope::Worker, "nobody", at(13)).unwrap_err();
    assert!(matches!(err, BreakerError::Unknown { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no worker breaker named \"nobody\""),
        "{err}"
    );
}

#[test]
fn isolate_through_the_store_opens_until_reset() {
    let path = db("isolate");
    let mut store = Store::open(&path).unwrap();
    let transition = breakers::isolate(&mut store, Scope::Worker, "w1", "quota", at(0))
        .unwrap()
        .unwrap();
    assert_eq!(transition.to, State::Open { until: None });
    assert_eq!(
        breakers::isolate(&mut store, Scope::Worker, "w1", "again", at(1)).unwrap(),
        None
    );
    let err = breakers::isolate(&mut store, Scope::Stage, "no-stage", "x", at(1)).unwrap_err();
    assert!(matches!(err, BreakerError::BadName { .. }), "{err}");

    let mut loaded = breakers::load(&store, BreakerConfig::default()).unwrap();
    let blocked = loaded
        .check_dispatch("T1", "red", "w1", at(1_000_000))
        .unwrap_err();
    assert_eq!((blocked.scope, blocked.until), (Scope::Worker, None));
    loaded.check_dispatch("T1", "red", "w2", at(2)).unwrap();
}

#[test]
fn an_unreadable_breaker_is_named_and_can_still_be_reset() {
    let path = db("unreadable");
    let mut store = Store::open(&path).unwrap();
    store
        .write(|tx| {
            tx.save_breaker(
                "worker",
                "w1",
                "open",
                3,
                None,
                Some(&serde_json::json!({"state": {"kind": "ajar"}})),
            )
        })
        .unwrap();
    let err = breakers::load(&store, BreakerConfig::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("the worker breaker \"w1\"") && text.contains("reset it"),
        "{text}"
    );

    let transition = breakers::reset(&mut store, Scope::Worker, "w1", at(0))
        .unwrap()
        .unwrap();
    assert_eq!(transition.from.as_str(), "open");
    assert!(
        transition
            .reason
            .starts_with("reset by user (the stored state was unreadable")
    );
    let loaded = breakers::load(&store, BreakerConfig::default()).unwrap();
    assert_eq!(loaded.state(Scope::Worker, "w1"), State::Closed);

    // The schema refuses states and scopes it does not know.
    let err = store
        .write(|tx| tx.save_breaker("worker", "w1", "ajar", 0, None, None))
        .unwrap_err();
    assert!(matches!(err, StoreError::Sql { .. }), "{err}");
}
