//! Incremental re-planning: a new plan compared with the tasks already
//! stored, by key and content hash. Pure; the engine applies the result.

use std::collections::{BTreeMap, BTreeSet};

use super::TaskGraph;

/// What the store knows of a planned task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    pub key: String,
    pub content_hash: String,
    /// Done (or passed) tasks keep their code; a change only flags them.
    pub done: bool,
    pub cancelled: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replan {
    /// Same key and hash: status and history kept.
    pub unchanged: Vec<String>,
    /// Same key, new hash, not done: re-planned and reset to pending.
    pub replanned: Vec<String>,
    /// Same key, new hash, already done: kept done, flagged "PRD changed since done".
    pub changed_since_done: Vec<String>,
    /// New keys.
    pub added: Vec<String>,
    /// Keys no longer in the plan: cancelled.
    pub cancelled: Vec<String>,
    /// Previously cancelled keys that are back: re-planned from pending.
    pub revived: Vec<String>,
}

impl Replan {
    pub fn is_noop(&self) -> bool {
        self.replanned.is_empty()
            && self.changed_since_done.is_empty()
            && self.added.is_empty()
            && self.cancelled.is_empty()
            && self.revived.is_empty()
    }
}

pub fn replan(existing: &[Existing], plan: &TaskGraph) -> Replan {
    let old: BTreeMap<&str, &Existing> = existing.iter().map(|e| (e.key.as_str(), e)).collect();
    let mut out = Replan::default();
    let mut seen = BTreeSet::new();
    for task in &plan.tasks {
        seen.insert(task.key.as_str());
        let key = task.key.clone();
        match old.get(task.key.as_str()) {
            None => out.added.push(key),
            Some(e) if e.cancelled => out.revived.push(key),
            Some(e) if e.content_hash == task.content_hash => out.unchanged.push(key),
            Some(e) if e.done => out.changed_since_done.push(key),
            Some(_) => out.replanned.push(key),
        }
    }
    for e in existing {
        if !seen.contains(e.key.as_str()) && !e.cancelled {
            out.cancelled.push(e.key.clone());
        }
    }
    out
}
