//! JUnit XML: pytest's `--junitxml` (xunit1 or xunit2) and the generic shape
//! (`testsuites` / `testsuite` / `testcase` with `failure`, `error` and `skipped`
//! children, `file` and `line` attributes when present).
//!
//! pytest specifics: a test module that fails to import is a testcase whose
//! `error` says `collection failure`: a [`Problem`] (missing symbol, syntax error,
//! or else a collection error). An `error` that says `failed on setup with …` is
//! a broken fixture: the test is errored with [`FailureKind::Error`] (unless the
//! fixture failed on a missing symbol). A `failure` is classified from the
//! exception pytest reports (`tests/x.py:11: AssertionError`) and its `E` lines.
//!
//! Generic files: a testcase whose name is its class name and a file path (what
//! vitest writes for a test file that failed to load) is a [`Problem`] too.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use super::classify::{exception_kind, load_error_kind, split_exception, text_kind};
use super::pytest;
use super::text::{bounded, esbuild_location, js_stack_location, seconds_to_ms};
use super::{
    Failure, FailureKind, Location, Outcome, Position, Problem, ReportError, ReportFormat, Runner,
    TestReport, TestResult,
};

/// Parse a JUnit XML report (pytest's or any other runner's).
pub fn junit_xml(text: &str) -> Result<TestReport, ReportError> {
    let mut reader = Reader::from_str(text);
    let mut parser = Parser::default();
    loop {
        let event = reader.read_event().map_err(|e| {
            error(format!("malformed XML: {e}")).at(position(text, reader.error_position()))
        })?;
        let at = || position(text, reader.buffer_position());
        match event {
            Event::Start(e) => parser.open(&e, false).map_err(|m| error(m).at(at()))?,
            Event::Empty(e) => parser.open(&e, true).map_err(|m| error(m).at(at()))?,
            Event::End(e) => parser.close(e.local_name().as_ref()),
            Event::Text(t) => {
                if let Some(body) = parser.body() {
                    body.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::CData(t) => {
                if let Some(body) = parser.body() {
                    body.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(body) = parser.body() {
                    let name = String::from_utf8_lossy(&r);
                    match (r.resolve_char_ref(), resolve_predefined_entity(&name)) {
                        (Ok(Some(c)), _) => body.push(c),
                        (_, Some(s)) => body.push_str(s),
                        _ => {
                            body.push('&');
                            body.push_str(&name);
                            body.push(';');
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = parser.open_element() {
        return Err(error(format!(
            "the XML ends inside <{open}>: the report is cut short"
        ))
        .at(position(text, text.len() as u64)));
    }
    if !parser.seen_junit {
        return Err(error(
            "no <testsuites>, <testsuite> or <testcase> element: not a JUnit report",
        ));
    }
    Ok(parser.finish())
}

fn error(message: impl Into<String>) -> ReportError {
    ReportError::new(ReportFormat::JunitXml, message)
}

/// The one-based line and column of a byte offset.
fn position(text: &str, offset: u64) -> Position {
    let offset = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(text.len());
    let mut start = offset;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Position {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

/// One `<failure>`, `<error>` or `<skipped>` element.
#[derive(Default)]
struct Verdict {
    tag: String,
    message: String,
    kind: String,
    body: String,
}

#[derive(Default)]
struct Case {
    classname: String,
    name: String,
    file: Option<String>,
    line: Option<u32>,
    time: Option<u64>,
    verdicts: Vec<Verdict>,
    /// Inside one of `verdicts` (the last).
    in_verdict: bool,
}

#[derive(Default)]
struct Parser {
    seen_junit: bool,
    pytest: bool,
    suites: usize,
    case: Option<Case>,
    /// Elements open inside a testcase that are not verdicts (system-out, …).
    other_depth: usize,
    cases: Vec<Case>,
}

impl Parser {
    fn body(&mut self) -> Option<&mut String> {
        let case = self.case.as_mut()?;
        if !case.in_verdict || self.other_depth > 0 {
            return None;
        }
        case.verdicts.last_mut().map(|v| &mut v.body)
    }

    fn open_element(&self) -> Option<&str> {
        match (&self.case, self.suites) {
            (Some(case), _) if case.in_verdict => case.verdicts.last().map(|v| v.tag.as_str()),
            (Some(_), _) => Some("testcase"),
            (None, 0) => None,
            (None, _) => Some("testsuite"),
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), String> {
        let name = e.local_name();
        let name = name.as_ref();
        if let Some(case) = self.case.as_mut() {
            let verdict = matches!(name, b"failure" | b"error" | b"skipped");
            if verdict && !case.in_verdict && self.other_depth == 0 {
                let attrs = attributes(e)?;
                case.verdicts.push(Verdict {
                    tag: String::from_utf8_lossy(name).into_owned(),
                    message: attrs.get("message").cloned().unwrap_or_default(),
                    kind: attrs.get("type").cloned().unwrap_or_default(),
                    body: String::new(),
                });
                case.in_verdict = !empty;
            } else if !empty {
                self.other_depth += 1;
            }
            return Ok(());
        }
        match name {
            b"testsuites" | b"testsuite" => {
                self.seen_junit = true;
                let attrs = attributes(e)?;
                if attrs.get("name").is_some_and(|n| n.starts_with("pytest")) {
                    self.pytest = true;
                }
                if !empty {
                    self.suites += 1;
                }
            }
            b"testcase" => {
                self.seen_junit = true;
                let mut attrs = attributes(e)?;
                let case = Case {
                    classname: attrs.remove("classname").unwrap_or_default(),
                    name: attrs.remove("name").unwrap_or_default(),
                    file: attrs.remove("file").filter(|f| !f.is_empty()),
                    line: attrs.get("line").and_then(|l| l.trim().parse().ok()),
                    time: attrs
                        .get("time")
                        .and_then(|t| t.trim().parse::<f64>().ok())
                        .and_then(seconds_to_ms),
                    ..Case::default()
                };
                if empty {
                    self.cases.push(case);
                } else {
                    self.case = Some(case);
                    self.other_depth = 0;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, name: &[u8]) {
        if let Some(case) = self.case.as_mut() {
            if self.other_depth > 0 {
                self.other_depth -= 1;
            } else if case.in_verdict {
                case.in_verdict = false;
            } else if name == b"testcase" {
                self.cases.extend(self.case.take());
            }
            return;
        }
        if matches!(name, b"testsuites" | b"testsuite") {
            self.suites = self.suites.saturating_sub(1);
        }
    }

    fn finish(self) -> TestReport {
        let runner = if self.pytest {
            Runner::Pytest
        } else {
            Runner::Junit
        };
        let mut report = TestReport::new(runner);
        let mut index: HashMap<String, usize> = HashMap::new();
        for case in self.cases {
            match judge(case, self.pytest) {
                Judged::Problem(problem) => report.problems.push(problem),
                Judged::Test(test) => match index.get(&test.id) {
                    // pytest writes a second testcase for a teardown error.
                    Some(&i) => {
                        let old = &mut report.tests[i];
                        if rank(test.outcome) > rank(old.outcome) {
                            old.outcome = test.outcome;
                            old.failure = test.failure;
                        }
                    }
                    None => {
                        index.insert(test.id.clone(), report.tests.len());
                        report.tests.push(test);
                    }
                },
            }
        }
        report
    }
}

fn rank(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Passed => 0,
        Outcome::Skipped => 1,
        Outcome::Failed => 2,
        Outcome::Errored => 3,
    }
}

fn attributes(e: &BytesStart<'_>) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| format!("malformed attribute: {err}"))?;
        let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned();
        let value = match attr.unescape_value() {
            Ok(v) => v.into_owned(),
            Err(_) => String::from_utf8_lossy(&attr.value).into_owned(),
        };
        map.insert(key, value);
    }
    Ok(map)
}

enum Judged {
    Test(TestResult),
    Problem(Problem),
}

fn judge(case: Case, pytest: bool) -> Judged {
    let error = case.verdicts.iter().find(|v| v.tag == "error");
    let failure = case.verdicts.iter().find(|v| v.tag == "failure");
    let skipped = case.verdicts.iter().any(|v| v.tag == "skipped");

    // A test file that could not be collected or loaded.
    let collection = if pytest {
        error.filter(|v| v.message.trim() == "collection failure")
    } else {
        error
            .or(failure)
            .filter(|_| case.name == case.classname && looks_like_path(&case.name))
    };
    if let Some(v) = collection {
        let text = full_text(v);
        let kind = if pytest {
            match kind_of(v, pytest) {
                kind @ (FailureKind::MissingSymbol { .. } | FailureKind::Syntax) => kind,
                _ => FailureKind::Collection,
            }
        } else {
            load_error_kind(&text)
        };
        let location = location_of(v, &kind, &case, pytest);
        return Judged::Problem(Problem {
            kind,
            scope: Some(case.name.clone()).filter(|n| !n.is_empty()),
            message: bounded(&text),
            location,
        });
    }

    let (outcome, verdict) = match (error, failure) {
        (Some(v), _) => (Outcome::Errored, Some(v)),
        (None, Some(v)) => (Outcome::Failed, Some(v)),
        (None, None) if skipped => (Outcome::Skipped, None),
        (None, None) => (Outcome::Passed, None),
    };
    let failure = verdict.map(|v| {
        let mut kind = kind_of(v, pytest);
        if pytest && v.tag == "error" && !matches!(kind, FailureKind::MissingSymbol { .. }) {
            // "failed on setup with …", "failed on teardown with …": a broken fixture.
            kind = FailureKind::Error;
        }
        let location = location_of(v, &kind, &case, pytest);
        Failure {
            message: bounded(&full_text(v)),
            kind,
            location,
        }
    });
    let id = if case.classname.is_empty() {
        case.name.clone()
    } else {
        format!("{}::{}", case.classname, case.name)
    };
    Judged::Test(TestResult {
        id,
        file: case.file,
        name: case.name,
        outcome,
        failure,
        duration_ms: case.time,
    })
}

fn looks_like_path(name: &str) -> bool {
    name.contains('/') || name.contains('\\')
}

/// The message attribute and the body, without repeating one in the other.
fn full_text(v: &Verdict) -> String {
    let message = v.message.trim();
    let body = v.body.trim();
    let first = body.lines().next().unwrap_or("");
    if body.is_empty() {
        message.to_string()
    } else if message.is_empty() || first.contains(message.lines().next().unwrap_or("")) {
        body.to_string()
    } else {
        format!("{message}\n\n{body}")
    }
}

fn kind_of(v: &Verdict, pytest: bool) -> FailureKind {
    if pytest && let Some((exception, message)) = pytest::exception(&v.body) {
        return exception_kind(&exception, &message);
    }
    if !v.kind.is_empty() && split_exception(&v.kind).is_some() {
        let first = v.body.lines().map(str::trim).find(|l| !l.is_empty());
        let message = format!("{}\n{}", v.message, first.unwrap_or(""));
        return exception_kind(&v.kind, &message);
    }
    let inner = v
        .message
        .strip_prefix("failed on setup with ")
        .or_else(|| v.message.strip_prefix("failed on teardown with "))
        .map(|m| m.trim_matches('"'));
    text_kind(inner.unwrap_or(&v.message))
        .or_else(|| text_kind(&v.body))
        .unwrap_or(if v.tag == "error" {
            FailureKind::Error
        } else {
            FailureKind::Assertion
        })
}

fn location_of(v: &Verdict, kind: &FailureKind, case: &Case, pytest: bool) -> Option<Location> {
    let body = &v.body;
    let from_body = if pytest {
        pytest::location(body, *kind == FailureKind::Syntax)
    } else {
        js_stack_location(body).or_else(|| body.lines().find_map(esbuild_location))
    };
    from_body.or_else(|| {
        let file = case.file.clone()?;
        // pytest's line attribute counts from zero.
        let line = case.line?.saturating_add(u32::from(pytest));
        (line > 0).then_some(Location {
            file,
            line,
            column: None,
        })
    })
}
