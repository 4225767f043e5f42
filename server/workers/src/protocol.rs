//! The command-worker plugin protocol (docs/workers.md): the request a
//! program receives and what the engine reads back from its last stdout line.
//!
//! The request is its own versioned wire type rather than a serialised
//! [`Task`](tdd_core::plan::Task), so the plan's internals can change without
//! breaking plugins. Bump [`PROTOCOL_VERSION`] on any incompatible change.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tdd_core::plan::{TaskKind, TestCase};
use tdd_gates::Stage;

use super::{StageRequest, Usage};

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

/// The model use a command reported on its last stdout line (`usage` with
/// `input_tokens`, `output_tokens`, optional `cached_tokens`, `calls`,
/// `cost_usd`, `latency_ms`; and `model`), when it reported any.
pub(super) fn reported_usage(stdout: &str) -> (Option<Usage>, Option<String>) {
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty());
    let Some(Ok(Value::Object(object))) = line.map(|l| serde_json::from_str::<Value>(l.trim()))
    else {
        return (None, None);
    };
    let model = object.get("model").and_then(Value::as_str).map(clip);
    let Some(usage) = object.get("usage").filter(|u| u.is_object()) else {
        return (None, model);
    };
    let count = |key: &str| usage.get(key).and_then(Value::as_u64);
    let (Some(input_tokens), Some(output_tokens)) = (count("input_tokens"), count("output_tokens"))
    else {
        return (None, model);
    };
    let usage = Usage {
        calls: count("calls").map_or(1, |c| u32::try_from(c).unwrap_or(u32::MAX)),
        input_tokens,
        output_tokens,
        cached_tokens: count("cached_tokens").unwrap_or(0).min(input_tokens),
        cost_usd: usage
            .get("cost_usd")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0),
        latency_ms: count("latency_ms").unwrap_or(0),
    };
    (Some(usage), model)
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
    fn the_last_json_line_may_report_model_use() {
        let line = "{\"summary\": \"s\", \"model\": \"m\", \"usage\": {\"input_tokens\": 120, \
                    \"output_tokens\": 30, \"cached_tokens\": 500, \"cost_usd\": 0.25}}";
        let (usage, model) = reported_usage(line);
        let usage = usage.unwrap();
        assert_eq!(
            (usage.calls, usage.input_tokens, usage.output_tokens),
            (1, 120, 30)
        );
        assert_eq!(
            usage.cached_tokens, 120,
            "cached tokens are part of the input"
        );
        assert_eq!(usage.cost_usd, Some(0.25));
        assert_eq!(model.as_deref(), Some("m"));
        for other in [
            "{\"usage\": {\"tokens\": 9}}",
            "{\"usage\": {\"input_tokens\": -1, \"output_tokens\": 2}}",
            "{\"usage\": 3}",
            "not json",
            "",
        ] {
            assert_eq!(reported_usage(other).0, None, "{other}");
        }
        let negative = "{\"usage\": {\"input_tokens\": 1, \"output_tokens\": 2, \"cost_usd\": -1}}";
        assert_eq!(reported_usage(negative).0.unwrap().cost_usd, None);
    }

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
