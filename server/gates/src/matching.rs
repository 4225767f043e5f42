//! Which tests, problems and paths belong to a task.
//!
//! Runners name things differently, so a task test file `tests/test_calc.py`,
//! `tests/calc.rs`, `calc/calc_test.go` or `tests/calc.test.ts` is matched
//! against:
//!
//! | what | matched when |
//! |---|---|
//! | a path (a test's file, a failure's location, a change) | equal, under it (a directory), or one ends with the other at a `/` (runners print absolute paths, or paths relative to a sub-project) |
//! | a dotted module (pytest: `tests.test_calc`, `tests.test_calc.TestGroup`) | the file's path without its extension, `/` read as `.`, equal to the name or a dotted part of it |
//! | a cargo test target (`calc (test "calc")`) | the quoted target name is the file's stem (`tests/calc.rs`) or its directory (`tests/calc/main.rs`) |
//! | a Go package (`example.com/m/calc`) | the package path ends with the file's directory (a Go test file claims its whole package) |
//!
//! A test belongs to the task when its file or the part of its id before `::`
//! matches; a problem when its location's file or its scope does.

use crate::report::{Problem, TestResult};
use tdd_core::config::Language;

use super::TaskScope;

fn normalize(path: &str) -> &str {
    let path = path.trim();
    let path = path.strip_prefix("./").unwrap_or(path);
    path.trim_end_matches('/')
}

/// `reported` (as a runner printed it) names the task path `task` or a file under it.
pub(crate) fn path_matches(reported: &str, task: &str) -> bool {
    let reported = normalize(reported);
    let task = normalize(task);
    if reported.is_empty() || task.is_empty() {
        return false;
    }
    if reported == task || ends_at(reported, task, '/') || ends_at(task, reported, '/') {
        return true;
    }
    // Under a task directory.
    reported
        .strip_prefix(task)
        .is_some_and(|rest| rest.starts_with('/'))
        || reported.contains(&format!("/{task}/"))
}

/// `long` ends with `short`, and the character before it is `sep`.
fn ends_at(long: &str, short: &str, sep: char) -> bool {
    long.len() > short.len()
        && long.ends_with(short)
        && long[..long.len() - short.len()].ends_with(sep)
}

/// `tests/test_calc.py` → `tests.test_calc`.
fn module_of(path: &str) -> String {
    let path = normalize(path);
    let stem = match path.rfind('.') {
        Some(dot) if dot > path.rfind('/').map_or(0, |s| s + 1) => &path[..dot],
        _ => path,
    };
    stem.replace('/', ".")
}

/// The dotted `name` contains the whole module `module` (a class in it, or a
/// deeper root), or starts with a dotted tail of it (a rootdir further down).
fn dotted_matches(name: &str, module: &str) -> bool {
    if module.is_empty() || name.contains('/') {
        return false;
    }
    let name: Vec<&str> = name.split('.').collect();
    let module: Vec<&str> = module.split('.').collect();
    let whole = name.windows(module.len()).any(|w| w == module.as_slice());
    let tail = (1..module.len()).any(|i| name.starts_with(&module[i..]));
    whole || tail
}

/// `calc (test "calc")` → `calc`.
fn cargo_target(scope: &str) -> Option<&str> {
    let start = scope.find("(test \"")? + "(test \"".len();
    let rest = &scope[start..];
    Some(&rest[..rest.find('"')?])
}

/// The names a cargo test target for `path` could have.
fn target_names(path: &str) -> Vec<&str> {
    let path = normalize(path);
    let mut parts = path.rsplit('/');
    let file = parts.next().unwrap_or(path);
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let mut names = vec![stem];
    if stem == "main" || stem == "mod" {
        names.extend(parts.next());
    }
    names
}

/// The directory of a Go file (`calc/calc_test.go` → `calc`), when it has one.
fn go_dir(path: &str) -> Option<&str> {
    let path = normalize(path);
    path.ends_with(".go")
        .then(|| path.rsplit_once('/').map(|(d, _)| d))?
}

/// A name a runner gives to a file, module, target or package matches `task`.
fn name_matches(name: &str, task: &str) -> bool {
    if path_matches(name, task) {
        return true;
    }
    if let Some(target) = cargo_target(name) {
        return task.ends_with(".rs") && target_names(task).contains(&target);
    }
    if let Some(dir) = go_dir(task)
        && (name == dir || ends_at(name, dir, '/'))
    {
        return true;
    }
    if task.ends_with(".py") {
        return dotted_matches(name, &module_of(task));
    }
    false
}

