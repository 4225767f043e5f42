//! The system prompt and the first user message of a stage attempt. Every
//! part taken from the task is bounded, so a large PRD cannot blow the
//! context window.

use std::fmt::Write;

use tdd_gates::Stage;

use super::super::StageRequest;

/// Most characters kept from one field of the task (a title, an outcome…).
const MAX_FIELD: usize = 1_000;
/// Most characters kept from the feedback of the previous attempt.
const MAX_FEEDBACK: usize = 6_000;
/// Most tests, criteria or hints listed.
const MAX_ITEMS: usize = 30;

pub(super) const SYSTEM: &str = "You are the worker of a strict test-driven development \
pipeline. You change files only through the tools, only the paths listed as writable, and \
you call `finish` with a short summary when the stage is done. The engine runs the tests \
itself and judges the stage from their report, not from what you say.";

/// The stage's instructions. The first line names the stage (`Stage: RED`),
/// which tests and fake servers can match on.
pub(crate) fn user_message(request: &StageRequest) -> String {
    let task = &request.task;
    let mut out = String::new();
    let stage = request.stage.as_str().to_uppercase();
    let _ = writeln!(out, "Stage: {stage} (attempt {})", request.attempt);
    let _ = writeln!(out, "{}\n", instructions(request.stage));
    let _ = writeln!(
        out,
        "Task {}: {}",
        clip(&task.key, MAX_FIELD),
        clip(&task.title, MAX_FIELD)
    );
    if let Some(requirement) = &task.requirement {
        let _ = writeln!(out, "Requirement: {}", clip(requirement, MAX_FIELD));
    }
    list(&mut out, "Acceptance criteria", &task.criteria);
    if !task.tests.is_empty() {
        let _ = writeln!(out, "\nTests to write (one per criterion):");
        for test in task.tests.iter().take(MAX_ITEMS) {
            let _ = writeln!(
                out,
                "- {} (proves {})",
                clip(&test.name, MAX_FIELD),
                test.criterion
            );
            for (label, value) in [("given", &test.precondition), ("when", &test.action)] {
                if let Some(value) = value {
                    let _ = writeln!(out, "  {label}: {}", clip(value, MAX_FIELD));
                }
            }
            let _ = writeln!(out, "  then: {}", clip(&test.outcome, MAX_FIELD));
            for error in test.expected_errors.iter().take(MAX_ITEMS) {
                let _ = writeln!(out, "  expected error: {}", clip(error, MAX_FIELD));
            }
        }
    }
    list(&mut out, "Hints", &task.hints);
    list(
        &mut out,
        "Writable paths (relative to the project root)",
        &request.writable,
    );
    if let Some(file) = &task.test_file {
        let _ = writeln!(out, "\nTest file: {file}");
    }
    if let Some(file) = &task.impl_file {
        let _ = writeln!(out, "Implementation file: {file}");
    }
    out.push_str(&super::context::project(request));
    if let Some(feedback) = &request.feedback {
        let _ = writeln!(
            out,
            "\nThe previous attempt did not pass the gate. Evidence:\n{}",
            clip(feedback, MAX_FEEDBACK)
        );
    }
    out
}

fn instructions(stage: Stage) -> &'static str {
    match stage {
        Stage::Red => {
            "Write the failing tests for this task in the writable test files. Do not write the \
             implementation: the tests must fail because the behaviour is missing."
        }
        Stage::Green => {
            "Make the task's tests pass by writing the implementation. The test files are \
             read-only; write the simplest real code, no stubs."
        }
        Stage::Refactor => {
            "Improve the implementation's structure without changing its behaviour; the tests \
             must still pass. If nothing needs improving, call finish."
        }
        Stage::Verify | Stage::Merge => "Nothing to write in this stage: call finish.",
    }
}

fn list(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{heading}:");
    for item in items.iter().take(MAX_ITEMS) {
        let _ = writeln!(out, "- {}", clip(item, MAX_FIELD));
    }
    if items.len() > MAX_ITEMS {
        let _ = writeln!(out, "- … and {} more", items.len() - MAX_ITEMS);
    }
}

/// At most `max` characters.
pub(super) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
