//! Which task a free worker takes next, and when it takes none, why: a
//! breaker holding it (and until when), a breaker open until a reset that
//! this run will never see, or a provider that never answered.

use tdd_core::breaker::{Blocked, Millis, Scope};

use super::{DISPATCH_STAGE, Plan, Slot, State, TaskEnd};

pub(super) enum Pick {
    Task(usize),
    /// Nothing to do now; the refusal, if a breaker refused.
    Wait(Option<String>),
    /// A breaker stopped dispatch after outages that could not connect, and
    /// nothing ever answered: the provider looks unreachable, and waiting out
    /// the pause would only be silence.
    Unreachable(String),
    /// This worker's breaker is open until a reset.
    Retire(String),
    /// Every task that could start is held by a breaker open until a reset
    /// (which this run will not see): waiting would never end.
    Stuck(String),
}

pub(super) fn deps_done(state: &State, plan: &Plan<'_>, i: usize) -> bool {
    plan.deps[i]
        .iter()
        .all(|d| d.is_some_and(|d| matches!(state.slots[d], Slot::Done(TaskEnd::Merged))))
}

/// Whether some pending task has every dependency done (so nothing but
/// ownership or the breakers holds it).
pub(super) fn any_startable(state: &State, plan: &Plan<'_>) -> bool {
    plan.order
        .iter()
        .any(|&i| matches!(state.slots[i], Slot::Pending) && deps_done(state, plan, i))
}

/// Whether two `writes` lists share a file (or one holds a directory of the other).
fn overlap(a: &[String], b: &[String]) -> bool {
    let within = |x: &str, y: &str| {
        let y = y.trim_end_matches('/');
        x == y || x.strip_prefix(y).is_some_and(|rest| rest.starts_with('/'))
    };
    a.iter()
        .any(|x| b.iter().any(|y| within(x, y) || within(y, x)))
}

pub(super) fn pick(state: &mut State, plan: &Plan<'_>, worker: &str, now: Millis) -> Pick {
    let running: Vec<usize> = (0..state.slots.len())
        .filter(|&i| matches!(state.slots[i], Slot::Running { .. }))
        .collect();
    let mut refusal = None;
    // Whether every candidate is held by a breaker open until a reset.
    let mut stuck = true;
    for &i in &plan.order {
        if !matches!(state.slots[i], Slot::Pending) || !deps_done(state, plan, i) {
            continue;
        }
        let task = &plan.tasks[i];
        if running
            .iter()
            .any(|&r| overlap(&task.writes, &plan.tasks[r].writes))
        {
            stuck = false;
            continue;
        }
        let verdict =
            state
                .breakers
                .check_dispatch(&task.key, DISPATCH_STAGE.as_str(), worker, now);
        state.drain_changes();
        match verdict {
            Ok(()) => return Pick::Task(i),
            Err(blocked) => match blocked.scope {
                // Only this task's stage: another task may go.
                Scope::Stage => {
                    stuck &= blocked.until.is_none() && blocked.state.is_open();
                    refusal = Some(held(&task.key, &blocked));
                }
                Scope::Worker if blocked.until.is_none() && blocked.state.is_open() => {
                    return Pick::Retire(blocked.to_string());
                }
                Scope::Worker | Scope::System => {
                    if !state.answered
                        && let Some(last) = &state.last_outage
                    {
                        let (scope, name) = reset_args(&blocked);
                        return Pick::Unreachable(format!(
                            "provider unreachable: no model call of this run got an answer \
                             (last: {last}), and the {scope} breaker stopped dispatch; check the \
                             worker's base_url, the network and the API key, then \
                             `tdd-orchestrator circuits reset {scope} {name}` and \
                             `tdd-orchestrator resume`"
                        ));
                    }
                    return Pick::Wait(Some(held(&task.key, &blocked)));
                }
            },
        }
    }
    match refusal {
        Some(why) if stuck => Pick::Stuck(why),
        refusal => Pick::Wait(refusal),
    }
}

/// What holds `task` back, until when, and how to let it go: the same
/// text for every look while nothing changes, so it is told once.
fn held(task: &str, blocked: &Blocked) -> String {
    let until = match blocked.until {
        Some(at) => {
            let secs = at.0 / 1000;
            format!(
                " until {:02}:{:02}:{:02} UTC",
                secs / 3600 % 24,
                secs / 60 % 60,
                secs % 60
            )
        }
        None => " until it is reset".to_string(),
    };
    let (scope, name) = reset_args(blocked);
    format!(
        "{task} waits: {blocked}; nothing is dispatched to it{until} \
         (a run reads breakers when it starts: `tdd-orchestrator circuits reset {scope} {name}`, \
         then `tdd-orchestrator resume`)"
    )
}

/// The scope and name `circuits reset` takes for `blocked`'s breaker.
fn reset_args(blocked: &Blocked) -> (&'static str, &str) {
    match blocked.scope {
        Scope::System => ("system", "system"),
        Scope::Worker => ("worker", blocked.name.as_str()),
        Scope::Stage => ("stage", blocked.name.as_str()),
    }
}