/// The test belongs to one of the task's test files.
pub fn test_in_scope(test: &TestResult, scope: &TaskScope) -> bool {
    let prefix = test.id.split_once("::").map(|(p, _)| p);
    scope.test_files.iter().any(|task| {
        test.file.as_deref().is_some_and(|f| path_matches(f, task))
            || prefix.is_some_and(|p| name_matches(p, task))
    })
}

/// The problem concerns one of the task's test files.
pub fn problem_in_scope(problem: &Problem, scope: &TaskScope) -> bool {
    scope.test_files.iter().any(|task| {
        problem
            .location
            .as_ref()
            .is_some_and(|l| path_matches(&l.file, task))
            || problem
                .scope
                .as_deref()
                .is_some_and(|s| name_matches(s, task))
    })
}

/// The path is one of the task's test files (or under one).
pub(crate) fn task_test_path(path: &str, scope: &TaskScope) -> bool {
    scope.test_files.iter().any(|t| path_matches(path, t))
}

/// The path is a test file by the language's naming convention: `test_*.py`,
/// `*_test.py`, `conftest.py`; `*_test.go`; `*.test.ts`, `*.spec.js` and the like;
/// Rust files under a `tests/` directory. Files under `tests/` or `__tests__/`
/// count for every language but Go.
pub fn is_test_path(language: Language, path: &str) -> bool {
    let path = normalize(path);
    let file = path.rsplit('/').next().unwrap_or(path);
    let under_tests = path.starts_with("tests/")
        || path.contains("/tests/")
        || path.starts_with("__tests__/")
        || path.contains("/__tests__/");
    let by_name = match language {
        Language::Python => {
            file.ends_with(".py")
                && (file.starts_with("test_")
                    || file.ends_with("_test.py")
                    || file == "conftest.py")
        }
        Language::Go => file.ends_with("_test.go"),
        Language::Rust => false,
        Language::Typescript => [".test.", ".spec."].iter().any(|m| file.contains(m)),
    };
    by_name || (under_tests && language != Language::Go)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_across_roots() {
        assert!(path_matches(
            "/abs/p/tests/calc.test.ts",
            "tests/calc.test.ts"
        ));
        assert!(path_matches("tests/test_x.py", "./tests/test_x.py"));
        assert!(path_matches("tests/unit/test_x.py", "tests/unit"));
        assert!(!path_matches("tests/test_xy.py", "tests/test_x.py"));
        assert!(!path_matches("other/tests/test_y.py", "tests/test_x.py"));
    }

    #[test]
    fn dotted_modules() {
        assert!(name_matches("tests.test_calc", "tests/test_calc.py"));
        assert!(name_matches(
            "tests.test_calc.TestGroup",
            "tests/test_calc.py"
        ));
        assert!(name_matches("test_calc", "tests/test_calc.py"));
        assert!(name_matches("pkg.tests.test_calc", "tests/test_calc.py"));
        assert!(!name_matches("tests.test_calcx", "tests/test_calc.py"));
        assert!(!name_matches("tests.test_other", "tests/test_calc.py"));
    }

    #[test]
    fn cargo_targets_and_go_packages() {
        assert!(name_matches("calc (test \"missing\")", "tests/missing.rs"));
        assert!(name_matches("calc (test \"api\")", "tests/api/main.rs"));
        assert!(!name_matches("calc (test \"missing\")", "tests/basics.rs"));
        assert!(name_matches(
            "example.com/rr/missing",
            "missing/missing_test.go"
        ));
        assert!(!name_matches(
            "example.com/rr/calc",
            "missing/missing_test.go"
        ));
    }

    #[test]
    fn test_paths_by_convention() {
        assert!(is_test_path(Language::Python, "tests/test_a.py"));
        assert!(is_test_path(Language::Python, "pkg/a_test.py"));
        assert!(!is_test_path(Language::Python, "src/calc.py"));
        assert!(is_test_path(Language::Go, "calc/calc_test.go"));
        assert!(!is_test_path(Language::Go, "calc/calc.go"));
        assert!(is_test_path(Language::Rust, "tests/calc.rs"));
        assert!(!is_test_path(Language::Rust, "src/lib.rs"));
        assert!(is_test_path(Language::Typescript, "src/a.spec.ts"));
        assert!(!is_test_path(Language::Typescript, "src/a.ts"));
    }
}
