//! The breakers driven by a fake clock: plain `Millis` values, no sleeping.

use super::*;

pub(super) const S: u64 = 1000;

pub(super) fn t(secs: u64) -> Millis {
    Millis::from_secs(secs)
}

pub(super) fn open_until(at: Millis) -> State {
    State::Open { until: Some(at) }
}

pub(super) fn stage() -> StageBreaker {
    StageBreaker::new(StageConfig::default())
}

pub(super) fn worker() -> WorkerBreaker {
    WorkerBreaker::new(WorkerConfig::default())
}

pub(super) fn system() -> SystemBreaker {
    SystemBreaker::new(SystemConfig::default())
}

// ---------------------------------------------------------------- stage

#[test]
fn stage_opens_after_three_consecutive_failures_then_half_opens_and_closes() {
    let mut b = stage();
    assert_eq!(b.record_failure(t(0)), None);
    assert_eq!(b.record_failure(t(1)), None);
    assert_eq!(b.failures(), 2);
    let opened = b.record_failure(t(2)).expect("third failure opens");
    assert_eq!(opened.from, State::Closed);
    assert_eq!(opened.to, open_until(t(302)));
    assert_eq!(opened.at, t(2));
    assert_eq!(opened.reason, "3 consecutive failures: open for 300 s");
    assert_eq!(b.opened_at(), Some(t(2)));

    // Still open one millisecond before the end.
    let d = b.allows(Millis(302 * S - 1));
    assert_eq!(
        d,
        Decision {
            verdict: Verdict::Refuse {
                until: Some(t(302))
            },
            transition: None
        }
    );

    // Time is up: half-open, and this dispatch is the one trial.
    let d = b.allows(t(302));
    assert_eq!(d.verdict, Verdict::Trial);
    let half = d.transition.expect("open -> half-open");
    assert_eq!(half.from, open_until(t(302)));
    assert_eq!(half.to, State::HalfOpen { trials_left: 1 });
    assert_eq!(half.reason, "300 s elapsed: allowing 1 trial");
    assert_eq!(b.state(), &State::HalfOpen { trials_left: 0 });

    // No second trial while the first is running.
    assert_eq!(
        b.allows(t(303)).verdict,
        Verdict::Refuse {
            until: Some(t(602))
        }
    );

    let closed = b.record_success(t(310)).expect("trial success closes");
    assert_eq!(closed.from, State::HalfOpen { trials_left: 0 });
    assert_eq!(closed.to, State::Closed);
    assert_eq!(closed.reason, "trial succeeded");
    assert_eq!(b.failures(), 0);
    assert_eq!(b.opened_at(), None);
    assert!(b.is_idle());
    assert_eq!(b.allows(t(311)).verdict, Verdict::Allow);
}

#[test]
fn stage_trial_failure_reopens_for_another_period() {
    let mut b = stage();
    for i in 0..3 {
        b.record_failure(t(i));
    }
    assert!(b.allows(t(302)).allowed());
    let reopened = b.record_failure(t(320)).expect("trial failure reopens");
    assert_eq!(reopened.from, State::HalfOpen { trials_left: 0 });
    assert_eq!(reopened.to, open_until(t(620)));
    assert_eq!(reopened.reason, "trial failed: open for another 300 s");
    assert_eq!(b.opened_at(), Some(t(320)));
    assert!(!b.allows(t(619)).allowed());
    let d = b.allows(t(620));
    assert_eq!(d.verdict, Verdict::Trial);
    assert!(d.transition.is_some());
    assert!(b.record_success(t(621)).is_some());
    assert_eq!(b.state(), &State::Closed);
}

#[test]
fn a_success_while_closed_resets_the_count() {
    let mut b = stage();
    b.record_failure(t(0));
    b.record_failure(t(1));
    assert_eq!(b.record_success(t(2)), None);
    assert_eq!(b.failures(), 0);
    b.record_failure(t(3));
    b.record_failure(t(4));
    assert_eq!(b.state(), &State::Closed);
    assert!(b.record_failure(t(5)).is_some());
}

