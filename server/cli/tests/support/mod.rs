//! Helpers shared by the CLI tests that run real projects: the venv holding
//! pytest, the `git` CLI, files, and a small committed Python project.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `bin` directory of the venv holding pytest (`TDD_TEST_VENV`, else the
/// repository's `.venv`, which scripts/test installs). Without it the test
/// fails: a skipped check is not a pass.
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

/// `PATH` with the venv first.
pub fn path_with_venv() -> String {
    format!(
        "{}:{}",
        venv_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs the `git` CLI in `dir`; a failure fails the test.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes `text` to `root/rel`, creating its directories.
pub fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A fresh directory under the target's temp dir.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A git repository on `main` holding a small Python project whose
/// `conftest.py` puts `src` on the path (nothing committed yet), with the
/// files in `extra` (path, text).
pub fn python_project(root: &Path, extra: &[(&str, &str)]) {
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.name", "Ada Tester"]);
    git(root, &["config", "user.email", "ada@example.com"]);
    write(
        root,
        ".gitignore",
        "__pycache__/\n*.pyc\n.pytest_cache/\n/script.toml\n",
    );
    write(
        root,
        "pyproject.toml",
        "[project]\nname = \"calc\"\nversion = \"0.1.0\"\n",
    );
    write(root, "pytest.ini", "[pytest]\ntestpaths = tests\n");
    write(
        root,
        "conftest.py",
        "import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent / \"src\"))\n",
    );
    write(root, "src/README", "sources\n");
    for (rel, text) in extra {
        write(root, rel, text);
    }
}
