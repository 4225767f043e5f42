//! `run-prd` from the outside: decompose, run, and `--create-pr` through a
//! stand-in `gh` (this machine has no GitHub); without `gh` the command
//! refuses before doing any work.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{fresh_dir, git, python_project, venv_bin, write};
use tdd_test_support::succeeded;
use tdd_test_support::{NEGATE_PRD, NEGATE_SCRIPT, commit_with_config};

fn pytest() -> PathBuf {
    venv_bin().join("pytest").canonicalize().unwrap()
}

fn which(name: &str) -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{name} not found");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A project with an `origin` (a bare repository) and a `bin` directory
/// that is the whole PATH: `sh` and `git`, plus `gh` when asked.
fn project(name: &str, with_gh: bool) -> (PathBuf, PathBuf) {
    let base = fresh_dir(&format!("run-prd-{name}"));
    let root = base.join("project");
    std::fs::create_dir_all(&root).unwrap();
    git(&base, &["init", "-q", "--bare", "origin.git"]);
    python_project(&root, &[]);
    let origin = base.join("origin.git");
    git(
        &root,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    write(&root, "neg.prd.md", NEGATE_PRD);
    write(&root, "script.toml", NEGATE_SCRIPT);
    let config = format!(
        "[project]\nlanguage = \"python\"\ntest_command = \"{}\"\n",
        pytest().display()
    );
    commit_with_config(&root, &config);

    let bin = base.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["sh", "git"] {
        symlink(which(tool), bin.join(tool)).unwrap();
    }
    if with_gh {
        let log = base.join("gh.log");
        write(
            &bin,
            "gh",
            &format!(
                "#!{}\necho \"$@\" >> '{}'\ncase \"$1\" in\n  --version) echo 'gh version 0.0 (stand-in)' ;;\n  pr) echo 'https://example.invalid/pull/1' ;;\nesac\n",
                which("sh").display(),
                log.display()
            ),
        );
        Command::new("chmod")
            .args(["+x", bin.join("gh").to_str().unwrap()])
            .status()
            .unwrap();
    }
    (root, bin)
}

fn run_prd(root: &Path, bin: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"))
        .args([
            "run-prd",
            "neg.prd.md",
            "--create-pr",
            "--script",
            "script.toml",
            "--workers",
            "1",
            "--plain",
        ])
        .current_dir(root)
        .env("PATH", bin)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap()
}

#[test]
fn without_gh_it_refuses_before_any_work() {
    let (root, bin) = project("nogh", false);
    let out = run_prd(&root, &bin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--create-pr needs the GitHub CLI `gh`"),
        "{stderr}"
    );
    assert!(
        !root.join(".tdd/orchestrator.db").exists(),
        "nothing was decomposed or run"
    );
}

#[test]
fn with_gh_it_decomposes_runs_pushes_and_opens_the_pull_request() {
    let (root, bin) = project("gh", true);
    let out = run_prd(&root, &bin);
    let stdout = succeeded(&out, "out");
    assert!(
        stdout.contains("decomposed neg.prd.md: 1 tasks (1 added"),
        "{stdout}"
    );
    assert!(stdout.contains("REQ-1/AC-1.1     merged"), "{stdout}");
    assert!(
        stdout.contains("pull request: https://example.invalid/pull/1"),
        "{stdout}"
    );
    let log = std::fs::read_to_string(root.parent().unwrap().join("gh.log")).unwrap();
    assert!(
        log.contains("pr create --base main --head tdd/neg --title Negation --body"),
        "{log}"
    );
    // The feature branch is on origin, at the local tip.
    let remote = git(&root, &["ls-remote", "origin", "refs/heads/tdd/neg"]);
    let local = git(&root, &["rev-parse", "tdd/neg"]);
    assert!(remote.starts_with(local.trim()), "{remote} vs {local}");
}
