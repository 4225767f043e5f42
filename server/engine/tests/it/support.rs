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

/// The calc task's key, files, and what a worker writes for it.
pub const KEY: &str = "REQ-1/AC-1.1";
pub const TEST_FILE: &str = "tests/test_calc.py";
pub const IMPL_FILE: &str = "src/calc.py";
pub const RED_TEST: &str =
    "from calc import add\n\n\ndef test_add_returns_the_sum():\n    assert add(2, 3) == 5\n";
pub const REAL: &str = "def add(a, b):\n    return a + b\n";

/// The task most pipeline tests run: `add(a, b)` in [`IMPL_FILE`], tested
/// in [`TEST_FILE`], key [`KEY`].
pub fn calc_task() -> tdd_core::plan::Task {
    use tdd_core::plan::Task;
    Task {
        requirement: Some("REQ-1".to_string()),
        criteria: vec!["AC-1.1".to_string()],
        ..Task::implementing(KEY, "add(a, b)", TEST_FILE, IMPL_FILE)
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

/// A [`python_repo`] with an untracked file of the user's lying around.
pub fn user_repo(name: &str) -> PathBuf {
    let root = python_repo(name);
    write(&root, "notes.txt", "the user's own notes\n");
    root
}

/// The user's checkout: everything that must not change.
pub fn user_state(root: &Path) -> (String, String, std::collections::BTreeMap<String, Vec<u8>>) {
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file() {
            files.insert(name, std::fs::read(&path).unwrap());
        }
    }
    for sub in ["src", "tests"] {
        if let Ok(entries) = std::fs::read_dir(root.join(sub)) {
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_file() {
                    let rel = path.strip_prefix(root).unwrap().display().to_string();
                    files.insert(rel, std::fs::read(&path).unwrap());
                }
            }
        }
    }
    (
        git(root, &["symbolic-ref", "HEAD"]) + &git(root, &["rev-parse", "HEAD"]),
        git(root, &["status", "--porcelain=v1", "--untracked-files=all"]),
        files,
    )
}

/// The message of a task that failed at RED as a provider outage; else a
/// panic describing the outcome.
pub fn red_outage(outcome: &tdd_engine::pipeline::TaskOutcome) -> &str {
    use tdd_engine::pipeline::{FailureKind, TaskStatus};
    match &outcome.status {
        TaskStatus::Failed {
            stage: tdd_gates::Stage::Red,
            kind: FailureKind::ProviderOutage,
            message,
        } => message,
        _ => panic!("not a provider outage at RED: {}", describe(outcome)),
    }
}

/// The task's attempts at `stage`, in order.
pub fn attempts_at(
    outcome: &tdd_engine::pipeline::TaskOutcome,
    stage: tdd_gates::Stage,
) -> Vec<&tdd_engine::pipeline::AttemptRecord> {
    outcome
        .attempts
        .iter()
        .filter(|a| a.stage == stage)
        .collect()
}

/// The messages of an attempt's reasons with `code`.
pub fn reasons<'a>(attempt: &'a tdd_engine::pipeline::AttemptRecord, code: &str) -> Vec<&'a str> {
    attempt
        .reasons
        .iter()
        .filter(|r| r.code == code)
        .map(|r| r.message.as_str())
        .collect()
}

/// A worker that keeps what each request told it (stage, attempt, feedback)
/// and runs `before` ahead of each attempt of the worker it wraps.
pub struct Recording<W> {
    pub inner: W,
    pub told: Vec<(tdd_gates::Stage, u32, Option<String>)>,
    pub before: Box<dyn FnMut(&tdd_workers::StageRequest) + Send>,
}

impl<W: tdd_workers::Worker> Recording<W> {
    pub fn new(inner: W) -> Self {
        Recording {
            inner,
            told: Vec::new(),
            before: Box::new(|_| {}),
        }
    }

    /// The feedback of `stage`'s attempt `attempt`, which must have run.
    pub fn told_at(&self, stage: tdd_gates::Stage, attempt: u32) -> &str {
        self.told
            .iter()
            .find(|(s, a, _)| *s == stage && *a == attempt)
            .unwrap_or_else(|| panic!("no {} #{attempt} in {:?}", stage.as_str(), self.told))
            .2
            .as_deref()
            .unwrap_or_default()
    }
}

impl<W: tdd_workers::Worker> tdd_workers::Worker for Recording<W> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn perform(
        &mut self,
        request: &tdd_workers::StageRequest,
    ) -> Result<tdd_workers::WorkerReport, tdd_workers::WorkerError> {
        self.told
            .push((request.stage, request.attempt, request.feedback.clone()));
        (self.before)(request);
        self.inner.perform(request)
    }
}

/// Each attempt's stage, number and outcome, in order.
pub fn attempt_order(
    outcome: &tdd_engine::pipeline::TaskOutcome,
) -> Vec<(tdd_gates::Stage, u32, Option<tdd_gates::Outcome>)> {
    outcome
        .attempts
        .iter()
        .map(|a| (a.stage, a.attempt, a.outcome))
        .collect()
}
