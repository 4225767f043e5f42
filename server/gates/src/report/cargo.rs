//! `cargo test`: libtest's human output on stdout, cargo's and rustc's on stderr.
//!
//! stdout holds one block per test binary (`running N tests`, `test name ... ok`,
//! the `---- name stdout ----` sections, `test result: …`); stderr names the
//! binaries in the same order (`Running tests/basics.rs (…)`, `Doc-tests calc`),
//! so the k-th block gets the k-th name. rustc's errors on stderr are
//! [`Problem`]s: a missing function, type, module or method is a
//! [`FailureKind::MissingSymbol`], a parse error [`FailureKind::Syntax`], any other
//! error [`FailureKind::Build`]. A binary whose block has no `test result:` line
//! crashed (or was killed): a [`Problem`] of kind [`FailureKind::Error`].

use std::collections::HashMap;

use super::classify::panic_kind;
use super::rustc;
use super::text::{bounded, parse_location, strip_ansi};
use super::{
    Failure, FailureKind, Location, Outcome, Problem, ReportError, ReportFormat, Runner,
    TestReport, TestResult,
};

/// Parse the output of one `cargo test` run.
pub fn cargo_test(stdout: &str, stderr: &str) -> Result<TestReport, ReportError> {
    let stdout = strip_ansi(stdout);
    let stderr = strip_ansi(stderr);
    let cargo = rustc::read_stderr(&stderr);
    let binaries = read_stdout(&stdout);
    if binaries.is_empty() && cargo.problems.is_empty() {
        return Err(ReportError::new(
            ReportFormat::CargoTest,
            "found no `running N tests` line, no test result and no compiler error",
        ));
    }
    let mut report = TestReport::new(Runner::Cargo);
    report.problems = cargo.problems;
    // stderr names the binaries in the order stdout runs them; without a name for
    // each (stderr not given, or cut), the blocks are numbered instead.
    let labelled = cargo.targets.len() >= binaries.len();
    for (k, binary) in binaries.into_iter().enumerate() {
        let label = if labelled {
            Some(cargo.targets[k].clone())
        } else {
            None
        };
        let prefix = match (&label, k) {
            (Some(label), _) => format!("{label}::"),
            (None, 0) => String::new(),
            (None, k) => format!("#{k}::"),
        };
        let crashed = !binary.finished;
        for test in binary.tests {
            let section = binary.sections.get(&test.name).map(String::as_str);
            let (outcome, failure) = judge(&test, section, crashed);
            report.tests.push(TestResult {
                id: format!("{prefix}{}", test.name),
                file: file_of(label.as_deref(), &test.name),
                name: test.name,
                outcome,
                failure,
                duration_ms: None,
            });
        }
        if crashed {
            let mut message = String::from(
                "the test binary stopped before its `test result:` line: it crashed or was killed",
            );
            if let Some(cause) = cargo.crashes.get(&k) {
                message.push('\n');
                message.push_str(cause);
            }
            report.problems.push(Problem {
                kind: FailureKind::Error,
                scope: label,
                message: bounded(&message),
                location: None,
            });
        }
    }
    Ok(report)
}

struct Started {
    name: String,
    outcome: Option<Outcome>,
    /// libtest said it has been running for over 60 seconds.
    slow: bool,
}

#[derive(Default)]
struct Binary {
    tests: Vec<Started>,
    index: HashMap<String, usize>,
    sections: HashMap<String, String>,
    finished: bool,
}

impl Binary {
    fn start(&mut self, name: &str) -> &mut Started {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.index.insert(name.to_string(), self.tests.len());
                self.tests.push(Started {
                    name: name.to_string(),
                    outcome: None,
                    slow: false,
                });
                self.tests.len() - 1
            }
        };
        &mut self.tests[i]
    }
}

