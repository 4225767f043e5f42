//! Terminal renderings of a task graph: text by waves, and Mermaid.

use std::fmt::Write;

use tdd_core::plan::replan::Replan;
use tdd_core::plan::{TaskGraph, TaskKind};

fn kind(kind: &TaskKind) -> &'static str {
    match kind {
        TaskKind::Implement => "implement",
        TaskKind::VerifyOnly => "verify-only",
        TaskKind::Setup => "setup",
    }
}

/// The graph by waves, each task with its criteria, files, tests and dependencies.
pub fn text(graph: &TaskGraph) -> String {
    let mut out = String::new();
    let name = graph
        .prd_id
        .as_deref()
        .or(graph.prd_title.as_deref())
        .unwrap_or("PRD");
    let _ = writeln!(
        out,
        "{name}: {} tasks in {} waves",
        graph.tasks.len(),
        graph.waves.len()
    );
    for (number, wave) in graph.waves.iter().enumerate() {
        let size = if wave.len() == 1 {
            "1 task".to_string()
        } else {
            format!("{} tasks, in parallel", wave.len())
        };
        let _ = writeln!(out, "\nwave {} ({size})", number + 1);
        for key in wave {
            let Some(task) = graph.tasks.iter().find(|t| &t.key == key) else {
                continue;
            };
            let level = format!("{:?}", task.complexity.level).to_lowercase();
            let _ = writeln!(
                out,
                "  {}  [{}, {level} {}]  {}",
                task.key,
                kind(&task.kind),
                task.complexity.score,
                task.title
            );
            if !task.criteria.is_empty() {
                let _ = writeln!(out, "      criteria  {}", task.criteria.join(", "));
            }
            if let Some(file) = &task.test_file {
                let names: Vec<&str> = task.tests.iter().map(|t| t.name.as_str()).collect();
                let _ = writeln!(out, "      tests     {file}: {}", names.join(", "));
            }
            if let Some(file) = &task.impl_file {
                let _ = writeln!(out, "      impl      {file}");
            }
            if task.test_file.is_none() && task.impl_file.is_none() {
                let _ = writeln!(out, "      writes    {}", task.writes.join(", "));
            }
            if !task.depends_on.is_empty() {
                let _ = writeln!(out, "      after     {}", task.depends_on.join(", "));
            }
            for hint in &task.hints {
                let _ = writeln!(out, "      note      {hint}");
            }
        }
    }
    out
}

/// A Mermaid flowchart: an arrow from each dependency to the task that needs it.
pub fn mermaid(graph: &TaskGraph) -> String {
    let mut out = String::from("graph TD\n");
    let id = |key: &str| {
        graph
            .tasks
            .iter()
            .position(|t| t.key == key)
            .map(|i| format!("t{i}"))
    };
    for (i, task) in graph.tasks.iter().enumerate() {
        let label = format!("{}<br/>{}", task.key, task.title).replace('"', "'");
        let shape = match task.kind {
            TaskKind::Setup => format!("t{i}[(\"{label}\")]"),
            TaskKind::VerifyOnly => format!("t{i}{{\"{label}\"}}"),
            TaskKind::Implement => format!("t{i}[\"{label}\"]"),
        };
        let _ = writeln!(out, "  {shape}");
    }
    for task in &graph.tasks {
        for dep in &task.depends_on {
            if let (Some(from), Some(to)) = (id(dep), id(&task.key)) {
                let _ = writeln!(out, "  {from} --> {to}");
            }
        }
    }
    out
}

/// Exactly what a re-plan changed, one line per kind of change.
pub fn changes(replan: &Replan) -> String {
    let mut out = String::new();
    let line = |out: &mut String, label: &str, keys: &[String]| {
        if !keys.is_empty() {
            let _ = writeln!(out, "  {label} ({}): {}", keys.len(), keys.join(", "));
        }
    };
    if replan.is_noop() {
        let _ = writeln!(
            out,
            "No changes: {} tasks unchanged.",
            replan.unchanged.len()
        );
        return out;
    }
    let _ = writeln!(out, "Changes:");
    line(&mut out, "added", &replan.added);
    line(&mut out, "re-planned, reset to pending", &replan.replanned);
    line(
        &mut out,
        "re-planned after being cancelled",
        &replan.revived,
    );
    line(
        &mut out,
        "done, kept done, flagged \"PRD changed since done\"",
        &replan.changed_since_done,
    );
    line(
        &mut out,
        "removed from the PRD, cancelled",
        &replan.cancelled,
    );
    let _ = writeln!(
        out,
        "  unchanged, status and history kept: {}",
        replan.unchanged.len()
    );
    out
}
