//! Validation rules over the parsed model. Each rule is a function from the
//! model (and source text, for exact word ranges and fixes) to diagnostics.

mod content;
mod graph;
pub(crate) mod paths;

use crate::diagnostic::Diagnostic;
use crate::model::{Format, Prd};

pub fn check(prd: &Prd, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let edits = Edits {
        enabled: matches!(prd.format, Format::Markdown | Format::Legacy),
    };
    content::no_requirements(prd, text, &mut out);
    graph::duplicate_ids(prd, edits, &mut out);
    content::missing_criteria(prd, text, edits, &mut out);
    content::missing_criterion_ids(prd, text, edits, &mut out);
    content::untestable_criteria(prd, &mut out);
    content::vague_wording(prd, text, &mut out);
    graph::unknown_dependencies(prd, text, edits, &mut out);
    graph::dependency_cycles(prd, &mut out);
    paths::unsafe_paths(prd, &mut out);
    paths::shared_test_files(prd, &mut out);
    content::unmeasurable_nfrs(prd, &mut out);
    out
}

/// Whether text-edit fixes apply to this format. In YAML/JSON a value's span
/// may include quotes or flow syntax, so plain-text edits could corrupt it.
#[derive(Clone, Copy)]
pub(crate) struct Edits {
    pub enabled: bool,
}

/// Line break used by the document, so inserted text matches it.
pub(crate) fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}
