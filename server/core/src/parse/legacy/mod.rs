//! The plain-text spec format of the earlier Python orchestrator ("legacy").
//!
//! The format is a loose convention rather than a grammar, so the parser is
//! line-based and tolerant: keywords are matched case-insensitively, ids and
//! keywords may be wrapped in `**bold**`, items may carry `-`/`*`/`+` bullets,
//! and CRLF line ends are fine. Recognised elements:
//!
//! - `FR-<id>: Title` starts a requirement (a dotted id such as `FR-1.1` never
//!   does). Its block runs to the next element or heading. Dotted
//!   `FR-<id>.<n>: text` lines inside it are its criteria (SHALL statements);
//!   lines indented deeper than such an item continue its text.
//! - `NFR-<id>: text`, continued by lines indented deeper than the item.
//! - `AC-<id>: Title` followed by `GIVEN`/`WHEN`/`THEN`/`AND`/`BUT` lines. The
//!   criterion text is the title and those lines joined with single spaces.
//! - `### Phase N: Title`, `**TDD Cycle N: Title**` (or a bare
//!   `TDD Cycle N: Title` line) with bullet components, `Tests: 8-10` and
//!   `Module Hint: path`, and the `MODULE STRUCTURE`, `DEPENDENCY CHANGES` and
//!   `MODULE API SPECIFICATION` sections.
//!
//! Continuation lines are joined with single spaces, as the Markdown parser
//! does, so a multi-line text's span runs from its first to its last
//! character while its value is the joined text.
//!
//! # Which requirement an `AC-…` criterion belongs to
//!
//! Criteria are attached after the whole document is read, so order does not
//! matter:
//!
//! 1. the first `FR-…` id mentioned in the criterion's title or Given/When/Then
//!    lines that names an existing requirement (`FR-2.1` names `FR-2` when
//!    there is no requirement `FR-2.1`);
//! 2. otherwise the requirement whose id is the criterion's id with `FR`
//!    for `AC` (`AC-3` → `FR-3`, `AC-3.2` → `FR-3`, `AC-HTMX-01` →
//!    `FR-HTMX-01`; numeric groups compare as numbers, so `AC-03` → `FR-3`);
//! 3. otherwise the criterion goes to `Prd::shared_criteria`.
//!
//! The only diagnostic the parser reports is `MissingId`, for an `FR`, `NFR`
//! or `AC` line that has the keyword but no valid id (`AC: …`, `FR-: …`).
//! Such lines are left out of the model. Everything else is checked by the
//! rules. Every step looks at each line a bounded number of times, so parsing
//! is linear in the size of the input.

use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::ids;
use crate::model::{Format, LegacyPlan, Prd};
use crate::text::lines_with_spans;

#[cfg(test)]
mod edge_tests;
mod lines;
mod parser;
mod plan;
#[cfg(test)]
mod tests;

use lines::*;
use parser::Parser;

/// Parse a legacy spec. Never fails: unrecognised text is skipped.
pub fn parse(text: &str) -> (Prd, Vec<Diagnostic>) {
    let lines: Vec<Line<'_>> = lines_with_spans(text)
        .map(|(span, body)| Line::new(span, body))
        .collect();
    let mut parser = Parser {
        text,
        lines,
        prd: Prd::empty(Format::Legacy),
        diags: Vec::new(),
        plan: LegacyPlan::default(),
        acs: Vec::new(),
        by_id: HashMap::new(),
        phase: None,
        open_req: None,
    };
    parser.run();
    parser.finish()
}

/// True when `text` looks like a legacy spec: a line at column 0 that starts
/// with `FR-<id>:` (bold allowed, no bullet), or a `**TDD Cycle N` /
/// `TDD Cycle N:` line. Lines inside fenced code blocks are not looked at.
pub fn looks_like_legacy(text: &str) -> bool {
    let mut fence: Option<(u8, usize)> = None;
    for (span, body) in lines_with_spans(text) {
        let line = Line::new(span, body);
        let content = line.content();
        if let Some(marker) = fence_marker(content) {
            match fence {
                Some((ch, len)) if marker.0 == ch && marker.1 >= len => fence = None,
                Some(_) => {}
                None => fence = Some(marker),
            }
            continue;
        }
        if fence.is_some() || line.blank {
            continue;
        }
        if line.indent == 0
            && let Some(item) = parse_item(line.content_start(), content)
            && item.kind == Kind::Fr
            && item.id.is_some()
            && !item.bulleted
        {
            return true;
        }
        if numbered_head(content, "tdd cycle")
            .is_some_and(|h| h.strong || (h.colon && line.indent == 0))
        {
            return true;
        }
    }
    false
}

/// `FR-…` ids mentioned in `s` (at word boundaries), in order, with their offsets.
pub(crate) fn fr_mentions(s: &str) -> Vec<(usize, &str)> {
    id_mentions(s)
        .into_iter()
        .filter(|(_, id)| ids::prefix(id) == "FR")
        .collect()
}

/// Every id mentioned in `s` at a word boundary, in order, with its offset.
/// Linear: a scan never starts inside a stretch an earlier scan covered.
pub(crate) fn id_mentions(s: &str) -> Vec<(usize, &str)> {
    let b = s.as_bytes();
    let mut found = Vec::new();
    let mut p = 0;
    while p < b.len() {
        let boundary =
            p == 0 || !(b[p - 1].is_ascii_alphanumeric() || matches!(b[p - 1], b'-' | b'_' | b'.'));
        if boundary && b[p].is_ascii_alphabetic() {
            // `p` is at an ASCII byte, so it is a char boundary.
            if let Some(n) = ids::scan_id(&s[p..]) {
                found.push((p, &s[p..p + n]));
                p += n;
                continue;
            }
        }
        p += 1;
    }
    found
}

/// A key under which ids compare equal: upper case, and numeric groups
/// without leading zeros (`fr-01.2` and `FR-1.2` share a key).
pub(crate) fn id_key(id: &str) -> String {
    fn push_group(key: &mut String, group: &str) {
        if !group.is_empty() && group.bytes().all(|c| c.is_ascii_digit()) {
            let trimmed = group.trim_start_matches('0');
            key.push_str(if trimmed.is_empty() { "0" } else { trimmed });
        } else {
            key.push_str(&group.to_ascii_uppercase());
        }
    }
    let mut key = String::with_capacity(id.len());
    let mut group_start = 0;
    for (i, c) in id.char_indices() {
        if c == '-' || c == '.' {
            push_group(&mut key, &id[group_start..i]);
            key.push(c);
            group_start = i + 1;
        }
    }
    push_group(&mut key, &id[group_start..]);
    key
}
