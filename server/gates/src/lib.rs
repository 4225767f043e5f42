//! The stage gates: whether a stage passed, decided by the engine from
//! evidence the worker cannot fake, never by the model; and the test reports
//! they read ([`report`]: every supported runner's output parsed into one
//! shape). Pure: no I/O, no clock; the engine runs the tests and calls
//! [`judge`].
//!
//! [`judge`] takes the [`Stage`], the task's [`TaskScope`] and the [`Evidence`]
//! (the parsed report of a real test run in the task's worktree, the report of the
//! baseline run before the worker acted, the diff, the text of changed files and
//! the lint/type commands' results) and returns a [`Verdict`]: an [`Outcome`], the
//! [`Reason`]s (each with a stable code and a message that says what to do), and
//! the evidence line for the commit trailer (`2 failed (assertion)`, `5 passed`).
//!
//! | stage | the worker may change | passes when |
//! |---|---|---|
//! | RED | the task's test files | new tests were collected (or a missing-symbol problem is scoped to a task test file); they fail, and only by an assertion or a missing symbol; tests that passed before still pass; all new tests passing at once is [`Outcome::AlreadyImplemented`] |
//! | GREEN | source files, not tests | the task's tests pass; no test that passed before fails; none removed, renamed away or newly skipped; no new problem; test files unchanged |
//! | REFACTOR | as GREEN | as GREEN, and the same set of test ids as before |
//! | VERIFY | (run by the engine) | no failed or errored test, no problem; every check passed; no anti-stub finding ([`stubs`]) in the changed sources |
//! | MERGE | (run by the engine) | the task's tests pass on the rebased tip |
//!
//! A setup task (a manifest, package files) is done by the engine alone and
//! judged by [`judge_setup`]: the test runner still runs and collects.
//!
//! The three kinds of failure are never confused: a report the gate cannot judge
//! (a `Timeout` problem, or an `Error` problem, i.e. a crashed runner, binary or
//! package, that concerns none of the task's test files and was not already in the
//! baseline) is [`Outcome::Infrastructure`], not a violation. A single *test* that
//! timed out is the worker's doing (a test that hangs) and is judged as a failure.
//!
//! Which tests and problems are "the task's" is decided from paths, see
//! `matching.rs`. For VERIFY and MERGE, `changes` and `sources` are the task's
//! whole diff against its base.

mod evidence;
mod green;
mod matching;
mod red;
pub mod report;
mod setup;
pub mod stubs;
mod verify;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::report::{FailureKind, Problem, TestReport};
use tdd_core::config::Language;

pub use matching::{is_test_path, problem_in_scope, test_in_scope};

/// The stages of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Red,
    Green,
    Verify,
    Refactor,
    Merge,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Red => "red",
            Stage::Green => "green",
            Stage::Verify => "verify",
            Stage::Refactor => "refactor",
            Stage::Merge => "merge",
        }
    }
}

/// What the engine observed for one stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The run before the worker acted (the baseline); `None` when there is none.
    pub before: Option<TestReport>,
    /// The run after the worker acted.
    pub after: TestReport,
    /// What the worker changed (for VERIFY and MERGE: the task's whole diff).
    pub changes: Vec<Change>,
    /// The text of changed and added files, by path, for the anti-stub checks.
    pub sources: BTreeMap<String, String>,
    /// The same files as they were at the task's base (VERIFY; a path
    /// missing here is new), so a check can tell what the task wrote.
    pub base_sources: BTreeMap<String, String>,
    /// The lint and type commands run for VERIFY.
    pub checks: Vec<CheckRun>,
}

impl Evidence {
    /// Evidence of one run, with no baseline, changes, sources or checks.
    pub fn new(after: TestReport) -> Self {
        Evidence {
            before: None,
            after,
            changes: Vec::new(),
            sources: BTreeMap::new(),
            base_sources: BTreeMap::new(),
            checks: Vec::new(),
        }
    }
}

/// One changed path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

impl Change {
    pub fn new(path: impl Into<String>, kind: ChangeKind) -> Self {
        Change {
            path: path.into(),
            kind,
        }
    }

    /// The paths the change touches: the path, and for a rename where it came from.
    pub fn paths(&self) -> Vec<&str> {
        match &self.kind {
            ChangeKind::Renamed { from } => vec![from.as_str(), self.path.as_str()],
            _ => vec![self.path.as_str()],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    Renamed { from: String },
}

/// One lint or type command run for VERIFY.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckRun {
    pub name: String,
    pub command: String,
    pub passed: bool,
    /// The end of its output, for the message.
    pub output_tail: String,
}

/// What the gate knows of the task.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TaskScope {
    /// The task's test files (a directory counts for every file under it).
    pub test_files: Vec<String>,
    /// Every file the task may write (`task.writes`).
    pub writable: Vec<String>,
    pub language: Language,
}

