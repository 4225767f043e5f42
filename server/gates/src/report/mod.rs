//! One report shape from every test runner.
//!
//! The stage gates ([`crate::judge`]) judge a stage from the *parsed* report of a real
//! test run, never from the worker's say-so. Each parser here turns one runner's
//! output into a [`TestReport`]: every test with its [`Outcome`], and for every
//! failure a [`FailureKind`] that tells *why* it failed: an assertion, a symbol
//! that does not exist yet (the typical RED), a syntax error, a broken fixture, a
//! build or collection error. Failures that belong to no single test (a test file
//! that does not import, a package that does not compile, a test binary that
//! crashed) are [`Problem`]s.
//!
//! The parsers never panic and never loop on hostile input: malformed output is a
//! [`ReportError`] that names the format, what was wrong and where.
//!
//! | parser | input |
//! |---|---|
//! | [`junit_xml`] | pytest `--junitxml`, or any JUnit XML |
//! | [`cargo_test`] | `cargo test`'s stdout and stderr (libtest's human output, rustc's errors) |
//! | [`go_test_json`] | `go test -json`'s stdout, with stderr (build errors before Go 1.24) |
//! | [`vitest_json`] | vitest's (jest-compatible) `--reporter=json` file |
//!
//! The classification rules, shared by all four, are listed in `classify.rs`;
//! `text.rs` holds the shared text helpers (locations, bounded messages).

mod cargo;
mod classify;
mod go;
mod junit;
mod pytest;
mod rustc;
#[cfg(test)]
mod tests;
mod text;
mod vitest;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use cargo::cargo_test;
pub use go::go_test_json;
pub use junit::junit_xml;
pub use vitest::vitest_json;

/// Failure messages longer than this (in bytes) are cut, and the cut is said.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// The runner whose output a report was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runner {
    /// pytest's `--junitxml` (recognised by its `pytest` test-suite name).
    Pytest,
    /// Any other JUnit XML.
    Junit,
    Cargo,
    Go,
    Vitest,
}

/// The parsed report of one test run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestReport {
    pub runner: Runner,
    /// Every test the runner reported, in the order it reported them.
    pub tests: Vec<TestResult>,
    /// Failures not tied to one test: collection, build and syntax errors, a test
    /// binary or package that failed or crashed outside any test.
    #[serde(default)]
    pub problems: Vec<Problem>,
}

/// One test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    /// Unique within the report: the runner's own name for the test, qualified by
    /// its class, file, package or test binary (`tests.test_calc::test_add`,
    /// `tests/calc.rs::adds`, `example.com/m/calc::TestAdd/case_1`,
    /// `/p/tests/calc.test.ts::group > adds`).
    pub id: String,
    /// The test's file, when the runner says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The test's name as the runner prints it.
    pub name: String,
    pub outcome: Outcome,
    /// Why it failed or errored (`None` when it passed or was skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// The test ran and failed.
    Failed,
    /// Skipped, ignored, todo, or an expected failure (pytest's xfail).
    Skipped,
    /// The test could not run properly: a setup or fixture error, or it never
    /// finished.
    Errored,
}

/// Why a test failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    #[serde(flatten)]
    pub kind: FailureKind,
    /// The runner's message, at most [`MAX_MESSAGE_BYTES`] (a cut says so).
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The reason behind a failure: what the RED gate tells apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailureKind {
    /// An assertion failed: the test ran and the code did the wrong thing.
    Assertion,
    /// A function, type, name, attribute, export, module or package does not exist
    /// (yet). `symbol` is the name as the runner printed it (`power`,
    /// `../src/geometry`, `example.com/m/geometry`).
    MissingSymbol { symbol: String },
    /// An unexpected exception, a panic not from an assertion, a broken fixture or
    /// setup, a crash.
    Error,
    /// The test or code does not parse.
    Syntax,
    /// The code does not compile for another reason (types, borrows, linking).
    Build,
    /// The test file could not be collected for another reason.
    Collection,
    /// The test did not finish in time.
    Timeout,
}

/// A failure not tied to one test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(flatten)]
    pub kind: FailureKind,
    /// What it concerns, when known: a test file or module, a Go package, a cargo
    /// test target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The runner's message, at most [`MAX_MESSAGE_BYTES`] (a cut says so).
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A place in a source file, as the runner printed it (relative or absolute).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    /// One-based.
    pub line: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// Counts of a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errored: usize,
    pub problems: usize,
}

impl Summary {
    /// Tests reported, whatever their outcome.
    pub fn tests(&self) -> usize {
        self.passed + self.failed + self.skipped + self.errored
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped, {} errored, {} problems",
            self.passed, self.failed, self.skipped, self.errored, self.problems
        )
    }
}

impl TestReport {
    pub fn new(runner: Runner) -> Self {
        TestReport {
            runner,
            tests: Vec::new(),
            problems: Vec::new(),
        }
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            problems: self.problems.len(),
            ..Summary::default()
        };
        for test in &self.tests {
            match test.outcome {
                Outcome::Passed => summary.passed += 1,
                Outcome::Failed => summary.failed += 1,
                Outcome::Skipped => summary.skipped += 1,
                Outcome::Errored => summary.errored += 1,
            }
        }
        summary
    }

    /// The test with this id.
    pub fn test(&self, id: &str) -> Option<&TestResult> {
        self.tests.iter().find(|t| t.id == id)
    }
}

/// The output formats the parsers read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    JunitXml,
    CargoTest,
    GoTestJson,
    VitestJson,
}

impl ReportFormat {
    pub fn describe(self) -> &'static str {
        match self {
            ReportFormat::JunitXml => "JUnit XML report",
            ReportFormat::CargoTest => "cargo test output",
            ReportFormat::GoTestJson => "go test -json output",
            ReportFormat::VitestJson => "vitest JSON report",
        }
    }
}

/// Where in the input a [`ReportError`] was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// One-based.
    pub line: u32,
    /// One-based, in characters (bytes for JSON).
    pub column: u32,
}

/// The output could not be read as the format it was said to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportError {
    pub format: ReportFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    pub message: String,
}

impl ReportError {
    pub(crate) fn new(format: ReportFormat, message: impl Into<String>) -> Self {
        ReportError {
            format,
            position: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, position: Position) -> Self {
        self.position = Some(position);
        self
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.format.describe())?;
        if let Some(p) = self.position {
            write!(f, ", line {} column {}", p.line, p.column)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ReportError {}
