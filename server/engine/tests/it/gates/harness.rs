//! What every language's gate tests share: a fixture project from
//! `tests/fixtures/<language>` copied into a fresh git repository, the
//! pipeline context for its toolchain, the task (add `multiply` beside the
//! existing `add`), a worker that can also delete, and readers of the outcome.
//!
//! A missing toolchain fails the test with what to install: a skipped gate
//! test is not a pass.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tdd_core::config::{Language, Layout};
use tdd_core::plan::Task;
use tdd_engine::git::Project;
use tdd_engine::pipeline::{AttemptRecord, FailureKind, PipelineContext, TaskOutcome, TaskStatus};
use tdd_gates::Stage;
use tdd_workers::{Script, ScriptedWorker, StageRequest, Worker, WorkerError, WorkerReport};

use crate::support::{copy_tree, git, path_with_venv, read, temp_dir};

pub const KEY: &str = "REQ-2/AC-2.1";
pub const PRD: &str = "calc";
pub const FEATURE: &str = "tdd/calc";

/// One language's fixture and the files its scenarios write. Every
/// `impl_*` is the whole source file, `add` included.
pub struct Lang {
    /// The directory under `tests/fixtures`.
    pub fixture: &'static str,
    pub language: Language,
    /// The new task's test file (written in RED).
    pub test_file: &'static str,
    /// The source file holding `add`, where `multiply` goes.
    pub impl_file: &'static str,
    /// The earlier task's test of `add`, passing on `main`.
    pub earlier_test: &'static str,
    /// Tests `multiply`; fails until it exists.
    pub red_test: &'static str,
    /// A RED test that does not parse.
    pub red_syntax: &'static str,
    /// A test so weak a stub passes it (`multiply(0, 5) == 0`).
    pub weak_test: &'static str,
    /// `red_test` weakened so `impl_wrong` passes it.
    pub test_weakened: &'static str,
    /// `red_test` with its test skipped.
    pub test_skipped: &'static str,
    /// `add` and a correct `multiply`.
    pub impl_real: &'static str,
    /// The same behaviour, written differently.
    pub impl_refactored: &'static str,
    /// `multiply` that computes the wrong thing.
    pub impl_wrong: &'static str,
    /// `multiply` that passes `weak_test` and is otherwise a placeholder.
    pub impl_stub: &'static str,
    /// A correct `multiply`, but `add` broken.
    pub impl_breaks_add: &'static str,
    pub expect: Expect,
}

/// What the gates say that differs between languages.
pub struct Expect {
    /// RED's reasons for `red_syntax`: `red.wrong_failure`, and
    /// `red.no_new_tests` where the runner then reports no test at all.
    pub red_syntax_codes: &'static [&'static str],
    /// In RED's `red.wrong_failure` reason for `red_syntax`.
    pub red_syntax_says: &'static str,
    /// The earlier task's tests (the ends of the runner's ids).
    pub earlier_tests: &'static [&'static str],
    /// The code a broken earlier test gets at GREEN: `green.regression`, or
    /// `green.task_failing` where the task's test file claims the earlier
    /// tests too (a Go test file claims its whole package).
    pub earlier_broken: &'static str,
    /// In VERIFY's `verify.placeholder` reason for `impl_stub`.
    pub stub_says: &'static [&'static str],
    /// The symbol RED's evidence names as missing.
    pub missing: &'static str,
}

/// A fixture copied into a temp git repository, and the context to run it.
pub struct Setup {
    pub root: PathBuf,
    pub ctx: PipelineContext,
}

impl Lang {
    pub fn fixture_dir(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(self.fixture)
    }

