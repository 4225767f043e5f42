//! `run_tests`' answer: a test report made short enough for the model.

use tdd_gates::report::{FailureKind, Outcome, TestReport};

use crate::api::prompt::clip;

/// Most failing tests (and problems) listed.
const MAX_LISTED: usize = 20;
/// Most characters of one failure message, and of one test id.
const MAX_MESSAGE: usize = 400;
const MAX_ID: usize = 200;
/// Most characters of the whole answer (about).
const MAX_TOTAL: usize = 8_000;

fn kind(kind: &FailureKind) -> String {
    match kind {
        FailureKind::Assertion => "assertion".to_string(),
        FailureKind::MissingSymbol { symbol } => {
            format!("missing symbol `{}`", clip(symbol, MAX_ID))
        }
        FailureKind::Error => "error".to_string(),
        FailureKind::Syntax => "syntax".to_string(),
        FailureKind::Build => "build".to_string(),
        FailureKind::Collection => "collection".to_string(),
        FailureKind::Timeout => "timeout".to_string(),
    }
}

/// Counts, then each failing or errored test (`id [kind]: message`) and
/// each problem outside a test, bounded in number and in length.
pub(super) fn summarize(report: &TestReport) -> String {
    let failing: Vec<String> = report
        .tests
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::Errored))
        .map(|test| {
            let (kind, message) = match &test.failure {
                Some(f) => (kind(&f.kind), f.message.as_str()),
                None => ("failed".to_string(), ""),
            };
            let id = clip(&test.id, MAX_ID);
            format!("- {id} [{kind}]: {}", clip(message.trim(), MAX_MESSAGE))
        })
        .collect();
    let problems: Vec<String> = report
        .problems
        .iter()
        .map(|problem| {
            let scope = clip(problem.scope.as_deref().unwrap_or("(suite)"), MAX_ID);
            let message = clip(problem.message.trim(), MAX_MESSAGE);
            format!("- {scope} [{}]: {message}", kind(&problem.kind))
        })
        .collect();
    let mut out = report.summary().to_string();
    // Half the room each, so problems are not crowded out by failures.
    list(&mut out, "failing:", &failing, MAX_TOTAL / 2);
    list(&mut out, "problems outside a test:", &problems, MAX_TOTAL);
    out
}

fn list(out: &mut String, heading: &str, lines: &[String], budget: usize) {
    if lines.is_empty() {
        return;
    }
    out.push('\n');
    out.push_str(heading);
    for (i, line) in lines.iter().enumerate() {
        if i >= MAX_LISTED || out.len() + line.len() > budget {
            out.push_str(&format!("\n- … and {} more", lines.len() - i));
            return;
        }
        out.push('\n');
        out.push_str(line);
    }
}
