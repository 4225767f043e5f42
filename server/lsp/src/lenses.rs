//! Code lenses on a PRD's requirements: run this requirement's tasks, and
//! how far they are ("3/3 merged"), read from the store. The requirements
//! and their ranges come from the session's analysis; the store is read on
//! a blocking thread.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use tdd_engine::store::Queries;
use tower_lsp_server::ls_types::{CodeLens, Command as LspCommand, Range, Uri};

use crate::commands::Command;

/// A requirement of the open document: its id and the range of its heading.
pub struct Requirement {
    pub id: String,
    pub range: Range,
}

/// Task states of each requirement of the PRD at `prd` (relative to `root`),
/// or `None` when it was never decomposed.
fn states(root: &Path, prd: &str) -> Option<BTreeMap<String, Vec<String>>> {
    let reader = tdd_engine::view::open(root).ok()??;
    reader
        .read(|tx| -> Result<_, tdd_engine::store::StoreError> {
            let Some(row) = tx.prd(prd)? else {
                return Ok(None);
            };
            let mut by_requirement: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for task in tx.tasks(row.id)? {
                if let Some(requirement) = task.requirement {
                    by_requirement
                        .entry(requirement)
                        .or_default()
                        .push(task.status.as_str().to_string());
                }
            }
            Ok(Some(by_requirement))
        })
        .ok()?
}

/// "3/3 merged", "1 failed · 1/3 merged", "2 running · 0/2 merged".
fn summary(states: &[String]) -> String {
    let count = |s: &str| states.iter().filter(|x| x.as_str() == s).count();
    let mut parts = Vec::new();
    for (state, label) in [
        ("running", "running"),
        ("failed", "failed"),
        ("blocked", "blocked"),
    ] {
        let n = count(state);
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    parts.push(format!("{}/{} merged", count("done"), states.len()));
    parts.join(" · ")
}

pub fn lenses(root: &Path, uri: &Uri, prd: &str, requirements: Vec<Requirement>) -> Vec<CodeLens> {
    let states = states(root, prd);
    let mut out = Vec::new();
    let Some(states) = states else {
        // Never decomposed: one lens, on the first requirement.
        if let Some(first) = requirements.first() {
            out.push(lens(
                first.range,
                "Decompose to plan its tasks".into(),
                Command::Decompose,
                json!({ "uri": uri.as_str() }),
            ));
        }
        return out;
    };
    for requirement in requirements {
        let mine = states.get(&requirement.id).cloned().unwrap_or_default();
        if mine.is_empty() {
            continue;
        }
        let left = mine.iter().filter(|s| s.as_str() != "done").count();
        if left > 0 {
            let tasks = if left == 1 { "task" } else { "tasks" };
            out.push(lens(
                requirement.range,
                format!("▶ Run {} · {left} {tasks}", requirement.id),
                Command::Run,
                json!({ "uri": uri.as_str(), "requirement": requirement.id }),
            ));
        }
        out.push(lens(
            requirement.range,
            summary(&mine),
            Command::Status,
            json!({}),
        ));
    }
    out
}

fn lens(range: Range, title: String, command: Command, argument: serde_json::Value) -> CodeLens {
    CodeLens {
        range,
        command: Some(LspCommand::new(
            title,
            command.name().to_string(),
            Some(vec![argument]),
        )),
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn summaries_put_trouble_first() {
        let states = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(summary(&states(&["done", "done", "done"])), "3/3 merged");
        assert_eq!(
            summary(&states(&["failed", "done", "pending"])),
            "1 failed · 1/3 merged"
        );
    }
}
