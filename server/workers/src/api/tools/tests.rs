//! The tools' permissions and results, as the model sees them.

use super::*;

fn root(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tdd-api-tools-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::write(dir.join("src/a.py"), "x = 1\nx = 1\ny = 2\n").unwrap();
    dir
}

#[test]
fn writes_only_the_writable_paths_inside_the_worktree() {
    let dir = root("perm");
    let writable = vec!["src/a.py".to_string(), "tests/test_a.py".to_string()];
    let tools = Tools::new(&dir, &writable);
    let write = |path: &str| tools.run("write_file", &json!({"path": path, "content": "z"}));
    assert!(!write("tests/test_a.py").is_error);
    assert_eq!(
        fs::read_to_string(dir.join("tests/test_a.py")).unwrap(),
        "z"
    );
    assert!(!write("./src/a.py").is_error);
    for (path, says) in [
        ("src/b.py", "not writable"),
        ("../a.py", "contains `..`"),
        ("/etc/passwd", "absolute"),
        ("", "empty"),
    ] {
        let out = write(path);
        assert!(
            out.is_error && out.content.contains(says),
            "{path}: {out:?}"
        );
    }
    let out = tools.run("read_file", &json!({"path": "../../etc/passwd"}));
    assert!(out.is_error, "{out:?}");
    let out = tools.run("delete_everything", &json!({}));
    assert!(
        out.is_error && out.content.contains("unknown tool"),
        "{out:?}"
    );
}

#[test]
fn a_symlink_out_of_the_worktree_is_refused() {
    let dir = root("link");
    let outside = root("outside");
    std::os::unix::fs::symlink(&outside, dir.join("out")).unwrap();
    let writable = vec!["out/a.py".to_string()];
    let tools = Tools::new(&dir, &writable);
    let out = tools.run("read_file", &json!({"path": "out/a.py"}));
    assert!(out.is_error && out.content.contains("outside"), "{out:?}");
    let out = tools.run("write_file", &json!({"path": "out/a.py", "content": "w"}));
    assert!(out.is_error && out.content.contains("outside"), "{out:?}");
    assert_eq!(
        fs::read_to_string(outside.join("src/a.py")).unwrap(),
        "x = 1\nx = 1\ny = 2\n"
    );
}

#[test]
fn edit_needs_exactly_one_match_and_list_shows_files() {
    let dir = root("edit");
    let writable = vec!["src/a.py".to_string()];
    let tools = Tools::new(&dir, &writable);
    let edit = |search: &str| {
        tools.run(
            "edit_file",
            &json!({"path": "src/a.py", "search": search, "replace": "y = 3"}),
        )
    };
    assert!(edit("x = 1").content.contains("2 times"));
    assert!(edit("z = 0").content.contains("not found"));
    assert!(!edit("y = 2").is_error);
    assert_eq!(
        fs::read_to_string(dir.join("src/a.py")).unwrap(),
        "x = 1\nx = 1\ny = 3\n"
    );
    let listed = tools.run("list_files", &json!({"dir": "."}));
    assert_eq!(listed.content, "src/a.py");
}

#[test]
fn search_finds_literal_text_skipping_build_dirs_and_binaries() {
    let dir = root("search");
    fs::create_dir_all(dir.join("target/debug")).unwrap();
    fs::write(dir.join("target/debug/x.py"), "x = 1\n").unwrap();
    fs::create_dir_all(dir.join("node_modules/m")).unwrap();
    fs::write(dir.join("node_modules/m/x.js"), "x = 1\n").unwrap();
    fs::write(dir.join("src/blob.bin"), b"x = 1\0\xff").unwrap();
    fs::write(dir.join("src/b.py"), "def f(x = 1):\n    return x\n").unwrap();
    let writable = Vec::new();
    let tools = Tools::new(&dir, &writable);
    let out = tools.run("search_text", &json!({"pattern": "x = 1"}));
    assert!(!out.is_error, "{out:?}");
    assert_eq!(
        out.content,
        "src/a.py:1: x = 1\nsrc/a.py:2: x = 1\nsrc/b.py:1: def f(x = 1):"
    );
    let out = tools.run(
        "search_text",
        &json!({"pattern": "x = 1", "path": "src/b.py"}),
    );
    assert_eq!(out.content, "src/b.py:1: def f(x = 1):");
    let out = tools.run("search_text", &json!({"pattern": "nowhere"}));
    assert!(!out.is_error && out.content.contains("no line"), "{out:?}");
    for (input, says) in [
        (json!({"pattern": ""}), "empty"),
        (json!({"pattern": "x", "path": "../"}), "`..`"),
        (json!({}), "pattern"),
    ] {
        let out = tools.run("search_text", &input);
        assert!(out.is_error && out.content.contains(says), "{out:?}");
    }
}

