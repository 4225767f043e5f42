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

/// One metric: its help and type lines, then a sample per `(labels, value)`.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        match labels.is_empty() {
            true => {
                let _ = writeln!(out, "{name} {value}");
            }
            false => {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    }
}

pub fn render(projects: &[ProjectSummary]) -> String {
    let project = |p: &ProjectSummary| format!("project=\"{}\"", label(&p.id));
    let per_project = |value: fn(&ProjectSummary) -> Option<String>| -> Vec<(String, String)> {
        projects
            .iter()
            .filter_map(|p| value(p).map(|v| (project(p), v)))
            .collect()
    };
    let mut out = String::new();
    let count = vec![(String::new(), projects.len().to_string())];
    metric(
        &mut out,
        "tdd_projects",
        "gauge",
        "Registered projects.",
        &count,
    );
    let missing: Vec<(String, String)> = projects
        .iter()
        .map(|p| {
            let path = label(&p.path.to_string_lossy());
            let labels = format!("{},path=\"{path}\"", project(p));
            (labels, u8::from(p.missing).to_string())
        })
        .collect();
    let help = "1 when the project's directory is gone.";
    metric(&mut out, "tdd_project_missing", "gauge", help, &missing);
    let tasks: Vec<(String, String)> = projects
        .iter()
        .flat_map(|p| {
            p.by_state.iter().map(move |(state, n)| {
                let labels = format!("{},state=\"{}\"", project(p), label(state));
                (labels, n.to_string())
            })
        })
        .collect();
    metric(&mut out, "tdd_tasks", "gauge", "Tasks by state.", &tasks);
    let help = "Entries in the project's event log.";
    let events = per_project(|p| Some(p.last_seq.to_string()));
    metric(&mut out, "tdd_events_total", "counter", help, &events);
    let help = "Merge conflicts a task was re-run after.";
    let conflicts = per_project(|p| Some(p.merge_conflicts.to_string()));
    metric(
        &mut out,
        "tdd_merge_conflicts_total",
        "counter",
        help,
        &conflicts,
    );
    let help = "Model cost over every run (known prices only).";
    let cost = per_project(|p| p.cost_usd.map(|c| c.to_string()));
    metric(&mut out, "tdd_model_cost_usd", "counter", help, &cost);
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
