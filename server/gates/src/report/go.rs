//! `go test -json`: one JSON event per line (`run`, `output`, `pass`, `fail`,
//! `skip` per test or per package), mixed with plain text lines.
//!
//! Before Go 1.24 a package that does not build shows up only as text: the
//! compiler's errors on stderr (`# pkg`, then `file.go:6:5: undefined: Power`) and
//! `FAIL pkg [build failed]` (or `[setup failed]` when it does not even parse) on
//! stdout; so pass stderr along with stdout (`2>&1`). From Go 1.24 the same
//! arrives as `build-output` / `build-fail` events and a package `fail` with
//! `FailedBuild`. Either way every compiler error is a [`Problem`]:
//! `undefined: X` and friends are [`FailureKind::MissingSymbol`], parse errors
//! [`FailureKind::Syntax`], the rest [`FailureKind::Build`].
//!
//! A failed test whose output has a `panic:` failed with [`FailureKind::Error`];
//! any other failed test failed on its own `t.Error`/`t.Fatal` (Go has no
//! assertions; those are its assertions): [`FailureKind::Assertion`]. A test with
//! subtests is reported through its subtests, unless it failed on its own. A
//! package that failed outside any test (a `TestMain` or `init` that exits) is a
//! [`Problem`] of kind [`FailureKind::Error`].

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::classify::go_build_kind;
use super::text::{bounded, parse_location, seconds_to_ms, strip_ansi};
use super::{
    Failure, FailureKind, Location, MAX_MESSAGE_BYTES, Outcome, Position, Problem, ReportError,
    ReportFormat, Runner, TestReport, TestResult,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Event {
    action: String,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    test: Option<String>,
    #[serde(default)]
    elapsed: Option<f64>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    import_path: Option<String>,
    #[serde(default)]
    failed_build: Option<String>,
}

#[derive(Default)]
struct Test {
    package: String,
    name: String,
    output: String,
    outcome: Option<Outcome>,
    elapsed: Option<f64>,
}

#[derive(Default)]
struct Package {
    output: String,
    failed: bool,
    build_failed: bool,
    build_problems: usize,
}

#[derive(Default)]
struct Stream {
    tests: Vec<Test>,
    index: HashMap<(String, String), usize>,
    packages: HashMap<String, Package>,
    package_order: Vec<String>,
    problems: Vec<Problem>,
    /// The package whose compiler output is being read (`# pkg`).
    building: Option<String>,
    /// The last compiler error, which indented lines continue.
    continuing: Option<usize>,
    events: usize,
}

/// Parse `go test -json` output (stdout, ideally with stderr: `2>&1`).
pub fn go_test_json(text: &str) -> Result<TestReport, ReportError> {
    let text = strip_ansi(text);
    let mut stream = Stream::default();
    let mut first_bad: Option<ReportError> = None;
    for (n, line) in text.lines().enumerate() {
        let json = line.trim_start().starts_with('{');
        match json.then(|| serde_json::from_str::<Event>(line)) {
            Some(Ok(event)) => stream.event(event),
            Some(Err(e)) => {
                if first_bad.is_none() {
                    let position = Position {
                        line: u32::try_from(n + 1).unwrap_or(u32::MAX),
                        column: u32::try_from(e.column()).unwrap_or(u32::MAX),
                    };
                    first_bad = Some(error(format!("not a test event: {e}")).at(position));
                }
                stream.text_line(line, None);
            }
            None => stream.text_line(line, None),
        }
    }
    if stream.events == 0 && stream.problems.is_empty() && stream.packages.is_empty() {
        return Err(first_bad.unwrap_or_else(|| {
            error("no test events: expected lines like {\"Action\":\"pass\",\"Package\":…}")
        }));
    }
    Ok(stream.finish())
}

fn error(message: impl Into<String>) -> ReportError {
    ReportError::new(ReportFormat::GoTestJson, message)
}

/// `example.com/m/pkg [example.com/m/pkg.test]` → `example.com/m/pkg`.
fn package_name(name: &str) -> String {
    name.split(" [").next().unwrap_or(name).trim().to_string()
}

impl Stream {
    fn package(&mut self, name: &str) -> &mut Package {
        if !self.packages.contains_key(name) {
            self.package_order.push(name.to_string());
        }
        self.packages.entry(name.to_string()).or_default()
    }

    fn event(&mut self, event: Event) {
        self.events += 1;
        match event.action.as_str() {
            "build-output" => {
                let package = event.import_path.as_deref().map(package_name);
                for line in event.output.as_deref().unwrap_or("").lines() {
                    self.text_line(line, package.clone());
                }
                return;
            }
            "build-fail" => {
                if let Some(path) = event.import_path.as_deref() {
                    self.package(&package_name(path)).build_failed = true;
                }
                return;
            }
            _ => {}
        }
        let Some(package) = event.package.clone() else {
            return;
        };
        let Some(test) = event.test.clone() else {
            self.package_event(&package, event);
            return;
        };
        let key = (package.clone(), test.clone());
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.index.insert(key, self.tests.len());
                self.tests.push(Test {
                    package,
                    name: test,
                    ..Test::default()
                });
                self.tests.len() - 1
            }
        };
        let test = &mut self.tests[i];
        match event.action.as_str() {
            "output" => test.output.push_str(event.output.as_deref().unwrap_or("")),
            "pass" | "bench" => test.outcome = Some(Outcome::Passed),
            "fail" => test.outcome = Some(Outcome::Failed),
            "skip" => test.outcome = Some(Outcome::Skipped),
            _ => {}
        }
        if event.elapsed.is_some() {
            test.elapsed = event.elapsed;
        }
    }

    fn package_event(&mut self, name: &str, event: Event) {
        let package = self.package(name);
        match event.action.as_str() {
            "output" => {
                let output = event.output.as_deref().unwrap_or("");
                if output.contains(" [build failed]") || output.contains(" [setup failed]") {
                    package.build_failed = true;
                }
                package.output.push_str(output);
            }
            "fail" => {
                package.failed = true;
                if event.failed_build.is_some() {
                    package.build_failed = true;
                }
            }
            _ => {}
        }
    }

    /// A line that is not a test event: compiler output, `FAIL pkg [build failed]`.
    fn text_line(&mut self, line: &str, package: Option<String>) {
        if let Some(header) = line.strip_prefix("# ") {
            self.building = Some(package.unwrap_or_else(|| package_name(header)));
            self.continuing = None;
            return;
        }
        if let Some(rest) = line.strip_prefix("FAIL\t") {
            if rest.ends_with(" [build failed]") || rest.ends_with(" [setup failed]") {
                let name = package_name(rest);
                let package = self.package(&name);
                package.build_failed = true;
                package.failed = true;
            }
            self.continuing = None;
            return;
        }
        if line.starts_with('\t') || line.starts_with("    ") {
            let problem = self.continuing.and_then(|i| self.problems.get_mut(i));
            if let Some(p) = problem.filter(|p| p.message.len() < MAX_MESSAGE_BYTES) {
                p.message = bounded(&format!("{}\n{}", p.message, line.trim()));
            }
            return;
        }
        let scope = package.or_else(|| self.building.clone());
        let problem = if let Some((location, message)) = compiler_line(line) {
            Problem {
                kind: go_build_kind(message),
                scope: scope.clone(),
                message: bounded(line),
                location: Some(location),
            }
        } else if let Some(message) = line.strip_prefix("go: ") {
            let chatter = ["downloading ", "finding ", "extracting "];
            if chatter.iter().any(|c| message.starts_with(c)) {
                return;
            }
            Problem {
                kind: FailureKind::Build,
                scope: None,
                message: bounded(line),
                location: None,
            }
        } else {
            self.continuing = None;
            return;
        };
        if let Some(name) = &scope {
            self.package(name).build_problems += 1;
        }
        self.continuing = Some(self.problems.len());
        self.problems.push(problem);
    }

    fn finish(mut self) -> TestReport {
        let mut report = TestReport::new(Runner::Go);
        // Tests with subtests, and those with a failed subtest.
        let mut parents: HashSet<(&str, &str)> = HashSet::new();
        let mut failed_children: HashSet<(&str, &str)> = HashSet::new();
        for t in &self.tests {
            // The direct parent is enough: Go runs (and fails) every level.
            if let Some((parent, _)) = t.name.rsplit_once('/') {
                let key = (t.package.as_str(), parent);
                parents.insert(key);
                if t.outcome == Some(Outcome::Failed) {
                    failed_children.insert(key);
                }
            }
        }
        let timed_out: HashSet<&str> = self
            .packages
            .iter()
            .filter(|(_, p)| p.output.contains("test timed out after"))
            .map(|(name, _)| name.as_str())
            .collect();
        let mut failing: HashSet<String> = HashSet::new();
        for test in &self.tests {
            let key = (test.package.as_str(), test.name.as_str());
            let result = judge(test, timed_out.contains(test.package.as_str()));
            // A parent failed on its own when no subtest failed or it wrote a
            // failure of its own; otherwise its subtests say it all.
            let own_failure = result.outcome == Outcome::Failed
                && (!failed_children.contains(&key)
                    || message_lines(&test.output).any(|l| log_location(l).is_some()));
            if parents.contains(&key) && !own_failure {
                continue;
            }
            if matches!(result.outcome, Outcome::Failed | Outcome::Errored) {
                failing.insert(test.package.clone());
            }
            report.tests.push(result);
        }
        for name in std::mem::take(&mut self.package_order) {
            let package = &self.packages[&name];
            if package.build_failed && package.build_problems == 0 {
                self.problems.push(Problem {
                    kind: FailureKind::Build,
                    scope: Some(name.clone()),
                    message: "the package failed to build; the compiler's errors are not in the \
                              given text (pass go test's stderr too, or use Go 1.24 or later)"
                        .to_string(),
                    location: None,
                });
            } else if package.failed && !package.build_failed && !failing.contains(&name) {
                let kind = if package.output.contains("test timed out after") {
                    FailureKind::Timeout
                } else {
                    FailureKind::Error
                };
                self.problems.push(Problem {
                    kind,
                    scope: Some(name.clone()),
                    message: bounded(&format!(
                        "the package failed outside any test\n{}",
                        package.output
                    )),
                    location: None,
                });
            }
        }
        report.problems = self.problems;
        report
    }
}

