//! Graph checks that need no edges: what cannot be planned, duplicate keys
//! and unsafe paths. Cycles and dangling edges are found while the graph is
//! built (`graph`). Every error points into the PRD.

use std::collections::HashMap;

use super::cycles::Cycle;
use super::{PlanError, PlanErrorKind, Task};
use crate::model::Prd;
use crate::rules::paths::path_problem;

pub(super) fn before_graph(prd: &Prd, cycles: &[Cycle<'_>], tasks: &[Task]) -> Vec<PlanError> {
    let mut errors = Vec::new();
    if prd.requirements.is_empty() && prd.shared_criteria.is_empty() {
        errors.push(PlanError {
            kind: PlanErrorKind::Unplannable,
            span: crate::text::Span::empty(0),
            message: "this PRD has no requirements, so there is nothing to plan".to_string(),
        });
    }
    for cycle in cycles {
        if cycle.criteria.is_empty() {
            errors.push(PlanError {
                kind: PlanErrorKind::Unplannable,
                span: cycle.source,
                message: format!(
                    "`{}` has no acceptance criteria, so no task can prove it: add criteria first",
                    cycle.id
                ),
            });
        }
        for criterion in cycle.criteria.iter().filter(|c| c.id.is_none()) {
            errors.push(PlanError {
                kind: PlanErrorKind::Unplannable,
                span: criterion.text.span,
                message: "this criterion has no id, so its task and test cannot be named: give it one (`AC-1.1:`)".to_string(),
            });
        }
    }
    // Task keys are built from ids, so unique ids make unique keys; a
    // duplicate id would also make `Depends on:` and coverage ambiguous.
    let mut seen: HashMap<String, &str> = HashMap::new();
    let ids = prd
        .requirements
        .iter()
        .map(|r| (&r.id, "requirement"))
        .chain(
            prd.criteria()
                .filter_map(|(_, c)| c.id.as_ref())
                .map(|id| (id, "criterion")),
        );
    for (id, what) in ids {
        if seen.insert(id.value.to_ascii_uppercase(), what).is_some() {
            errors.push(PlanError {
                kind: PlanErrorKind::DuplicateKey,
                span: id.span,
                message: format!(
                    "a second {what} is called `{}`: task keys, dependencies and coverage would be ambiguous; give it its own id",
                    id.value
                ),
            });
        }
    }
    let mut tasks_of: HashMap<&str, Vec<&Task>> = HashMap::new();
    for task in tasks {
        if let Some(req) = &task.requirement {
            tasks_of.entry(req.as_str()).or_default().push(task);
        }
    }
    for cycle in cycles {
        let from_prd = cycle
            .module
            .iter()
            .chain(&cycle.tests)
            .map(|p| (p.value.as_str(), p.span, ""));
        let derived = tasks_of
            .get(cycle.id.as_str())
            .into_iter()
            .flatten()
            .flat_map(|t| t.impl_file.iter().chain(&t.test_file))
            .filter(|f| {
                !cycle
                    .module
                    .iter()
                    .chain(&cycle.tests)
                    .any(|p| &p.value == *f)
            })
            .map(|f| {
                (
                    f.as_str(),
                    cycle.source,
                    " (derived from source_root/test_root in .tdd/config.toml)",
                )
            });
        for (path, span, origin) in from_prd.chain(derived) {
            if let Some(problem) = path_problem(path) {
                errors.push(PlanError {
                    kind: PlanErrorKind::UnsafePath,
                    span,
                    message: format!("`{path}`{origin} is outside the project: {problem}"),
                });
            }
        }
    }
    errors
}
