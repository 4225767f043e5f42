//! Running a project's tests and parsing the runner's report. Each language
//! gets its runner's machine-readable output, always set explicitly:
//! pytest `--junitxml` (with `--continue-on-collection-errors`), `cargo test` (stdout and stderr apart),
//! `go test -json` (with `2>&1`: Go before 1.24 prints build errors on
//! stderr), vitest `--reporter=json`.
//!
//! cargo runs no test at all when one target does not compile (the usual RED
//! state: the task's test calls code not written yet). A whole-suite run that
//! stopped that way is run again without the broken test targets, so the
//! report still shows how every other test fares; the gates need that to see
//! a GREEN that breaks an earlier test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tdd_core::config::{Language, Layout};
use tdd_gates::report::{self, TestReport};

use crate::process::{self, CancelToken, Ending, Finished, Spec};

#[derive(Debug, thiserror::Error)]
pub enum TestRunError {
    #[error("could not start `{command}` in {dir}: {source}")]
    Spawn {
        command: String,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("`{command}` ran past its {timeout:?} limit and was stopped")]
    TimedOut { command: String, timeout: Duration },
    #[error("`{command}` was cancelled")]
    Cancelled { command: String },
    #[error("`{command}` gave no usable report ({reason}); last output:\n{tail}")]
    NoReport {
        command: String,
        reason: String,
        tail: String,
    },
}

/// A finished run: the parsed report and what the process did.
#[derive(Clone, Debug)]
pub struct TestRun {
    pub command: String,
    pub report: TestReport,
    pub finished: Finished,
    /// Where the report was taken from instead of running the tests again
    /// (the same files were tested there), e.g. `green of REQ-1/AC-1.1`.
    pub reused: Option<String>,
}

/// Quotes a path or argument for `sh -c`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// In a configured test command, where the engine's JUnit XML report path
/// goes: a command holding it is run as it is (any language, any runner)
/// and judged from that file.
pub const JUNIT_PLACEHOLDER: &str = "{junit}";

fn generic_junit(layout: &Layout) -> bool {
    layout.test_command.contains(JUNIT_PLACEHOLDER)
}

/// The command line for `layout`, limited to `only` (test files) when given.
fn command(layout: &Layout, only: &[String], report: Option<&Path>) -> String {
    let base = layout.test_command.trim();
    if generic_junit(layout) {
        // The whole suite: a generic runner has no file filter we know of.
        let report = report
            .map(|p| quote(&p.display().to_string()))
            .unwrap_or_default();
        return base.replace(JUNIT_PLACEHOLDER, &report);
    }
    let files = only.iter().map(|f| quote(f)).collect::<Vec<_>>().join(" ");
    match layout.language {
        Language::Python => {
            let report = report
                .map(|p| quote(&p.display().to_string()))
                .unwrap_or_default();
            // One import error would otherwise interrupt the whole run, hiding every other test.
            format!(
                "{base} -q -p no:cacheprovider --continue-on-collection-errors --junitxml={report} {files}"
            )
        }
        Language::Rust => {
            // `tests/foo.rs` is the integration-test target `foo`.
            let targets: Vec<String> = only
                .iter()
                .filter_map(|f| {
                    Path::new(f)
                        .file_stem()
                        .map(|s| format!("--test {}", quote(&s.to_string_lossy())))
                })
                .collect();
            format!("{base} --no-fail-fast {}", targets.join(" "))
        }
        Language::Go => {
            let packages = base
                .strip_prefix("go test")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .unwrap_or("./...");
            format!("go test -json {packages} 2>&1")
        }
        Language::Typescript => {
            let report = report
                .map(|p| quote(&p.display().to_string()))
                .unwrap_or_default();
            format!("{base} --reporter=json --outputFile={report} {files}")
        }
    }
}

