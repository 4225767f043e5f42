//! Line-level recognisers of the Markdown format: headings, bullets, `Key:`
//! lines, leading ids and list values.

use crate::ids;
use crate::text::{Span, Spanned};

/// Appends a continuation line to a spanned text.
pub(super) fn extend(text: &mut Spanned<String>, line: Span, body: &str) {
    if !text.value.is_empty() {
        text.value.push(' ');
    }
    text.value.push_str(body);
    text.span.end = line.end;
}

/// `## Title` → (level, byte offset of the title).
pub(super) fn heading(line: &str) -> Option<(usize, usize)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.bytes().take_while(|b| *b == b'#').count();
    if level == 0 || level > 6 {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with(' ') || after.starts_with('\t')) {
        return None;
    }
    Some((
        level,
        indent + level + (after.len() - after.trim_start().len()),
    ))
}

/// Byte offset of a list item's content: `- x`, `* x`, `+ x`, `1. x`, `1) x`, `- [ ] x`.
pub(super) fn bullet(line: &str) -> Option<usize> {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    let marker = if rest.starts_with(['-', '*', '+']) {
        1
    } else {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 || !rest[digits..].starts_with(['.', ')']) {
            return None;
        }
        digits + 1
    };
    let after = &rest[marker..];
    if !after.starts_with([' ', '\t']) {
        return None;
    }
    let mut start = indent + marker + (after.len() - after.trim_start().len());
    for checkbox in ["[ ] ", "[x] ", "[X] "] {
        if line[start..].starts_with(checkbox) {
            start += checkbox.len();
        }
    }
    Some(start)
}

/// `Depends on: …` → ("depends on", offset of the value). Bold keys are accepted.
pub(super) fn key_value(line: &str) -> Option<(String, usize)> {
    let start = line.len() - line.trim_start().len();
    let body = &line[start..];
    let stripped = body.trim_start_matches(['*', '_']);
    let lead = body.len() - stripped.len();
    let colon = stripped.find(':')?;
    let key = stripped[..colon].trim_end_matches(['*', '_']).trim();
    if key.is_empty()
        || key.len() > 40
        || !key
            .chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '-')
    {
        return None;
    }
    let mut value = start + lead + colon + 1;
    let after = &line[value..];
    value += after.len() - after.trim_start_matches(['*', '_']).len();
    Some((key.to_ascii_lowercase(), value))
}

/// An id at the start of `content` (after optional bold), and the rest as text.
pub(super) fn leading_id(
    source: &str,
    start: usize,
    content: &str,
) -> Option<(Spanned<String>, Spanned<String>)> {
    let bare = content.trim_start_matches(['*', '_', '[']);
    let lead = content.len() - bare.len();
    let len = ids::scan_id(bare)?;
    let id_span = Span::new(start + lead, start + lead + len);
    let rest = &bare[len..];
    let skip = rest.len()
        - rest
            .trim_start_matches(['*', '_', ']', ':', '-', '–', '—', '.', ')', ' ', '\t'])
            .len();
    let text_start = start + lead + len + skip;
    let text_end = start + content.trim_end().len();
    let text_span = Span::new(text_start.min(text_end), text_end);
    let text = text_span
        .slice(source)
        .trim_end_matches(['*', '_'])
        .to_string();
    Some((
        Spanned::new(bare[..len].to_string(), id_span),
        Spanned::new(text, text_span),
    ))
}

pub(super) fn trim_span(source: &str, span: Span) -> Span {
    let s = span.slice(source);
    let start = span.start + (s.len() - s.trim_start().len());
    Span::new(start, (start + s.trim().len()).max(start))
}

/// `Depends on:` entries: the ids in each comma- or semicolon-separated part
/// (`REQ-2 (Register)` gives `REQ-2`); a part with no id is kept whole, so
/// prose is reported once rather than word by word. `none` means none.
pub(super) fn split_dependencies(source: &str, value: Span) -> Vec<Spanned<String>> {
    let text = value.slice(source);
    let mut items = Vec::new();
    let mut offset = 0;
    for part in text.split([',', ';']) {
        let part_span = trim_span(
            source,
            Span::new(value.start + offset, value.start + offset + part.len()),
        );
        offset += part.len() + 1;
        let words = split_list(source, part_span);
        let found: Vec<Spanned<String>> = words
            .into_iter()
            .filter_map(|w| {
                let bare = w.value.trim_matches(|c: char| !c.is_ascii_alphanumeric());
                let start = w.span.start + w.value.find(bare).unwrap_or(0);
                ids::is_id(bare)
                    .then(|| Spanned::new(bare.to_string(), Span::new(start, start + bare.len())))
            })
            .collect();
        let whole = part_span
            .slice(source)
            .trim_matches(|c: char| c == '`' || c == '*');
        if !found.is_empty() {
            items.extend(found);
        } else if !whole.is_empty()
            && !matches!(
                whole.to_ascii_lowercase().as_str(),
                "none" | "-" | "n/a" | "—"
            )
        {
            items.push(Spanned::new(whole.to_string(), part_span));
        }
    }
    items
}

/// Comma-, semicolon- or space-separated items with their spans; backticks stripped.
pub(super) fn split_list(source: &str, value: Span) -> Vec<Spanned<String>> {
    let text = value.slice(source);
    let mut items = Vec::new();
    let mut offset = 0;
    for part in text.split([',', ';']) {
        let part_start = value.start + offset;
        offset += part.len() + 1;
        let mut word_offset = 0;
        for word in part.split(' ') {
            let word_start = part_start + word_offset;
            word_offset += word.len() + 1;
            let trimmed =
                word.trim_matches(|c: char| c == '`' || c == '*' || c == '"' || c.is_whitespace());
            if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("and") {
                continue;
            }
            let inner = word.find(trimmed).unwrap_or(0);
            let span = Span::new(word_start + inner, word_start + inner + trimmed.len());
            items.push(Spanned::new(trimmed.to_string(), span));
        }
    }
    items
}
