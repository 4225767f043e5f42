//! VERIFY and MERGE: run by the engine, not by a worker.
//!
//! VERIFY (`changes` and `sources` are the task's whole diff):
//!
//! | rule | code |
//! |---|---|
//! | some test was reported | `verify.no_tests` |
//! | no test failed or errored (skipped tests are allowed) | `verify.failing_test` |
//! | no problem (the run's crashes and timeouts are infrastructure, judged before) | `verify.problem` |
//! | every configured check passed | `verify.check_failed` |
//! | no placeholder body in a changed source file ([`stubs`](super::stubs)) | `verify.placeholder` |
//! | no test without an assertion | `verify.assertion_free` |
//! | no test whose assertions are all about mocks | `verify.mock_only` |
//! | no function the task added or changed returns a literal whatever its parameters (Python; against `base_sources`) | `verify.constant_return` |
//!
//! MERGE: the task's tests were reported on the rebased tip (`merge.no_task_tests`)
//! and pass there, with no problem scoped to a task test file (`merge.task_failing`).

use crate::report::Outcome as TestOutcome;

use super::evidence::{describe, describe_report, kind_label};
use super::stubs::{self, FindingKind};
use super::{
    ChangeKind, Evidence, Reason, TaskScope, Verdict, first_line, problem_in_scope, test_in_scope,
};

/// Lines of a failed check's output quoted in its reason.
const TAIL_LINES: usize = 20;

pub(super) fn judge_verify(_scope: &TaskScope, evidence: &Evidence) -> Verdict {
    let mut reasons = Vec::new();
    let after = &evidence.after;
    if after.tests.is_empty() && after.problems.is_empty() {
        reasons.push(Reason::new(
            "verify.no_tests",
            "the test run reported no test; VERIFY needs the suite to run",
        ));
    }
    for test in &after.tests {
        if matches!(test.outcome, TestOutcome::Failed | TestOutcome::Errored) {
            let why = test
                .failure
                .as_ref()
                .map(|f| format!("{}: {}", kind_label(&f.kind), first_line(&f.message)))
                .unwrap_or_else(|| "no reason reported".to_string());
            reasons.push(
                Reason::new(
                    "verify.failing_test",
                    format!("{} fails ({why}); the whole suite must pass", test.id),
                )
                .about(&test.id),
            );
        }
    }
    for problem in &after.problems {
        let what = problem.scope.as_deref().unwrap_or("the test run");
        reasons.push(
            Reason::new(
                "verify.problem",
                format!(
                    "{what} does not load or build ({}: {}); the whole suite must pass",
                    kind_label(&problem.kind),
                    first_line(&problem.message)
                ),
            )
            .about(what),
        );
    }
    for check in evidence.checks.iter().filter(|c| !c.passed) {
        let lines: Vec<&str> = check.output_tail.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
        reasons.push(
            Reason::new(
                "verify.check_failed",
                format!(
                    "{} failed (`{}`); fix what it reports:\n{}",
                    check.name,
                    check.command,
                    tail.trim()
                ),
            )
            .about(&check.name),
        );
    }
    for (path, text) in &evidence.sources {
        let deleted = evidence
            .changes
            .iter()
            .any(|c| c.path == *path && c.kind == ChangeKind::Deleted);
        let Some(language) = stubs::language_of(path) else {
            continue;
        };
        if deleted {
            continue;
        }
        let before = evidence.base_sources.get(path).map(String::as_str);
        let findings = stubs::scan(language, path, text)
            .into_iter()
            .chain(stubs::constant_returns(language, path, before, text));
        for finding in findings {
            let code = match finding.kind {
                FindingKind::Placeholder => "verify.placeholder",
                FindingKind::AssertionFree => "verify.assertion_free",
                FindingKind::MockOnly => "verify.mock_only",
                FindingKind::ConstantReturn => "verify.constant_return",
            };
            reasons.push(
                Reason::new(
                    code,
                    format!("{}:{}: {}", finding.file, finding.line, finding.message),
                )
                .about(format!("{}:{}", finding.file, finding.line)),
            );
        }
    }
    Verdict::from_reasons(reasons, describe_report(after))
}

pub(super) fn judge_merge(scope: &TaskScope, evidence: &Evidence) -> Verdict {
    let mut reasons = Vec::new();
    let after = &evidence.after;
    let tests: Vec<_> = after
        .tests
        .iter()
        .filter(|t| test_in_scope(t, scope))
        .collect();
    let problems: Vec<_> = after
        .problems
        .iter()
        .filter(|p| problem_in_scope(p, scope))
        .collect();
    if tests.is_empty() && problems.is_empty() {
        reasons.push(Reason::new(
            "merge.no_task_tests",
            format!(
                "no test of {} was reported on the rebased tip; the task's tests must run there",
                scope.test_files.join(", ")
            ),
        ));
    }
    for test in tests.iter().filter(|t| t.outcome != TestOutcome::Passed) {
        let why = test
            .failure
            .as_ref()
            .map(|f| format!("{}: {}", kind_label(&f.kind), first_line(&f.message)))
            .unwrap_or_else(|| format!("{:?}", test.outcome).to_lowercase());
        reasons.push(
            Reason::new(
                "merge.task_failing",
                format!(
                    "{} does not pass on the rebased tip ({why}); resolve the conflict with the \
                     work merged since",
                    test.id
                ),
            )
            .about(&test.id),
        );
    }
    for problem in &problems {
        let what = problem.scope.as_deref().unwrap_or("a task test file");
        reasons.push(
            Reason::new(
                "merge.task_failing",
                format!(
                    "{what} does not load on the rebased tip ({}: {})",
                    kind_label(&problem.kind),
                    first_line(&problem.message)
                ),
            )
            .about(what),
        );
    }
    Verdict::from_reasons(
        reasons,
        describe(tests.iter().copied(), problems.iter().copied()),
    )
}