    /// The fixture in a fresh repository on `main`, one commit.
    pub fn setup(&self, name: &str) -> Setup {
        let root = temp_dir(&format!("gates-{}-{name}", self.fixture));
        copy_tree(&self.fixture_dir(), &root);
        let (test_command, env) = self.toolchain(&root, name);
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.name", "Ada Tester"]);
        git(&root, &["config", "user.email", "ada@example.com"]);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "the earlier task: add"]);
        let layout = Layout {
            language: self.language,
            source_root: "src".to_string(),
            test_root: "tests".to_string(),
            test_command,
        };
        let mut ctx = PipelineContext::new(Project::open(&root).unwrap(), PRD, "main", layout);
        ctx.env = env;
        ctx.test_timeout = Duration::from_secs(300);
        // One scripted attempt per stage: a single rejection decides.
        ctx.max_fix_attempts = 0;
        Setup { root, ctx }
    }

    /// The test command and environment for the language; fails the test when
    /// the toolchain is missing.
    fn toolchain(&self, root: &Path, name: &str) -> (String, Vec<(String, String)>) {
        match self.language {
            Language::Python => (
                "pytest".to_string(),
                vec![
                    ("PATH".to_string(), path_with_venv()),
                    ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()),
                ],
            ),
            Language::Rust => {
                require("cargo", &["--version"], "a Rust toolchain (rustup)");
                // Outside the project, shared by the task's runs, and never the
                // target dir of the build running these tests (its lock).
                let target = temp_dir(&format!("gates-rust-{name}-target"));
                (
                    "cargo test".to_string(),
                    vec![
                        ("CARGO_TARGET_DIR".to_string(), target.display().to_string()),
                        ("CARGO_TERM_COLOR".to_string(), "never".to_string()),
                    ],
                )
            }
            Language::Go => {
                require("go", &["version"], "Go (apt-get install golang-go)");
                ("go test ./...".to_string(), Vec::new())
            }
            Language::Typescript => {
                require("node", &["--version"], "Node.js 20");
                let modules = self.fixture_dir().join("node_modules");
                assert!(
                    modules.join(".bin/vitest").exists(),
                    "vitest is not installed in {}: run `npm ci` there (./scripts/test does)",
                    modules.parent().unwrap().display()
                );
                // Worktrees live under the project; Node finds this from there.
                std::os::unix::fs::symlink(&modules, root.join("node_modules")).unwrap();
                let bin = root.join("node_modules/.bin/vitest");
                (format!("'{}' run", bin.display()), Vec::new())
            }
        }
    }

    /// The task: `multiply`, tested in `test_file`, written in `impl_file`.
    pub fn task(&self) -> Task {
        Task {
            requirement: Some("REQ-2".to_string()),
            criteria: vec!["AC-2.1".to_string()],
            ..Task::implementing(KEY, "multiply(a, b)", self.test_file, self.impl_file)
        }
    }

    /// A worker whose RED writes `test`.
    pub fn red(&self, test: &str) -> ScriptedWorker {
        ScriptedWorker::new("scripted").write(KEY, Stage::Red, 1, self.test_file, test)
    }
}

