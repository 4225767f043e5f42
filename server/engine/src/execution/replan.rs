//! Before a run dispatches anything: the PRD as it is now, not as it was
//! decomposed.

use std::path::Path;

use super::{Emit, ExecError, RunEvent};
use crate::planning;
use crate::store::Store;

/// The PRD as it is now, not as it was decomposed: a changed PRD that is
/// invalid is refused with its errors (running the old plan would build
/// what the document no longer says); a changed valid one is re-planned,
/// and the change told, before anything is dispatched. A PRD gone from disk
/// runs the plan that was stored.
pub(super) fn refresh_plan(
    root: &Path,
    file: &Path,
    rel: &str,
    prd: &crate::store::PrdRow,
    store: &mut Store,
    emit: &Emit,
) -> Result<(), ExecError> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Ok(());
    };
    if prd.decomposed_hash.as_deref() == Some(tdd_core::plan::text_hash(&text).as_str()) {
        return Ok(());
    }
    let analysis = tdd_core::analysis::analyze(rel, &text, &Default::default());
    let index = tdd_core::text::LineIndex::new(&text);
    let at = |start: usize| {
        let at = index.line_col(&text, start, tdd_core::text::ColumnUnit::Char);
        format!("{rel}:{}:{}", at.line + 1, at.col + 1)
    };
    let mut problems: Vec<String> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.severity == tdd_core::diagnostic::Severity::Error)
        .map(|d| format!("{}: {}", at(d.span.start), d.message))
        .collect();
    let planned = planning::plan_text(root, file, text.clone())?;
    problems.extend(
        planned
            .errors
            .iter()
            .map(|e| format!("{}: {}", at(e.span.start), e.message)),
    );
    if !problems.is_empty() {
        return Err(ExecError::InvalidPrd {
            prd: rel.to_string(),
            problems: problems.join("; "),
        });
    }
    let changes = planning::apply_during_run(store, &planned)?;
    let message = format!(
        "{rel} changed since it was decomposed: re-planned before the run ({} added, {} re-planned, {} cancelled, {} done but changed)",
        changes.added.len(),
        changes.replanned.len() + changes.revived.len(),
        changes.cancelled.len(),
        changes.changed_since_done.len(),
    );
    emit(&RunEvent::Warning { message: &message });
    Ok(())
}
