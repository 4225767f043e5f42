//! Re-checks a feature branch's evidence from git alone (`verify-evidence`).
//! No store is read, so a reviewer of a pull request runs it on a fresh
//! clone. For each task on the branch, oldest first: its RED commit is
//! checked out in a scratch directory, where the tests RED wrote must fail
//! as its `Tdd-Evidence` trailer says (the same failure kinds, the same
//! missing symbols); its last GREEN commit, where they must pass; and the
//! branch tip, where they must still pass. Each commit's whole suite runs
//! once, however many tasks read it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{Oid, Repository};
use tdd_core::config::Layout;
use tdd_gates::report::{Outcome as TestOutcome, Problem, TestReport, TestResult};
use tdd_gates::{Stage, TaskScope, evidence_line, problem_in_scope, test_in_scope};
use tdd_workers::process::CancelToken;
use tdd_workers::testrun::run_tests;

use crate::git::{StageRecord, read_stage_commit};

/// What one check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// As recorded; the evidence found.
    Agrees(String),
    /// Not as recorded: what differs.
    Differs(String),
    /// Nothing to check here (a setup task's RED, an already implemented one).
    NotApplicable(String),
}

impl Check {
    pub fn differs(&self) -> bool {
        matches!(self, Check::Differs(_))
    }
}

/// One task's three checks.
#[derive(Clone, Debug)]
pub struct TaskCheck {
    pub task: String,
    pub red: Check,
    pub green: Check,
    pub tip: Check,
}

impl TaskCheck {
    pub fn differs(&self) -> bool {
        self.red.differs() || self.green.differs() || self.tip.differs()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    #[error("{0} is not a branch or commit here (on a fresh clone, fetch it or name origin/{0})")]
    NoBranch(String),
    #[error("{0} holds no stage commit (Tdd-Task and Tdd-Stage trailers) on its tip")]
    NoStageCommits(String),
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("running the tests at {commit}: {message}")]
    Tests { commit: String, message: String },
}

/// One task's stage commits on the branch.
struct TaskCommits {
    key: String,
    stages: Vec<StageRecord>,
}

/// Re-checks every task on `branch` of the repository at `root`, running
/// the tests as `layout` says (the environment plus `env`; each run at most
/// `timeout`).
pub fn recheck(
    root: &Path,
    branch: &str,
    layout: &Layout,
    env: Vec<(String, String)>,
    timeout: Duration,
) -> Result<Vec<TaskCheck>, RecheckError> {
    let repo = Repository::discover(root)?;
    let tip = resolve(&repo, branch)?;
    let tasks = tasks_on(&repo, tip)?;
    if tasks.is_empty() {
        return Err(RecheckError::NoStageCommits(branch.to_string()));
    }
    let scratch = std::env::temp_dir().join(format!("tdd-verify-evidence-{}", std::process::id()));
    let mut runs = Runs {
        repo: &repo,
        root: root.to_path_buf(),
        scratch: scratch.clone(),
        layout,
        env,
        timeout,
        reports: HashMap::new(),
    };
    let checked = tasks
        .iter()
        .map(|task| check_task(&mut runs, task, tip, layout))
        .collect();
    let _ = fs::remove_dir_all(&scratch);
    checked
}

/// A local branch, else any revision git names (`origin/tdd/x`), else the
/// remote's branch of that name.
fn resolve(repo: &Repository, branch: &str) -> Result<Oid, RecheckError> {
    for name in [branch.to_string(), format!("origin/{branch}")] {
        if let Ok(object) = repo.revparse_single(&name)
            && let Ok(commit) = object.peel_to_commit()
        {
            return Ok(commit.id());
        }
    }
    Err(RecheckError::NoBranch(branch.to_string()))
}

