//! Line-level recognisers of the legacy format: items, headings, bullets, plan entries.

use crate::ids;
use crate::model::Export;
use crate::text::{Span, Spanned};

/// One source line (terminator excluded).
#[derive(Clone, Copy, Debug)]
pub(super) struct Line<'a> {
    pub(super) span: Span,
    pub(super) body: &'a str,
    /// Bytes of leading whitespace (and a byte-order mark).
    pub(super) lead: usize,
    /// Indentation width: a space counts 1, a tab 4. A byte-order mark counts 0.
    pub(super) indent: usize,
    pub(super) blank: bool,
}

impl<'a> Line<'a> {
    pub(super) fn new(span: Span, body: &'a str) -> Self {
        let mut lead = 0;
        let mut indent = 0;
        for c in body.chars() {
            match c {
                ' ' => indent += 1,
                '\t' => indent += 4,
                '\u{feff}' => {}
                _ => break,
            }
            lead += c.len_utf8();
        }
        Line {
            span,
            body,
            lead,
            indent,
            blank: body.trim().is_empty(),
        }
    }

    /// The text after the indentation, without trailing whitespace.
    pub(super) fn content(&self) -> &'a str {
        self.body[self.lead..].trim_end()
    }

    pub(super) fn content_start(&self) -> usize {
        self.span.start + self.lead
    }

    pub(super) fn content_end(&self) -> usize {
        self.span.start + self.lead + self.content().len()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Fr,
    Nfr,
    Ac,
}

impl Kind {
    pub(super) fn keyword(self) -> &'static str {
        match self {
            Kind::Fr => "FR",
            Kind::Nfr => "NFR",
            Kind::Ac => "AC",
        }
    }
}

/// An `FR`/`NFR`/`AC` line: `<id>: <title>`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Item {
    pub(super) kind: Kind,
    /// The id, or `None` when the keyword has no valid id (`AC: …`).
    pub(super) id: Option<Span>,
    /// The keyword and whatever stands where the id should be.
    pub(super) label: Span,
    /// The text after the colon, trimmed, without closing bold markers.
    pub(super) title: Span,
    /// Where the item starts (its bullet, if any).
    pub(super) start: usize,
    pub(super) bulleted: bool,
}

/// Byte length of a list bullet (`- `, `* `, `+ `, `• `, `1. `, `2) `) and the space after it.
pub(super) fn bullet_len(s: &str) -> usize {
    let marker = if s.starts_with(['-', '*', '+']) {
        1
    } else if s.starts_with('•') {
        '•'.len_utf8()
    } else {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 3 || !s[digits..].starts_with(['.', ')']) {
            return 0;
        }
        digits + 1
    };
    let after = &s[marker..];
    let space = after.len() - after.trim_start_matches([' ', '\t']).len();
    if space == 0 { 0 } else { marker + space }
}

/// Byte length of an opening bold marker (`**` or `__`).
pub(super) fn bold_len(s: &str) -> usize {
    if s.starts_with("**") || s.starts_with("__") {
        2
    } else {
        0
    }
}

/// Parse an item from a line's content (`start` is the content's offset).
pub(super) fn parse_item(start: usize, content: &str) -> Option<Item> {
    let bullet = bullet_len(content);
    let rest = &content[bullet..];
    let bold = bold_len(rest);
    let body = &rest[bold..];
    let body_start = start + bullet + bold;
    let (kind, id, label_len, after) = match ids::scan_id(body) {
        Some(n) => {
            let kind = match ids::prefix(&body[..n]).as_str() {
                "FR" => Kind::Fr,
                "NFR" => Kind::Nfr,
                "AC" => Kind::Ac,
                _ => return None,
            };
            let tail = body[n..]
                .trim_start_matches(['*', '_'])
                .trim_start_matches([' ', '\t']);
            let colon = tail.strip_prefix(':')?;
            (
                kind,
                Some(Span::new(body_start, body_start + n)),
                n,
                body.len() - colon.len(),
            )
        }
        None => {
            let colon = body.bytes().take(40).position(|c| c == b':')?;
            let label = body[..colon].trim_end_matches(['*', '_', ' ', '\t']);
            let kind = [Kind::Nfr, Kind::Fr, Kind::Ac].into_iter().find(|k| {
                label
                    .get(..k.keyword().len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(k.keyword()))
            })?;
            let junk = &label[kind.keyword().len()..];
            let junk_trimmed = junk.trim_start();
            let looks_like_id_slot = !junk.starts_with(|c: char| c.is_ascii_alphabetic())
                && junk_trimmed.len() <= 16
                && junk_trimmed
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '#'));
            if !looks_like_id_slot {
                return None;
            }
            (kind, None, label.len(), colon + 1)
        }
    };
    // `**FR-1:** Title`: the closing bold marker right after the colon.
    let tail = &body[after..];
    let unbolded = tail.strip_prefix("**").unwrap_or(tail);
    let lead = tail.len() - unbolded.trim_start().len();
    let title_start = body_start + after + lead;
    let mut title = tail[lead..].trim_end();
    // `**FR-1: Title**`: an unpaired closing marker at the end.
    if title.ends_with("**") && title.matches("**").count() % 2 == 1 {
        title = title[..title.len() - 2].trim_end();
    }
    Some(Item {
        kind,
        id,
        label: Span::new(body_start, body_start + label_len),
        title: Span::new(title_start, title_start + title.len()),
        start,
        bulleted: bullet > 0,
    })
}

