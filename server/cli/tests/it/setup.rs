//! Setup tasks from the outside (issue 13, finding 7: they were planned and
//! then skipped, so a project without a manifest failed every GREEN). A
//! Python project with no `pyproject.toml`, no `conftest.py` and no
//! `pytest.ini`, whose module lives in a new package under `src/`: the
//! engine writes the manifest (the source root on pytest's path) and the
//! package's `__init__.py`, each as its own task merged before the work that
//! needs it, and the scripted worker's task then passes GREEN on imports
//! that only work because of them.

use std::path::{Path, PathBuf};

use tdd_test_support::succeeded;

use crate::support::{fresh_dir, git, path_with_venv, venv_bin, write};

const PRD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/prd/ledger.prd.md"
));

const SCRIPT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/scripts/ledger.toml"
));

fn tdd(root: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"))
        .args(args)
        .current_dir(root)
        .env("PATH", path_with_venv())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap()
}

/// No manifest, no pytest configuration, no package: only the PRD, the
/// worker's script and the orchestrator's config.
fn bare_project() -> PathBuf {
    let root = fresh_dir("setup-bare");
    tdd_test_support::git_init(&root);
    write(&root, ".gitignore", "__pycache__/\n.pytest_cache/\n");
    write(&root, "ledger.prd.md", PRD);
    write(&root, "script.toml", SCRIPT);
    let pytest = venv_bin().join("pytest").canonicalize().unwrap();
    let config = format!(
        "[project]\nlanguage = \"python\"\ntest_command = \"{}\"\n\n[worker]\nkind = \"scripted\"\n\n\
         [worker.scripted]\nscript = \"script.toml\"\n",
        pytest.display()
    );
    tdd_test_support::commit_with_config(&root, &config);
    root
}

#[test]
fn setup_tasks_write_the_manifest_and_package_so_the_work_passes() {
    let root = bare_project();
    let planned = succeeded(&tdd(&root, &["decompose", "ledger.prd.md"]), "decompose");
    assert!(planned.contains("3 tasks"), "{planned}");

    let out = tdd(&root, &["run", "ledger.prd.md", "--plain"]);
    let stdout = succeeded(&out, "run");
    for key in ["SETUP/manifest", "SETUP/package:src/ledger", "REQ-1/AC-1.1"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(key) && l.contains("merged")),
            "{key} not merged:\n{stdout}"
        );
    }

    let show = |path: &str| git(&root, &["show", &format!("tdd/ledger:{path}")]);
    let manifest = show("pyproject.toml");
    assert!(manifest.contains("name = \"setup-bare"), "{manifest}");
    assert!(manifest.contains("pythonpath = [\"src\"]"), "{manifest}");
    assert_eq!(show("src/ledger/__init__.py"), "");
    // Each setup task is one engine commit that says what it wrote, before the work.
    let log = git(
        &root,
        &[
            "log",
            "--reverse",
            "--format=%s|%(trailers:key=Tdd-Outcome,valueonly)",
            "main..tdd/ledger",
        ],
    );
    let subjects: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        subjects[..2],
        [
            "green: Create the project manifest pyproject.toml|setup",
            "green: Create the Python package src/ledger|setup",
        ],
        "{log}"
    );
    assert!(subjects[2].starts_with("red: "), "{log}");
    let evidence = git(
        &root,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Tdd-Evidence,valueonly)",
            "main..tdd/ledger",
        ],
    );
    assert!(evidence.contains("wrote pyproject.toml"), "{evidence}");
}