/// The stage commits on `tip`'s first-parent line, grouped by task in the
/// order the tasks merged: from the newest stage commit (commits a person
/// added on top are passed over, and their tree is the tip checked) down to
/// the first commit that is not one.
fn tasks_on(repo: &Repository, tip: Oid) -> Result<Vec<TaskCommits>, RecheckError> {
    let mut records = Vec::new();
    let mut commit = repo.find_commit(tip)?;
    loop {
        match read_stage_commit(commit.id(), commit.message_raw().unwrap_or("")) {
            Some(record) => records.push(record),
            None if records.is_empty() => {}
            None => break,
        }
        if commit.parent_count() == 0 {
            break;
        }
        commit = commit.parent(0)?;
    }
    records.reverse();
    let mut tasks: Vec<TaskCommits> = Vec::new();
    for (key, record) in records {
        match tasks.iter_mut().find(|t| t.key == key) {
            Some(task) => task.stages.push(record),
            None => tasks.push(TaskCommits {
                key,
                stages: vec![record],
            }),
        }
    }
    Ok(tasks)
}

/// The suite's report at a commit, each commit run once.
struct Runs<'a> {
    repo: &'a Repository,
    root: PathBuf,
    scratch: PathBuf,
    layout: &'a Layout,
    env: Vec<(String, String)>,
    timeout: Duration,
    reports: HashMap<Oid, TestReport>,
}

impl Runs<'_> {
    fn report(&mut self, oid: Oid) -> Result<&TestReport, RecheckError> {
        if !self.reports.contains_key(&oid) {
            let dir = self.scratch.join(oid.to_string());
            self.checkout(oid, &dir)?;
            let run = run_tests(
                self.layout,
                &dir,
                &[],
                self.env.clone(),
                self.timeout,
                &CancelToken::default(),
            )
            .map_err(|e| RecheckError::Tests {
                commit: short(oid),
                message: e.to_string(),
            })?;
            let _ = fs::remove_dir_all(&dir);
            self.reports.insert(oid, run.report);
        }
        Ok(&self.reports[&oid])
    }

    /// The commit's files in `dir`, without touching the repository's
    /// index, HEAD or worktrees. Dependencies git does not hold
    /// (`node_modules`) are linked from the checkout.
    fn checkout(&self, oid: Oid, dir: &Path) -> Result<(), RecheckError> {
        let io = |source| RecheckError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).map_err(io)?;
        let commit = self.repo.find_commit(oid)?;
        let mut options = git2::build::CheckoutBuilder::new();
        options
            .target_dir(dir)
            .force()
            .recreate_missing(true)
            .update_index(false);
        self.repo
            .checkout_tree(commit.as_object(), Some(&mut options))?;
        let modules = self.root.join("node_modules");
        if modules.is_dir() && !dir.join("node_modules").exists() {
            std::os::unix::fs::symlink(&modules, dir.join("node_modules")).map_err(io)?;
        }
        Ok(())
    }
}

fn short(oid: Oid) -> String {
    oid.to_string()[..10].to_string()
}

fn check_task(
    runs: &mut Runs<'_>,
    task: &TaskCommits,
    tip: Oid,
    layout: &Layout,
) -> Result<TaskCheck, RecheckError> {
    let red = task.stages.iter().find(|s| s.stage == Stage::Red);
    let green = task.stages.iter().rev().find(|s| s.stage == Stage::Green);
    let setup = green.is_some_and(|g| g.outcome.as_deref() == Some("setup"));
    let key = task.key.clone();
    if setup {
        let collects = |report: &TestReport| match report.problems.first() {
            None => Check::Agrees(format!("collects ({})", evidence_line(&report.tests, []))),
            Some(p) => Check::Differs(format!(
                "the runner does not collect {}",
                p.scope.as_deref().unwrap_or("the suite")
            )),
        };
        let green = match green {
            Some(g) => collects(runs.report(g.oid)?),
            None => Check::Differs("no GREEN commit".into()),
        };
        return Ok(TaskCheck {
            task: key,
            red: Check::NotApplicable("setup task".into()),
            green,
            tip: collects(runs.report(tip)?),
        });
    }
    let Some(red) = red else {
        let missing = Check::Differs("no RED commit names the task's tests".into());
        return Ok(TaskCheck {
            task: key,
            red: missing.clone(),
            green: missing.clone(),
            tip: missing,
        });
    };
    let scope = TaskScope {
        test_files: files_of(runs.repo, red.oid)?,
        writable: Vec::new(),
        language: layout.language,
    };
    let red_check = if red.outcome.as_deref() == Some("already-implemented") {
        Check::NotApplicable("already implemented".into())
    } else {
        fails_as_recorded(runs.report(red.oid)?, &scope, &red.evidence)
    };
    let green_check = match green {
        Some(g) => passes(runs.report(g.oid)?, &scope),
        None => Check::Differs("no GREEN commit".into()),
    };
    Ok(TaskCheck {
        task: key,
        red: red_check,
        green: green_check,
        tip: passes(runs.report(tip)?, &scope),
    })
}

