//! A [`PrdOutline`] as a Markdown PRD in the project's own format
//! (docs/prd-format.md), for the user to read, edit and keep. Every value
//! goes on one line, so nothing a model writes can open a heading, a list
//! item or a key line of its own; `check` parses the result back and
//! compares, so a value that still would not survive is reported.

use std::fmt::Write as _;

use super::{OutlineRequirement, PrdOutline};

/// Titles, criteria and paths on one line, runs of whitespace as one space.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A heading's text as the Markdown parser reads it back: no trailing `#`.
pub fn heading_text(text: &str) -> String {
    one_line(text).trim_end_matches('#').trim_end().to_string()
}

/// The Markdown PRD; `source_name` is the document it was made from.
pub fn to_markdown(outline: &PrdOutline, source_name: &str) -> String {
    let mut out = String::new();
    let title = outline
        .title
        .as_deref()
        .map(heading_text)
        .filter(|t| !t.is_empty());
    if let Some(title) = &title {
        // A JSON string is a valid YAML double-quoted scalar.
        let quoted = serde_json::to_string(title).unwrap_or_else(|_| "\"\"".to_string());
        let _ = write!(out, "---\ntitle: {quoted}\n---\n\n");
        if crate::ids::scan_id(title).is_none() {
            let _ = writeln!(out, "# {title}\n");
        }
    }
    let _ = writeln!(
        out,
        "<!-- Written by `tdd-orchestrator decompose --assist` from {}. It is an ordinary PRD \
         now: edit it and decompose it again. -->\n",
        comment_safe(source_name)
    );
    out.push_str("## Requirements\n\n");
    for requirement in &outline.requirements {
        render_requirement(&mut out, requirement, source_name);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn render_requirement(out: &mut String, req: &OutlineRequirement, source_name: &str) {
    let _ = writeln!(
        out,
        "### {} {}\n",
        one_line(&req.id),
        heading_text(&req.title)
    );
    if let Some(source) = req.source.as_deref().filter(|s| !s.trim().is_empty()) {
        let _ = writeln!(
            out,
            "<!-- from {}, {} -->",
            comment_safe(source_name),
            comment_safe(&one_line(source))
        );
    }
    let description = one_line(&req.description);
    if !description.is_empty() {
        // The `Description:` key keeps the text from reading as a key, a
        // list item or a heading; the parser keeps unknown keys as text.
        let _ = writeln!(out, "Description: {description}");
    }
    out.push('\n');
    let mut keys = String::new();
    if let Some(module) = req.module.as_deref().map(one_line) {
        let _ = writeln!(keys, "Module: {module}");
    }
    if !req.tests.is_empty() {
        let tests: Vec<String> = req.tests.iter().map(|t| one_line(t)).collect();
        let _ = writeln!(keys, "Tests: {}", tests.join(", "));
    }
    if !req.depends_on.is_empty() {
        let deps: Vec<String> = req.depends_on.iter().map(|d| one_line(d)).collect();
        let _ = writeln!(keys, "Depends on: {}", deps.join(", "));
    }
    if !keys.is_empty() {
        out.push_str(&keys);
        out.push('\n');
    }
    out.push_str("Acceptance criteria:\n");
    for criterion in &req.criteria {
        let _ = writeln!(
            out,
            "- {}: {}",
            one_line(&criterion.id),
            one_line(&criterion.text)
        );
    }
    out.push('\n');
}

/// Text that cannot end an HTML comment early.
fn comment_safe(text: &str) -> String {
    one_line(text).replace("--", "-")
}
