//! The stage gates' rule tables and the anti-stub scans, as data: each file of
//! `tests/cases/` holds cases (a task's scope, the runs before and after, the
//! changes and sources), and what the gates say of every case — outcome,
//! trailer, each reason's code, subject and message — is one snapshot per
//! file in `snapshots/`. A changed rule or message shows as a snapshot diff
//! (`cargo insta review`, or `INSTA_UPDATE=always` and read the diff).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Deserialize;
use tdd_core::config::Language;
use tdd_gates::report::{
    Failure, FailureKind, Outcome as TestOutcome, Problem, Runner, TestReport, TestResult,
    cargo_test, go_test_json, junit_xml, vitest_json,
};
use tdd_gates::stubs;
use tdd_gates::{
    Change, ChangeKind, CheckRun, Evidence, Outcome, Stage, TaskScope, judge, judge_setup,
};

fn repo_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cases<T: for<'de> Deserialize<'de>>(file: &str) -> T {
    let text = repo_file(&format!("tests/cases/{file}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("tests/cases/{file}: {e}"))
}

// ---------------------------------------------------------------------------
// The stage tables

/// One file: defaults, and cases that override them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    /// Every case is judged at each of these stages.
    stages: Vec<String>,
    scope: Scope,
    before: Run,
    after: Run,
    #[serde(default)]
    sources: BTreeMap<String, String>,
    #[serde(rename = "case")]
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    scope: Option<Scope>,
    before: Option<Run>,
    after: Option<Run>,
    /// Changed paths: modified, or `D <path>` (deleted), or `R <from> -> <to>`
    /// (renamed).
    #[serde(default)]
    changes: Vec<String>,
    /// Added to the table's sources.
    #[serde(default)]
    sources: BTreeMap<String, String>,
    /// One lint run that passed or failed.
    check_passed: Option<bool>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scope {
    language: Language,
    tests: Vec<String>,
    writable: Vec<String>,
}

/// A run: `"none"`, a recorded run's name, or results written out.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
enum Run {
    Named(String),
    Results(Vec<String>),
}

fn stage(name: &str) -> Stage {
    match name {
        "red" => Stage::Red,
        "green" => Stage::Green,
        "refactor" => Stage::Refactor,
        "verify" => Stage::Verify,
        "merge" => Stage::Merge,
        other => panic!("unknown stage {other:?}"),
    }
}

fn report(run: &Run) -> Option<TestReport> {
    match run {
        Run::Named(name) if name == "none" => None,
        Run::Named(name) => Some(recorded(name)),
        Run::Results(lines) => {
            let mut report = TestReport::new(Runner::Pytest);
            for line in lines {
                let (head, id) = line
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("{line:?}: `<outcome>[:<failure>] <id>`"));
                let (word, kind) = match head.split_once(':') {
                    Some((word, kind)) => (word, Some(failure_kind(kind))),
                    None => (head, None),
                };
                if word == "problem" {
                    report.problems.push(Problem {
                        kind: kind.unwrap_or_else(|| panic!("{line:?}: a problem needs a kind")),
                        scope: Some(id.to_string()),
                        message: "it broke".to_string(),
                        location: None,
                    });
                    continue;
                }
                let outcome = match word {
                    "pass" => TestOutcome::Passed,
                    "fail" => TestOutcome::Failed,
                    "skip" => TestOutcome::Skipped,
                    "errored" => TestOutcome::Errored,
                    other => panic!("{line:?}: unknown outcome {other:?}"),
                };
                let kind = match outcome {
                    TestOutcome::Failed => Some(kind.unwrap_or(FailureKind::Assertion)),
                    _ => kind,
                };
                report.tests.push(TestResult {
                    id: id.to_string(),
                    file: None,
                    name: id.rsplit("::").next().unwrap_or(id).to_string(),
                    outcome,
                    failure: kind.map(|kind| Failure {
                        kind,
                        message: "boom".to_string(),
                        location: None,
                    }),
                    duration_ms: None,
                });
            }
            Some(report)
        }
    }
}

fn failure_kind(text: &str) -> FailureKind {
    match text.split_once('=') {
        Some(("missing", symbol)) => FailureKind::MissingSymbol {
            symbol: symbol.to_string(),
        },
        _ => match text {
            "assertion" => FailureKind::Assertion,
            "error" => FailureKind::Error,
            "syntax" => FailureKind::Syntax,
            "build" => FailureKind::Build,
            "collection" => FailureKind::Collection,
            "timeout" => FailureKind::Timeout,
            other => panic!("unknown failure kind {other:?}"),
        },
    }
}

/// A recorded run by its name under `tests/runner-output/recorded/`.
fn recorded(name: &str) -> TestReport {
    let file = |path: String| repo_file(&format!("../../tests/runner-output/recorded/{path}"));
    let parsed = match name.split_once('/') {
        Some(("pytest", n)) => junit_xml(&file(format!("pytest/{n}.xml"))),
        Some(("cargo", n)) => cargo_test(
            &file(format!("cargo/{n}.stdout")),
            &file(format!("cargo/{n}.stderr")),
        ),
        Some(("go", n)) => go_test_json(&file(format!("go/{n}.jsonl"))),
        Some(("vitest", n)) => vitest_json(&file(format!("vitest/{n}.json"))),
        _ => panic!("unknown recorded run {name:?}"),
    };
    parsed.unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn change_of(text: &str) -> Change {
    if let Some(path) = text.strip_prefix("D ") {
        return Change::new(path, ChangeKind::Deleted);
    }
    if let Some((from, to)) = text.strip_prefix("R ").and_then(|t| t.split_once(" -> ")) {
        return Change::new(to, ChangeKind::Renamed { from: from.into() });
    }
    Change::new(text, ChangeKind::Modified)
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::AlreadyImplemented => "already implemented",
        Outcome::Violation => "violation",
        Outcome::Infrastructure => "infrastructure",
    }
}

/// Every case of the file judged at every stage of the table, written out.
fn judged(file: &str) -> String {
    let table: Table = cases(file);
    let mut out = String::new();
    for case in &table.cases {
        let scope = case.scope.as_ref().unwrap_or(&table.scope);
        let scope = TaskScope {
            test_files: scope.tests.clone(),
            writable: scope.writable.clone(),
            language: scope.language,
        };
        let after = report(case.after.as_ref().unwrap_or(&table.after))
            .unwrap_or_else(|| panic!("{}: a run after is needed", case.name));
        let mut evidence = Evidence::new(after);
        evidence.before = report(case.before.as_ref().unwrap_or(&table.before));
        evidence.changes = case
            .changes
            .iter()
            .map(String::as_str)
            .map(change_of)
            .collect();
        evidence.sources = table.sources.clone();
        evidence.sources.extend(case.sources.clone());
        evidence.checks = case
            .check_passed
            .map(|passed| CheckRun {
                name: "ruff".into(),
                command: "ruff check calc.py".into(),
                passed,
                output_tail: "calc.py:1:1: F401 unused import".into(),
            })
            .into_iter()
            .collect();
        for name in &table.stages {
            let verdict = match name.as_str() {
                "setup" => judge_setup(&evidence),
                name => judge(stage(name), &scope, &evidence),
            };
            let _ = writeln!(out, "── {} · {name}", case.name);
            let _ = writeln!(
                out,
                "{} · {}",
                outcome_name(verdict.outcome),
                verdict.evidence
            );
            for reason in &verdict.reasons {
                let subject = reason.subject.as_deref().unwrap_or("-");
                let _ = writeln!(out, "  {} · {subject}", reason.code);
                let _ = writeln!(out, "    {}", reason.message.replace('\n', "\n    "));
            }
            out.push('\n');
        }
    }
    out
}

/// One snapshot test per case file, named as the file.
macro_rules! case_files {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(judged(concat!(stringify!($name), ".toml")));
        }
    )*};
}
case_files!(red, green, verify, merge, setup);

// ---------------------------------------------------------------------------
// The anti-stub scans

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StubCases {
    #[serde(rename = "case")]
    cases: Vec<StubCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StubCase {
    path: String,
    source: String,
}

/// Each source with its numbered lines, each finding under its line.
#[test]
fn stubs() {
    let file: StubCases = cases("stubs.toml");
    let mut out = String::new();
    for case in &file.cases {
        let language = stubs::language_of(&case.path)
            .unwrap_or_else(|| panic!("{}: not a source file", case.path));
        let findings = stubs::scan(language, &case.path, &case.source);
        let _ = writeln!(out, "── {}", case.path);
        for (n, line) in case.source.lines().enumerate() {
            let number = n as u32 + 1;
            let _ = writeln!(out, "{number:>3} │ {line}");
            for f in findings.iter().filter(|f| f.line == number) {
                let _ = writeln!(out, "    ╰ {:?}: {}", f.kind, f.message);
            }
        }
        if findings.is_empty() {
            let _ = writeln!(out, "    (no finding)");
        }
        out.push('\n');
    }
    insta::assert_snapshot!(out);
}
