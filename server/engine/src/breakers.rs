//! Circuit breakers in the store: loading `tdd_core::breaker::Breakers` from it, persisting their
//! changes (state, transition row and `breaker_transition` event in one transaction), and the
//! manual reset and isolate that the CLI and the editor call.
//!
//! Times: the breakers count [`Millis`] since the Unix epoch ([`now`]), so a persisted "open
//! until" still means the same instant after a restart. The rows' text timestamps (`opened_at`,
//! the transitions' `at`, the events) are UTC RFC 3339; transitions and events carry the
//! transaction's time, like every other row.
//!
//! The `data` column holds a breaker's whole state and is what [`load`] reads; `state`,
//! `failures` and `opened_at` are copies for queries and people reading the database.
//!
//! A process that keeps `Breakers` in memory while another one resets or isolates a breaker sees
//! the `breaker_transition` event in the log and calls [`reload`] for that breaker.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::events::Event;
use tdd_core::breaker::{
    Breaker, BreakerConfig, Breakers, Change, Millis, SYSTEM_NAME, Scope, State, Transition,
    split_stage_name,
};

use crate::store::breakers::BreakerRow;
use crate::store::{Queries, Seq, Store, StoreError, WriteTx};

/// The kind of the event appended for every transition.
pub const EVENT_KIND: &str = "breaker_transition";

#[derive(Debug, thiserror::Error)]
pub enum BreakerError {
    #[error(transparent)]
    Store(#[from] StoreError),

    #[error(
        "{path}: the {scope} breaker {name:?} holds a state this tdd-orchestrator does not understand ({detail}); reset it to start it afresh"
    )]
    BadState {
        path: PathBuf,
        scope: String,
        name: String,
        detail: String,
    },

    #[error("{path}: there is no {scope} breaker named {name:?}")]
    Unknown {
        path: PathBuf,
        scope: Scope,
        name: String,
    },

    #[error("{name:?} is not a {scope} breaker's name: {expected}")]
    BadName {
        scope: Scope,
        name: String,
        expected: &'static str,
    },
}

