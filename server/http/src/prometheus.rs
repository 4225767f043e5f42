//! `GET /metrics` in Prometheus' text exposition format: per registered
//! project, its tasks by state, its last sequence number and its model cost.

use std::fmt::Write;

use crate::projects::ProjectSummary;

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render(projects: &[ProjectSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# HELP tdd_projects Registered projects.");
    let _ = writeln!(out, "# TYPE tdd_projects gauge");
    let _ = writeln!(out, "tdd_projects {}", projects.len());
    let _ = writeln!(
        out,
        "# HELP tdd_project_missing 1 when the project's directory is gone."
    );
    let _ = writeln!(out, "# TYPE tdd_project_missing gauge");
    for p in projects {
        let _ = writeln!(
            out,
            "tdd_project_missing{{project=\"{}\",path=\"{}\"}} {}",
            label(&p.id),
            label(&p.path.to_string_lossy()),
            u8::from(p.missing)
        );
    }
    let _ = writeln!(out, "# HELP tdd_tasks Tasks by state.");
    let _ = writeln!(out, "# TYPE tdd_tasks gauge");
    for p in projects {
        for (state, n) in &p.by_state {
            let _ = writeln!(
                out,
                "tdd_tasks{{project=\"{}\",state=\"{}\"}} {n}",
                label(&p.id),
                label(state)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP tdd_events_total Entries in the project's event log."
    );
    let _ = writeln!(out, "# TYPE tdd_events_total counter");
    for p in projects {
        let _ = writeln!(
            out,
            "tdd_events_total{{project=\"{}\"}} {}",
            label(&p.id),
            p.last_seq
        );
    }
    let _ = writeln!(
        out,
        "# HELP tdd_model_cost_usd Model cost over every run (known prices only)."
    );
    let _ = writeln!(out, "# TYPE tdd_model_cost_usd counter");
    for p in projects {
        if let Some(cost) = p.cost_usd {
            let _ = writeln!(
                out,
                "tdd_model_cost_usd{{project=\"{}\"}} {cost}",
                label(&p.id)
            );
        }
    }
    out
}