fn judge(test: &Test, timed_out: bool) -> TestResult {
    let (outcome, failure) = match test.outcome {
        Some(Outcome::Failed) => (Outcome::Failed, Some(failure_of(&test.output))),
        Some(outcome) => (outcome, None),
        None => {
            let (kind, message) = if timed_out {
                (
                    FailureKind::Timeout,
                    "the test timed out (go test -timeout)",
                )
            } else {
                (
                    FailureKind::Error,
                    "no result: the test binary stopped while it ran",
                )
            };
            let failure = Failure {
                kind,
                message: bounded(&format!("{message}\n{}", clean(&test.output))),
                location: None,
            };
            (Outcome::Errored, Some(failure))
        }
    };
    TestResult {
        id: format!("{}::{}", test.package, test.name),
        file: None,
        name: test.name.clone(),
        outcome,
        failure,
        duration_ms: test.elapsed.and_then(seconds_to_ms),
    }
}

fn failure_of(output: &str) -> Failure {
    let text = clean(output);
    let panic = text.lines().find(|l| l.trim_start().starts_with("panic: "));
    let (kind, location) = match panic {
        Some(line) if line.contains("test timed out after") => (FailureKind::Timeout, None),
        Some(_) => (FailureKind::Error, panic_location(&text)),
        None => (
            FailureKind::Assertion,
            message_lines(output).find_map(log_location),
        ),
    };
    Failure {
        kind,
        message: bounded(&text),
        location,
    }
}

