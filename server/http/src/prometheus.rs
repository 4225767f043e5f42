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
        "# HELP tdd_merge_conflicts_total Merge conflicts a task was re-run after."
    );
    let _ = writeln!(out, "# TYPE tdd_merge_conflicts_total counter");
    for p in projects {
        let _ = writeln!(
            out,
            "tdd_merge_conflicts_total{{project=\"{}\"}} {}",
            label(&p.id),
            p.merge_conflicts
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_count_is_a_labelled_sample() {
        let project = ProjectSummary {
            id: "abc".into(),
            path: "/p/a \"b\"".into(),
            name: "a".into(),
            missing: false,
            problem: None,
            tasks: 3,
            by_state: [("done".to_string(), 2), ("failed".to_string(), 1)].into(),
            run_status: Some("completed".into()),
            last_activity: None,
            last_seq: 42,
            cost_usd: Some(0.5),
            merge_conflicts: 2,
        };
        let text = render(&[project]);
        for line in [
            "tdd_projects 1",
            "tdd_project_missing{project=\"abc\",path=\"/p/a \\\"b\\\"\"} 0",
            "tdd_tasks{project=\"abc\",state=\"done\"} 2",
            "tdd_tasks{project=\"abc\",state=\"failed\"} 1",
            "tdd_events_total{project=\"abc\"} 42",
            "tdd_merge_conflicts_total{project=\"abc\"} 2",
            "tdd_model_cost_usd{project=\"abc\"} 0.5",
            "# TYPE tdd_merge_conflicts_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
    }
}