#[test]
fn outcomes_while_open_change_nothing() {
    let mut b = stage();
    for i in 0..3 {
        b.record_failure(t(i));
    }
    let before = b.clone();
    assert_eq!(b.record_success(t(10)), None);
    assert_eq!(b.record_failure(t(11)), None);
    assert_eq!(b, before);
}

#[test]
fn an_inconclusive_trial_is_given_back() {
    let mut b = stage();
    for i in 0..3 {
        b.record_failure(t(i));
    }
    assert_eq!(b.allows(t(400)).verdict, Verdict::Trial);
    assert!(!b.allows(t(401)).allowed());
    b.record_inconclusive(t(402));
    assert_eq!(b.state(), &State::HalfOpen { trials_left: 1 });
    assert_eq!(b.allows(t(403)).verdict, Verdict::Trial);
}

#[test]
fn a_lost_trial_is_replaced_after_the_open_time() {
    let mut b = stage();
    for i in 0..3 {
        b.record_failure(t(i));
    }
    assert_eq!(b.allows(t(400)).verdict, Verdict::Trial);
    // The process died: no outcome ever arrives.
    assert_eq!(
        b.allows(t(699)).verdict,
        Verdict::Refuse {
            until: Some(t(700))
        }
    );
    let d = b.allows(t(700));
    assert_eq!(d.verdict, Verdict::Trial);
    assert_eq!(d.transition, None);
}

#[test]
fn configured_numbers_are_used() {
    let mut b = StageBreaker::new(StageConfig {
        failures: 1,
        open_secs: 10,
        trials: 2,
    });
    let opened = b.record_failure(t(0)).unwrap();
    assert_eq!(opened.to, open_until(t(10)));
    assert_eq!(opened.reason, "1 consecutive failures: open for 10 s");
    let d = b.allows(t(10));
    assert_eq!(
        d.transition.unwrap().reason,
        "10 s elapsed: allowing 2 trials"
    );
    assert_eq!(b.allows(t(10)).verdict, Verdict::Trial);
    assert!(!b.allows(t(10)).allowed());
}

// ---------------------------------------------------------------- worker

#[test]
fn worker_pauses_then_closes_on_a_successful_trial() {
    let mut b = worker();
    b.record_failure(t(0));
    b.record_failure(t(1));
    let opened = b.record_failure(t(2)).unwrap();
    assert_eq!(opened.to, open_until(t(302)));
    assert_eq!(opened.reason, "3 consecutive failures: paused for 300 s");
    assert!(!b.allows(t(100)).allowed());
    let d = b.allows(t(302));
    assert_eq!(d.verdict, Verdict::Trial);
    assert_eq!(
        d.transition.unwrap().reason,
        "300 s pause over: allowing 1 trial"
    );
    let closed = b.record_success(t(303)).unwrap();
    assert_eq!(closed.to, State::Closed);
    assert_eq!(b.extensions(), 0);
}

#[test]
fn worker_extensions_end_in_open_until_reset() {
    let mut b = worker();
    for i in 0..3 {
        b.record_failure(t(i));
    }
    let mut now = t(2);
    for extension in 1..=3 {
        now = now.plus_secs(300);
        assert_eq!(
            b.allows(now).verdict,
            Verdict::Trial,
            "extension {extension}"
        );
        let failed = b.record_failure(now).unwrap();
        assert_eq!(failed.from, State::HalfOpen { trials_left: 0 });
        assert_eq!(failed.to, open_until(now.plus_secs(300)));
        assert_eq!(
            failed.reason,
            format!("trial failed: extension {extension} of 3, paused for another 300 s")
        );
        assert_eq!(b.extensions(), extension);
    }
    now = now.plus_secs(300);
    assert_eq!(b.allows(now).verdict, Verdict::Trial);
    let stuck = b.record_failure(now).unwrap();
    assert_eq!(stuck.to, State::Open { until: None });
    assert_eq!(
        stuck.reason,
        "trial failed after 3 extensions: open until reset"
    );

    // No automatic recovery, however long we wait.
    for later in [
        now.plus_secs(300),
        now.plus_secs(86_400 * 365),
        Millis(u64::MAX),
    ] {
        assert_eq!(b.advance(later), None);
        assert_eq!(b.allows(later).verdict, Verdict::Refuse { until: None });
    }

    let reset = b.reset(now.plus_secs(1)).unwrap();
    assert_eq!(reset.from, State::Open { until: None });
    assert_eq!(reset.to, State::Closed);
    assert_eq!(reset.reason, "reset by user");
    assert!(b.is_idle());
    assert_eq!(b.allows(now.plus_secs(2)).verdict, Verdict::Allow);
}

