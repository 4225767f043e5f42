//! What the integration tests of every crate share. Each crate's tests are
//! one binary (`tests/it/main.rs`, a module per area) that depends on this
//! crate; helpers that need a crate of ours stay in that crate's
//! `tests/it/support.rs`.
//!
//! Scratch directories live under the calling crate's
//! `CARGO_TARGET_TMPDIR`, which only its tests know at compile time: hence
//! the [`scratch_dir!`] macro.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory `name-<pid>-<n>` under the calling test crate's
/// `CARGO_TARGET_TMPDIR`, unique per call.
#[macro_export]
macro_rules! scratch_dir {
    ($name:expr) => {
        $crate::fresh_dir_in(::std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), $name)
    };
}

/// A fresh, empty directory `name-<pid>-<n>` under `base`, unique per call
/// (the process id keeps two test processes apart, the counter two calls).
pub fn fresh_dir_in(base: &Path, name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = base.join(format!("{name}-{}-{n}", std::process::id()));
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

/// `root/rel` as text; a missing file fails the test.
pub fn read(root: &Path, rel: &str) -> String {
    let path = root.join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the `git` CLI in `dir` and returns its stdout; a failure fails the
/// test. `--no-optional-locks`: a cross-check never races the code under
/// test for the index lock.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--no-optional-locks")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git CLI");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The stdout of a finished process that must have succeeded; else a panic
/// naming `what` with its exit status, stdout and stderr.
pub fn succeeded(out: &std::process::Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {}\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Makes `dir` a git repository on `main` with a committer set.
pub fn git_init(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Ada Tester"]);
    git(dir, &["config", "user.email", "ada@example.com"]);
}

/// The `bin` directory of the venv holding pytest: `TDD_TEST_VENV`, else the
/// repository's `.venv` (scripts/test installs it). Without it the test
/// fails: a skipped check is not a pass.
pub fn venv_bin() -> PathBuf {
    let venv = std::env::var_os("TDD_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
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

/// The repository's root (this crate is `server/test-support`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Checks a generated file checked in at `rel` (from the repository root)
/// against `generated`; with `UPDATE_SCHEMAS` set, writes it instead. On a
/// difference the message names the file and `regenerate`, the command that
/// rewrites it.
pub fn check_generated(rel: &str, generated: &str, regenerate: &str) {
    let path = repo_root().join(rel);
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap();
        }
        fs::write(&path, generated).unwrap();
        return;
    }
    let checked_in = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{rel} is out of date with the Rust types: run `UPDATE_SCHEMAS=1 {regenerate}` and commit it"
    );
}

/// The shared fixtures, `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures")
}

/// Copies a fixture project, without build state a developer may have
/// left there.
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

/// A PRD of two independent Python requirements, `add` (REQ-1) and
/// `negate` (REQ-2), one criterion each.
pub const ADD_NEGATE_PRD: &str = include_str!("../../../tests/fixtures/prd/add-negate.prd.md");

/// A scripted worker's script that solves [`ADD_NEGATE_PRD`].
pub const ADD_NEGATE_SCRIPT: &str = include_str!("../../../tests/fixtures/scripts/add-negate.toml");

/// A PRD of one Python requirement, `negate` (REQ-1), one criterion.
pub const NEGATE_PRD: &str = include_str!("../../../tests/fixtures/prd/negate.prd.md");

/// A scripted worker's script that solves [`NEGATE_PRD`].
pub const NEGATE_SCRIPT: &str = include_str!("../../../tests/fixtures/scripts/negate.toml");

/// Writes the project's `.tdd/config.toml` and the `.tdd/.gitignore` that
/// keeps only it tracked, and commits the whole tree as `init`.
pub fn commit_with_config(root: &Path, config: &str) {
    write(root, ".tdd/config.toml", config);
    write(root, ".tdd/.gitignore", "*\n!config.toml\n!.gitignore\n");
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
}

/// `conftest.py` that puts `src` on `sys.path`.
pub const CONFTEST: &str = "import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent / \"src\"))\n";

/// A git repository on `main` holding the skeleton of a Python project
/// (`pytest.ini`, [`CONFTEST`], `src/`; `pyproject.toml` when `name` is
/// given), plus the files in `extra` (path, text). Nothing is committed.
pub fn python_project(root: &Path, name: Option<&str>, extra: &[(&str, &str)]) {
    git_init(root);
    write(root, ".gitignore", "__pycache__/\n*.pyc\n.pytest_cache/\n");
    if let Some(name) = name {
        write(
            root,
            "pyproject.toml",
            &format!("[project]\nname = \"{name}\"\nversion = \"0.1.0\"\n"),
        );
    }
    write(root, "pytest.ini", "[pytest]\ntestpaths = tests\n");
    write(root, "conftest.py", CONFTEST);
    write(root, "src/README", "sources\n");
    for (rel, text) in extra {
        write(root, rel, text);
    }
}