fn read_stdout(stdout: &str) -> Vec<Binary> {
    let mut binaries: Vec<Binary> = Vec::new();
    // The test whose `test name ... ` line has no result yet (--nocapture).
    let mut pending: Option<String> = None;
    let mut section: Option<String> = None;
    for line in stdout.lines() {
        if line.starts_with("running ") && line.ends_with(" tests") || line == "running 1 test" {
            binaries.push(Binary::default());
            pending = None;
            section = None;
            continue;
        }
        let Some(binary) = binaries.last_mut() else {
            continue;
        };
        if line.starts_with("test result: ") {
            binary.finished = true;
            section = None;
            pending = None;
            continue;
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            binary.sections.insert(name.to_string(), String::new());
            section = Some(name.to_string());
            continue;
        }
        if let Some(name) = section.as_ref() {
            if line == "failures:" || line == "successes:" {
                section = None;
            } else if let Some(text) = binary.sections.get_mut(name) {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        if let Some((name, tail)) = line
            .strip_prefix("test ")
            .and_then(|rest| rest.rsplit_once(" ... "))
        {
            let name = name.strip_suffix(" - should panic").unwrap_or(name);
            let test = binary.start(name);
            if tail.starts_with("has been running for over") {
                test.slow = true;
                continue;
            }
            test.outcome = result(tail);
            pending = test.outcome.is_none().then(|| name.to_string());
            continue;
        }
        if let Some(name) = pending.take() {
            match result(line.trim()) {
                Some(outcome) => binary.start(&name).outcome = Some(outcome),
                None => pending = Some(name),
            }
        }
    }
    binaries
}

fn result(tail: &str) -> Option<Outcome> {
    let word = tail.split([',', ' ']).next().unwrap_or("");
    match word {
        "ok" | "bench:" => Some(Outcome::Passed),
        "FAILED" => Some(Outcome::Failed),
        "ignored" => Some(Outcome::Skipped),
        _ => None,
    }
}

fn judge(test: &Started, section: Option<&str>, crashed: bool) -> (Outcome, Option<Failure>) {
    match test.outcome {
        Some(Outcome::Failed) => {
            let failure = match section {
                Some(text) => failure_of(text),
                None => Failure {
                    kind: FailureKind::Error,
                    message: "failed; the output has no `---- name stdout ----` section for it"
                        .to_string(),
                    location: None,
                },
            };
            (Outcome::Failed, Some(failure))
        }
        Some(outcome) => (outcome, None),
        None => {
            let (kind, message) = if test.slow {
                (
                    FailureKind::Timeout,
                    "still running after 60 seconds when the output ended",
                )
            } else if crashed {
                (
                    FailureKind::Error,
                    "no result: the test binary stopped while it ran",
                )
            } else {
                (FailureKind::Error, "no result in the output")
            };
            let failure = Failure {
                kind,
                message: message.to_string(),
                location: None,
            };
            (Outcome::Errored, Some(failure))
        }
    }
}

/// A failed test's `---- name stdout ----` section: the panic, or the error the
/// test returned.
fn failure_of(section: &str) -> Failure {
    let text = without_backtrace(section);
    let should_panic = text.contains("note: test did not panic as expected")
        || text.contains("note: panic did not contain expected string");
    let (kind, location) = match panic_of(&text) {
        Some((message, location)) => {
            let kind = if should_panic {
                FailureKind::Assertion
            } else {
                panic_kind(&message)
            };
            (kind, location)
        }
        None if should_panic => {
            let location = text
                .split("did not panic as expected at ")
                .nth(1)
                .and_then(|r| parse_location(r.lines().next().unwrap_or("")));
            (FailureKind::Assertion, location)
        }
        None => (FailureKind::Error, None),
    };
    Failure {
        kind,
        message: bounded(&text),
        location,
    }
}

/// The panic message and place in `thread 'x' (id) panicked at path:l:c:` + message
/// lines (Rust ≥ 1.73), or `thread 'x' panicked at 'message', path:l:c` (older).
fn panic_of(text: &str) -> Option<(String, Option<Location>)> {
    let at = text.find(" panicked at ")?;
    let rest = &text[at + " panicked at ".len()..];
    if let Some(quoted) = rest.strip_prefix('\'') {
        // The message may span lines: it ends at the last `', ` before the place.
        let end = quoted.find("\nnote: ").unwrap_or(quoted.len());
        let (message, place) = quoted[..end].rsplit_once("', ")?;
        let place = place.lines().next().unwrap_or("");
        return Some((message.to_string(), parse_location(place)));
    }
    let mut lines = rest.lines();
    let location = parse_location(lines.next().unwrap_or(""));
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note: ") && !l.starts_with("stack backtrace:"))
        .collect();
    Some((message.join("\n"), location))
}

/// The section without `stack backtrace:` and its frames.
fn without_backtrace(section: &str) -> String {
    let mut out = String::new();
    let mut in_trace = false;
    for line in section.lines() {
        if line.starts_with("stack backtrace:") {
            in_trace = true;
            continue;
        }
        if in_trace {
            let frame = line.starts_with(' ') || line.is_empty();
            if frame || line.starts_with("note: Some details are omitted") {
                continue;
            }
            in_trace = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn file_of(label: Option<&str>, name: &str) -> Option<String> {
    if let Some(label) = label.filter(|l| l.ends_with(".rs")) {
        return Some(label.to_string());
    }
    // Doc-tests: `src/lib.rs - add (line 5)`.
    let (file, _) = name.split_once(" - ")?;
    file.ends_with(".rs").then(|| file.to_string())
}