/// A Given/When/Then line: the offset of its keyword and the step text
/// (bold markers around the keyword dropped).
pub(super) fn parse_gherkin(start: usize, content: &str) -> Option<(usize, String)> {
    let bullet = bullet_len(content);
    let rest = &content[bullet..];
    let bold = bold_len(rest);
    let body = &rest[bold..];
    let keyword = ["GIVEN", "WHEN", "THEN", "AND", "BUT"]
        .into_iter()
        .find(|k| {
            body.get(..k.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(k))
        })?;
    let after = &body[keyword.len()..];
    if after.starts_with(|c: char| c.is_alphanumeric() || c == '-' || c == '\'') {
        return None;
    }
    let mut step = after.trim_start_matches(['*', '_']);
    if bold > 0 {
        step = step.trim_end_matches(['*', '_']);
    }
    let step = step.trim();
    let mut text = String::with_capacity(keyword.len() + 1 + step.len());
    text.push_str(&body[..keyword.len()]);
    if !step.is_empty() && !step.starts_with([':', ',']) {
        text.push(' ');
    }
    text.push_str(step);
    Some((start + bullet + bold, text))
}

/// A line of three or more `=` or `-` (surrounding whitespace allowed).
pub(super) fn underline(body: &str) -> Option<char> {
    let t = body.trim();
    if t.len() < 3 {
        return None;
    }
    ['=', '-'].into_iter().find(|&c| t.chars().all(|x| x == c))
}

/// `# Heading` at column 0: the byte length of the hashes and the space after them.
pub(super) fn hash_heading(line: &Line<'_>) -> Option<usize> {
    if line.indent > 0 {
        return None;
    }
    let content = line.content();
    let hashes = content.bytes().take_while(|c| *c == b'#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let after = &content[hashes..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    Some(content.len() - after.trim_start().len())
}

/// An opening or closing code fence: its character and length.
pub(super) fn fence_marker(content: &str) -> Option<(u8, usize)> {
    let ch = *content.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = content.bytes().take_while(|c| *c == ch).count();
    (len >= 3).then_some((ch, len))
}

/// An ALL-CAPS heading such as `FUNCTIONAL REQUIREMENTS` or `MODULE STRUCTURE:`.
pub(super) fn is_caps_heading(content: &str) -> bool {
    let t = content.trim();
    let t = t.strip_suffix(':').unwrap_or(t);
    if t.len() < 3 || t.len() > 80 {
        return false;
    }
    let letters = t.bytes().filter(u8::is_ascii_uppercase).count();
    letters >= 3
        && t.chars().all(|c| {
            c.is_ascii_uppercase()
                || c.is_ascii_digit()
                || matches!(c, ' ' | '-' | '&' | '(' | ')' | ',' | '\'')
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Section {
    /// Recognised and skipped: the requirement, criteria and plan headers.
    Known,
    ModuleStructure,
    DependencyChanges,
    ModuleApi,
}

/// A section header by name, whatever its decoration (`#`, bold, numbering, colon).
pub(super) fn known_section(content: &str) -> Option<Section> {
    let t = content.trim();
    if t.is_empty() || t.len() > 60 {
        return None;
    }
    let t = t.trim_start_matches('#').trim();
    let t = t.trim_matches(['*', '_']).trim();
    let numbered = t
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.' || *c == b')')
        .count();
    let t = t[numbered..].trim();
    let t = t.strip_suffix(':').unwrap_or(t).trim();
    let words: Vec<String> = t.split_whitespace().map(str::to_ascii_uppercase).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["FUNCTIONAL", "REQUIREMENTS"]
        | ["NON-FUNCTIONAL" | "NONFUNCTIONAL", "REQUIREMENTS"]
        | ["NON", "FUNCTIONAL", "REQUIREMENTS"]
        | ["ACCEPTANCE", "CRITERIA"]
        | ["IMPLEMENTATION", "PLAN"] => Some(Section::Known),
        ["MODULE", "STRUCTURE"] => Some(Section::ModuleStructure),
        ["DEPENDENCY" | "DEPENDENCIES", "CHANGES"] => Some(Section::DependencyChanges),
        ["MODULE", "API", "SPECIFICATION"] | ["MODULE", "API"] => Some(Section::ModuleApi),
        _ => None,
    }
}

/// `Phase 2: Title` / `TDD Cycle 3: Title` with optional `#`s and bold.
pub(super) struct NumberedHead {
    pub(super) number: u32,
    pub(super) title: String,
    /// Introduced by `#`s or bold.
    pub(super) strong: bool,
    /// A colon follows the number.
    pub(super) colon: bool,
}

pub(super) fn numbered_head(content: &str, keyword: &str) -> Option<NumberedHead> {
    let hashes = content.bytes().take_while(|c| *c == b'#').count();
    let s = content[hashes..].trim_start();
    let bold = bold_len(s);
    let s = &s[bold..];
    if !s
        .get(..keyword.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(keyword))
    {
        return None;
    }
    let rest = &s[keyword.len()..];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    if trimmed.len() == rest.len() {
        return None;
    }
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let number = trimmed[..digits].parse().ok()?;
    let after = &trimmed[digits..];
    if after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let unbolded = after.replace("**", "");
    let colon = unbolded.trim_start().starts_with(':');
    let title = unbolded.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, ':' | '-' | '–' | '—' | '.' | ')')
    });
    Some(NumberedHead {
        number,
        title: title.trim().to_string(),
        strong: hashes > 0 || bold > 0,
        colon,
    })
}

