//! Real runners on the recording projects in tests/runner-output/projects:
//! the command each language gets, run and parsed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tdd_core::config::{Config, Language, ProjectConfig};
use tdd_gates::report::{FailureKind, Outcome};
use tdd_workers::process::CancelToken;
use tdd_workers::testrun::run_tests;

use tdd_test_support::*;

fn projects() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/runner-output/projects")
}

fn layout(language: Language) -> tdd_core::config::Layout {
    ProjectConfig {
        language,
        ..Config::default().project
    }
    .layout()
}

/// The fixture crate builds into its own target dir, never the one running
/// these tests (a shared one could wait on the outer build's lock).
fn own_target() -> Vec<(String, String)> {
    let dir = projects().join("rust/target");
    vec![("CARGO_TARGET_DIR".into(), dir.display().to_string())]
}

#[test]
fn cargo_test_on_a_real_crate() {
    let dir = projects().join("rust");
    let only = ["tests/basics.rs".to_string()];
    let run = run_tests(
        &layout(Language::Rust),
        &dir,
        &only,
        own_target(),
        Duration::from_secs(600),
        &CancelToken::default(),
    )
    .unwrap();
    let summary = run.report.summary();
    assert!(
        summary.passed >= 1 && summary.failed >= 1,
        "{summary:?}\n{}",
        run.finished.stdout
    );
    assert!(
        run.report.tests.iter().any(|t| t
            .failure
            .as_ref()
            .is_some_and(|f| f.kind == FailureKind::Assertion)),
        "{:#?}",
        run.report.tests
    );

    // A test target that calls a function not written yet: the typical RED.
    // The project keeps its broken targets behind a feature; a configured
    // test command turns it on.
    let mut with_broken = layout(Language::Rust);
    with_broken.test_command = "cargo test --features broken".into();
    let only = ["tests/missing.rs".to_string()];
    let run = run_tests(
        &with_broken,
        &dir,
        &only,
        own_target(),
        Duration::from_secs(600),
        &CancelToken::default(),
    )
    .unwrap();
    assert!(
        run.report
            .problems
            .iter()
            .any(|p| matches!(p.kind, FailureKind::MissingSymbol { .. })),
        "{:#?}",
        run.report.problems
    );
}

/// pytest comes from the repository's `.venv` (scripts/test installs it) or
/// `TDD_TEST_VENV`. Without it this test fails: a skipped check is not a pass.
#[test]
fn pytest_on_a_real_project() {
    let path = path_with_venv();
    let dir = projects().join("python");
    let only = [
        "tests/test_basics.py".to_string(),
        "tests/test_missing_symbol.py".to_string(),
    ];
    let run = run_tests(
        &layout(Language::Python),
        &dir,
        &only,
        vec![("PATH".into(), path)],
        Duration::from_secs(300),
        &CancelToken::default(),
    )
    .unwrap();
    let outcomes: Vec<(String, Outcome)> = run
        .report
        .tests
        .iter()
        .map(|t| (t.name.clone(), t.outcome))
        .collect();
    assert!(
        outcomes.iter().any(|(_, o)| *o == Outcome::Passed),
        "{outcomes:?}"
    );
    // `test_missing_symbol.py` imports a function that does not exist yet.
    let is_missing = |kind: &FailureKind| matches!(kind, FailureKind::MissingSymbol { .. });
    let in_tests = run
        .report
        .tests
        .iter()
        .filter_map(|t| t.failure.as_ref())
        .any(|f| is_missing(&f.kind));
    let in_problems = run.report.problems.iter().any(|p| is_missing(&p.kind));
    assert!(in_tests || in_problems, "{:#?}", run.report);
}

#[test]
fn a_runner_that_writes_no_report_is_a_clear_error() {
    let mut layout = layout(Language::Python);
    layout.test_command = "true".into();
    let dir = projects().join("python");
    let error = run_tests(
        &layout,
        &dir,
        &[],
        vec![],
        Duration::from_secs(30),
        &CancelToken::default(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("gave no usable report"),
        "{error}"
    );
}

/// A runner the engine does not know, writing JUnit XML where `{junit}` says.
const JUNIT_RUNNER: &str = r#"out="$1"
if grep -q 'return a + b' calc.src 2>/dev/null; then
  body='<testcase classname="calc" name="adds" file="calc_test.x"/>'
else
  body='<testcase classname="calc" name="adds" file="calc_test.x"><failure message="expected 5, got 0">AssertionError: expected 5, got 0</failure></testcase>'
fi
printf '<?xml version="1.0"?><testsuites><testsuite name="calc" tests="2">%s<testcase classname="calc" name="subtracts" file="calc_test.x"/></testsuite></testsuites>' "$body" > "$out"
"#;

#[test]
fn a_configured_command_with_a_junit_placeholder_is_judged_from_its_xml() {
    let dir = std::env::temp_dir().join(format!("tdd-generic-junit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run-tests.sh"), JUNIT_RUNNER).unwrap();
    // Go is the project's language, yet the placeholder wins: any runner works.
    let mut layout = layout(Language::Go);
    layout.test_command = "sh run-tests.sh {junit}".into();
    let run = |dir: &Path| {
        run_tests(
            &layout,
            dir,
            &["calc_test.x".to_string()],
            vec![],
            Duration::from_secs(30),
            &CancelToken::default(),
        )
        .unwrap()
    };

    let failing = run(&dir);
    assert!(
        failing.command.starts_with("sh run-tests.sh '/"),
        "{}",
        failing.command
    );
    let summary = failing.report.summary();
    assert_eq!(
        (summary.passed, summary.failed),
        (1, 1),
        "{:#?}",
        failing.report
    );
    let failed = failing
        .report
        .tests
        .iter()
        .find(|t| t.name == "adds")
        .unwrap();
    let failure = failed.failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::Assertion, "{failed:?}");
    assert!(failure.message.contains("expected 5"), "{failed:?}");

    std::fs::write(dir.join("calc.src"), "return a + b\n").unwrap();
    let passing = run(&dir);
    assert_eq!(passing.report.summary().passed, 2, "{:#?}", passing.report);

    // A runner that writes nothing there is an infrastructure error, not a
    // pass: the report path is reused, and the passing report just written
    // there must not be read again.
    layout.test_command = "true {junit}".into();
    let error = run_tests(
        &layout,
        &dir,
        &[],
        vec![],
        Duration::from_secs(30),
        &CancelToken::default(),
    )
    .unwrap_err();
    let error = error.to_string();
    assert!(error.contains("gave no usable report"), "{error}");
    assert!(error.contains("is empty"), "{error}");
}
