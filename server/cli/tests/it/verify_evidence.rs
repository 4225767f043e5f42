//! `verify-evidence` from the outside (issue 13): a real scripted run of the
//! add/negate PRD, cloned afresh (no store), whose evidence holds; then two
//! histories that lie: a commit on top that breaks a test (the tip column
//! names the task) and a RED commit whose test was edited to pass (the RED
//! column names it). Each exits 1.

use std::path::{Path, PathBuf};
use std::process::Output;

use tdd_test_support::{ADD_NEGATE_PRD, ADD_NEGATE_SCRIPT, commit_with_config, succeeded};

use crate::support::{fresh_dir, git, path_with_venv, venv_bin, write};

fn tdd(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"))
        .args(args)
        .current_dir(dir)
        .env("PATH", path_with_venv())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap()
}

/// A project whose add/negate PRD ran to merged on `tdd/calc`, and a fresh
/// clone of it (no `.tdd` store: only the committed config).
fn run_and_clone(name: &str) -> (PathBuf, PathBuf) {
    let base = fresh_dir(&format!("evidence-{name}"));
    let root = base.join("calc");
    std::fs::create_dir_all(&root).unwrap();
    tdd_test_support::python_project(&root, Some("calc"), &[("calc.prd.md", ADD_NEGATE_PRD)]);
    write(&root, "script.toml", ADD_NEGATE_SCRIPT);
    let pytest = venv_bin().join("pytest").canonicalize().unwrap();
    let config = format!(
        "[project]\nlanguage = \"python\"\ntest_command = \"{}\"\n\n[worker]\nkind = \"scripted\"\n\n\
         [worker.scripted]\nscript = \"script.toml\"\n",
        pytest.display()
    );
    commit_with_config(&root, &config);
    succeeded(&tdd(&root, &["decompose", "calc.prd.md"]), "decompose");
    succeeded(&tdd(&root, &["run", "calc.prd.md", "--plain"]), "run");
    git(&base, &["clone", "-q", root.to_str().unwrap(), "clone"]);
    let clone = base.join("clone");
    git(&clone, &["config", "user.name", "Ada Tester"]);
    git(&clone, &["config", "user.email", "ada@example.com"]);
    assert!(!clone.join(".tdd/orchestrator.db").exists());
    (root, clone)
}

/// The table row of `task`.
fn row<'a>(stdout: &'a str, task: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(task))
        .unwrap_or_else(|| panic!("no row for {task}:\n{stdout}"))
}

#[test]
fn the_evidence_of_a_real_run_holds_on_a_fresh_clone() {
    let (_, clone) = run_and_clone("holds");
    let stdout = succeeded(&tdd(&clone, &["verify-evidence"]), "verify-evidence");
    for task in ["REQ-1/AC-1.1", "REQ-2/AC-2.1"] {
        let row = row(&stdout, task);
        assert_eq!(row.matches("ok: ").count(), 3, "{row}");
    }
    assert!(row(&stdout, "REQ-2/AC-2.1").contains("1 failed (missing symbol: negate)"));
    assert!(
        stdout.contains("tdd/calc: the evidence of 2 tasks holds"),
        "{stdout}"
    );
    // The checks ran in scratch directories: the clone is as it was.
    assert_eq!(git(&clone, &["status", "--porcelain"]), "");
}

#[test]
fn a_tip_that_breaks_a_test_is_named() {
    let (_, clone) = run_and_clone("tip");
    git(
        &clone,
        &["checkout", "-q", "-b", "tdd/calc", "origin/tdd/calc"],
    );
    write(&clone, "src/add.py", "def add(a, b):\n    return a - b\n");
    git(
        &clone,
        &["commit", "-q", "-am", "a fix-up on the pull request"],
    );

    let out = tdd(&clone, &["verify-evidence", "tdd/calc"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let add = row(&stdout, "REQ-1/AC-1.1");
    assert!(add.contains("DIFFERS: 1 failed (assertion)"), "{add}");
    assert_eq!(
        add.matches("ok: ").count(),
        2,
        "RED and GREEN still hold: {add}"
    );
    assert_eq!(row(&stdout, "REQ-2/AC-2.1").matches("ok: ").count(), 3);
    assert!(
        stdout.contains("the evidence does not hold for REQ-1/AC-1.1"),
        "{stdout}"
    );
}

#[test]
fn a_red_commit_whose_test_was_edited_to_pass_is_named() {
    let (_, clone) = run_and_clone("red");
    // The first-parent line, oldest first, with each commit's task and stage.
    let line = git(
        &clone,
        &[
            "log",
            "--reverse",
            "--first-parent",
            "--format=%H %(trailers:key=Tdd-Task,valueonly,separator=)%(trailers:key=Tdd-Stage,valueonly,separator=)",
            "origin/tdd/calc",
        ],
    );
    let commits: Vec<(&str, &str)> = line.lines().filter_map(|l| l.split_once(' ')).collect();
    let red = commits
        .iter()
        .position(|(_, what)| what.starts_with("REQ-2/AC-2.1") && what.ends_with("red"))
        .unwrap_or_else(|| panic!("no RED commit of REQ-2:\n{line}"));
    // The same history, but RED's test passes without any code.
    git(
        &clone,
        &[
            "checkout",
            "-q",
            "--detach",
            &format!("{}^", commits[red].0),
        ],
    );
    git(&clone, &["checkout", commits[red].0, "--", "."]);
    write(
        &clone,
        "tests/test_negate.py",
        "def test_negate():\n    assert True\n",
    );
    git(&clone, &["add", "-A"]);
    git(&clone, &["commit", "-q", "-C", commits[red].0]);
    let rest: Vec<&str> = commits[red + 1..].iter().map(|(oid, _)| *oid).collect();
    let mut pick = vec!["cherry-pick", "--allow-empty", "--keep-redundant-commits"];
    pick.extend(rest);
    git(&clone, &pick);
    git(&clone, &["branch", "-f", "tdd/calc", "HEAD"]);

    let out = tdd(&clone, &["verify-evidence", "tdd/calc"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let negate = row(&stdout, "REQ-2/AC-2.1");
    assert!(
        negate.contains("DIFFERS: the tests pass; recorded 1 failed (missing symbol: negate)"),
        "{negate}"
    );
    assert_eq!(row(&stdout, "REQ-1/AC-1.1").matches("ok: ").count(), 3);
    assert!(
        stdout.contains("the evidence does not hold for REQ-2/AC-2.1"),
        "{stdout}"
    );
}