/// The files RED added or changed: the task's test files.
fn files_of(repo: &Repository, oid: Oid) -> Result<Vec<String>, RecheckError> {
    let commit = repo.find_commit(oid)?;
    let parent = commit.parent(0).ok().map(|p| p.tree()).transpose()?;
    let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&commit.tree()?), None)?;
    Ok(diff
        .deltas()
        .filter_map(|d| d.new_file().path())
        .map(|p| p.to_string_lossy().into_owned())
        .collect())
}

/// The task's tests and problems in a report.
fn scoped<'r>(
    report: &'r TestReport,
    scope: &TaskScope,
) -> (Vec<&'r TestResult>, Vec<&'r Problem>) {
    let tests = report
        .tests
        .iter()
        .filter(|t| test_in_scope(t, scope))
        .collect();
    let problems = report
        .problems
        .iter()
        .filter(|p| problem_in_scope(p, scope))
        .collect();
    (tests, problems)
}

/// RED: the task's tests fail, with the failure kinds (and missing symbols)
/// the trailer recorded.
fn fails_as_recorded(report: &TestReport, scope: &TaskScope, recorded: &str) -> Check {
    let (mut failing, problems) = scoped(report, scope);
    failing.retain(|t| matches!(t.outcome, TestOutcome::Failed | TestOutcome::Errored));
    let found = evidence_line(failing.iter().copied(), problems.iter().copied());
    let recorded = recorded.split(';').next().unwrap_or("").trim();
    if failing.is_empty() && problems.is_empty() {
        return Check::Differs(format!("the tests pass; recorded {recorded}"));
    }
    match failures(&found) == failures(recorded) {
        true => Check::Agrees(found),
        false => Check::Differs(format!("{found}; recorded {recorded}")),
    }
}

/// The `N failed (kind)` parts of an evidence line, sorted (a part's
/// parentheses may hold commas: `1 failed (missing symbol: a, b)`).
fn failures(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in line.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(line[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(line[start..].trim());
    parts.retain(|p| p.contains("failed ("));
    parts.sort_unstable();
    parts
}

/// GREEN and the tip: the task's tests ran and all pass.
fn passes(report: &TestReport, scope: &TaskScope) -> Check {
    let (tests, problems) = scoped(report, scope);
    let line = evidence_line(tests.iter().copied(), problems.iter().copied());
    let all_pass = !tests.is_empty()
        && problems.is_empty()
        && tests
            .iter()
            .all(|t| matches!(t.outcome, TestOutcome::Passed | TestOutcome::Skipped));
    match all_pass {
        true => Check::Agrees(line),
        false if tests.is_empty() && problems.is_empty() => {
            Check::Differs(format!("none of {} ran", scope.test_files.join(", ")))
        }
        false => Check::Differs(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_groups_ignore_order_passes_and_reuse_notes() {
        assert_eq!(
            failures("1 passed, 2 failed (assertion), 1 failed (missing symbol: a, b)"),
            ["1 failed (missing symbol: a, b)", "2 failed (assertion)"]
        );
        assert_eq!(failures("no tests"), Vec::<&str>::new());
    }
}
