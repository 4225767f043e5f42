//! RED: the worker wrote failing tests, and they fail for the right reason.
//!
//! | rule | code |
//! |---|---|
//! | only the task's test files changed | `red.foreign_change` (one per path) |
//! | new tests were collected (ids of the task's test files not in the baseline), or a missing-symbol problem is scoped to a task test file (a test that does not compile or import collects no test) | `red.no_new_tests` |
//! | a problem scoped to a task test file is a missing symbol; a build error counts only beside a missing symbol in the same scope (rustc's follow-on errors) | `red.wrong_failure` |
//! | every new test fails by an assertion or a missing symbol (not an error, a syntax, build or collection error, a timeout) | `red.wrong_failure` |
//! | no new test is skipped | `red.skipped_test` |
//! | no new test passes, unless all do | `red.passing_test` |
//! | every new test passes (and nothing else is wrong) | [`Outcome::AlreadyImplemented`] with `red.already_implemented` |
//! | a test outside the task that passed in the baseline still passes; one no longer reported counts too, unless a missing-symbol or build problem of the task cut the run short (cargo, pytest and go stop at a target that does not compile) | `red.regression` |

use std::collections::HashSet;

use crate::report::{FailureKind, Outcome as TestOutcome, Problem, TestResult};

use super::evidence::{describe, kind_label};
use super::matching::task_test_path;
use super::{
    Evidence, Outcome, Reason, TaskScope, Verdict, first_line, problem_in_scope, test_in_scope,
};

pub(super) fn judge(scope: &TaskScope, evidence: &Evidence) -> Verdict {
    let mut reasons = Vec::new();
    let files = scope.test_files.join(", ");

    for change in &evidence.changes {
        for path in change.paths() {
            if !task_test_path(path, scope) {
                reasons.push(
                    Reason::new(
                        "red.foreign_change",
                        format!(
                            "RED may change only the task's test files ({files}); revert {path}"
                        ),
                    )
                    .about(path),
                );
            }
        }
    }

    let after = &evidence.after;
    let before_ids: HashSet<&str> = evidence
        .before
        .iter()
        .flat_map(|b| b.tests.iter().map(|t| t.id.as_str()))
        .collect();
    let new_tests: Vec<&TestResult> = after
        .tests
        .iter()
        .filter(|t| test_in_scope(t, scope) && !before_ids.contains(t.id.as_str()))
        .collect();
    let problems: Vec<&Problem> = after
        .problems
        .iter()
        .filter(|p| problem_in_scope(p, scope))
        .collect();
    let missing: Vec<&Problem> = problems
        .iter()
        .copied()
        .filter(|p| matches!(p.kind, FailureKind::MissingSymbol { .. }))
        .collect();

    for problem in &problems {
        let accepted = match problem.kind {
            FailureKind::MissingSymbol { .. } => true,
            FailureKind::Build => missing.iter().any(|m| m.scope == problem.scope),
            _ => false,
        };
        if !accepted {
            let what = problem.scope.as_deref().unwrap_or("a task test file");
            reasons.push(wrong_failure(what, &problem.kind, &problem.message));
        }
    }

    if new_tests.is_empty() && missing.is_empty() {
        reasons.push(Reason::new(
            "red.no_new_tests",
            format!(
                "no new test was collected from {files}; write tests there that fail until the \
                 task's code exists"
            ),
        ));
    }

    let mut passing = Vec::new();
    for test in &new_tests {
        match test.outcome {
            TestOutcome::Passed => passing.push(*test),
            TestOutcome::Skipped => reasons.push(
                Reason::new(
                    "red.skipped_test",
                    format!(
                        "{} is skipped; a RED test must run and fail: remove the skip",
                        test.id
                    ),
                )
                .about(&test.id),
            ),
            TestOutcome::Failed | TestOutcome::Errored => match &test.failure {
                Some(f)
                    if matches!(
                        f.kind,
                        FailureKind::Assertion | FailureKind::MissingSymbol { .. }
                    ) => {}
                Some(f) => reasons.push(wrong_failure(&test.id, &f.kind, &f.message)),
                None => reasons.push(wrong_failure(
                    &test.id,
                    &FailureKind::Error,
                    "no reason reported",
                )),
            },
        }
    }

    let all_pass = !new_tests.is_empty() && passing.len() == new_tests.len() && problems.is_empty();
    if !all_pass {
        for test in passing {
            reasons.push(
                Reason::new(
                    "red.passing_test",
                    format!(
                        "{} passes before any implementation; a RED test must fail until the \
                         task's code is written: make it assert the new behaviour",
                        test.id
                    ),
                )
                .about(&test.id),
            );
        }
    }

    if let Some(before) = &evidence.before {
        let cut_short = problems.iter().any(|p| {
            matches!(
                p.kind,
                FailureKind::MissingSymbol { .. } | FailureKind::Build
            )
        });
        for old in before
            .tests
            .iter()
            .filter(|t| t.outcome == TestOutcome::Passed && !test_in_scope(t, scope))
        {
            match after.test(&old.id) {
                Some(now) if now.outcome == TestOutcome::Passed => {}
                Some(now) => {
                    let why = now
                        .failure
                        .as_ref()
                        .map(|f| format!("{}: {}", kind_label(&f.kind), first_line(&f.message)))
                        .unwrap_or_else(|| format!("{:?}", now.outcome).to_lowercase());
                    reasons.push(
                        Reason::new(
                            "red.regression",
                            format!(
                                "{} passed before RED and now does not ({why}); RED must not \
                                 break other tests",
                                old.id
                            ),
                        )
                        .about(&old.id),
                    );
                }
                None if cut_short => {}
                None => reasons.push(
                    Reason::new(
                        "red.regression",
                        format!(
                            "{} passed before RED and is no longer reported; RED must not \
                             remove or break other tests",
                            old.id
                        ),
                    )
                    .about(&old.id),
                ),
            }
        }
    }

    let trailer = describe(new_tests.iter().copied(), problems.iter().copied());
    if all_pass && reasons.is_empty() {
        return Verdict {
            outcome: Outcome::AlreadyImplemented,
            reasons: vec![Reason::new(
                "red.already_implemented",
                format!(
                    "all {} new tests pass before any implementation: the behaviour exists \
                     already; the task goes to VERIFY",
                    new_tests.len()
                ),
            )],
            evidence: trailer,
        };
    }
    Verdict::from_reasons(reasons, trailer)
}

fn wrong_failure(subject: &str, kind: &FailureKind, message: &str) -> Reason {
    Reason::new(
        "red.wrong_failure",
        format!(
            "{subject} fails for the wrong reason ({}): {}; a RED test must fail on an \
             assertion or on a symbol the task will create, so fix the test",
            kind_label(kind),
            first_line(message)
        ),
    )
    .about(subject)
}
