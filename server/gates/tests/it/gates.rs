//! The stage gates (`tdd_gates`): for each stage, each rule
//! rejects what it must and a correct run is accepted. Real recorded runner
//! output (`tests/runner-output/recorded/`) where it fits, small hand-built
//! reports for the rest, and the anti-stub heuristics per language.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tdd_core::config::Language;
use tdd_gates::report::{
    Failure, FailureKind, Outcome as T, Problem, Runner, TestReport, TestResult, cargo_test,
    go_test_json, junit_xml, vitest_json,
};
use tdd_gates::stubs::{self, FindingKind};
use tdd_gates::{
    Change, ChangeKind, CheckRun, Evidence, Outcome, Stage, TaskScope, Verdict, judge,
};

// ---------------------------------------------------------------------------
// Helpers

fn recorded(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/runner-output/recorded")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pytest(name: &str) -> TestReport {
    junit_xml(&recorded(&format!("pytest/{name}.xml"))).unwrap()
}

fn cargo(name: &str) -> TestReport {
    cargo_test(
        &recorded(&format!("cargo/{name}.stdout")),
        &recorded(&format!("cargo/{name}.stderr")),
    )
    .unwrap()
}

fn go(name: &str) -> TestReport {
    go_test_json(&recorded(&format!("go/{name}.jsonl"))).unwrap()
}

fn vitest() -> TestReport {
    vitest_json(&recorded("vitest/report.json")).unwrap()
}

fn scope(language: Language, test_files: &[&str], writable: &[&str]) -> TaskScope {
    TaskScope {
        test_files: test_files.iter().map(|s| s.to_string()).collect(),
        writable: writable.iter().map(|s| s.to_string()).collect(),
        language,
    }
}

fn py(test_file: &str) -> TaskScope {
    scope(Language::Python, &[test_file], &[test_file, "calc.py"])
}

fn test(id: &str, outcome: T, kind: Option<FailureKind>) -> TestResult {
    TestResult {
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
    }
}

fn pass(id: &str) -> TestResult {
    test(id, T::Passed, None)
}

fn fail(id: &str, kind: FailureKind) -> TestResult {
    test(id, T::Failed, Some(kind))
}

fn skip(id: &str) -> TestResult {
    test(id, T::Skipped, None)
}

fn missing(symbol: &str) -> FailureKind {
    FailureKind::MissingSymbol {
        symbol: symbol.to_string(),
    }
}

fn problem(kind: FailureKind, scope: &str) -> Problem {
    Problem {
        kind,
        scope: Some(scope.to_string()),
        message: "it broke".to_string(),
        location: None,
    }
}

fn report(tests: Vec<TestResult>, problems: Vec<Problem>) -> TestReport {
    let mut report = TestReport::new(Runner::Pytest);
    report.tests = tests;
    report.problems = problems;
    report
}

fn changed(paths: &[&str]) -> Vec<Change> {
    paths
        .iter()
        .map(|p| Change::new(*p, ChangeKind::Modified))
        .collect()
}

fn evidence(before: Option<TestReport>, after: TestReport, changes: &[&str]) -> Evidence {
    let mut evidence = Evidence::new(after);
    evidence.before = before;
    evidence.changes = changed(changes);
    evidence
}

fn codes(verdict: &Verdict) -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = verdict.reasons.iter().map(|r| r.code).collect();
    codes.dedup();
    codes
}

