//! vitest's `--reporter=json` (the jest-compatible shape): `testResults[]`, one
//! per test file, each with `assertionResults[]` (`status`, `failureMessages`,
//! `location` when `includeTaskLocation` is on).
//!
//! A test file that failed to load (`status: "failed"`, a `message`, no
//! assertions) is a [`Problem`]: a module or export that does not exist is a
//! [`FailureKind::MissingSymbol`], a syntax error (`Transform failed`,
//! `SyntaxError`) is [`FailureKind::Syntax`], anything else
//! [`FailureKind::Collection`]. A failed test is classified from the first line of
//! its first failure message (`AssertionError: expected 4 to be 5`,
//! `TypeError: (0 , power) is not a function`, …); an exception that is not
//! recognised is an [`FailureKind::Error`].

use serde::Deserialize;

use super::classify::{load_error_kind, text_kind};
use super::text::{bounded, esbuild_location, js_stack_location, millis};
use super::{
    Failure, FailureKind, Location, Outcome, Position, Problem, ReportError, ReportFormat, Runner,
    TestReport, TestResult,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    test_results: Vec<FileResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileResult {
    #[serde(default)]
    assertion_results: Option<Vec<Assertion>>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Assertion {
    #[serde(default)]
    ancestor_titles: Option<Vec<String>>,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    failure_messages: Option<Vec<String>>,
    #[serde(default)]
    location: Option<TestLocation>,
}

#[derive(Deserialize)]
struct TestLocation {
    line: u32,
    #[serde(default)]
    column: Option<u32>,
}

/// Parse vitest's (or jest's) JSON report.
pub fn vitest_json(text: &str) -> Result<TestReport, ReportError> {
    // The report may follow other output when it was printed to stdout.
    let start = text
        .match_indices('{')
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with('\n'))
        .or_else(|| text.find('{'))
        .ok_or_else(|| error("no JSON object: expected {\"testResults\": [...]}"))?;
    let skipped_lines = text[..start].matches('\n').count();
    let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Report>();
    let report = match values.next() {
        Some(Ok(report)) => report,
        Some(Err(e)) => {
            let position = Position {
                line: u32::try_from(e.line() + skipped_lines).unwrap_or(u32::MAX),
                column: u32::try_from(e.column()).unwrap_or(u32::MAX),
            };
            return Err(error(without_position(&e.to_string())).at(position));
        }
        None => return Err(error("no JSON object: expected {\"testResults\": [...]}")),
    };
    let mut out = TestReport::new(Runner::Vitest);
    for file in report.test_results {
        read_file(file, &mut out);
    }
    Ok(out)
}

fn error(message: impl Into<String>) -> ReportError {
    ReportError::new(ReportFormat::VitestJson, message)
}

/// serde_json's message without its ` at line 1 column 5` (the position is kept
/// separately).
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn read_file(file: FileResult, out: &mut TestReport) {
    let name = file.name.unwrap_or_default();
    let assertions = file.assertion_results.unwrap_or_default();
    let message = file.message.unwrap_or_default();
    let failed = file.status.as_deref() == Some("failed");
    if failed && !message.trim().is_empty() {
        // The file did not load (no assertions), or a hook outside any test failed.
        let kind = match load_error_kind(&message) {
            FailureKind::Collection if !assertions.is_empty() => FailureKind::Error,
            kind => kind,
        };
        let location = message
            .lines()
            .find_map(esbuild_location)
            .or_else(|| js_stack_location(&message));
        out.problems.push(Problem {
            kind,
            scope: Some(name.clone()).filter(|n| !n.is_empty()),
            message: bounded(&message),
            location,
        });
    }
    for assertion in assertions {
        out.tests.push(test_of(&name, assertion));
    }
}

fn test_of(file: &str, a: Assertion) -> TestResult {
    let mut titles = a.ancestor_titles.unwrap_or_default();
    titles.push(a.title.or(a.full_name).unwrap_or_default());
    let name = titles.join(" > ");
    let status = a.status.unwrap_or_default();
    let outcome = match status.as_str() {
        "passed" => Outcome::Passed,
        "failed" => Outcome::Failed,
        "skipped" | "pending" | "todo" | "disabled" => Outcome::Skipped,
        _ => Outcome::Errored,
    };
    let messages = a.failure_messages.unwrap_or_default();
    let declared = a.location.filter(|l| l.line > 0).map(|l| Location {
        file: file.to_string(),
        line: l.line,
        column: l.column,
    });
    let failure = match outcome {
        Outcome::Failed => {
            let first = messages.first().map(String::as_str).unwrap_or("");
            let kind = text_kind(first).unwrap_or(FailureKind::Error);
            Some(Failure {
                kind,
                message: bounded(&messages.join("\n\n")),
                location: js_stack_location(first).or(declared),
            })
        }
        Outcome::Errored => Some(Failure {
            kind: FailureKind::Error,
            message: bounded(&format!("unknown test status {status:?}")),
            location: declared,
        }),
        _ => None,
    };
    TestResult {
        id: format!("{file}::{name}"),
        file: Some(file.to_string()).filter(|f| !f.is_empty()),
        name,
        outcome,
        failure,
        duration_ms: a.duration.and_then(millis),
    }
}
