//! Unit tests of the parsers and their helpers on small hand-made inputs. The
//! recorded outputs of real runners are tested in `server/gates/tests/it/reports.rs`.

mod classify {
    use crate::report::classify::*;
    use crate::report::text::*;
    use crate::report::{FailureKind, MAX_MESSAGE_BYTES};

    #[test]
    fn missing_symbols_in_every_language() {
        let cases = [
            (
                "ImportError: cannot import name 'power' from 'calc'",
                "power",
            ),
            (
                "ModuleNotFoundError: No module named 'geometry'",
                "geometry",
            ),
            ("NameError: name 'subtract' is not defined", "subtract"),
            (
                "AttributeError: module 'calc' has no attribute 'multiply'",
                "multiply",
            ),
            (
                "SyntaxError: The requested module './calc.js' does not provide an export named 'power'",
                "power",
            ),
            (
                "Error: Cannot find module '../src/geometry' imported from",
                "../src/geometry",
            ),
            (
                "Failed to load url ../src/geometry (resolved id: x)",
                "../src/geometry",
            ),
            ("TypeError: (0 , power) is not a function", "power"),
            (
                "TypeError: (0 , __vi_import_0__.power) is not a function",
                "power",
            ),
            ("TypeError: calc.multiply is not a function", "multiply"),
            ("TypeError: Calculator is not a constructor", "Calculator"),
            ("ReferenceError: subtract is not defined", "subtract"),
            ("undefined: Power", "Power"),
            ("undefined: calc.Power", "Power"),
            (
                "c.Double undefined (type Calculator has no field or method Double)",
                "Double",
            ),
            (
                "no required module provides package example.com/rr/geometry; to add it:",
                "example.com/rr/geometry",
            ),
            (
                "package foo/bar is not in GOROOT (/usr/lib/go/src/foo/bar)",
                "foo/bar",
            ),
            ("cannot find function `multiply` in this scope", "multiply"),
            ("cannot find type `Point` in this scope", "Point"),
            (
                "cannot find struct, variant or union type `Point` in this scope",
                "Point",
            ),
            ("cannot find `matrix` in `calc`", "matrix"),
            ("unresolved import `calc::power`", "power"),
            (
                "failed to resolve: use of undeclared type `Matrix`",
                "Matrix",
            ),
            (
                "failed to resolve: use of undeclared crate or module `matrix`",
                "matrix",
            ),
            ("no method named `size` found for struct `Matrix`", "size"),
            (
                "no function or associated item named `identity` found",
                "identity",
            ),
            ("no field `x` on type `Point`", "x"),
        ];
        for (text, expected) in cases {
            assert_eq!(missing_symbol(text).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn not_missing_symbols() {
        for text in [
            "AttributeError: 'NoneType' object has no attribute 'value'",
            "KeyError: 'name'",
            "assert 4 == 5",
            "TypeError: unsupported operand type(s)",
            "name 'x' is used before assignment",
            "TypeError: ) is not a function",
            "cannot find the configuration file",
        ] {
            assert_eq!(missing_symbol(text), None, "{text}");
        }
    }

    #[test]
    fn exceptions() {
        use FailureKind::*;
        assert_eq!(exception_kind("AssertionError", "x"), Assertion);
        assert_eq!(exception_kind("chai.JestAssertionError", "x"), Assertion);
        assert_eq!(exception_kind("SyntaxError", "invalid syntax"), Syntax);
        assert_eq!(
            exception_kind("IndentationError", "unexpected indent"),
            Syntax
        );
        assert_eq!(
            exception_kind("SyntaxError", "Unexpected token } in JSON at position 1"),
            Error
        );
        assert_eq!(
            exception_kind("ZeroDivisionError", "division by zero"),
            Error
        );
        assert_eq!(
            exception_kind("Error", "Test timed out in 5000ms."),
            Timeout
        );
        assert_eq!(exception_kind("Failed", "Timeout >1.0s"), Timeout);
        assert_eq!(split_exception("KeyError: 'x'"), Some(("KeyError", "'x'")));
        assert_eq!(split_exception("assert 4 == 5"), None);
        assert_eq!(split_exception("Failed: boom"), Some(("Failed", "boom")));
    }

    #[test]
    fn rustc_and_go() {
        use FailureKind::*;
        assert_eq!(rustc_kind(None, "expected expression, found `;`"), Syntax);
        assert_eq!(
            rustc_kind(None, "this file contains an unclosed delimiter"),
            Syntax
        );
        assert_eq!(rustc_kind(Some("E0308"), "mismatched types"), Build);
        assert_eq!(rustc_kind(None, "linking with `cc` failed"), Build);
        assert_eq!(
            go_build_kind("missing ',' before newline in argument list"),
            Syntax
        );
        assert_eq!(go_build_kind("syntax error: unexpected newline"), Syntax);
        assert_eq!(
            go_build_kind("cannot use x (variable of type int) as string"),
            Build
        );
    }

    #[test]
    fn locations() {
        let l = parse_location("tests/basics.rs:10:5").unwrap();
        assert_eq!(
            (l.file.as_str(), l.line, l.column),
            ("tests/basics.rs", 10, Some(5))
        );
        let l = parse_location("tests/test_basics.py:11:").unwrap();
        assert_eq!(
            (l.file.as_str(), l.line, l.column),
            ("tests/test_basics.py", 11, None)
        );
        assert!(parse_location("no location here").is_none());
        assert!(parse_location(":3").is_none());
        let l = js_stack_location(
            "TypeError: x\n    at f (/p/node_modules/a.js:1:1)\n    at g (/p/src/calc.ts:8:11)",
        )
        .unwrap();
        assert_eq!((l.file.as_str(), l.line), ("/p/src/calc.ts", 8));
        let l = python_file_line("E     File \"/p/t.py\", line 4\nE   SyntaxError").unwrap();
        assert_eq!((l.file.as_str(), l.line), ("/p/t.py", 4));
    }

    #[test]
    fn bounded_messages_say_they_were_cut() {
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = bounded(&long);
        assert!(cut.len() < MAX_MESSAGE_BYTES + 64);
        assert!(cut.ends_with("more bytes]"));
        assert_eq!(bounded("  short\n"), "short");
        assert_eq!(strip_ansi("\u{1b}[31merror\u{1b}[0m: x"), "error: x");
    }
}

mod junit {
    use crate::report::*;

    #[test]
    fn generic_junit() {
        let xml = r#"<?xml version="1.0"?>
<testsuite name="suite" tests="3">
  <testcase classname="com.acme.CalcTest" name="adds" time="0.012"/>
  <testcase classname="com.acme.CalcTest" name="divides" time="0.5">
    <failure message="expected:&lt;2&gt; but was:&lt;3&gt;" type="org.opentest4j.AssertionFailedError">trace &amp; more</failure>
  </testcase>
  <testcase classname="com.acme.CalcTest" name="boom">
    <error message="boom" type="java.lang.IllegalStateException"><![CDATA[at x]]></error>
    <system-out>noise</system-out>
  </testcase>
  <testcase classname="com.acme.CalcTest" name="later"><skipped/></testcase>
</testsuite>"#;
        let report = junit_xml(xml).unwrap();
        assert_eq!(report.runner, Runner::Junit);
        let s = report.summary();
        assert_eq!((s.passed, s.failed, s.errored, s.skipped), (1, 1, 1, 1));
        let divides = report.test("com.acme.CalcTest::divides").unwrap();
        let failure = divides.failure.as_ref().unwrap();
        assert_eq!(failure.kind, FailureKind::Assertion);
        assert_eq!(failure.message, "expected:<2> but was:<3>\n\ntrace & more");
        assert_eq!(divides.duration_ms, Some(500));
        let boom = report.test("com.acme.CalcTest::boom").unwrap();
        assert_eq!(boom.failure.as_ref().unwrap().kind, FailureKind::Error);
        assert_eq!(boom.failure.as_ref().unwrap().message, "boom\n\nat x");
    }

    #[test]
    fn pytest_line_attribute_at_the_limit() {
        let xml = r#"<testsuite name="pytest"><testcase classname="c" name="t" file="f.py" line="4294967295"><failure message="m">no traceback</failure></testcase></testsuite>"#;
        let report = junit_xml(xml).unwrap();
        let location = report.tests[0].failure.as_ref().unwrap().location.clone();
        assert_eq!(location.map(|l| l.line), Some(u32::MAX));
    }

    #[test]
    fn malformed_xml_is_an_error_with_a_position() {
        let err = junit_xml("<testsuite>\n  <testcase name=\"a\">\n</testsuite>").unwrap_err();
        assert_eq!(err.format, ReportFormat::JunitXml);
        assert!(err.position.is_some(), "{err}");
        let err = junit_xml("<testsuite><testcase name=\"a\">").unwrap_err();
        assert!(err.message.contains("cut short"), "{err}");
        let err = junit_xml("<html><body/></html>").unwrap_err();
        assert!(err.message.contains("not a JUnit report"), "{err}");
        assert!(junit_xml("").is_err());
        assert!(junit_xml("<testsuite/>").unwrap().tests.is_empty());
    }
}

mod cargo {
    use crate::report::*;

    #[test]
    fn old_panic_format_and_crash() {
        let stdout = "\nrunning 3 tests\ntest a ... FAILED\ntest b ... ok\ntest c ... \n\n\
            failures:\n\n---- a stdout ----\nthread 'a' panicked at 'assertion failed: x', src/lib.rs:3:5\n\n\
            failures:\n    a\n\ntest result: FAILED. 1 passed; 1 failed\n\nrunning 2 tests\n\
            test slow ... has been running for over 60 seconds\ntest d ... ";
        let stderr = "     Running unittests src/lib.rs (target/debug/deps/x-1)\n\
            error: test failed, to rerun pass `--lib`\n     Running tests/t.rs (target/debug/deps/t-2)\n\
            error: test failed, to rerun pass `--test t`\n\nCaused by:\n  process didn't exit successfully: `t-2` (signal: 11, SIGSEGV: invalid memory reference)\n";
        let report = cargo_test(stdout, stderr).unwrap();
        let a = report.test("src/lib.rs::a").unwrap();
        let failure = a.failure.as_ref().unwrap();
        assert_eq!(failure.kind, FailureKind::Assertion);
        assert_eq!(failure.location.as_ref().unwrap().line, 3);
        let c = report.test("src/lib.rs::c").unwrap();
        assert_eq!(c.outcome, Outcome::Errored);
        let slow = report.test("tests/t.rs::slow").unwrap();
        assert_eq!(slow.failure.as_ref().unwrap().kind, FailureKind::Timeout);
        assert_eq!(report.problems.len(), 1);
        assert!(report.problems[0].message.contains("SIGSEGV"));
        assert_eq!(report.problems[0].scope.as_deref(), Some("tests/t.rs"));
    }

    #[test]
    fn old_multiline_assert_eq_panic() {
        let stdout = "running 1 test\ntest a ... FAILED\n\nfailures:\n\n---- a stdout ----\n\
            thread 'a' panicked at 'assertion failed: `(left == right)`\n  left: `1`,\n right: `2`', \
            tests/t.rs:7:5\nnote: run with `RUST_BACKTRACE=1`\n\nfailures:\n    a\n\ntest result: FAILED. 0 passed; 1 failed\n";
        let report = cargo_test(stdout, "").unwrap();
        let failure = report.tests[0].failure.as_ref().unwrap();
        assert_eq!(failure.kind, FailureKind::Assertion);
        assert_eq!(failure.location.as_ref().map(|l| l.line), Some(7));
    }

    #[test]
    fn nothing_recognisable_is_an_error() {
        let err = cargo_test("hello", "world").unwrap_err();
        assert_eq!(err.format, ReportFormat::CargoTest);
        assert!(cargo_test("", "").is_err());
        let report = cargo_test("", "error: could not find `Cargo.toml` in `/x`\n").unwrap();
        assert_eq!(report.problems[0].kind, FailureKind::Build);
    }

    #[test]
    fn nocapture_result_on_a_later_line() {
        let stdout =
            "running 1 test\ntest a ... some printed text\nok\ntest result: ok. 1 passed\n";
        let report = cargo_test(stdout, "").unwrap();
        assert_eq!(report.tests[0].outcome, Outcome::Passed);
        assert_eq!(report.tests[0].id, "a");
    }
}

mod go {
    use crate::report::*;

    #[test]
    fn go_1_24_build_events() {
        let text = r##"{"ImportPath":"m/x [m/x.test]","Action":"build-output","Output":"# m/x [m/x.test]\n"}
{"ImportPath":"m/x [m/x.test]","Action":"build-output","Output":"x/x_test.go:3:11: undefined: y\n"}
{"ImportPath":"m/x [m/x.test]","Action":"build-fail"}
{"Action":"start","Package":"m/x"}
{"Action":"output","Package":"m/x","Output":"FAIL\tm/x [build failed]\n"}
{"Action":"fail","Package":"m/x","Elapsed":0,"FailedBuild":"m/x [m/x.test]"}"##;
        let report = go_test_json(text).unwrap();
        assert!(report.tests.is_empty());
        assert_eq!(report.problems.len(), 1);
        let p = &report.problems[0];
        assert_eq!(p.kind, FailureKind::MissingSymbol { symbol: "y".into() });
        assert_eq!(p.scope.as_deref(), Some("m/x"));
        assert_eq!(p.location.as_ref().unwrap().line, 3);
    }

    #[test]
    fn stdout_alone_still_reports_the_build_failure() {
        let report = go_test_json("FAIL\tm/x [build failed]\n").unwrap();
        assert_eq!(report.problems[0].kind, FailureKind::Build);
        assert_eq!(report.problems[0].scope.as_deref(), Some("m/x"));
    }

    #[test]
    fn garbage_is_an_error_with_a_position() {
        let err = go_test_json("hello\n{\"Action\": 3}\n").unwrap_err();
        assert_eq!(err.format, ReportFormat::GoTestJson);
        assert_eq!(err.position.map(|p| p.line), Some(2));
        assert!(go_test_json("").is_err());
    }

    #[test]
    fn unfinished_test_is_errored() {
        let text = r#"{"Action":"run","Package":"m","Test":"TestSlow"}
{"Action":"output","Package":"m","Output":"panic: test timed out after 1s\n"}
{"Action":"fail","Package":"m","Elapsed":1}"#;
        let report = go_test_json(text).unwrap();
        let t = &report.tests[0];
        assert_eq!(t.outcome, Outcome::Errored);
        assert_eq!(t.failure.as_ref().unwrap().kind, FailureKind::Timeout);
        assert!(report.problems.is_empty());
    }
}

mod vitest {
    use crate::report::*;

    #[test]
    fn jest_shape_with_nulls_and_noise_before() {
        let text = "some log line\n{\"testResults\":[{\"name\":\"/p/a.test.ts\",\"status\":\"failed\",\
            \"message\":\"\",\"assertionResults\":[{\"ancestorTitles\":[\"g\"],\"title\":\"t\",\
            \"status\":\"failed\",\"duration\":null,\"location\":null,\"failureMessages\":\
            [\"ReferenceError: area is not defined\\n    at /p/a.test.ts:3:5\"]}]}]}\ntrailing";
        let report = vitest_json(text).unwrap();
        let t = report.test("/p/a.test.ts::g > t").unwrap();
        let failure = t.failure.as_ref().unwrap();
        assert_eq!(
            failure.kind,
            FailureKind::MissingSymbol {
                symbol: "area".into()
            }
        );
        assert_eq!(failure.location.as_ref().unwrap().line, 3);
    }

    #[test]
    fn malformed_is_an_error_with_a_position() {
        let err = vitest_json("{\"testResults\": [1]}").unwrap_err();
        assert_eq!(err.format, ReportFormat::VitestJson);
        assert_eq!(err.position.map(|p| p.line), Some(1));
        assert!(vitest_json("").is_err());
        assert!(vitest_json("{\"numTotalTests\": 0}").is_err());
        let err = vitest_json("x\n{\"testResults\": [").unwrap_err();
        assert_eq!(err.position.map(|p| p.line), Some(2));
    }
}
