//! The command-worker plugin protocol (docs/workers.md): the request a
//! program receives and what the engine reads back from its last stdout line.
//!
//! The request is its own versioned wire type rather than a serialised
//! [`Task`](tdd_core::plan::Task), so the plan's internals can change without
//! breaking plugins. Bump [`PROTOCOL_VERSION`] on any incompatible change.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tdd_core::gate::Stage;
use tdd_core::plan::{TaskKind, TestCase};

use super::StageRequest;

/// The version in every request (`protocol` and `TDD_PROTOCOL`).
pub const PROTOCOL_VERSION: u32 = 1;

/// Exit status meaning "try again later" (sysexits.h `EX_TEMPFAIL`): a
/// provider outage.
pub const EX_TEMPFAIL: i32 = 75;

/// Longest summary kept from a command's result line.
const MAX_SUMMARY_CHARS: usize = 2000;

/// The stage request as a command worker receives it on stdin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRequest {
    pub protocol: u32,
    /// The task key, e.g. `REQ-1/AC-1.1`.
    pub task: String,
    pub title: String,
    /// `implement`, `verify_only` or `setup`.
    pub kind: String,
    pub requirement: Option<String>,
    /// `red`, `green` or `refactor`.
    pub stage: String,
    /// 1-based; above 1 on a FIX retry, with `feedback` set.
    pub attempt: u32,
    /// Absolute path of the task's worktree (also the working directory).
    pub worktree: String,
    /// The only paths (relative to the worktree) the attempt may change.
    pub writable: Vec<String>,
    /// The task's test files: written at RED, read-only afterwards.
    pub test_files: Vec<String>,
    pub impl_file: Option<String>,
    /// Ids of the acceptance criteria the task proves.
    pub criteria: Vec<String>,
    /// The tests to write, one per criterion.
    pub tests: Vec<WireTest>,
    /// Guidance from decomposition.
    pub hints: Vec<String>,
    /// Why the previous attempt did not pass the gate (FIX retries only).
    pub feedback: Option<String>,
}

/// One test of the task's test specification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTest {
    pub name: String,
    pub criterion: String,
    /// The criterion's form (`event_driven`, `given_when_then`, …).
    pub form: String,
    pub precondition: Option<String>,
    pub action: Option<String>,
    /// The observable outcome to assert.
    pub outcome: String,
    pub expected_errors: Vec<String>,
}

impl WireRequest {
    pub fn new(request: &StageRequest) -> WireRequest {
        let task = &request.task;
        WireRequest {
            protocol: PROTOCOL_VERSION,
            task: task.key.clone(),
            title: task.title.clone(),
            kind: match task.kind {
                TaskKind::Implement => "implement",
                TaskKind::VerifyOnly => "verify_only",
                TaskKind::Setup => "setup",
            }
            .to_string(),
            requirement: task.requirement.clone(),
            stage: request.stage.as_str().to_string(),
            attempt: request.attempt,
            worktree: request.worktree.display().to_string(),
            writable: request.writable.clone(),
            test_files: test_files(request),
            impl_file: task.impl_file.clone(),
            criteria: task.criteria.clone(),
            tests: task.tests.iter().map(WireTest::new).collect(),
            hints: task.hints.clone(),
            feedback: request.feedback.clone(),
        }
    }
}

impl WireTest {
    fn new(test: &TestCase) -> WireTest {
        WireTest {
            name: test.name.clone(),
            criterion: test.criterion.clone(),
            form: test.form.clone(),
            precondition: test.precondition.clone(),
            action: test.action.clone(),
            outcome: test.outcome.clone(),
            expected_errors: test.expected_errors.clone(),
        }
    }
}

/// The pipeline makes RED's writable paths exactly the test files, and the
/// later stages' writable paths the task's writes minus them; this undoes
/// that split without the project's language at hand.
fn test_files(request: &StageRequest) -> Vec<String> {
    if request.stage == Stage::Red {
        return request.writable.clone();
    }
    let task = &request.task;
    let mut files: Vec<String> = task.test_file.iter().cloned().collect();
    for path in &task.writes {
        if !request.writable.contains(path) && !files.contains(path) {
            files.push(path.clone());
        }
    }
    files
}

/// What a command said on its last non-empty stdout line. Only a summary or
/// an outage is taken from it; claims about tests are ignored.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Said {
    Nothing,
    Summary(String),
    Outage(Option<String>),
}

pub(super) fn last_line(stdout: &str) -> Said {
    let Some(line) = stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Said::Nothing;
    };
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line.trim()) else {
        return Said::Nothing;
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(clip);
    if object.get("status").and_then(Value::as_str) == Some("provider_outage") {
        return Said::Outage(text("message").or_else(|| text("summary")));
    }
    text("summary").map_or(Said::Nothing, Said::Summary)
}

/// At most `MAX_SUMMARY_CHARS` characters.
pub(super) fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_SUMMARY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_last_json_line_gives_a_summary_or_an_outage() {
        let summary = "log\n{\"summary\": \"wrote calc\", \"usage\": {\"tokens\": 9}}\n\n";
        assert_eq!(last_line(summary), Said::Summary("wrote calc".to_string()));
        let outage = "{\"status\": \"provider_outage\", \"message\": \"429\"}";
        assert_eq!(last_line(outage), Said::Outage(Some("429".to_string())));
        let bare = "{\"status\": \"provider_outage\"}";
        assert_eq!(last_line(bare), Said::Outage(None));
        for other in [
            "",
            "done",
            "{\"summary\": 3}",
            "[1]",
            "{\"tests\": \"passed\"}",
            "{",
        ] {
            assert_eq!(last_line(other), Said::Nothing, "{other}");
        }
        // Only the last line counts.
        assert_eq!(last_line("{\"summary\": \"a\"}\nplain"), Said::Nothing);
        assert_eq!(
            clip(&"é".repeat(3000)).chars().count(),
            MAX_SUMMARY_CHARS + 1
        );
    }

    #[test]
    fn the_wire_request_splits_test_files_from_writable_paths() {
        let mut request = super::super::test_request(Path::new("/wt"), Stage::Green, 2);
        request.task.test_file = Some("tests/test_a.py".to_string());
        request.task.writes = vec!["tests/test_a.py".to_string(), "src/a.py".to_string()];
        request.writable = vec!["src/a.py".to_string()];
        request.feedback = Some("why".to_string());
        let wire = WireRequest::new(&request);
        assert_eq!(wire.protocol, PROTOCOL_VERSION);
        assert_eq!(wire.stage, "green");
        assert_eq!(wire.test_files, ["tests/test_a.py"]);
        assert_eq!(wire.writable, ["src/a.py"]);
        assert_eq!(wire.feedback.as_deref(), Some("why"));
        let json = serde_json::to_value(&wire).unwrap();
        assert_eq!(json["kind"], "implement");
        assert_eq!(json["worktree"], "/wt");
    }
}