/// `Key: value` with an optional bullet and bold key: (lower-case key, value span).
pub(super) fn key_value(start: usize, content: &str) -> Option<(String, Span)> {
    let bullet = bullet_len(content);
    let rest = &content[bullet..];
    let bold = bold_len(rest);
    let body = &rest[bold..];
    let colon = body.bytes().take(40).position(|c| c == b':')?;
    let key = body[..colon].trim_end_matches(['*', '_']).trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphabetic() || matches!(c, ' ' | '-' | '_'))
    {
        return None;
    }
    let tail = &body[colon + 1..];
    let lead = tail.len() - tail.trim_start_matches(['*', '_']).trim_start().len();
    let value_start = start + bullet + bold + colon + 1 + lead;
    let value = tail[lead..].trim_end();
    Some((
        key.to_ascii_lowercase(),
        Span::new(value_start, value_start + value.len()),
    ))
}

/// Whitespace-separated tokens of `s` with their offsets.
pub(super) fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = s;
    let mut offset = 0;
    std::iter::from_fn(move || {
        let skipped = rest.len() - rest.trim_start().len();
        offset += skipped;
        rest = &rest[skipped..];
        if rest.is_empty() {
            return None;
        }
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = (offset, &rest[..len]);
        offset += len;
        rest = &rest[len..];
        Some(token)
    })
}

/// A token with quotes, backticks, brackets and trailing punctuation removed:
/// (offset within the token, cleaned text).
pub(super) fn clean_token(token: &str) -> (usize, &str) {
    let head = token.trim_start_matches(['`', '\'', '"', '(', '[', '<', '*']);
    let cleaned = head.trim_end_matches(['`', '\'', '"', ')', ']', '>', ',', '.', ';', ':', '*']);
    (token.len() - head.len(), cleaned)
}

/// The first token of `s` (at offset `start`) that is a `src/…` or `backend/…` path.
pub(super) fn path_token(start: usize, s: &str) -> Option<Spanned<String>> {
    tokens(s).find_map(|(at, token)| {
        let (inner, cleaned) = clean_token(token);
        let is_path =
            cleaned.len() > 4 && (cleaned.starts_with("src/") || cleaned.starts_with("backend/"));
        is_path.then(|| {
            let from = start + at + inner;
            Spanned::new(cleaned.to_string(), Span::new(from, from + cleaned.len()))
        })
    })
}