/// The test's output without the runner's own `=== RUN` / `--- FAIL` lines.
fn message_lines(output: &str) -> impl Iterator<Item = &str> {
    output.lines().filter(|l| {
        let t = l.trim_start();
        !(t.starts_with("=== ") || t.starts_with("--- "))
    })
}

fn clean(output: &str) -> String {
    message_lines(output).collect::<Vec<_>>().join("\n")
}

/// `    calc_test.go:16: Add(2, 2) = 4, want 5` → calc_test.go:16.
fn log_location(line: &str) -> Option<Location> {
    let (place, _) = line.trim_start().split_once(": ")?;
    let location = parse_location(place)?;
    location.file.ends_with(".go").then_some(location)
}

/// The first stack frame of a panic outside Go's runtime and testing packages.
fn panic_location(text: &str) -> Option<Location> {
    text.lines().find_map(|line| {
        let frame = line.strip_prefix('\t')?;
        let place = frame.split(" +0x").next().unwrap_or(frame);
        if place.contains("/src/runtime/") || place.contains("/src/testing/") {
            return None;
        }
        parse_location(place).filter(|l| l.file.ends_with(".go"))
    })
}

/// `missing/missing_test.go:6:5: undefined: Power` → (location, message).
fn compiler_line(line: &str) -> Option<(Location, &str)> {
    let go = line.find(".go:")?;
    let after = &line[go + 4..];
    let split = after.find(": ")?;
    let location = parse_location(&line[..go + 4 + split])?;
    Some((location, after[split + 2..].trim()))
}