/// The wall clock, as the breakers count time.
pub fn now() -> Millis {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

/// `at` (milliseconds since the Unix epoch) as UTC RFC 3339 with milliseconds, like the store's
/// other timestamps: `2025-01-31T12:00:00.000Z`.
pub fn rfc3339(at: Millis) -> String {
    const DAY_MS: u64 = 86_400_000;
    let (days, ms) = (at.0 / DAY_MS, at.0 % DAY_MS);
    let (year, month, day) = civil_date(days);
    let secs = ms / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms % 1000
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Count from 0000-03-01 so that the leap day ends each 4-, 100- and 400-year cycle.
    const DAYS_0000_03_01_TO_EPOCH: u64 = 719_468;
    const DAYS_PER_400_YEARS: u64 = 146_097;
    let days = days + DAYS_0000_03_01_TO_EPOCH;
    let cycle = days / DAYS_PER_400_YEARS;
    let day_of_cycle = days % DAYS_PER_400_YEARS;
    let year_of_cycle = (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524
        - day_of_cycle / (DAYS_PER_400_YEARS - 1))
        / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    // Months from March: 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 28/29.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = cycle * 400 + year_of_cycle + u64::from(month <= 2);
    (year, month, day)
}

/// Checks that `name` can name a breaker of `scope`: not empty, `<task>:<stage>` for a stage,
/// [`SYSTEM_NAME`] for the system.
pub fn check_name(scope: Scope, name: &str) -> Result<(), BreakerError> {
    let bad = |expected| BreakerError::BadName {
        scope,
        name: name.to_owned(),
        expected,
    };
    match scope {
        Scope::Stage => match split_stage_name(name) {
            Some((task, stage)) if !task.is_empty() && !stage.is_empty() => Ok(()),
            _ => Err(bad("expected <task key>:<stage>, e.g. REQ-1/AC-1.1:green")),
        },
        Scope::Worker if name.trim().is_empty() => Err(bad("expected a worker's name")),
        Scope::Worker => Ok(()),
        Scope::System if name == SYSTEM_NAME => Ok(()),
        Scope::System => Err(bad("the system breaker is called \"system\"")),
    }
}

/// The breaker a row holds (with the default configuration; [`Breakers::insert`] sets the
/// project's).
pub fn from_row(path: &Path, row: &BreakerRow) -> Result<(Scope, Breaker), BreakerError> {
    let bad = |detail: String| BreakerError::BadState {
        path: path.to_path_buf(),
        scope: row.scope.clone(),
        name: row.name.clone(),
        detail,
    };
    let scope: Scope = row.scope.parse().map_err(|e| bad(format!("{e}")))?;
    let data = row.data.clone().ok_or_else(|| bad("no data".to_owned()))?;
    let breaker = Breaker::from_value(scope, data).map_err(|e| bad(e.to_string()))?;
    Ok((scope, breaker))
}

/// Every stored breaker, under `config`. A row that cannot be read is an error naming it (reset
/// it with [`reset`], which does not need to read it).
pub fn load(store: &Store, config: BreakerConfig) -> Result<Breakers, BreakerError> {
    let rows = store.read(|tx| tx.breakers())?;
    from_rows(store.path(), &rows, config)
}

/// [`load`] for rows read elsewhere (a [`crate::store::Reader`], say); `path` is the database's,
/// for error messages.
pub fn from_rows(
    path: &Path,
    rows: &[BreakerRow],
    config: BreakerConfig,
) -> Result<Breakers, BreakerError> {
    let mut breakers = Breakers::new(config);
    for row in rows {
        let (_, breaker) = from_row(path, row)?;
        breakers.insert(&row.name, breaker);
    }
    Ok(breakers)
}

/// Replaces the breaker (`scope`, `name`) in `breakers` by its stored state (closed if it is not
/// stored), after another process changed it.
pub fn reload(
    breakers: &mut Breakers,
    db: &impl Queries,
    path: &Path,
    scope: Scope,
    name: &str,
) -> Result<(), BreakerError> {
    let breaker = match db.breaker(scope.as_str(), name)? {
        Some(row) => from_row(path, &row)?.1,
        None => Breaker::closed(scope, breakers.config()),
    };
    breakers.insert(name, breaker);
    Ok(())
}

/// Saves `breaker` under (`scope`, `name`) and, for a transition, records it and appends its
/// `breaker_transition` event, all in `tx`. Returns the event's sequence number.
pub fn persist(
    tx: &WriteTx<'_>,
    scope: Scope,
    name: &str,
    breaker: &Breaker,
    transition: Option<&Transition>,
) -> Result<Option<Seq>, StoreError> {
    let opened_at = breaker.opened_at().map(rfc3339);
    tx.save_breaker(
        scope.as_str(),
        name,
        breaker.state().as_str(),
        breaker.failures(),
        opened_at.as_deref(),
        Some(&breaker.to_value()),
    )?;
    let Some(transition) = transition else {
        return Ok(None);
    };
    let id = tx.record_breaker_transition(
        scope.as_str(),
        name,
        transition.from.as_str(),
        transition.to.as_str(),
        &transition.reason,
    )?;
    let (until, trials) = match &transition.to {
        // `None`: until reset.
        State::Open { until } => (until.map(rfc3339), None),
        State::HalfOpen { trials_left } => (None, Some(*trials_left)),
        State::Closed => (None, None),
    };
    let event = Event::BreakerTransition {
        scope: scope.as_str().to_string(),
        name: name.to_string(),
        from: transition.from.as_str().to_string(),
        to: transition.to.as_str().to_string(),
        reason: transition.reason.clone(),
        transition_id: id,
        until,
        trials,
    };
    let task_key = match scope {
        Scope::Stage => split_stage_name(name).map(|(task, _)| task),
        Scope::Worker | Scope::System => None,
    };
    tx.log(None, task_key, &event).map(Some)
}

/// [`persist`] for each change, in order (what [`Breakers::take_changes`] returned). Returns
/// the sequence numbers of the events appended.
pub fn persist_changes(tx: &WriteTx<'_>, changes: &[Change]) -> Result<Vec<Seq>, StoreError> {
    let mut seqs = Vec::new();
    for change in changes {
        if let Some(seq) = persist(
            tx,
            change.scope,
            &change.name,
            &change.breaker,
            change.transition.as_ref(),
        )? {
            seqs.push(seq);
        }
    }
    Ok(seqs)
}

/// Closes the stored breaker (`scope`, `name`) by hand. `None` if it was closed already (its
/// count is cleared all the same). Works on a row whose state cannot be read.
pub fn reset(
    store: &mut Store,
    scope: Scope,
    name: &str,
    now: Millis,
) -> Result<Option<Transition>, BreakerError> {
    let path = store.path().to_path_buf();
    store.write(|tx| -> Result<_, BreakerError> {
        let row = tx
            .breaker(scope.as_str(), name)?
            .ok_or_else(|| BreakerError::Unknown {
                path: path.clone(),
                scope,
                name: name.to_owned(),
            })?;
        let (mut breaker, transition) = match from_row(&path, &row) {
            Ok((_, mut breaker)) => {
                let transition = breaker.reset(now);
                (breaker, transition)
            }
            Err(err) => {
                let from = match row.state.as_str() {
                    "open" => State::Open { until: None },
                    "half_open" => State::HalfOpen { trials_left: 0 },
                    _ => State::Closed,
                };
                let transition = (from != State::Closed).then(|| Transition {
                    from,
                    to: State::Closed,
                    at: now,
                    reason: format!("reset by user (the stored state was unreadable: {err})"),
                });
                let breaker = Breaker::closed(scope, &BreakerConfig::default());
                (breaker, transition)
            }
        };
        if transition.is_none() {
            // Closed already: still clear whatever was counted.
            breaker.reset(now);
        }
        persist(tx, scope, name, &breaker, transition.as_ref())?;
        Ok(transition)
    })
}

/// Opens the breaker (`scope`, `name`) by hand until a reset, creating it if it was never stored.
/// `None` if it was open until reset already.
pub fn isolate(
    store: &mut Store,
    scope: Scope,
    name: &str,
    reason: &str,
    now: Millis,
) -> Result<Option<Transition>, BreakerError> {
    check_name(scope, name)?;
    let path = store.path().to_path_buf();
    store.write(|tx| -> Result<_, BreakerError> {
        let mut breaker = match tx.breaker(scope.as_str(), name)? {
            Some(row) => from_row(&path, &row)?.1,
            None => Breaker::closed(scope, &BreakerConfig::default()),
        };
        let transition = breaker.isolate(now, reason);
        if transition.is_some() {
            persist(tx, scope, name, &breaker, transition.as_ref())?;
        }
        Ok(transition)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (951_868_799_999, "2000-02-29T23:59:59.999Z"),
            (1_735_689_600_123, "2025-01-01T00:00:00.123Z"),
            (1_709_210_096_789, "2024-02-29T12:34:56.789Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
        ];
        for (ms, text) in cases {
            assert_eq!(rfc3339(Millis(ms)), text, "{ms}");
        }
        // The end of time still formats.
        assert!(rfc3339(Millis(u64::MAX)).ends_with('Z'));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name(Scope::Stage, "REQ-1/AC-1.1:green").is_ok());
        assert!(check_name(Scope::Stage, "green").is_err());
        assert!(check_name(Scope::Stage, ":green").is_err());
        assert!(check_name(Scope::Worker, "claude").is_ok());
        assert!(check_name(Scope::Worker, " ").is_err());
        assert!(check_name(Scope::System, "system").is_ok());
        assert!(check_name(Scope::System, "global").is_err());
    }
}
