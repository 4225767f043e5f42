//! Helpers shared by the engine's integration tests: temporary directories,
//! files, the `git` CLI for cross-checks, and pytest from the repository's venv.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory under the target's temp dir, unique per call.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("engine-tests")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to `root/rel`, creating its directories.
pub fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

pub fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap()
}

/// Runs the `git` CLI in `dir` and returns its stdout; a failure fails the test.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--no-optional-locks")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git CLI");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `bin` directory of the venv holding pytest: the repository's `.venv`
/// (scripts/test installs it) or `TDD_TEST_VENV`. Without it the test fails:
/// a skipped check is not a pass.
pub fn venv_bin() -> PathBuf {
    let venv = std::env::var_os("TDD_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let bin = venv.join("bin");
    assert!(
        bin.join("pytest").exists(),
        "pytest not found in {}: run ./scripts/test, which installs it",
        bin.display()
    );
    bin
}

/// `PATH` with the venv's `bin` first.
pub fn path_with_venv() -> String {
    format!(
        "{}:{}",
        venv_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A committed Python project on `main`: no sources or tests yet, a
/// `conftest.py` that puts `src` on `sys.path`, `pytest.ini`.
pub fn python_repo(name: &str) -> PathBuf {
    let root = temp_dir(name);
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["config", "user.name", "Ada Tester"]);
    git(&root, &["config", "user.email", "ada@example.com"]);
    write(&root, ".gitignore", "__pycache__/\n*.pyc\n.pytest_cache/\n");
    write(&root, "pytest.ini", "[pytest]\ntestpaths = tests\n");
    write(
        &root,
        "conftest.py",
        "import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent / \"src\"))\n",
    );
    write(&root, "src/README", "sources\n");
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

/// Copies a fixture project, without build state a developer may have left there.
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let skip = ["node_modules", "target", "__pycache__", ".pytest_cache"];
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&dst).unwrap();
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
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