/// `8-10`, `8–10`, `8 to 10`, `~6`, `5 tests` → (low, high).
pub(super) fn parse_range(value: &str) -> Option<(u32, u32)> {
    let s = value.trim_start_matches(['~', '≈', ' ', '\t']);
    let number = |s: &str| -> Option<(u32, usize)> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        Some((s[..digits].parse().ok()?, digits))
    };
    let (low, used) = number(s)?;
    let rest = s[used..].trim_start();
    let rest = if let Some(r) = rest.strip_prefix(['-', '–', '—']) {
        Some(r)
    } else if rest.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("to")) {
        Some(&rest[2..])
    } else {
        None
    };
    let high = rest
        .and_then(|r| number(r.trim_start()))
        .map_or(low, |(n, _)| n);
    Some((low.min(high), low.max(high)))
}

/// A file name or path with an extension (`loans.py`, `models/loan.py`, `pyproject.toml`).
pub(super) fn is_file_name(s: &str) -> bool {
    if s.is_empty() || s.ends_with('/') || s.contains(char::is_whitespace) {
        return false;
    }
    let name = s.rsplit('/').next().unwrap_or(s);
    match name.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && !ext.is_empty()
                && ext.len() <= 10
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && ext.chars().any(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// Tree-drawing characters and bullets that prefix a line of a module tree.
pub(super) fn is_tree_char(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '│' | '├'
                | '└'
                | '─'
                | '┬'
                | '┼'
                | '┤'
                | '┌'
                | '┐'
                | '┘'
                | '┴'
                | '╰'
                | '╭'
                | '╮'
                | '╯'
                | '|'
                | '`'
                | '+'
                | '-'
                | '*'
                | '•'
        )
}

/// A tree line without its `#` comment and drawing characters.
pub(super) fn tree_entry(content: &str) -> &str {
    let mut s = content;
    // A `#` at the start or after whitespace starts a comment.
    let bytes = s.as_bytes();
    if let Some(hash) = (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()))
    {
        s = &s[..hash];
    }
    s.trim_start_matches(is_tree_char).trim_end()
}

/// Quoted strings of a TOML array line and whether its closing `]` was seen.
pub(super) fn quoted_strings(s: &str, out: &mut Vec<String>) -> bool {
    let mut rest = s;
    loop {
        let Some(pos) = rest.find(['"', '\'', ']']) else {
            return false;
        };
        let quote = rest[pos..].chars().next().unwrap_or(']');
        if quote == ']' {
            return true;
        }
        let after = &rest[pos + 1..];
        let Some(close) = after.find(quote) else {
            return false;
        };
        let value = after[..close].trim();
        if !value.is_empty() {
            out.push(value.to_string());
        }
        rest = &after[close + 1..];
    }
}

/// `name = [ …` → (name, text after `[`).
pub(super) fn toml_array_start(s: &str) -> Option<(String, &str)> {
    let (key, value) = s.split_once('=')?;
    let key = key.trim().trim_matches(['"', '\'']);
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return None;
    }
    let value = value.trim_start().strip_prefix('[')?;
    Some((key.to_string(), value))
}

/// `src/x/y.py:` (bullet, bold and backticks allowed) → the path. In a
/// heading (`### src/x/y.py`) the colon is optional.
pub(super) fn module_path(content: &str, heading: bool) -> Option<&str> {
    let s = content[bullet_len(content)..].trim();
    let stripped = s
        .strip_suffix(':')
        .or_else(|| s.strip_suffix(":**").or_else(|| s.strip_suffix("**:")));
    let s = match stripped {
        Some(s) => s,
        None if heading => s,
        None => return None,
    };
    let s = s.trim().trim_matches(['`', '*', '"', '\'']);
    let path_like = s.contains('/') || is_file_name(s);
    (path_like && !s.is_empty() && !s.contains(char::is_whitespace)).then_some(s)
}

/// `- Name (kind): description` → an export.
pub(super) fn parse_export(content: &str) -> Option<Export> {
    let s = content[bullet_len(content)..].trim();
    let end = s
        .find(|c: char| c == '(' || c == ':' || c.is_whitespace())
        .unwrap_or(s.len());
    let name = s[..end].trim_matches(['`', '*', '"', '\'']);
    if name.is_empty() {
        return None;
    }
    let mut rest = s[end..].trim_start();
    let mut kind = None;
    if let Some(open) = rest.strip_prefix('(') {
        let close = open.find(')').unwrap_or(open.len());
        let k = open[..close].trim();
        kind = (!k.is_empty()).then(|| k.to_string());
        rest = open.get(close + 1..).unwrap_or("").trim_start();
    }
    let description = rest
        .strip_prefix(':')
        .or_else(|| rest.strip_prefix(['-', '–', '—']))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    Some(Export {
        name: name.to_string(),
        kind,
        description,
    })
}