/// The reason codes as a set.
fn code_set(codes: &[&'static str]) -> Vec<&'static str> {
    let mut codes = codes.to_vec();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// (name, verdict, expected outcome, expected codes in any order)
fn check(cases: Vec<(&str, Verdict, Outcome, &[&'static str])>) {
    let mut wrong = Vec::new();
    for (name, verdict, outcome, expected) in cases {
        if verdict.outcome != outcome || code_set(&codes(&verdict)) != code_set(expected) {
            wrong.push(format!(
                "{name}: expected {outcome:?} {expected:?}, got {:?} {:?}\n  {:#?}",
                verdict.outcome,
                codes(&verdict),
                verdict.reasons
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The tests, in a module named so that `cargo test -p tdd-core gate` runs them.
mod gate {
    use super::*;

    // ---------------------------------------------------------------------------
    // RED on recorded runs

    #[test]
    fn red_on_recorded_runs() {
        let red = |s: &TaskScope, after: TestReport| {
            let files: Vec<&str> = s.test_files.iter().map(String::as_str).collect();
            judge(Stage::Red, s, &evidence(None, after, &files))
        };
        let rust = |f: &str| scope(Language::Rust, &[f], &[f, "src/lib.rs"]);
        let go_scope = |f: &str| scope(Language::Go, &[f], &[f]);
        let ts = |f: &str| scope(Language::Typescript, &[f], &[f]);
        use Outcome::{Infrastructure, Passed, Violation};
        check(vec![
            // pytest: an ImportError at collection is the typical RED (zero tests collected).
            (
                "pytest import error",
                red(
                    &py("tests/test_missing_symbol.py"),
                    pytest("missing-symbol"),
                ),
                Passed,
                &[],
            ),
            (
                "pytest missing module",
                red(
                    &py("tests/test_missing_module.py"),
                    pytest("collection-errors"),
                ),
                Passed,
                &[],
            ),
            (
                "pytest syntax error",
                red(
                    &py("tests/test_syntax_error.py"),
                    pytest("collection-errors"),
                ),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
            (
                "pytest indentation error",
                red(
                    &py("tests/test_indentation.py"),
                    pytest("collection-errors"),
                ),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
            (
                "pytest collection error",
                red(
                    &py("tests/test_collection_error.py"),
                    pytest("collection-errors"),
                ),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
            (
                "pytest: a file whose tests pass, error and are skipped",
                red(&py("tests/test_basics.py"), pytest("basics")),
                Violation,
                &["red.wrong_failure", "red.skipped_test", "red.passing_test"],
            ),
            // cargo: a test target that does not compile.
            (
                "cargo missing symbols",
                red(&rust("tests/missing.rs"), cargo("missing")),
                Passed,
                &[],
            ),
            (
                "cargo syntax error",
                red(&rust("tests/syntax.rs"), cargo("syntax")),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
            (
                "cargo unclosed delimiter",
                red(&rust("tests/unclosed.rs"), cargo("unclosed")),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
            (
                "cargo type error (a build error with no missing symbol)",
                red(&rust("tests/type_error.rs"), cargo("type-error")),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
            // go: a package that does not build.
            (
                "go undefined",
                red(&go_scope("missing/missing_test.go"), go("missing")),
                Passed,
                &[],
            ),
            (
                "go missing package",
                red(
                    &go_scope("missingpkg/missingpkg_test.go"),
                    go("missing-package"),
                ),
                Passed,
                &[],
            ),
            (
                "go syntax error",
                red(&go_scope("syntax/syntax_test.go"), go("syntax")),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
            // A package whose TestMain crashed, outside the task: the run is unusable.
            (
                "go crashed package elsewhere",
                red(&go_scope("missing/missing_test.go"), go("all")),
                Infrastructure,
                &["gate.runner_crashed"],
            ),
            // vitest
            (
                "vitest missing export (a failing test)",
                red(&ts("tests/missing-export.test.ts"), vitest()),
                Passed,
                &[],
            ),
            (
                "vitest missing module (a file that does not load)",
                red(&ts("tests/missing-module.test.ts"), vitest()),
                Passed,
                &[],
            ),
            (
                "vitest syntax error",
                red(&ts("tests/syntax-error.test.ts"), vitest()),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
            (
                "vitest load error",
                red(&ts("tests/load-error.test.ts"), vitest()),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
        ]);
    }

    #[test]
    fn red_evidence_is_the_trailer() {
        let s = py("tests/test_missing_symbol.py");
        let v = judge(
            Stage::Red,
            &s,
            &evidence(
                None,
                pytest("missing-symbol"),
                &["tests/test_missing_symbol.py"],
            ),
        );
        assert_eq!(v.evidence, "1 failed (missing symbol: power)");
        let v = judge(
            Stage::Red,
            &s,
            &evidence(
                None,
                report(
                    vec![
                        fail("tests.test_missing_symbol::test_a", FailureKind::Assertion),
                        fail("tests.test_missing_symbol::test_b", FailureKind::Assertion),
                    ],
                    vec![],
                ),
                &[],
            ),
        );
        assert_eq!(
            (v.outcome, v.evidence.as_str()),
            (Outcome::Passed, "2 failed (assertion)")
        );
    }

    #[test]
    fn red_wrong_failure_names_the_test_and_the_kind() {
        let v = judge(
            Stage::Red,
            &py("tests/test_basics.py"),
            &evidence(None, pytest("basics"), &[]),
        );
        let fixture = v
            .reasons
            .iter()
            .find(|r| r.subject.as_deref() == Some("tests.test_basics::test_fixture_error"))
            .expect("the fixture error is named");
        assert_eq!(fixture.code, "red.wrong_failure");
        assert!(fixture.message.contains("(error)"), "{}", fixture.message);
        // Assertion and missing-symbol failures are fine.
        for ok in [
            "test_add_assertion_fails",
            "test_missing_name",
            "test_missing_attribute",
        ] {
            let id = format!("tests.test_basics::{ok}");
            assert!(
                !v.reasons.iter().any(|r| r.subject.as_deref() == Some(&id)),
                "{ok}"
            );
        }
    }

    // ---------------------------------------------------------------------------
    // RED on hand-built runs

    #[test]
    fn red_rules() {
        let s = py("tests/test_calc.py");
        let before = report(
            vec![
                pass("tests.test_other::test_old"),
                pass("tests.test_calc::test_kept"),
            ],
            vec![],
        );
        let new_fail = || fail("tests.test_calc::test_new", FailureKind::Assertion);
        let red = |after: TestReport, changes: &[&str]| {
            judge(
                Stage::Red,
                &s,
                &evidence(Some(before.clone()), after, changes),
            )
        };
        let ok_after = || {
            report(
                vec![
                    pass("tests.test_other::test_old"),
                    pass("tests.test_calc::test_kept"),
                    new_fail(),
                ],
                vec![],
            )
        };
        use Outcome::{AlreadyImplemented, Infrastructure, Passed, Violation};
        check(vec![
            (
                "a correct RED",
                red(ok_after(), &["tests/test_calc.py"]),
                Passed,
                &[],
            ),
            (
                "a file outside the task's tests changed",
                red(
                    ok_after(),
                    &["tests/test_calc.py", "calc.py", "tests/test_other.py"],
                ),
                Violation,
                &["red.foreign_change"],
            ),
            (
                "nothing new collected",
                red(
                    report(before.tests.clone(), vec![]),
                    &["tests/test_calc.py"],
                ),
                Violation,
                &["red.no_new_tests"],
            ),
            (
                "the new tests pass at once",
                red(
                    report(
                        vec![
                            pass("tests.test_other::test_old"),
                            pass("tests.test_calc::test_kept"),
                            pass("tests.test_calc::test_new"),
                        ],
                        vec![],
                    ),
                    &["tests/test_calc.py"],
                ),
                AlreadyImplemented,
                &["red.already_implemented"],
            ),
            (
                "one new test passes, one fails",
                red(
                    report(
                        vec![
                            pass("tests.test_other::test_old"),
                            new_fail(),
                            pass("tests.test_calc::test_new2"),
                        ],
                        vec![],
                    ),
                    &["tests/test_calc.py"],
                ),
                Violation,
                &["red.passing_test"],
            ),
            (
                "a new test fails by an error",
                red(
                    report(
                        vec![
                            pass("tests.test_other::test_old"),
                            fail("tests.test_calc::test_new", FailureKind::Error),
                        ],
                        vec![],
                    ),
                    &[],
                ),
                Violation,
                &["red.wrong_failure"],
            ),
            (
                "a new test times out",
                red(
                    report(
                        vec![
                            pass("tests.test_other::test_old"),
                            fail("tests.test_calc::test_new", FailureKind::Timeout),
                        ],
                        vec![],
                    ),
                    &[],
                ),
                Violation,
                &["red.wrong_failure"],
            ),
            (
                "a new test is skipped",
                red(
                    report(
                        vec![
                            pass("tests.test_other::test_old"),
                            new_fail(),
                            skip("tests.test_calc::test_new2"),
                        ],
                        vec![],
                    ),
                    &[],
                ),
                Violation,
                &["red.skipped_test"],
            ),
            (
                "a test outside the task broke",
                red(
                    report(
                        vec![
                            fail("tests.test_other::test_old", FailureKind::Assertion),
                            new_fail(),
                        ],
                        vec![],
                    ),
                    &[],
                ),
                Violation,
                &["red.regression"],
            ),
            (
                "a test outside the task vanished",
                red(report(vec![new_fail()], vec![]), &[]),
                Violation,
                &["red.regression"],
            ),
            (
                "tests vanished because the task's file stops the run (missing symbol)",
                red(
                    report(vec![], vec![problem(missing("power"), "tests.test_calc")]),
                    &[],
                ),
                Passed,
                &[],
            ),
            (
                "a build error beside a missing symbol in the same target",
                red(
                    report(
                        vec![],
                        vec![
                            problem(missing("power"), "tests.test_calc"),
                            problem(FailureKind::Build, "tests.test_calc"),
                        ],
                    ),
                    &[],
                ),
                Passed,
                &[],
            ),
            (
                "the run timed out",
                red(
                    report(
                        vec![new_fail()],
                        vec![problem(FailureKind::Timeout, "tests.test_calc")],
                    ),
                    &[],
                ),
                Infrastructure,
                &["gate.runner_timeout"],
            ),
            (
                "the runner crashed outside the task",
                red(
                    report(
                        vec![new_fail()],
                        vec![problem(FailureKind::Error, "tests.test_other")],
                    ),
                    &[],
                ),
                Infrastructure,
                &["gate.runner_crashed"],
            ),
            (
                "a crash the baseline already had is not the worker's",
                judge(
                    Stage::Red,
                    &s,
                    &evidence(
                        Some(report(
                            vec![],
                            vec![problem(FailureKind::Error, "tests.test_broken")],
                        )),
                        report(
                            vec![new_fail()],
                            vec![problem(FailureKind::Error, "tests.test_broken")],
                        ),
                        &[],
                    ),
                ),
                Passed,
                &[],
            ),
            (
                "an error problem in the task's own file is a wrong failure",
                red(
                    report(
                        vec![pass("tests.test_other::test_old")],
                        vec![problem(FailureKind::Error, "tests.test_calc")],
                    ),
                    &[],
                ),
                Violation,
                &["red.wrong_failure", "red.no_new_tests"],
            ),
        ]);
    }

    #[test]
    fn red_renaming_a_file_away_is_a_foreign_change() {
        let s = py("tests/test_calc.py");
        let mut e = evidence(
            None,
            report(
                vec![fail("tests.test_calc::test_a", FailureKind::Assertion)],
                vec![],
            ),
            &[],
        );
        e.changes = vec![Change::new(
            "tests/test_calc.py",
            ChangeKind::Renamed {
                from: "tests/test_old.py".into(),
            },
        )];
        let v = judge(Stage::Red, &s, &e);
        assert_eq!(codes(&v), ["red.foreign_change"]);
        assert_eq!(v.reasons[0].subject.as_deref(), Some("tests/test_old.py"));
    }

    // ---------------------------------------------------------------------------
    // GREEN and REFACTOR

    fn green_before() -> TestReport {
        report(
            vec![
                fail("tests.test_calc::test_power", FailureKind::Assertion),
                pass("tests.test_other::test_a"),
                pass("tests.test_other::test_b"),
                skip("tests.test_other::test_c"),
            ],
            vec![],
        )
    }

    fn green_after() -> Vec<TestResult> {
        vec![
            pass("tests.test_calc::test_power"),
            pass("tests.test_other::test_a"),
            pass("tests.test_other::test_b"),
            skip("tests.test_other::test_c"),
        ]
    }

    fn with(mut tests: Vec<TestResult>, i: usize, t: TestResult) -> Vec<TestResult> {
        tests[i] = t;
        tests
    }

    #[test]
    fn green_and_refactor_rules() {
        let s = py("tests/test_calc.py");
        for stage in [Stage::Green, Stage::Refactor] {
            let p = if stage == Stage::Green {
                "green"
            } else {
                "refactor"
            };
            let c =
                |rule: &str| -> &'static str { Box::leak(format!("{p}.{rule}").into_boxed_str()) };
            let run = |after: Vec<TestResult>, problems: Vec<Problem>, changes: &[&str]| {
                judge(
                    stage,
                    &s,
                    &evidence(Some(green_before()), report(after, problems), changes),
                )
            };
            use Outcome::{Infrastructure, Passed, Violation};
            check(vec![
                (
                    "correct",
                    run(green_after(), vec![], &["calc.py", "src/helpers.py"]),
                    Passed,
                    &[],
                ),
                (
                    "the task's test file changed",
                    run(green_after(), vec![], &["calc.py", "tests/test_calc.py"]),
                    Violation,
                    &[c("test_changed")],
                ),
                (
                    "another test file changed",
                    run(green_after(), vec![], &["tests/test_other.py"]),
                    Violation,
                    &[c("test_changed")],
                ),
                (
                    "a conftest changed",
                    run(green_after(), vec![], &["tests/conftest.py"]),
                    Violation,
                    &[c("test_changed")],
                ),
                (
                    "the task's test still fails",
                    run(
                        with(
                            green_after(),
                            0,
                            fail("tests.test_calc::test_power", FailureKind::Assertion),
                        ),
                        vec![],
                        &[],
                    ),
                    Violation,
                    &[c("task_failing")],
                ),
                (
                    "the task's test is skipped",
                    run(
                        with(green_after(), 0, skip("tests.test_calc::test_power")),
                        vec![],
                        &[],
                    ),
                    Violation,
                    &[c("task_skipped")],
                ),
                (
                    "the task's file does not load",
                    run(
                        green_after()[1..].to_vec(),
                        vec![problem(missing("power"), "tests.test_calc")],
                        &[],
                    ),
                    Violation,
                    &[c("task_failing"), c("test_removed")],
                ),
                (
                    "a test that passed before fails",
                    run(
                        with(
                            green_after(),
                            1,
                            fail("tests.test_other::test_a", FailureKind::Error),
                        ),
                        vec![],
                        &[],
                    ),
                    Violation,
                    &[c("regression")],
                ),
                (
                    "a test was removed",
                    run(green_after()[..3].to_vec(), vec![], &[]),
                    Violation,
                    &[c("test_removed")],
                ),
                (
                    "a test was renamed away",
                    run(
                        with(green_after(), 2, pass("tests.test_other::test_b_renamed")),
                        vec![],
                        &[],
                    ),
                    Violation,
                    if stage == Stage::Green {
                        &["green.test_removed"]
                    } else {
                        &["refactor.test_removed", "refactor.test_added"]
                    },
                ),
                (
                    "a test is newly skipped",
                    run(
                        with(green_after(), 1, skip("tests.test_other::test_a")),
                        vec![],
                        &[],
                    ),
                    Violation,
                    &[c("newly_skipped")],
                ),
                (
                    "another test file no longer loads",
                    run(
                        green_after(),
                        vec![problem(FailureKind::Syntax, "tests.test_more")],
                        &[],
                    ),
                    Violation,
                    &[c("new_problem")],
                ),
                (
                    "no task test reported",
                    run(green_after()[1..].to_vec(), vec![], &[]),
                    Violation,
                    &[c("no_task_tests"), c("test_removed")],
                ),
                (
                    "the runner crashed",
                    run(
                        green_after(),
                        vec![problem(FailureKind::Error, "tests.test_more")],
                        &[],
                    ),
                    Infrastructure,
                    &["gate.runner_crashed"],
                ),
                (
                    "no baseline",
                    judge(stage, &s, &Evidence::new(report(green_after(), vec![]))),
                    Infrastructure,
                    &["gate.no_baseline"],
                ),
            ]);
        }
    }

    #[test]
    fn refactor_keeps_the_same_tests() {
        let s = py("tests/test_calc.py");
        let mut after = green_after();
        after.push(pass("tests.test_calc::test_extra"));
        let e = evidence(Some(green_before()), report(after, vec![]), &["calc.py"]);
        assert_eq!(judge(Stage::Green, &s, &e).outcome, Outcome::Passed);
        let v = judge(Stage::Refactor, &s, &e);
        assert_eq!(codes(&v), ["refactor.test_added"]);
    }

    #[test]
    fn green_evidence_and_rust_sources_with_inline_tests() {
        // A Rust task whose impl file holds unit tests: the report knows `src/lib.rs`
        // as a test's file, but the task may write it.
        let s = scope(
            Language::Rust,
            &["tests/calc.rs"],
            &["tests/calc.rs", "src/lib.rs"],
        );
        let before = report(
            vec![
                fail("tests/calc.rs::power", missing("power")),
                pass("src/lib.rs::tests::add"),
            ],
            vec![],
        );
        let after = report(
            vec![pass("tests/calc.rs::power"), pass("src/lib.rs::tests::add")],
            vec![],
        );
        let v = judge(
            Stage::Green,
            &s,
            &evidence(Some(before.clone()), after.clone(), &["src/lib.rs"]),
        );
        assert_eq!(
            (v.outcome, v.evidence.as_str()),
            (Outcome::Passed, "2 passed")
        );
        // A test file the task may not write, known from the report.
        let s = scope(
            Language::Rust,
            &["tests/calc.rs"],
            &["tests/calc.rs", "src/calc.rs"],
        );
        let v = judge(
            Stage::Green,
            &s,
            &evidence(Some(before), after, &["src/lib.rs"]),
        );
        assert_eq!(codes(&v), ["green.test_changed"]);
    }

    #[test]
    fn green_on_recorded_runs() {
        // Baseline: the RED run of `tests/missing.rs` (nothing compiled). After: a run
        // where the task's target is absent is not a pass.
        let s = scope(
            Language::Rust,
            &["tests/missing.rs"],
            &["tests/missing.rs", "src/lib.rs"],
        );
        let v = judge(
            Stage::Green,
            &s,
            &evidence(Some(cargo("missing")), cargo("run"), &["src/lib.rs"]),
        );
        assert_eq!(codes(&v), ["green.no_task_tests"]);
        // pytest: GREEN from the collection errors to the basics run keeps the task's
        // failing tests failing.
        let s = py("tests/test_basics.py");
        let v = judge(
            Stage::Green,
            &s,
            &evidence(Some(pytest("basics")), pytest("basics"), &["calc.py"]),
        );
        assert_eq!(v.outcome, Outcome::Violation);
        assert!(
            codes(&v).iter().all(|c| c.starts_with("green.task_")),
            "{:?}",
            codes(&v)
        );
    }

    // ---------------------------------------------------------------------------
    // VERIFY and MERGE

    fn clean_sources() -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "calc.py".to_string(),
                "def power(a, b):\n    return a ** b\n".to_string(),
            ),
            (
                "tests/test_calc.py".to_string(),
                "from calc import power\n\ndef test_power():\n    assert power(2, 3) == 8\n"
                    .to_string(),
            ),
            (
                "pyproject.toml".to_string(),
                "[project]\nname = 'x'\n".to_string(),
            ),
        ])
    }

    #[test]
    fn verify_rules() {
        let s = py("tests/test_calc.py");
        let green = || report(green_after(), vec![]);
        let run = |after: TestReport, checks: Vec<CheckRun>, sources: BTreeMap<String, String>| {
            let mut e = Evidence::new(after);
            e.checks = checks;
            e.sources = sources;
            judge(Stage::Verify, &s, &e)
        };
        let check_run = |passed| CheckRun {
            name: "ruff".into(),
            command: "ruff check calc.py".into(),
            passed,
            output_tail: "calc.py:1:1: F401 unused import".into(),
        };
        let with_source = |path: &str, text: &str| {
            let mut sources = clean_sources();
            sources.insert(path.into(), text.into());
            sources
        };
        use Outcome::{Infrastructure, Passed, Violation};
        check(vec![
            (
                "correct",
                run(green(), vec![check_run(true)], clean_sources()),
                Passed,
                &[],
            ),
            (
                "a failing test",
                run(
                    report(
                        with(
                            green_after(),
                            1,
                            fail("tests.test_other::test_a", FailureKind::Assertion),
                        ),
                        vec![],
                    ),
                    vec![],
                    clean_sources(),
                ),
                Violation,
                &["verify.failing_test"],
            ),
            (
                "an errored test",
                run(
                    report(
                        with(
                            green_after(),
                            1,
                            test(
                                "tests.test_other::test_a",
                                T::Errored,
                                Some(FailureKind::Error),
                            ),
                        ),
                        vec![],
                    ),
                    vec![],
                    clean_sources(),
                ),
                Violation,
                &["verify.failing_test"],
            ),
            (
                "a problem",
                run(
                    report(
                        green_after(),
                        vec![problem(FailureKind::Collection, "tests.test_more")],
                    ),
                    vec![],
                    clean_sources(),
                ),
                Violation,
                &["verify.problem"],
            ),
            (
                "no tests",
                run(report(vec![], vec![]), vec![], clean_sources()),
                Violation,
                &["verify.no_tests"],
            ),
            (
                "a check failed",
                run(green(), vec![check_run(false)], clean_sources()),
                Violation,
                &["verify.check_failed"],
            ),
            (
                "a placeholder",
                run(
                    green(),
                    vec![],
                    with_source(
                        "calc.py",
                        "def power(a, b):\n    raise NotImplementedError\n",
                    ),
                ),
                Violation,
                &["verify.placeholder"],
            ),
            (
                "an assertion-free test",
                run(
                    green(),
                    vec![],
                    with_source("tests/test_calc.py", "def test_power():\n    power(2, 3)\n"),
                ),
                Violation,
                &["verify.assertion_free"],
            ),
            (
                "a mock-only test",
                run(
                    green(),
                    vec![],
                    with_source(
                        "tests/test_calc.py",
                        "def test_power(mocker):\n    m = mocker.patch('calc.pow')\n    power(2, 3)\n    m.assert_called_once_with(2, 3)\n",
                    ),
                ),
                Violation,
                &["verify.mock_only"],
            ),
            (
                "the runner crashed",
                run(
                    report(
                        green_after(),
                        vec![problem(FailureKind::Error, "tests.test_more")],
                    ),
                    vec![],
                    clean_sources(),
                ),
                Infrastructure,
                &["gate.runner_crashed"],
            ),
            (
                "recorded pytest run with failures",
                run(pytest("basics"), vec![], clean_sources()),
                Violation,
                &["verify.failing_test"],
            ),
        ]);
        // A deleted file's old text is not judged.
        let mut e = Evidence::new(green());
        e.sources = with_source("old.py", "def f():\n    pass\n");
        e.changes = vec![Change::new("old.py", ChangeKind::Deleted)];
        assert_eq!(judge(Stage::Verify, &s, &e).outcome, Passed);
        // The finding's place is the subject.
        let v = run(
            green(),
            vec![],
            with_source("calc.py", "def power(a, b):\n    pass\n"),
        );
        assert_eq!(v.reasons[0].subject.as_deref(), Some("calc.py:2"));
    }

    #[test]
    fn merge_rules() {
        let s = py("tests/test_calc.py");
        let merge = |after: TestReport| judge(Stage::Merge, &s, &Evidence::new(after));
        use Outcome::{Passed, Violation};
        check(vec![
            (
                "the task's tests pass on the tip",
                merge(report(green_after(), vec![])),
                Passed,
                &[],
            ),
            (
                "other tests failing are not MERGE's concern",
                merge(report(
                    with(
                        green_after(),
                        1,
                        fail("tests.test_other::test_a", FailureKind::Assertion),
                    ),
                    vec![],
                )),
                Passed,
                &[],
            ),
            (
                "a task test fails on the tip",
                merge(report(
                    with(
                        green_after(),
                        0,
                        fail("tests.test_calc::test_power", FailureKind::Assertion),
                    ),
                    vec![],
                )),
                Violation,
                &["merge.task_failing"],
            ),
            (
                "the task's file does not load",
                merge(report(
                    vec![],
                    vec![problem(missing("power"), "tests.test_calc")],
                )),
                Violation,
                &["merge.task_failing"],
            ),
            (
                "no task test",
                merge(report(green_after()[1..].to_vec(), vec![])),
                Violation,
                &["merge.no_task_tests"],
            ),
        ]);
        assert_eq!(merge(report(green_after(), vec![])).evidence, "1 passed");
    }

    // ---------------------------------------------------------------------------
    // Anti-stub heuristics

    fn findings(path: &str, text: &str) -> Vec<(u32, FindingKind)> {
        let language = stubs::language_of(path).expect("a source file");
        stubs::scan(language, path, text)
            .into_iter()
            .map(|f| (f.line, f.kind))
            .collect()
    }

    /// (path, source, expected (line, kind) findings)
    type StubCase<'a> = (&'a str, &'a str, &'a [(u32, FindingKind)]);

    #[test]
    fn stubs_per_language() {
        use FindingKind::{AssertionFree, MockOnly, Placeholder};
        let cases: &[StubCase<'_>] = &[
            // Python placeholders
            ("a.py", "def f():\n    pass\n", &[(2, Placeholder)]),
            (
                "a.py",
                "def f():\n    \"\"\"Docs.\"\"\"\n    ...\n",
                &[(3, Placeholder)],
            ),
            (
                "a.py",
                "async def f(x):\n    raise NotImplementedError(\"later\")\n",
                &[(2, Placeholder)],
            ),
            ("a.py", "def f(): pass\n", &[(1, Placeholder)]),
            (
                "a.py",
                "def f(x):\n    if x:\n        return 1\n    raise NotImplementedError\n",
                &[(4, Placeholder)],
            ),
            (
                "a.py",
                "def f(x):\n    if x is None:\n        raise NotImplementedError('no None')\n    return x\n",
                &[],
            ),
            (
                "a.py",
                "class E(Exception):\n    pass\n\ndef f(x):\n    return x  # pass\n",
                &[],
            ),
            (
                "a.py",
                "def f(\n    a,\n    b,\n):\n    return a + b\n",
                &[],
            ),
            (
                "a.py",
                "def f(): return 1\nclass A:\n    x = 1\n\ndef g(a: int = 1) -> dict[str, int]: ...\n",
                &[(5, Placeholder)],
            ),
            (
                "tests/test_a.py",
                "def test_a(): assert f() == 1\ndef test_b(): f()\n",
                &[(2, AssertionFree)],
            ),
            // Python tests
            (
                "tests/test_a.py",
                "def test_a():\n    assert f() == 1\n",
                &[],
            ),
            (
                "tests/test_a.py",
                "def test_a():\n    with pytest.raises(ValueError):\n        f()\n",
                &[],
            ),
            (
                "tests/test_a.py",
                "class T(unittest.TestCase):\n    def test_a(self):\n        self.assertEqual(f(), 1)\n",
                &[],
            ),
            (
                "tests/test_a.py",
                "def test_a():\n    f()\n",
                &[(1, AssertionFree)],
            ),
            (
                "tests/test_a.py",
                "async def test_a():\n    await f()\n",
                &[(1, AssertionFree)],
            ),
            (
                "tests/test_a.py",
                "def test_a():\n    m = Mock()\n    f(m)\n    m.assert_called_once()\n",
                &[(1, MockOnly)],
            ),
            (
                "tests/test_a.py",
                "def test_a():\n    m = Mock()\n    f(m)\n    assert m.call_count == 1\n    assert m.called\n",
                &[(1, MockOnly)],
            ),
            (
                "tests/test_a.py",
                "def test_a():\n    m = Mock()\n    assert f(m) == 2\n    m.assert_called_once()\n",
                &[],
            ),
            ("tests/test_a.py", "def helper():\n    return 1\n", &[]),
            // Rust
            (
                "src/lib.rs",
                "pub fn f() -> u32 {\n    todo!()\n}\n",
                &[(2, Placeholder)],
            ),
            (
                "src/lib.rs",
                "pub fn f() -> u32 {\n    unimplemented!(\"later\")\n}\n",
                &[(2, Placeholder)],
            ),
            (
                "src/lib.rs",
                "pub fn f() -> u32 {\n    // todo!() later\n    let s = \"todo!()\";\n    1\n}\n",
                &[],
            ),
            (
                "tests/a.rs",
                "#[test]\nfn adds() {\n    assert_eq!(add(1, 1), 2);\n}\n",
                &[],
            ),
            (
                "tests/a.rs",
                "#[test]\n#[should_panic(expected = \"zero\")]\nfn divides() {\n    div(1, 0);\n}\n",
                &[],
            ),
            (
                "tests/a.rs",
                "#[test]\nfn parses() -> Result<(), Error> {\n    parse(\"1\")?;\n    Ok(())\n}\n",
                &[],
            ),
            (
                "tests/a.rs",
                "#[tokio::test]\nasync fn runs() {\n    run().await;\n}\n",
                &[(2, AssertionFree)],
            ),
            (
                "tests/a.rs",
                "#[test]\nfn adds() {\n    let _ = add(1, 1);\n}\n\n#[test]\nfn subs() {\n    assert!(sub(1, 1) == 0);\n}\n",
                &[(2, AssertionFree)],
            ),
            (
                "src/lib.rs",
                "#[cfg(test)]\nmod tests {\n    fn helper() {}\n}\n",
                &[],
            ),
            // Go
            (
                "calc.go",
                "func Power(a, b int) int {\n\tpanic(\"not implemented\")\n}\n",
                &[(2, Placeholder)],
            ),
            (
                "calc.go",
                "func Power(a, b int) int {\n\tpanic(\"TODO: write it\")\n}\n",
                &[(2, Placeholder)],
            ),
            (
                "calc.go",
                "func Power(a, b int) int {\n\tif b < 0 {\n\t\tpanic(\"negative exponent\")\n\t}\n\treturn 1\n}\n",
                &[],
            ),
            (
                "calc_test.go",
                "func TestPower(t *testing.T) {\n\tif Power(2, 3) != 8 {\n\t\tt.Errorf(\"wrong\")\n\t}\n}\n",
                &[],
            ),
            (
                "calc_test.go",
                "func TestPower(t *testing.T) {\n\tt.Run(\"a\", func(st *testing.T) {\n\t\tif Power(2, 3) != 8 {\n\t\t\tst.Fatal(\"wrong\")\n\t\t}\n\t})\n}\n",
                &[],
            ),
            (
                "calc_test.go",
                "func TestPower(t *testing.T) {\n\tcheck(t, Power(2, 3), 8)\n}\n",
                &[],
            ),
            (
                "calc_test.go",
                "func TestPower(t *testing.T) {\n\tassert.Equal(t, 8, Power(2, 3))\n}\n",
                &[],
            ),
            (
                "calc_test.go",
                "func TestPower(t *testing.T) {\n\t_ = Power(2, 3)\n\tif err := run(); err != nil {\n\t\tlog.Print(err.Error())\n\t}\n}\n",
                &[(1, AssertionFree)],
            ),
            // TypeScript
            (
                "src/calc.ts",
                "export function power(a: number, b: number): number {\n  throw new Error(\"not implemented\");\n}\n",
                &[(2, Placeholder)],
            ),
            (
                "src/calc.ts",
                "export function power(): number {\n  throw new Error('TODO');\n}\n",
                &[(2, Placeholder)],
            ),
            (
                "src/calc.ts",
                "export function power(b: number): number {\n  if (b < 0) throw new Error(\"negative exponent\");\n  return 1;\n}\n",
                &[],
            ),
            (
                "tests/calc.test.ts",
                "test(\"power\", () => {\n  expect(power(2, 3)).toBe(8);\n});\n",
                &[],
            ),
            (
                "tests/calc.test.ts",
                "it(\"power\", () => expect(power(2, 3)).toBe(8));\n",
                &[],
            ),
            (
                "tests/calc.test.ts",
                "describe(\"calc\", () => {\n  it(\"power\", () => {\n    power(2, 3);\n  });\n  it(\"add\", () => {\n    assert.equal(add(1, 1), 2);\n  });\n});\n",
                &[(2, AssertionFree)],
            ),
            (
                "tests/calc.test.ts",
                "test.todo(\"later\");\ntest.skip(\"skipped\", () => {});\n",
                &[],
            ),
        ];
        let mut wrong = Vec::new();
        for (path, text, expected) in cases {
            let got = findings(path, text);
            if got != *expected {
                wrong.push(format!(
                    "{path}:\n{text}\nexpected {expected:?}, got {got:?}"
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
    }

    #[test]
    fn stub_findings_name_file_line_and_say_what_to_do() {
        let f = stubs::scan(Language::Python, "calc.py", "def power(a, b):\n    pass\n");
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].file.as_str(), f[0].line), ("calc.py", 2));
        assert!(f[0].message.contains("power") && f[0].message.contains("implement"));
        assert_eq!(stubs::language_of("pyproject.toml"), None);
        assert_eq!(stubs::language_of("a/b.tsx"), Some(Language::Typescript));
    }
}

/// The constant-return scan on every Python file of the fixtures and every
/// Python file a fixture's solution or worker script writes, each taken as
/// new (its strictest reading): no finding, so none of the fixtures'
/// honest code is mistaken for a hard-coded answer.
#[test]
fn the_constant_return_scan_finds_nothing_in_the_fixtures() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() && name != "node_modules" && name != "target" {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "py") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path.display().to_string(), text));
            } else if path.extension().is_some_and(|e| e == "toml") {
                // Solutions and worker scripts: `"path.py" = "text"` pairs.
                let value: toml::Value =
                    toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                python_in(&value, &path.display().to_string(), &mut files);
            }
        }
    }
    assert!(files.len() >= 10, "{}", files.len());
    eprintln!("{} Python files of the fixtures scanned", files.len());
    let found: Vec<String> = files
        .iter()
        .flat_map(|(path, text)| stubs::constant_returns(Language::Python, path, None, text))
        .map(|f| format!("{}:{}: {}", f.file, f.line, f.message))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}

/// Every `"<file>.py" = "<text>"` pair in a TOML value, named by where it is.
fn python_in(value: &toml::Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                match value {
                    toml::Value::String(text) if key.ends_with(".py") => {
                        out.push((format!("{at}: {key}"), text.clone()));
                    }
                    _ => python_in(value, at, out),
                }
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|v| python_in(v, at, out)),
        _ => {}
    }
}