#[test]
fn a_worker_success_after_extensions_forgets_them() {
    let mut b = worker();
    for i in 0..3 {
        b.record_failure(t(i));
    }
    b.allows(t(302));
    b.record_failure(t(302));
    assert_eq!(b.extensions(), 1);
    b.allows(t(602));
    b.record_success(t(603));
    assert_eq!(b.extensions(), 0);
    assert!(b.is_idle());
}

#[test]
fn zero_extensions_means_the_first_failed_trial_needs_a_reset() {
    let mut b = WorkerBreaker::new(WorkerConfig {
        max_extensions: 0,
        ..WorkerConfig::default()
    });
    for i in 0..3 {
        b.record_failure(t(i));
    }
    b.allows(t(302));
    assert_eq!(
        b.record_failure(t(303)).unwrap().to,
        State::Open { until: None }
    );
}

// ---------------------------------------------------------------- reset and isolate

#[test]
fn reset_and_isolate() {
    let mut b = stage();
    // Resetting a closed breaker is no transition, but clears the count.
    b.record_failure(t(0));
    assert_eq!(b.reset(t(1)), None);
    assert_eq!(b.failures(), 0);

    let isolated = b.isolate(t(2), "  flaky fixture ").unwrap();
    assert_eq!(isolated.from, State::Closed);
    assert_eq!(isolated.to, State::Open { until: None });
    assert_eq!(isolated.reason, "isolated by user: flaky fixture");
    assert_eq!(b.isolate(t(3), "again"), None, "already open until reset");
    assert_eq!(
        b.allows(t(1_000_000)).verdict,
        Verdict::Refuse { until: None }
    );
    assert_eq!(b.reset(t(4)).unwrap().to, State::Closed);

    // Isolating an open breaker keeps when it opened.
    let mut w = worker();
    for i in 0..3 {
        w.record_failure(t(i));
    }
    let isolated = w.isolate(t(5), "").unwrap();
    assert_eq!(isolated.from, open_until(t(302)));
    assert_eq!(isolated.reason, "isolated by user");
    assert_eq!(w.opened_at(), Some(t(2)));
}

// ---------------------------------------------------------------- system

pub(super) fn all_succeed(b: &mut SystemBreaker, workers: &[&str], now: Millis) {
    for w in workers {
        assert_eq!(b.record(w, true, now), None);
    }
}

#[test]
fn system_opens_at_half_the_active_workers() {
    let mut b = system();
    all_succeed(&mut b, &["a", "b", "c", "d"], t(0));
    assert_eq!(b.record("a", false, t(10)), None, "1 of 4");
    assert_eq!(b.counts(t(10)), (1, 4));
    let opened = b.record("b", false, t(20)).expect("2 of 4 is 50 %");
    assert_eq!(opened.from, State::Closed);
    assert_eq!(opened.to, open_until(t(620)));
    assert_eq!(
        opened.reason,
        "2 of 4 workers failed within the last 300 s: dispatch stopped for 600 s"
    );
    assert_eq!(b.failures(), 2);
}