/// The gate's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// RED only: every new test passes at once; the behaviour exists already, so
    /// the engine sends the task to VERIFY instead of failing it.
    AlreadyImplemented,
    /// The worker's output did not pass the gate.
    Violation,
    /// The report cannot be judged: the runner crashed or timed out.
    Infrastructure,
}

/// Why a gate decided as it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable, e.g. `red.wrong_failure`.
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
    /// The test id or path concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Reason {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Reason {
            code,
            message: message.into(),
            subject: None,
        }
    }

    pub(crate) fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
    /// The commit trailer text: `2 failed (assertion)`, `5 passed`.
    pub evidence: String,
}

impl Verdict {
    /// `Passed` with no reasons, `Violation` with some.
    pub(crate) fn from_reasons(reasons: Vec<Reason>, evidence: String) -> Self {
        let outcome = if reasons.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Violation
        };
        Verdict {
            outcome,
            reasons,
            evidence,
        }
    }

    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }
}

/// Judges one stage.
pub fn judge(stage: Stage, scope: &TaskScope, evidence: &Evidence) -> Verdict {
    if let Some(verdict) = infrastructure(stage, scope, evidence) {
        return verdict;
    }
    match stage {
        Stage::Red => red::judge(scope, evidence),
        Stage::Green | Stage::Refactor => green::judge(stage, scope, evidence),
        Stage::Verify => verify::judge_verify(scope, evidence),
        Stage::Merge => verify::judge_merge(scope, evidence),
    }
}

/// The evidence line a gate writes in a trailer for these results and
/// problems: `1 passed, 2 failed (assertion)`; `no tests` for none.
pub fn evidence_line<'a>(
    tests: impl IntoIterator<Item = &'a report::TestResult>,
    problems: impl IntoIterator<Item = &'a Problem>,
) -> String {
    evidence::describe(tests, problems)
}

/// Judges a setup task's run (GREEN, and MERGE on the rebased tip): the
/// runner ran, and nothing it was asked to collect failed to load.
pub fn judge_setup(evidence: &Evidence) -> Verdict {
    setup::judge(evidence)
}

/// The report cannot be judged: a `Timeout` problem, or an `Error` problem outside
/// the task's test files that the baseline did not already have (VERIFY judges the
/// whole suite, so there any `Error` problem outside the task counts). GREEN and
/// REFACTOR also need a baseline.
fn infrastructure(stage: Stage, scope: &TaskScope, evidence: &Evidence) -> Option<Verdict> {
    let mut reasons = Vec::new();
    if matches!(stage, Stage::Green | Stage::Refactor) && evidence.before.is_none() {
        reasons.push(Reason::new(
            "gate.no_baseline",
            format!(
                "{} needs the report of the run before the worker acted, to find regressions; \
                 the engine must run the tests first",
                stage.as_str().to_uppercase()
            ),
        ));
    }
    for problem in &evidence.after.problems {
        let crashed = match problem.kind {
            FailureKind::Timeout => true,
            FailureKind::Error => {
                !problem_in_scope(problem, scope)
                    && (stage == Stage::Verify
                        || !evidence
                            .before
                            .as_ref()
                            .is_some_and(|b| b.problems.iter().any(|p| same_problem(p, problem))))
            }
            _ => false,
        };
        if crashed {
            let what = problem.scope.as_deref().unwrap_or("the test run");
            reasons.push(
                Reason::new(
                    if problem.kind == FailureKind::Timeout {
                        "gate.runner_timeout"
                    } else {
                        "gate.runner_crashed"
                    },
                    format!(
                        "the test run is unusable ({} in {what}): {}; rerun it or fix the \
                         environment, this is not the worker's output",
                        evidence::kind_label(&problem.kind),
                        first_line(&problem.message)
                    ),
                )
                .about(what),
            );
        }
    }
    if reasons.is_empty() {
        return None;
    }
    Some(Verdict {
        outcome: Outcome::Infrastructure,
        reasons,
        evidence: evidence::describe_report(&evidence.after),
    })
}

/// Two problems are the same when kind and scope agree.
pub(crate) fn same_problem(a: &Problem, b: &Problem) -> bool {
    a.kind == b.kind && a.scope == b.scope
}

/// The first non-empty line of a message, at most 200 characters.
pub(crate) fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}
