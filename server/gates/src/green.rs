//! GREEN and REFACTOR: the source changed, the tests did not, and they pass.
//!
//! | rule | code (REFACTOR: `refactor.…`) |
//! |---|---|
//! | no test file changed: a task test file, a file the reports know as a test's file, or a file named as a test (`is_test_path`) unless the task may write it | `green.test_changed` |
//! | the task's tests were reported | `green.no_task_tests` |
//! | each task test passes, and no problem is scoped to a task test file | `green.task_failing`, `green.task_skipped` |
//! | a test that passed in the baseline does not fail now | `green.regression` |
//! | every test id of the baseline is still reported (not removed or renamed away) | `green.test_removed` |
//! | no test is newly skipped | `green.newly_skipped` |
//! | no new problem (a test file or package that no longer loads or builds) | `green.new_problem` |
//! | REFACTOR: no test id that the baseline did not have | `refactor.test_added` |

use std::collections::{BTreeSet, HashMap};

use crate::report::{Outcome as TestOutcome, TestReport, TestResult};

use super::evidence::{describe_report, kind_label};
use super::matching::{path_matches, task_test_path};
use super::{
    Evidence, Reason, Stage, TaskScope, Verdict, first_line, is_test_path, problem_in_scope,
    same_problem, test_in_scope,
};

pub(super) fn judge(stage: Stage, scope: &TaskScope, evidence: &Evidence) -> Verdict {
    let refactor = stage == Stage::Refactor;
    let code = |green: &'static str, refactor_code: &'static str| {
        if refactor { refactor_code } else { green }
    };
    let name = stage.as_str().to_uppercase();
    let mut reasons = Vec::new();
    let after = &evidence.after;
    let Some(before) = &evidence.before else {
        unreachable!("the caller checks for a baseline")
    };

    let known = known_test_files([before, after]);
    for change in &evidence.changes {
        for path in change.paths() {
            let writable = scope.writable.iter().any(|w| path_matches(path, w));
            let test_file = task_test_path(path, scope)
                || (!writable
                    && (known.iter().any(|k| path_matches(k, path))
                        || is_test_path(scope.language, path)));
            if test_file {
                reasons.push(
                    Reason::new(
                        code("green.test_changed", "refactor.test_changed"),
                        format!("{path} is a test file and {name} may not change tests: revert it"),
                    )
                    .about(path),
                );
            }
        }
    }

    let task_tests: Vec<&TestResult> = after
        .tests
        .iter()
        .filter(|t| test_in_scope(t, scope))
        .collect();
    let task_problems: Vec<_> = after
        .problems
        .iter()
        .filter(|p| problem_in_scope(p, scope))
        .collect();
    if task_tests.is_empty() && task_problems.is_empty() {
        reasons.push(Reason::new(
            code("green.no_task_tests", "refactor.no_task_tests"),
            format!(
                "no test of {} was reported; the task's tests must run and pass",
                scope.test_files.join(", ")
            ),
        ));
    }
    for test in &task_tests {
        match test.outcome {
            TestOutcome::Passed => {}
            TestOutcome::Skipped => reasons.push(
                Reason::new(
                    code("green.task_skipped", "refactor.task_skipped"),
                    format!("{} is skipped; the task's tests must run and pass", test.id),
                )
                .about(&test.id),
            ),
            _ => reasons.push(
                Reason::new(
                    code("green.task_failing", "refactor.task_failing"),
                    format!(
                        "{} does not pass ({}); change the source until it does, not the test",
                        test.id,
                        why(test)
                    ),
                )
                .about(&test.id),
            ),
        }
    }
    for problem in &task_problems {
        let what = problem.scope.as_deref().unwrap_or("a task test file");
        reasons.push(
            Reason::new(
                code("green.task_failing", "refactor.task_failing"),
                format!(
                    "{what} does not load ({}: {}); the task's tests must run and pass",
                    kind_label(&problem.kind),
                    first_line(&problem.message)
                ),
            )
            .about(what),
        );
    }

    let now: HashMap<&str, &TestResult> = after.tests.iter().map(|t| (t.id.as_str(), t)).collect();
    for old in &before.tests {
        let Some(new) = now.get(old.id.as_str()) else {
            reasons.push(
                Reason::new(
                    code("green.test_removed", "refactor.test_removed"),
                    format!(
                        "{} was reported before {name} and no longer is (removed, renamed away, \
                         or its file no longer loads); restore it",
                        old.id
                    ),
                )
                .about(&old.id),
            );
            continue;
        };
        if test_in_scope(new, scope) {
            continue; // judged above
        }
        let failing = matches!(new.outcome, TestOutcome::Failed | TestOutcome::Errored);
        if old.outcome == TestOutcome::Passed && failing {
            reasons.push(
                Reason::new(
                    code("green.regression", "refactor.regression"),
                    format!(
                        "{} passed before {name} and now fails ({}); fix the source without \
                         breaking it",
                        new.id,
                        why(new)
                    ),
                )
                .about(&new.id),
            );
        }
        if new.outcome == TestOutcome::Skipped && old.outcome != TestOutcome::Skipped {
            reasons.push(
                Reason::new(
                    code("green.newly_skipped", "refactor.newly_skipped"),
                    format!(
                        "{} is skipped now and was not before {name}; un-skip it",
                        new.id
                    ),
                )
                .about(&new.id),
            );
        }
    }
    for problem in after.problems.iter().filter(|p| {
        !problem_in_scope(p, scope) && !before.problems.iter().any(|b| same_problem(b, p))
    }) {
        let what = problem.scope.as_deref().unwrap_or("the test run");
        reasons.push(
            Reason::new(
                code("green.new_problem", "refactor.new_problem"),
                format!(
                    "{what} no longer loads or builds ({}: {}); the change broke it",
                    kind_label(&problem.kind),
                    first_line(&problem.message)
                ),
            )
            .about(what),
        );
    }

    if refactor {
        let old: BTreeSet<&str> = before.tests.iter().map(|t| t.id.as_str()).collect();
        for test in after.tests.iter().filter(|t| !old.contains(t.id.as_str())) {
            reasons.push(
                Reason::new(
                    "refactor.test_added",
                    format!(
                        "{} is new; REFACTOR keeps the same tests as before, so remove it",
                        test.id
                    ),
                )
                .about(&test.id),
            );
        }
    }

    Verdict::from_reasons(reasons, describe_report(after))
}

/// The files the reports know as test files: each test's file, and the part of its
/// id before `::` when that is a path to a file (not a Go package).
fn known_test_files(reports: [&TestReport; 2]) -> BTreeSet<&str> {
    let mut files = BTreeSet::new();
    for test in reports.iter().flat_map(|r| &r.tests) {
        if let Some(file) = &test.file {
            files.insert(file.as_str());
        }
        if let Some((prefix, _)) = test.id.split_once("::") {
            let file_name = prefix.rsplit('/').next().unwrap_or(prefix);
            if prefix.contains('/') && !prefix.contains(' ') && file_name.contains('.') {
                files.insert(prefix);
            }
        }
    }
    files
}

fn why(test: &TestResult) -> String {
    match &test.failure {
        Some(f) => format!("{}: {}", kind_label(&f.kind), first_line(&f.message)),
        None => format!("{:?}", test.outcome).to_lowercase(),
    }
}
