//! The engine's own test helpers (a committed Python repository, the calc
//! task, a pipeline context), over the shared ones of `tdd-test-support`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub use tdd_test_support::{copy_tree, git, path_with_venv, read, venv_bin, write};

/// A fresh, empty directory under the target's temp dir, unique per call.
pub fn temp_dir(name: &str) -> PathBuf {
    tdd_test_support::fresh_dir_in(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("engine-tests"),
        name,
    )
}

/// A committed Python project on `main`: no sources or tests yet, a
/// `conftest.py` that puts `src` on `sys.path`, `pytest.ini`.
pub fn python_repo(name: &str) -> PathBuf {
    let root = temp_dir(name);
    tdd_test_support::python_project(&root, None, &[]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "init"]);
    root
}

/// The task most pipeline tests run: `add(a, b)` in `src/calc.py`, tested
/// in `tests/test_calc.py`, key `REQ-1/AC-1.1`.
pub fn calc_task() -> tdd_core::plan::Task {
    use tdd_core::plan::Task;
    let (test_file, impl_file) = ("tests/test_calc.py", "src/calc.py");
    Task {
        requirement: Some("REQ-1".to_string()),
        criteria: vec!["AC-1.1".to_string()],
        ..Task::implementing("REQ-1/AC-1.1", "add(a, b)", test_file, impl_file)
    }
}

/// A pipeline context for a [`python_repo`] (PRD `calc`, base `main`),
/// pytest from the venv.
pub fn python_context(root: &Path) -> tdd_engine::pipeline::PipelineContext {
    let layout = tdd_core::config::Layout {
        language: tdd_core::config::Language::Python,
        source_root: "src".to_string(),
        test_root: "tests".to_string(),
        test_command: "pytest".to_string(),
    };
    let project = tdd_engine::git::Project::open(root).unwrap();
    let mut ctx = tdd_engine::pipeline::PipelineContext::new(project, "calc", "main", layout);
    ctx.env = vec![
        ("PATH".to_string(), path_with_venv()),
        ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()),
    ];
    ctx.test_timeout = std::time::Duration::from_secs(120);
    ctx
}

/// A task's outcome for a failure message: its status, then one line per
/// attempt (`stage #n outcome: evidence`).
pub fn describe(outcome: &tdd_engine::pipeline::TaskOutcome) -> String {
    let attempts: Vec<String> = outcome
        .attempts
        .iter()
        .map(|a| {
            format!(
                "{} #{} {:?}: {}",
                a.stage.as_str(),
                a.attempt,
                a.outcome,
                a.evidence
            )
        })
        .collect();
    format!("{:?}\n{attempts:#?}", outcome.status)
}