#[test]
fn system_stays_closed_below_half() {
    let mut b = system();
    all_succeed(&mut b, &["a", "b", "c"], t(0));
    assert_eq!(b.record("a", false, t(1)), None);
    assert_eq!(
        b.record("a", false, t(2)),
        None,
        "one worker failing twice is 1 of 3"
    );
    assert_eq!(b.state(), &State::Closed);
}

#[test]
fn system_needs_at_least_two_workers() {
    let mut b = system();
    for i in 0..10 {
        assert_eq!(b.record("solo", false, t(i)), None);
    }
    assert_eq!(b.counts(t(10)), (1, 1));
    assert_eq!(b.state(), &State::Closed);
    // A second failing worker makes it 2 of 2.
    assert!(b.record("other", false, t(11)).is_some());
}

#[test]
fn system_forgets_outcomes_older_than_the_window() {
    // a failed at 0; b fails exactly 300 s later: a's failure is out of the window, and a is no
    // longer active, so only 1 worker is active.
    let mut b = system();
    b.record("a", false, t(0));
    assert_eq!(b.record("b", false, t(300)), None);
    assert_eq!(b.counts(t(300)), (1, 1));

    // One millisecond earlier, both count.
    let mut b = system();
    b.record("a", false, t(0));
    assert!(b.record("b", false, Millis(300 * S - 1)).is_some());

    // A worker that succeeded recently but failed long ago is active, not failing.
    let mut b = system();
    b.record("a", false, t(0));
    b.record("a", true, t(400));
    b.record("b", true, t(400));
    assert_eq!(b.record("c", false, t(401)), None, "1 of 3");
    assert_eq!(b.counts(t(401)), (1, 3));
}

#[test]
fn system_recovers_after_600_s_through_a_trial() {
    let mut b = system();
    b.record("a", false, t(0));
    b.record("b", false, t(0));
    assert_eq!(b.state(), &open_until(t(600)));
    assert_eq!(
        b.allows(Millis(600 * S - 1)).verdict,
        Verdict::Refuse {
            until: Some(t(600))
        }
    );
    let d = b.allows(t(600));
    assert_eq!(d.verdict, Verdict::Trial);
    assert_eq!(
        d.transition.unwrap().reason,
        "600 s recovery over: allowing 1 trial"
    );
    assert!(!b.allows(t(601)).allowed(), "one trial at a time");

    // The trial fails: stopped again.
    let reopened = b.record("a", false, t(650)).unwrap();
    assert_eq!(reopened.to, open_until(t(1250)));
    assert_eq!(
        reopened.reason,
        "trial failed: dispatch stopped for another 600 s"
    );

    // Next trial succeeds: closed.
    assert_eq!(b.allows(t(1250)).verdict, Verdict::Trial);
    let closed = b.record("a", true, t(1260)).unwrap();
    assert_eq!(closed.to, State::Closed);
    assert_eq!(closed.reason, "trial succeeded");
    assert_eq!(b.allows(t(1261)).verdict, Verdict::Allow);
}

#[test]
fn system_reset_forgets_the_window() {
    let mut b = system();
    b.record("a", false, t(0));
    b.record("b", false, t(1));
    assert!(b.state().is_open());
    assert_eq!(b.reset(t(2)).unwrap().to, State::Closed);
    assert_eq!(b.counts(t(2)), (0, 0));
    // One new failure is 1 of 1: not enough.
    assert_eq!(b.record("a", false, t(3)), None);
}

#[test]
fn system_memory_is_bounded() {
    let mut b = system();
    for i in 0..(MAX_TRACKED_WORKERS as u64 + 500) {
        b.record(&format!("w{i}"), true, Millis(i));
    }
    let (_, active) = b.counts(Millis(MAX_TRACKED_WORKERS as u64 + 500));
    assert_eq!(active as usize, MAX_TRACKED_WORKERS);
    // And workers not heard from within the window are dropped on the next outcome.
    b.record("late", true, t(10_000));
    assert_eq!(b.counts(t(10_000)), (0, 1));
    let json = serde_json::to_value(&b).unwrap();
    assert_eq!(json["workers"].as_object().unwrap().len(), 1);
}
