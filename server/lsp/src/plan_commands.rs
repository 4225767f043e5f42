//! `tdd.decompose`, `tdd.decomposeDryRun` and `tdd.status`: blocking work
//! (files, SQLite). The session runs these on a blocking thread and sends
//! the reply and a one-line summary when they finish.

use std::path::Path;

use serde_json::{Value, json};
use tdd_core::plan::replan::Replan;
use tdd_engine::planning;
use tdd_engine::store::Reader;

/// A finished command: the `executeCommand` result and a message for the user.
pub struct Outcome {
    pub result: Value,
    pub message: String,
}

fn changes_json(changes: &Replan) -> Value {
    json!({
        "added": changes.added,
        "replanned": changes.replanned,
        "revived": changes.revived,
        "changed_since_done": changes.changed_since_done,
        "cancelled": changes.cancelled,
        "unchanged": changes.unchanged.len(),
    })
}

fn summary(changes: &Replan) -> String {
    if changes.is_noop() {
        return "no changes".to_string();
    }
    let parts = [
        ("added", changes.added.len()),
        (
            "re-planned",
            changes.replanned.len() + changes.revived.len(),
        ),
        (
            "flagged as changed since done",
            changes.changed_since_done.len(),
        ),
        ("cancelled", changes.cancelled.len()),
    ];
    parts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decomposes `text` (the editor's buffer) as the PRD at `file`.
pub fn decompose(root: &Path, file: &Path, text: String, dry_run: bool) -> Result<Outcome, String> {
    let (planned, changes) = planning::decompose_text(root, file, text, dry_run)?;
    let graph = &planned.graph;
    let verb = if dry_run { "Dry run of" } else { "Decomposed" };
    let message = format!(
        "{verb} {}: {} tasks in {} waves; {}",
        planned.path,
        graph.tasks.len(),
        graph.waves.len(),
        summary(&changes)
    );
    let result = json!({
        "prd": planned.path,
        "dry_run": dry_run,
        "tasks": graph.tasks.len(),
        "waves": graph.waves,
        "changes": changes_json(&changes),
        "graph": graph,
    });
    Ok(Outcome { result, message })
}

/// Every decomposed PRD with its tasks by state.
pub fn status(root: &Path) -> Result<Outcome, String> {
    let database = planning::database_path(root);
    if !database.exists() {
        let message = "No PRD has been decomposed yet: run tdd.decompose on one.".to_string();
        return Ok(Outcome {
            result: json!({ "prds": [] }),
            message,
        });
    }
    let reader = Reader::open(&database).map_err(|e| e.to_string())?;
    let prds = reader
        .read(|tx| planning::status(tx, root))
        .map_err(|e| e.to_string())?;
    let lines: Vec<String> = prds
        .iter()
        .map(|p| {
            let counts: Vec<String> = p
                .by_status
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect();
            let edited = if p.changed_since_decomposition == Some(true) {
                " (edited since decomposed)"
            } else {
                ""
            };
            format!("{}: {}{edited}", p.path, counts.join(", "))
        })
        .collect();
    let result = json!({
        "prds": prds.iter().map(|p| json!({
            "path": p.path,
            "decomposed_at": p.decomposed_at,
            "changed_since_decomposition": p.changed_since_decomposition,
            "tasks": p.by_status,
            "prd_changed_since_done": p.flagged,
            "model_usage": p.total_usage(),
        })).collect::<Vec<_>>(),
    });
    Ok(Outcome {
        result,
        message: lines.join("; "),
    })
}
