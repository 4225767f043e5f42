//! The evidence line of a verdict, for the commit trailer: counts by outcome,
//! failures grouped by why they failed (`2 passed, 1 failed (assertion), 1
//! failed (missing symbol: power)`). A problem (a test file that does not load, a
//! package that does not build) counts as one failure of its kind.

use std::collections::BTreeSet;

use crate::report::{FailureKind, Outcome as TestOutcome, Problem, TestReport, TestResult};

/// How a failure kind reads in messages and trailers.
pub(crate) fn kind_label(kind: &FailureKind) -> String {
    match kind {
        FailureKind::Assertion => "assertion".to_string(),
        FailureKind::MissingSymbol { symbol } => format!("missing symbol: {symbol}"),
        FailureKind::Error => "error".to_string(),
        FailureKind::Syntax => "syntax error".to_string(),
        FailureKind::Build => "build error".to_string(),
        FailureKind::Collection => "collection error".to_string(),
        FailureKind::Timeout => "timeout".to_string(),
    }
}

/// The group a failure counts in: missing symbols together, the rest by kind.
fn group(kind: Option<&FailureKind>) -> &'static str {
    match kind {
        Some(FailureKind::Assertion) => "assertion",
        Some(FailureKind::MissingSymbol { .. }) => "missing symbol",
        Some(FailureKind::Error) => "error",
        Some(FailureKind::Syntax) => "syntax error",
        Some(FailureKind::Build) => "build error",
        Some(FailureKind::Collection) => "collection error",
        Some(FailureKind::Timeout) => "timeout",
        None => "unknown",
    }
}

/// The evidence line for some tests and problems.
pub(crate) fn describe<'a>(
    tests: impl IntoIterator<Item = &'a TestResult>,
    problems: impl IntoIterator<Item = &'a Problem>,
) -> String {
    let (mut passed, mut skipped) = (0, 0);
    // (group, count, missing symbols), in first-seen order.
    let mut failed: Vec<(&'static str, usize, BTreeSet<String>)> = Vec::new();
    let mut add = |kind: Option<&FailureKind>| {
        let name = group(kind);
        let i = match failed.iter().position(|(g, _, _)| *g == name) {
            Some(i) => i,
            None => {
                failed.push((name, 0, BTreeSet::new()));
                failed.len() - 1
            }
        };
        failed[i].1 += 1;
        if let Some(FailureKind::MissingSymbol { symbol }) = kind {
            failed[i].2.insert(symbol.clone());
        }
    };
    for test in tests {
        match test.outcome {
            TestOutcome::Passed => passed += 1,
            TestOutcome::Skipped => skipped += 1,
            TestOutcome::Failed | TestOutcome::Errored => {
                add(test.failure.as_ref().map(|f| &f.kind))
            }
        }
    }
    for problem in problems {
        add(Some(&problem.kind));
    }
    let mut parts = Vec::new();
    if passed > 0 {
        parts.push(format!("{passed} passed"));
    }
    for (name, count, symbols) in failed {
        if symbols.is_empty() {
            parts.push(format!("{count} failed ({name})"));
        } else {
            let symbols: Vec<String> = symbols.into_iter().collect();
            parts.push(format!("{count} failed ({name}: {})", symbols.join(", ")));
        }
    }
    if skipped > 0 {
        parts.push(format!("{skipped} skipped"));
    }
    if parts.is_empty() {
        "no tests".to_string()
    } else {
        parts.join(", ")
    }
}

/// The evidence line for a whole report.
pub(crate) fn describe_report(report: &TestReport) -> String {
    describe(&report.tests, &report.problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Failure, Runner};

    fn test(id: &str, outcome: TestOutcome, kind: Option<FailureKind>) -> TestResult {
        TestResult {
            id: id.to_string(),
            file: None,
            name: id.to_string(),
            outcome,
            failure: kind.map(|kind| Failure {
                kind,
                message: String::new(),
                location: None,
            }),
            duration_ms: None,
        }
    }

    #[test]
    fn trailer_groups_failures() {
        let mut report = TestReport::new(Runner::Pytest);
        assert_eq!(describe_report(&report), "no tests");
        report.tests = vec![
            test("a", TestOutcome::Failed, Some(FailureKind::Assertion)),
            test("b", TestOutcome::Failed, Some(FailureKind::Assertion)),
        ];
        assert_eq!(describe_report(&report), "2 failed (assertion)");
        report.tests = vec![test("a", TestOutcome::Passed, None); 5];
        assert_eq!(describe_report(&report), "5 passed");
        report.tests = vec![test(
            "a",
            TestOutcome::Failed,
            Some(FailureKind::MissingSymbol {
                symbol: "power".into(),
            }),
        )];
        assert_eq!(describe_report(&report), "1 failed (missing symbol: power)");
    }
}