/// Fails the test when `program` does not run.
fn require(program: &str, args: &[&str], what: &str) {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{program}` is not available: the gate tests need {what}; ./scripts/test installs it"
    );
}

/// A [`ScriptedWorker`] that also deletes a file at one stage (a script can
/// only write).
pub struct Deleting {
    pub inner: ScriptedWorker,
    pub stage: Stage,
    pub path: &'static str,
}

impl Worker for Deleting {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let report = self.inner.perform(request)?;
        if request.stage == self.stage {
            fs::remove_file(request.worktree.join(self.path))
                .map_err(|e| WorkerError::Failed(e.to_string()))?;
        }
        Ok(report)
    }
}

/// Scripts one stage's attempt to write several files.
pub fn writes(worker: ScriptedWorker, stage: Stage, files: &[(&str, &str)]) -> ScriptedWorker {
    let files = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    worker.on(KEY, stage, 1, Script::Write(files))
}

// ---------------------------------------------------------------------------
// Reading an outcome

/// Every attempt on one line, with its reasons: the message of a failed assert.
pub fn story(out: &TaskOutcome) -> String {
    let mut text = format!("status: {:?}\n", out.status);
    for a in &out.attempts {
        text.push_str(&format!(
            "{} #{} {:?} {:?} summary={} reverted={:?}: {}\n",
            a.stage.as_str(),
            a.attempt,
            a.outcome,
            a.failure_kind,
            a.test_summary
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            a.reverted,
            a.evidence
        ));
        for r in &a.reasons {
            text.push_str(&format!("    [{}] {}\n", r.code, r.message));
        }
    }
    text
}

/// The only attempt at `stage`.
pub fn attempt(out: &TaskOutcome, stage: Stage) -> &AttemptRecord {
    let found: Vec<_> = out.attempts.iter().filter(|a| a.stage == stage).collect();
    assert_eq!(
        found.len(),
        1,
        "one {} attempt\n{}",
        stage.as_str(),
        story(out)
    );
    found[0]
}

/// The reason codes of an attempt, sorted, without repeats.
pub fn codes(a: &AttemptRecord) -> Vec<&'static str> {
    let mut codes: Vec<_> = a.reasons.iter().map(|r| r.code).collect();
    codes.sort();
    codes.dedup();
    codes
}

/// The message of the reason `code`, which must be there.
pub fn reason<'a>(a: &'a AttemptRecord, code: &str) -> &'a str {
    a.reasons
        .iter()
        .find(|r| r.code == code)
        .map(|r| r.message.as_str())
        .unwrap_or_else(|| panic!("no {code} among {:#?}", a.reasons))
}

/// The subjects (test ids, paths) of the reasons `code`, sorted.
pub fn subjects<'a>(a: &'a AttemptRecord, code: &str) -> Vec<&'a str> {
    let mut found: Vec<&str> = a
        .reasons
        .iter()
        .filter(|r| r.code == code)
        .filter_map(|r| r.subject.as_deref())
        .collect();
    found.sort();
    found
}

/// The reasons `code` are about exactly the tests named `names` (the ends of
/// their ids: each runner spells ids its own way).
pub fn assert_about(a: &AttemptRecord, code: &str, names: &[&str]) {
    let found = subjects(a, code);
    let matched = names
        .iter()
        .all(|n| found.iter().filter(|s| s.ends_with(n)).count() == 1);
    assert!(
        matched && found.len() == names.len(),
        "{code} about {found:?}, expected {names:?}"
    );
}

/// Asserts the task failed at `stage` as a violation; returns its message.
pub fn failed_at(out: &TaskOutcome, stage: Stage) -> &str {
    match &out.status {
        TaskStatus::Failed {
            stage: s,
            kind: FailureKind::Violation,
            message,
        } if *s == stage => message,
        _ => panic!("expected a violation at {}\n{}", stage.as_str(), story(out)),
    }
}

/// A test summary field of an attempt (`passed`, `failed`, `skipped`, …).
pub fn count(a: &AttemptRecord, field: &str) -> u64 {
    a.test_summary.as_ref().expect("a test summary")[field]
        .as_u64()
        .unwrap()
}

/// A stage commit on the feature branch.
#[derive(Debug)]
pub struct StageCommit {
    pub stage: String,
    pub task: String,
    /// `Tdd-Outcome`, when the stage did not plainly pass.
    pub outcome: String,
    /// The paths it changed.
    pub files: Vec<String>,
}

/// The commits the feature branch has over `main`, oldest first.
pub fn feature_commits(root: &Path) -> Vec<StageCommit> {
    let format = "--format=%H%x1f%(trailers:key=Tdd-Stage,valueonly)%x1f\
                  %(trailers:key=Tdd-Task,valueonly)%x1f%(trailers:key=Tdd-Outcome,valueonly)%x1e";
    let log = git(
        root,
        &["log", "--reverse", format, &format!("main..{FEATURE}")],
    );
    log.split('\x1e')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            let fields: Vec<&str> = c.split('\x1f').map(str::trim).collect();
            let files = git(
                root,
                &[
                    "diff-tree",
                    "--no-commit-id",
                    "--name-only",
                    "-r",
                    fields[0],
                ],
            );
            StageCommit {
                stage: fields[1].to_string(),
                task: fields[2].to_string(),
                outcome: fields[3].to_string(),
                files: files.lines().map(str::to_string).collect(),
            }
        })
        .collect()
}

/// The feature branch has not moved from `main`.
pub fn assert_nothing_merged(root: &Path) {
    assert_eq!(
        git(root, &["rev-parse", FEATURE]),
        git(root, &["rev-parse", "main"]),
        "the feature branch moved"
    );
}

/// A file in the task's worktree, which a failed task keeps.
pub fn in_worktree(out: &TaskOutcome, rel: &str) -> String {
    read(&out.worktree.as_ref().expect("a worktree").path, rel)
}