/// Runs the tests of the project in `dir` and parses the report.
pub fn run_tests(
    layout: &Layout,
    dir: &Path,
    only: &[String],
    env: Vec<(String, String)>,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<TestRun, TestRunError> {
    let extension = match layout.language {
        _ if generic_junit(layout) => Some("xml"),
        Language::Python => Some("xml"),
        Language::Typescript => Some("json"),
        Language::Rust | Language::Go => None,
    };
    let report_file = extension
        .map(crate::report_file::report_path)
        .transpose()
        .map_err(|source| TestRunError::Spawn {
            command: layout.test_command.clone(),
            dir: dir.to_path_buf(),
            source,
        })?;
    let command = command(layout, only, report_file.as_deref());
    let mut env = env;
    // Worktrees of one crate must not share a target directory: cargo does not
    // hash the source path into a workspace member's artifacts, so a build in
    // one worktree passes for fresh in another (seen with a global
    // CARGO_TARGET_DIR). Each worktree builds in its own, unless the caller chose.
    if layout.language == Language::Rust && !env.iter().any(|(k, _)| k == "CARGO_TARGET_DIR") {
        env.push((
            "CARGO_TARGET_DIR".to_string(),
            dir.join("target").display().to_string(),
        ));
    }
    let spec = Spec {
        command: command.clone(),
        cwd: dir.to_path_buf(),
        env,
        timeout,
    };
    let finished =
        process::run_without_keys(&spec, cancel).map_err(|source| TestRunError::Spawn {
            command: command.clone(),
            dir: dir.to_path_buf(),
            source,
        })?;
    match finished.ending {
        // (Test runs have no idle limit.)
        Ending::TimedOut | Ending::Idle => return Err(TestRunError::TimedOut { command, timeout }),
        Ending::Cancelled => return Err(TestRunError::Cancelled { command }),
        Ending::Exited(_) | Ending::Signalled(_) => {}
    }
    let file_text = report_file
        .as_ref()
        .map(|p| match std::fs::read_to_string(p) {
            Ok(text) if text.is_empty() => {
                Err(std::io::Error::other(format!("{} is empty", p.display())))
            }
            read => read,
        });
    let parsed = match (layout.language, file_text) {
        (_, Some(Err(e))) => Err(format!("the runner wrote no report file: {e}")),
        (_, Some(Ok(xml))) if generic_junit(layout) => {
            report::junit_xml(&xml).map_err(|e| e.to_string())
        }
        (Language::Python, Some(Ok(xml))) => report::junit_xml(&xml).map_err(|e| e.to_string()),
        (Language::Typescript, Some(Ok(json))) => {
            report::vitest_json(&json).map_err(|e| e.to_string())
        }
        (Language::Rust, _) => {
            report::cargo_test(&finished.stdout, &finished.stderr).map_err(|e| e.to_string())
        }
        (Language::Go, _) => report::go_test_json(&finished.stdout).map_err(|e| e.to_string()),
        (_, None) => Err("no report file was requested".to_string()),
    };
    match parsed {
        Ok(mut report) => {
            if layout.language == Language::Rust && only.is_empty() && !generic_junit(layout) {
                rerun_buildable(layout, dir, &spec.env, timeout, cancel, &mut report);
            }
            Ok(TestRun {
                command,
                report,
                finished,
                reused: None,
            })
        }
        Err(reason) => Err(TestRunError::NoReport {
            command,
            reason,
            tail: tail(&finished),
        }),
    }
}

/// The last lines of output, for an error message.
fn tail(finished: &Finished) -> String {
    let text = format!("{}{}", finished.stdout, finished.stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The test target a cargo build problem is scoped to: `calc (test "add")` → `add`.
fn broken_test_target(scope: &str) -> Option<&str> {
    let rest = &scope[scope.find("(test \"")? + "(test \"".len()..];
    rest.strip_suffix("\")")
}

/// When a cargo run reported no test because test targets did not compile,
/// runs the targets that do build and adds their tests to `report`. Only
/// broken integration-test targets are left out; when the library or a binary
/// does not build, nothing else can run either. Any trouble on the way leaves
/// `report` as it was: the second run can only add what the first could not show.
fn rerun_buildable(
    layout: &Layout,
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
    cancel: &CancelToken,
    report: &mut TestReport,
) {
    if !report.tests.is_empty() || report.problems.is_empty() {
        return;
    }
    let mut broken = Vec::new();
    for problem in &report.problems {
        match problem.scope.as_deref().and_then(broken_test_target) {
            Some(target) => broken.push(target.to_string()),
            None => return,
        }
    }
    let Some(targets) = cargo_targets(dir, env, timeout, cancel) else {
        return;
    };
    let mut args: Vec<String> = Vec::new();
    if targets.lib {
        args.push("--lib".to_string());
    }
    if targets.bins {
        args.push("--bins".to_string());
    }
    for test in targets.tests.iter().filter(|t| !broken.contains(t)) {
        args.push(format!("--test {}", quote(test)));
    }
    if args.is_empty() {
        return;
    }
    let spec = Spec {
        command: format!(
            "{} --no-fail-fast {}",
            layout.test_command.trim(),
            args.join(" ")
        ),
        cwd: dir.to_path_buf(),
        env: env.to_vec(),
        timeout,
    };
    let Ok(finished) = process::run_without_keys(&spec, cancel) else {
        return;
    };
    if !matches!(finished.ending, Ending::Exited(_)) {
        return;
    }
    if let Ok(rest) = report::cargo_test(&finished.stdout, &finished.stderr) {
        report.tests = rest.tests;
        report.problems.extend(rest.problems);
    }
}

/// The targets of the crate (or workspace members) in `dir`.
#[derive(Debug, Default, PartialEq)]
struct CargoTargets {
    lib: bool,
    bins: bool,
    tests: Vec<String>,
}

fn cargo_targets(
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
    cancel: &CancelToken,
) -> Option<CargoTargets> {
    let spec = Spec {
        command: "cargo metadata --no-deps --format-version 1".to_string(),
        cwd: dir.to_path_buf(),
        env: env.to_vec(),
        timeout,
    };
    let finished = process::run_without_keys(&spec, cancel).ok()?;
    if finished.ending != Ending::Exited(0) {
        return None;
    }
    parse_targets(&finished.stdout)
}

fn parse_targets(metadata: &str) -> Option<CargoTargets> {
    let json: serde_json::Value = serde_json::from_str(metadata).ok()?;
    let mut found = CargoTargets::default();
    for target in json["packages"]
        .as_array()?
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
    {
        let kinds: Vec<&str> = target["kind"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str())
            .collect();
        let name = target["name"].as_str()?;
        if kinds.contains(&"test") {
            found.tests.push(name.to_string());
        } else if kinds.contains(&"bin") {
            found.bins = true;
        } else if kinds
            .iter()
            .any(|k| k.ends_with("lib") || *k == "proc-macro")
        {
            found.lib = true;
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_test_targets_are_read_from_problem_scopes() {
        assert_eq!(
            broken_test_target("calc (test \"multiply\")"),
            Some("multiply")
        );
        assert_eq!(broken_test_target("calc (lib)"), None);
        assert_eq!(broken_test_target("calc (lib test)"), None);
    }

    #[test]
    fn targets_come_from_cargo_metadata() {
        let metadata = r#"{"packages":[{"name":"calc","targets":[
            {"name":"calc","kind":["lib"]},
            {"name":"cli","kind":["bin"]},
            {"name":"add","kind":["test"]},
            {"name":"multiply","kind":["test"]},
            {"name":"bench","kind":["bench"]}]}]}"#;
        assert_eq!(
            parse_targets(metadata),
            Some(CargoTargets {
                lib: true,
                bins: true,
                tests: vec!["add".to_string(), "multiply".to_string()],
            })
        );
        assert_eq!(parse_targets("not json"), None);
    }
}