#[test]
fn search_results_are_bounded() {
    let dir = root("search-many");
    let long = format!("needle {}\n", "y".repeat(1_000));
    fs::write(dir.join("src/many.py"), long.repeat(300)).unwrap();
    let writable = Vec::new();
    let out = Tools::new(&dir, &writable).run("search_text", &json!({"pattern": "needle"}));
    assert!(out.content.contains("stopped at 100 matches"), "{out:?}");
    assert!(out.content.len() < 30_000, "{}", out.content.len());
}

/// A probe whose "runner" writes a fixed JUnit report: one pass, one
/// assertion failure.
fn probe() -> TestProbe {
    let xml = "<testsuites><testsuite name=\"pytest\" tests=\"2\">\
               <testcase classname=\"tests.test_a\" name=\"test_ok\"/>\
               <testcase classname=\"tests.test_a\" name=\"test_bad\">\
               <failure message=\"assert 1 == 2\">assert 1 == 2</failure></testcase>\
               </testsuite></testsuites>";
    let layout = tdd_core::config::Layout {
        language: tdd_core::config::Language::Python,
        source_root: "src".to_string(),
        test_root: "tests".to_string(),
        test_command: format!("printf '%s' '{xml}' > {{junit}}"),
    };
    TestProbe::new(layout, vec!["tests/test_a.py".to_string()])
}

#[test]
fn run_tests_is_offered_with_a_probe_and_summarises_the_report() {
    let dir = root("run-tests");
    let writable = Vec::new();
    let without = Tools::new(&dir, &writable);
    assert!(!without.specs().iter().any(|s| s.name == "run_tests"));
    let out = without.run("run_tests", &json!({}));
    assert!(
        out.is_error && out.content.contains("unknown tool"),
        "{out:?}"
    );
    let probe = probe();
    let tools = Tools::new(&dir, &writable).with_tests(Some(&probe));
    let names: Vec<&str> = tools.specs().iter().map(|s| s.name).collect();
    assert_eq!(names.last(), Some(&"finish"));
    assert!(names.contains(&"run_tests"), "{names:?}");
    let out = tools.run("run_tests", &json!({}));
    assert!(!out.is_error, "{out:?}");
    assert!(
        out.content.starts_with("1 passed, 1 failed"),
        "{}",
        out.content
    );
    assert!(
        out.content
            .contains("- tests.test_a::test_bad [assertion]: assert 1 == 2"),
        "{}",
        out.content
    );
}

#[test]
fn a_run_that_cannot_report_is_an_error_the_model_reads() {
    let dir = root("run-tests-broken");
    let mut probe = probe();
    probe.layout.test_command = "true {junit}".to_string();
    let writable = Vec::new();
    let out = Tools::new(&dir, &writable)
        .with_tests(Some(&probe))
        .run("run_tests", &json!({}));
    assert!(
        out.is_error && out.content.contains("could not be run"),
        "{out:?}"
    );
}

#[test]
fn the_report_summary_is_bounded() {
    use tdd_gates::report::{Failure, FailureKind, Outcome, Runner, TestReport, TestResult};
    let mut report = TestReport::new(Runner::Pytest);
    for i in 0..50 {
        report.tests.push(TestResult {
            id: format!("tests.test_a::test_{i}_{}", "n".repeat(500)),
            file: None,
            name: format!("test_{i}"),
            outcome: Outcome::Failed,
            failure: Some(Failure {
                kind: FailureKind::MissingSymbol {
                    symbol: "mul".to_string(),
                },
                message: "m".repeat(5_000),
                location: None,
            }),
            duration_ms: None,
        });
    }
    let text = report::summarize(&report);
    assert!(text.starts_with("0 passed, 50 failed"), "{text}");
    assert!(text.contains("[missing symbol `mul`]"), "{text}");
    assert!(text.contains("- … and 44 more"), "{text}");
    assert!(text.len() < 16_000, "{}", text.len());
}
