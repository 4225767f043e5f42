//! The runner-output parsers (`tdd_gates::report`) on output recorded from real
//! runners (`tests/runner-output/recorded/`, re-recorded by
//! `scripts/record-runner-output`), and on garbage.
//!
//! Each recording is checked test by test: outcome, failure kind, the missing
//! symbol's name, the location. Paths of the recording projects are shortened to
//! what follows `projects/<language>/`, so a re-recording from another checkout
//! compares equal.

use std::path::PathBuf;

use proptest::prelude::*;
use tdd_gates::report::{
    FailureKind, Location, Outcome, ReportFormat, Runner, TestReport, cargo_test, go_test_json,
    junit_xml, vitest_json,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/runner-output")
}

fn read(path: &str) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn recorded(path: &str) -> String {
    read(&format!("recorded/{path}"))
}

/// `/…/runner-output/projects/typescript/tests/a.ts` → `tests/a.ts`.
fn short(text: &str) -> String {
    const MARK: &str = "runner-output/projects/";
    match text.find(MARK) {
        Some(i) => {
            let rest = &text[i + MARK.len()..];
            rest.split_once('/').map_or(rest, |(_, r)| r).to_string()
        }
        None => text.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Expectations

/// What a test's outcome and failure should be.
#[derive(Clone, Debug, PartialEq)]
enum Is {
    Pass,
    Skip,
    Fail(FailureKind),
    Errored(FailureKind),
}

fn assertion() -> FailureKind {
    FailureKind::Assertion
}

fn error() -> FailureKind {
    FailureKind::Error
}

fn missing(symbol: &str) -> FailureKind {
    FailureKind::MissingSymbol {
        symbol: symbol.to_string(),
    }
}

/// (id, expectation, `file:line` of the failure when the runner gives one)
type Tests<'a> = &'a [(&'a str, Is, Option<&'a str>)];
/// (kind, scope, `file:line`)
type Problems<'a> = &'a [(FailureKind, &'a str, Option<&'a str>)];

fn place(location: Option<&Location>) -> Option<String> {
    location.map(|l| format!("{}:{}", short(&l.file), l.line))
}

fn check(name: &str, report: &TestReport, tests: Tests<'_>, problems: Problems<'_>) {
    let ids: Vec<String> = report.tests.iter().map(|t| short(&t.id)).collect();
    assert_eq!(
        report.tests.len(),
        tests.len(),
        "{name}: the tests are {ids:#?}"
    );
    for (id, is, at) in tests {
        let test = report
            .tests
            .iter()
            .find(|t| short(&t.id) == *id)
            .unwrap_or_else(|| panic!("{name}: no test {id}; the tests are {ids:#?}"));
        let kind = test.failure.as_ref().map(|f| f.kind.clone());
        let actual = match (test.outcome, kind) {
            (Outcome::Passed, None) => Is::Pass,
            (Outcome::Skipped, None) => Is::Skip,
            (Outcome::Failed, Some(kind)) => Is::Fail(kind),
            (Outcome::Errored, Some(kind)) => Is::Errored(kind),
            (outcome, kind) => panic!("{name}: {id} is {outcome:?} with failure {kind:?}"),
        };
        assert_eq!(&actual, is, "{name}: {id}");
        let location = place(test.failure.as_ref().and_then(|f| f.location.as_ref()));
        assert_eq!(location.as_deref(), *at, "{name}: location of {id}");
        if let Some(failure) = &test.failure {
            assert!(!failure.message.is_empty(), "{name}: {id} has no message");
        }
    }
    let actual: Vec<String> = report
        .problems
        .iter()
        .map(|p| {
            format!(
                "{:?} {} {:?}",
                p.kind,
                short(p.scope.as_deref().unwrap_or("")),
                place(p.location.as_ref())
            )
        })
        .collect();
    let mut expected: Vec<String> = problems
        .iter()
        .map(|(kind, scope, at)| format!("{kind:?} {scope} {:?}", at.map(str::to_string)))
        .collect();
    let mut sorted = actual.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "{name}: problems");
    for p in &report.problems {
        assert!(!p.message.is_empty(), "{name}: a problem without a message");
    }
}

fn cargo(name: &str) -> TestReport {
    let stdout = recorded(&format!("cargo/{name}.stdout"));
    let stderr = recorded(&format!("cargo/{name}.stderr"));
    let report = cargo_test(&stdout, &stderr).unwrap();
    assert_eq!(report.runner, Runner::Cargo);
    report
}

fn check_owned(
    name: &str,
    report: &TestReport,
    tests: &[(String, Is, Option<&str>)],
    problems: Problems<'_>,
) {
    let borrowed: Vec<(&str, Is, Option<&str>)> = tests
        .iter()
        .map(|(id, is, at)| (id.as_str(), is.clone(), *at))
        .collect();
    check(name, report, &borrowed, problems);
}

fn go(name: &str) -> TestReport {
    let report = go_test_json(&recorded(&format!("go/{name}.jsonl"))).unwrap();
    assert_eq!(report.runner, Runner::Go);
    report
}

// ---------------------------------------------------------------------------
// pytest

mod pytest_report {
    use super::*;

    fn pytest_basics() -> Vec<(&'static str, Is, Option<&'static str>)> {
        vec![
            ("tests.test_basics::test_add_passes", Is::Pass, None),
            (
                "tests.test_basics::test_add_assertion_fails",
                Is::Fail(assertion()),
                Some("tests/test_basics.py:11"),
            ),
            (
                "tests.test_basics::test_plain_assertion_error",
                Is::Fail(assertion()),
                Some("tests/test_basics.py:15"),
            ),
            ("tests.test_basics::test_skipped", Is::Skip, None),
            // xfail: an expected failure is reported as skipped.
            ("tests.test_basics::test_expected_failure", Is::Skip, None),
            // A fixture that raises: a broken fixture, not a RED.
            (
                "tests.test_basics::test_fixture_error",
                Is::Errored(error()),
                Some("tests/conftest.py:6"),
            ),
            (
                "tests.test_basics::test_unknown_fixture",
                Is::Errored(error()),
                Some("tests/test_basics.py:32"),
            ),
            (
                "tests.test_basics::test_missing_attribute",
                Is::Fail(missing("multiply")),
                Some("tests/test_basics.py:37"),
            ),
            (
                "tests.test_basics::test_missing_name",
                Is::Fail(missing("subtract")),
                Some("tests/test_basics.py:41"),
            ),
            // ZeroDivisionError raised in the code under test.
            (
                "tests.test_basics::test_unexpected_exception",
                Is::Fail(error()),
                Some("calc.py:9"),
            ),
            (
                "tests.test_basics.TestGroup::test_in_class_passes",
                Is::Pass,
                None,
            ),
            (
                "tests.test_basics.TestGroup::test_parametrized[1-1-2]",
                Is::Pass,
                None,
            ),
            (
                "tests.test_basics.TestGroup::test_parametrized[2-2-5]",
                Is::Fail(assertion()),
                Some("tests/test_basics.py:54"),
            ),
        ]
    }

    fn pytest_collection_problems() -> Vec<(FailureKind, &'static str, Option<&'static str>)> {
        vec![
            // `SETTINGS = os.environ[...]` at import: an unrelated collection error.
            (
                FailureKind::Collection,
                "tests.test_collection_error",
                Some("tests/test_collection_error.py:3"),
            ),
            (
                FailureKind::Syntax,
                "tests.test_indentation",
                Some("tests/test_indentation.py:3"),
            ),
            (
                missing("geometry"),
                "tests.test_missing_module",
                Some("tests/test_missing_module.py:1"),
            ),
            (
                missing("power"),
                "tests.test_missing_symbol",
                Some("tests/test_missing_symbol.py:1"),
            ),
            (
                FailureKind::Syntax,
                "tests.test_syntax_error",
                Some("tests/test_syntax_error.py:4"),
            ),
        ]
    }

    #[test]
    fn basics_xunit2_and_xunit1() {
        for file in ["pytest/basics.xml", "pytest/basics-xunit1.xml"] {
            let report = junit_xml(&recorded(file)).unwrap();
            assert_eq!(report.runner, Runner::Pytest);
            check(file, &report, &pytest_basics(), &[]);
            let xunit1 = file.contains("xunit1");
            for test in &report.tests {
                // Only xunit1 writes file="…" on each testcase.
                let expected = xunit1.then(|| "tests/test_basics.py".to_string());
                assert_eq!(test.file, expected, "{file}: {}", test.id);
                assert!(test.duration_ms.is_some(), "{file}: {}", test.id);
            }
        }
    }

    #[test]
    fn missing_symbol_is_the_typical_red() {
        let report = junit_xml(&recorded("pytest/missing-symbol.xml")).unwrap();
        check(
            "missing-symbol",
            &report,
            &[],
            &[(
                missing("power"),
                "tests.test_missing_symbol",
                Some("tests/test_missing_symbol.py:1"),
            )],
        );
        let message = &report.problems[0].message;
        assert!(
            message.contains("cannot import name 'power' from 'calc'"),
            "{message}"
        );
    }

    #[test]
    fn collection_errors() {
        let report = junit_xml(&recorded("pytest/collection-errors.xml")).unwrap();
        check(
            "collection-errors",
            &report,
            &[],
            &pytest_collection_problems(),
        );
        let report = junit_xml(&recorded("pytest/continue-on-collection-errors.xml")).unwrap();
        check(
            "continue-on-collection-errors",
            &report,
            &pytest_basics(),
            &pytest_collection_problems(),
        );
    }
}

// ---------------------------------------------------------------------------
// vitest

mod vitest_report {
    use super::*;

    fn vitest_tests() -> Vec<(&'static str, Is, Option<&'static str>)> {
        vec![
            ("tests/basics.test.ts::add passes", Is::Pass, None),
            (
                "tests/basics.test.ts::add assertion fails",
                Is::Fail(assertion()),
                Some("tests/basics.test.ts:10"),
            ),
            (
                "tests/basics.test.ts::deep equality fails",
                Is::Fail(assertion()),
                Some("tests/basics.test.ts:14"),
            ),
            ("tests/basics.test.ts::skipped", Is::Skip, None),
            ("tests/basics.test.ts::todo later", Is::Skip, None),
            (
                "tests/basics.test.ts::calls a function that does not exist yet",
                Is::Fail(missing("multiply")),
                Some("tests/basics.test.ts:25"),
            ),
            (
                "tests/basics.test.ts::uses a name that is not defined",
                Is::Fail(missing("subtract")),
                Some("tests/basics.test.ts:30"),
            ),
            (
                "tests/basics.test.ts::unexpected exception",
                Is::Fail(error()),
                Some("src/calc.ts:8"),
            ),
            (
                "tests/basics.test.ts::group > nested passes",
                Is::Pass,
                None,
            ),
            (
                "tests/basics.test.ts::group > add(1, 1) is 2",
                Is::Pass,
                None,
            ),
            (
                "tests/basics.test.ts::group > add(2, 2) is 5",
                Is::Fail(assertion()),
                Some("tests/basics.test.ts:46"),
            ),
            // The import of a missing export is undefined: calling it is the error.
            (
                "tests/missing-export.test.ts::power",
                Is::Fail(missing("power")),
                Some("tests/missing-export.test.ts:6"),
            ),
        ]
    }

    #[test]
    fn json_report() {
        let report = vitest_json(&recorded("vitest/report.json")).unwrap();
        assert_eq!(report.runner, Runner::Vitest);
        check(
            "vitest json",
            &report,
            &vitest_tests(),
            &[
                // JSON.parse throws a SyntaxError at import: not a syntax error in the code.
                (FailureKind::Collection, "tests/load-error.test.ts", None),
                (
                    missing("../src/geometry"),
                    "tests/missing-module.test.ts",
                    None,
                ),
                (
                    FailureKind::Syntax,
                    "tests/syntax-error.test.ts",
                    Some("tests/syntax-error.test.ts:5"),
                ),
            ],
        );
        for test in &report.tests {
            assert_eq!(
                test.file.as_deref().map(short).as_deref(),
                test.id.split("::").next().map(short).as_deref()
            );
            if test.outcome != Outcome::Skipped {
                assert!(test.duration_ms.is_some(), "{}", test.id);
            }
        }
    }

    #[test]
    fn junit_report_is_generic_junit() {
        let report = junit_xml(&recorded("vitest/report-junit.xml")).unwrap();
        assert_eq!(report.runner, Runner::Junit);
        check(
            "vitest junit",
            &report,
            &vitest_tests(),
            &[
                (
                    FailureKind::Collection,
                    "tests/load-error.test.ts",
                    Some("tests/load-error.test.ts:3"),
                ),
                (
                    missing("../src/geometry"),
                    "tests/missing-module.test.ts",
                    Some("tests/missing-module.test.ts:3"),
                ),
                (
                    FailureKind::Syntax,
                    "tests/syntax-error.test.ts",
                    Some("tests/syntax-error.test.ts:5"),
                ),
            ],
        );
    }
}

// ---------------------------------------------------------------------------
// cargo

mod cargo_report {
    use super::*;

    fn cargo_basics(prefix: &'static str) -> Vec<(String, Is, Option<&'static str>)> {
        let rows: [(&str, Is, Option<&str>); 14] = [
            ("passes", Is::Pass, None),
            ("nested::in_module_passes", Is::Pass, None),
            ("should_panic_passes", Is::Pass, None),
            ("skipped", Is::Skip, None),
            (
                "assert_eq_fails",
                Is::Fail(assertion()),
                Some("tests/basics.rs:10"),
            ),
            (
                "assert_ne_fails",
                Is::Fail(assertion()),
                Some("tests/basics.rs:20"),
            ),
            (
                "bare_assert_fails",
                Is::Fail(assertion()),
                Some("tests/basics.rs:25"),
            ),
            // assert!(cond, "message") panics with the message alone: it cannot be told
            // from panic!("message").
            (
                "assert_fails",
                Is::Fail(error()),
                Some("tests/basics.rs:15"),
            ),
            (
                "explicit_panic",
                Is::Fail(error()),
                Some("tests/basics.rs:36"),
            ),
            (
                "unexpected_panic",
                Is::Fail(error()),
                Some("tests/basics.rs:31"),
            ),
            (
                "unwrap_on_none",
                Is::Fail(error()),
                Some("tests/basics.rs:42"),
            ),
            // The test returned Err(…): no panic, no location.
            ("returns_err", Is::Fail(error()), None),
            // #[should_panic] expectations are the test's assertions.
            (
                "should_panic_without_panic",
                Is::Fail(assertion()),
                Some("tests/basics.rs:72"),
            ),
            (
                "should_panic_wrong_message",
                Is::Fail(assertion()),
                Some("src/lib.rs:13"),
            ),
        ];
        rows.into_iter()
            .map(|(name, is, at)| (format!("{prefix}{name}"), is, at))
            .collect()
    }

    #[test]
    fn run_with_three_binaries() {
        let report = cargo("run");
        let mut tests = vec![
            ("src/lib.rs::tests::add_works".to_string(), Is::Pass, None),
            (
                "src/lib.rs::tests::add_is_wrong".to_string(),
                Is::Fail(assertion()),
                Some("src/lib.rs:27"),
            ),
            (
                "doc-tests calc::src/lib.rs - add (line 5)".to_string(),
                Is::Pass,
                None,
            ),
        ];
        tests.extend(cargo_basics("tests/basics.rs::"));
        check_owned("cargo run", &report, &tests, &[]);
        let add = report.test("tests/basics.rs::passes").unwrap();
        assert_eq!(add.file.as_deref(), Some("tests/basics.rs"));
        let doc = report
            .test("doc-tests calc::src/lib.rs - add (line 5)")
            .unwrap();
        assert_eq!(doc.file.as_deref(), Some("src/lib.rs"));
        let wrong = report.test("src/lib.rs::tests::add_is_wrong").unwrap();
        let message = &wrong.failure.as_ref().unwrap().message;
        assert!(message.contains("two and two"), "{message}");
    }

    #[test]
    fn backtraces_are_left_out_of_messages() {
        let report = cargo("backtrace");
        check_owned(
            "cargo backtrace",
            &report,
            &cargo_basics("tests/basics.rs::"),
            &[],
        );
        for test in &report.tests {
            if let Some(failure) = &test.failure {
                assert!(
                    !failure.message.contains("rust_begin_unwind"),
                    "{}",
                    failure.message
                );
            }
        }
    }

    #[test]
    fn compile_errors_are_problems() {
        let scope = |t: &str| format!("calc (test \"{t}\")");
        let missing_scope = scope("missing");
        check(
            "cargo missing",
            &cargo("missing"),
            &[],
            &[
                (missing("power"), &missing_scope, Some("tests/missing.rs:2")),
                (
                    missing("matrix"),
                    &missing_scope,
                    Some("tests/missing.rs:8"),
                ),
                // E0425 (cannot find type) and E0422 (cannot find struct) on one line.
                (missing("Point"), &missing_scope, Some("tests/missing.rs:9")),
                (missing("Point"), &missing_scope, Some("tests/missing.rs:9")),
                (
                    missing("multiply"),
                    &missing_scope,
                    Some("tests/missing.rs:7"),
                ),
            ],
        );
        check(
            "cargo syntax",
            &cargo("syntax"),
            &[],
            &[(
                FailureKind::Syntax,
                &scope("syntax"),
                Some("tests/syntax.rs:5"),
            )],
        );
        check(
            "cargo unclosed",
            &cargo("unclosed"),
            &[],
            &[(
                FailureKind::Syntax,
                &scope("unclosed"),
                Some("tests/unclosed.rs:6"),
            )],
        );
        let types = cargo("type-error");
        check(
            "cargo type-error",
            &types,
            &[],
            &[(
                FailureKind::Build,
                &scope("type_error"),
                Some("tests/type_error.rs:5"),
            )],
        );
        // The whole diagnostic, snippet and help included.
        assert!(
            types.problems[0]
                .message
                .contains("help: try using a conversion method")
        );
    }
}

// ---------------------------------------------------------------------------
// go

mod go_report {
    use super::*;

    const CALC: &str = "example.com/rr/calc::";

    fn go_calc() -> Vec<(String, Is, Option<&'static str>)> {
        [
            ("TestAddPasses", Is::Pass, None),
            (
                "TestAddFails",
                Is::Fail(assertion()),
                Some("calc_test.go:16"),
            ),
            ("TestSkipped", Is::Skip, None),
            // TestTable is reported through its subtests.
            ("TestTable/case_1", Is::Pass, None),
            (
                "TestTable/case_2",
                Is::Fail(assertion()),
                Some("calc_test.go:29"),
            ),
            ("TestPanics", Is::Fail(error()), Some("calc/calc.go:6")),
        ]
        .into_iter()
        .map(|(name, is, at)| (format!("{CALC}{name}"), is, at))
        .collect()
    }

    /// A TestMain that exits before any test: the package failed outside any test.
    fn go_setup_problem() -> (FailureKind, &'static str, Option<&'static str>) {
        (FailureKind::Error, "example.com/rr/setup", None)
    }

    fn go_build_problems() -> Vec<(FailureKind, &'static str, Option<&'static str>)> {
        vec![
            (
                missing("Power"),
                "example.com/rr/missing",
                Some("missing/missing_test.go:6"),
            ),
            (
                missing("Double"),
                "example.com/rr/missing",
                Some("missing/missing_test.go:10"),
            ),
            (
                missing("example.com/rr/geometry"),
                "example.com/rr/missingpkg",
                Some("missingpkg/missingpkg_test.go:6"),
            ),
            (
                FailureKind::Syntax,
                "example.com/rr/syntax",
                Some("syntax/syntax_test.go:7"),
            ),
        ]
    }

    #[test]
    fn tests_subtests_panic_and_setup() {
        let report = go("run");
        check_owned("go run", &report, &go_calc(), &[go_setup_problem()]);
        let setup = &report.problems[0].message;
        assert!(setup.contains("RR_DATABASE_URL is not set"), "{setup}");
    }

    #[test]
    fn build_failures_before_go_1_24() {
        let build = go_build_problems();
        check("go missing", &go("missing"), &[], &build[..2]);
        check(
            "go missing-package",
            &go("missing-package"),
            &[],
            &build[2..3],
        );
        check("go syntax", &go("syntax"), &[], &build[3..]);
        let mut all = build.clone();
        all.push(go_setup_problem());
        check_owned("go all", &go("all"), &go_calc(), &all);
        // The continuation line of the loader's error stays with it.
        let report = go("missing-package");
        assert!(
            report.problems[0]
                .message
                .contains("go get example.com/rr/geometry")
        );
    }

    #[test]
    fn build_failures_from_go_1_24_events() {
        // Hand-written from the documented event shape (no Go 1.24 here to record it).
        let text = read("hand-written/go-1.24-build-events.jsonl");
        let report = go_test_json(&text).unwrap();
        check_owned(
            "go 1.24",
            &report,
            &[(format!("{CALC}TestAddPasses"), Is::Pass, None)],
            &go_build_problems()[..2],
        );
    }
}

// ---------------------------------------------------------------------------
// Across runners

mod every_report {
    use super::*;

    /// Every recording with its parser.
    fn every_recording() -> Vec<(String, TestReport)> {
        let mut all = Vec::new();
        for name in [
            "basics",
            "basics-xunit1",
            "missing-symbol",
            "collection-errors",
            "continue-on-collection-errors",
        ] {
            let report = junit_xml(&recorded(&format!("pytest/{name}.xml"))).unwrap();
            all.push((format!("pytest-{name}"), report));
        }
        let junit = junit_xml(&recorded("vitest/report-junit.xml")).unwrap();
        all.push(("vitest-junit".to_string(), junit));
        let json = vitest_json(&recorded("vitest/report.json")).unwrap();
        all.push(("vitest-json".to_string(), json));
        for name in [
            "run",
            "backtrace",
            "missing",
            "syntax",
            "unclosed",
            "type-error",
        ] {
            all.push((format!("cargo-{name}"), cargo(name)));
        }
        for name in ["run", "missing", "missing-package", "syntax", "all"] {
            all.push((format!("go-{name}"), go(name)));
        }
        let text = read("hand-written/go-1.24-build-events.jsonl");
        all.push((
            "go-1.24-hand-written".to_string(),
            go_test_json(&text).unwrap(),
        ));
        all
    }

    /// One line per test and problem, sorted (runners run tests in parallel), without
    /// messages (they carry thread ids and addresses that change on every run).
    fn render(report: &TestReport) -> String {
        let mut lines: Vec<String> = report
            .tests
            .iter()
            .map(|t| {
                let mut line = format!("{:?} {}", t.outcome, short(&t.id));
                if let Some(f) = &t.failure {
                    line.push_str(&format!(" | {:?}", f.kind));
                    if let Some(at) = place(f.location.as_ref()) {
                        line.push_str(&format!(" at {at}"));
                    }
                }
                line
            })
            .collect();
        lines.sort();
        let mut problems: Vec<String> = report
            .problems
            .iter()
            .map(|p| {
                let mut line = format!(
                    "problem {:?} in {}",
                    p.kind,
                    short(p.scope.as_deref().unwrap_or("?"))
                );
                if let Some(at) = place(p.location.as_ref()) {
                    line.push_str(&format!(" at {at}"));
                }
                line
            })
            .collect();
        problems.sort();
        format!(
            "{:?}: {}\n{}\n{}\n",
            report.runner,
            report.summary(),
            lines.join("\n"),
            problems.join("\n")
        )
    }

    #[test]
    fn snapshots() {
        let dir = root().join("snapshots");
        for (name, report) in every_recording() {
            insta::with_settings!({ snapshot_path => dir.clone(), prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(name.clone(), render(&report));
            });
        }
    }

    #[test]
    fn round_trips_through_json() {
        for (name, report) in every_recording() {
            let json = serde_json::to_string(&report).unwrap();
            let back: TestReport = serde_json::from_str(&json).unwrap();
            assert_eq!(back, report, "{name}");
        }
        let report = junit_xml(&recorded("pytest/missing-symbol.xml")).unwrap();
        let value = serde_json::to_value(&report.problems[0]).unwrap();
        assert_eq!(value["kind"], "missing_symbol");
        assert_eq!(value["symbol"], "power");
        assert_eq!(value["location"]["line"], 1);
    }

    #[test]
    fn long_messages_are_cut_and_say_so() {
        let long = "x".repeat(100_000);
        let xml = format!(
            "<testsuite><testcase classname=\"c\" name=\"t\"><failure message=\"m\">{long}</failure></testcase></testsuite>"
        );
        let report = junit_xml(&xml).unwrap();
        let message = &report.tests[0].failure.as_ref().unwrap().message;
        assert!(message.len() <= tdd_gates::report::MAX_MESSAGE_BYTES + 100);
        assert!(
            message.ends_with("more bytes]"),
            "{}",
            &message[message.len() - 40..]
        );
    }

    #[test]
    fn malformed_recordings_are_errors_that_say_where() {
        let xml = recorded("pytest/basics.xml");
        let err = junit_xml(&xml[..xml.len() / 2]).unwrap_err();
        assert_eq!(err.format, ReportFormat::JunitXml);
        let text = err.to_string();
        assert!(text.starts_with("JUnit XML report"), "{text}");
        assert!(err.position.is_some(), "{text}");

        let json = recorded("vitest/report.json");
        let err = vitest_json(&json[..json.len() / 2]).unwrap_err();
        assert_eq!(err.format, ReportFormat::VitestJson);
        assert!(err.position.is_some(), "{err}");

        let err = go_test_json("not go output\n").unwrap_err();
        assert_eq!(err.format, ReportFormat::GoTestJson);
        let err = cargo_test("", "").unwrap_err();
        assert_eq!(err.format, ReportFormat::CargoTest);
    }

    #[test]
    fn a_truncated_cargo_run_reports_the_binary_that_stopped() {
        let stdout = recorded("cargo/run.stdout");
        let cut = stdout.find("failures:").unwrap();
        let report = cargo_test(&stdout[..cut], &recorded("cargo/run.stderr")).unwrap();
        assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
        assert_eq!(report.problems[0].kind, FailureKind::Error);
        assert_eq!(report.problems[0].scope.as_deref(), Some("src/lib.rs"));
    }

    #[test]
    fn big_inputs_finish() {
        let mut stdout = String::from("running 200000 tests\n");
        for i in 0..200_000 {
            stdout.push_str(&format!("test t{i} ... ok\n"));
        }
        let report = cargo_test(&stdout, "").unwrap();
        assert_eq!(report.summary().passed, 200_000);
        let slashes = format!(
            "{{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"{}\"}}\n",
            "a/".repeat(100_000)
        );
        assert!(go_test_json(&slashes).is_ok());
        let nested = "<testsuite>".repeat(50_000);
        assert!(junit_xml(&nested).is_err());
        let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(vitest_json(&format!("{{\"testResults\":{deep_json}}}")).is_err());
    }
}

// ---------------------------------------------------------------------------
// Hostile input: never a panic, an error or a report.

mod hostile_report {
    use super::*;

    fn fixtures() -> Vec<(&'static str, String)> {
        let mut all = Vec::new();
        for name in [
            "pytest/basics.xml",
            "pytest/continue-on-collection-errors.xml",
            "vitest/report-junit.xml",
        ] {
            all.push(("junit", recorded(name)));
        }
        all.push(("vitest", recorded("vitest/report.json")));
        for name in ["run", "backtrace", "missing"] {
            all.push(("cargo", recorded(&format!("cargo/{name}.stdout"))));
            all.push(("cargo", recorded(&format!("cargo/{name}.stderr"))));
        }
        for name in ["all", "missing-package"] {
            all.push(("go", recorded(&format!("go/{name}.jsonl"))));
        }
        all.push(("go", read("hand-written/go-1.24-build-events.jsonl")));
        all
    }

    /// Every parser on `text`; the one that fits gets it in every role.
    fn parse_everything(text: &str) {
        let _ = junit_xml(text);
        let _ = vitest_json(text);
        let _ = go_test_json(text);
        let _ = cargo_test(text, "");
        let _ = cargo_test("", text);
        let _ = cargo_test(text, text);
    }

    fn floor_boundary(text: &str, at: usize) -> usize {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_string(text in any::<String>()) {
            parse_everything(&text);
        }

        #[test]
        fn any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            parse_everything(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn truncated_fixtures(which in 0usize..64, cut in 0usize..20_000) {
            let fixtures = fixtures();
            let (_, text) = &fixtures[which % fixtures.len()];
            let at = floor_boundary(text, cut % (text.len() + 1));
            parse_everything(&text[..at]);
            parse_everything(&text[at..]);
        }

        #[test]
        fn garbled_fixtures(
            which in 0usize..64,
            edits in proptest::collection::vec(
                (0usize..20_000, 0usize..64, "[<>/\"'{}\\[\\]:,\\n&;#a-z0-9 \\\\-]{0,12}"),
                1..8,
            ),
        ) {
            let fixtures = fixtures();
            let (_, original) = &fixtures[which % fixtures.len()];
            let mut text = original.clone();
            for (at, delete, insert) in edits {
                let start = floor_boundary(&text, at % (text.len() + 1));
                let end = floor_boundary(&text, start + delete);
                text.replace_range(start..end, &insert);
            }
            parse_everything(&text);
        }

        #[test]
        fn shuffled_lines(which in 0usize..64, order in proptest::collection::vec(0usize..400, 0..200)) {
            let fixtures = fixtures();
            let (_, original) = &fixtures[which % fixtures.len()];
            let lines: Vec<&str> = original.lines().collect();
            if !lines.is_empty() {
                let text: Vec<&str> = order.iter().map(|i| lines[i % lines.len()]).collect();
                parse_everything(&text.join("\n"));
            }
        }
    }
}
