//! The canonical Markdown PRD format (docs/prd-format.md). Line-based and
//! tolerant: any heading level, any case, `-`/`*`/`+`/numbered bullets,
//! optional bold around ids and keys. Fenced code is skipped.

use crate::diagnostic::{Code, Diagnostic, Edit};
use crate::ids;
use crate::model::{Criterion, Format, Meta, Nfr, Prd, Requirement};
use crate::parse::node::{Node, parse_yaml};
use crate::text::{Span, Spanned, lines_with_spans};

mod syntax;

use syntax::*;

pub fn parse(text: &str) -> (Prd, Vec<Diagnostic>) {
    let mut parser = Parser {
        text,
        prd: Prd::empty(Format::Markdown),
        diags: Vec::new(),
        state: State::default(),
    };
    let body_start = parser.front_matter();
    parser.body(body_start);
    (parser.prd, parser.diags)
}

/// The front matter block (`---` … `---`), if the text starts with one:
/// (inner span, span of the whole block including fences).
pub fn front_matter_block(text: &str) -> Option<(Span, Span)> {
    let mut lines = lines_with_spans(text);
    let (first, line) = lines.next()?;
    if line.trim_start_matches('\u{feff}').trim_end() != "---" {
        return None;
    }
    for (span, line) in lines {
        if matches!(line.trim_end(), "---" | "...") {
            return Some((
                Span::new(first.end + 1, span.start),
                Span::new(first.start, span.end),
            ));
        }
    }
    None
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Section {
    #[default]
    None,
    Requirements,
    SharedCriteria,
    Nfr,
    Other,
}

#[derive(Default)]
struct State {
    section: Section,
    section_level: usize,
    /// Heading level of the open requirement.
    req_level: usize,
    req: Option<Requirement>,
    in_criteria: bool,
    /// The list item being continued: its bullet indent.
    open_item: Option<usize>,
    /// The NFR heading whose paragraph is being collected.
    nfr_heading: bool,
    /// That paragraph has begun: the next blank line ends it (the blank
    /// line between the heading and its paragraph does not).
    nfr_paragraph: bool,
    fence: Option<String>,
    in_comment: bool,
}

struct Parser<'a> {
    text: &'a str,
    prd: Prd,
    diags: Vec<Diagnostic>,
    state: State,
}

impl Parser<'_> {
    /// Reads front matter into `meta`; returns where the body starts.
    fn front_matter(&mut self) -> usize {
        let text = self.text;
        let Some(first) = text.lines().next() else {
            return 0;
        };
        if first.trim_start_matches('\u{feff}').trim_end() != "---" {
            return 0;
        }
        let Some((inner, whole)) = front_matter_block(text) else {
            let open = Span::new(0, first.len());
            self.diags.push(Diagnostic::new(
                Code::SyntaxError,
                open,
                "front matter opened here is never closed: add a line containing only `---` after it",
            ));
            // Read the rest as the body, so one missing line does not hide everything else.
            return open.end;
        };
        match parse_yaml(inner.slice(text)) {
            Ok(node) => self.read_meta(&node, inner.start),
            Err(err) => {
                let yaml = inner.slice(text);
                let at = err.offset(yaml).unwrap_or(0) + inner.start;
                let span = Span::new(
                    at,
                    crate::text::floor_char_boundary(text, (at + 1).min(inner.end)).max(at),
                );
                self.diags.push(Diagnostic::new(
                    Code::SyntaxError,
                    span,
                    format!("front matter is not valid YAML: {}", err.message),
                ));
            }
        }
        whole.end
    }

    fn read_meta(&mut self, node: &Node, base: usize) {
        let field = |key: &str| {
            let value = node.get(key)?;
            Some(Spanned::new(value.scalar_text()?, value.span.shift(base)))
        };
        self.prd.meta = Meta {
            id: field("id"),
            title: field("title"),
            language: field("language"),
        };
    }

    fn body(&mut self, start: usize) {
        let text = self.text;
        for (span, line) in lines_with_spans(text) {
            if span.start < start {
                continue;
            }
            if self.fence(line) || self.html_comment(line) {
                continue;
            }
            self.line(span, line);
        }
        self.close_requirement();
    }

    /// Tracks HTML comments (`<!-- … -->`) that start a line; true when the
    /// line is part of one. Comments are notes to readers, not requirements.
    fn html_comment(&mut self, line: &str) -> bool {
        if self.state.in_comment {
            self.state.in_comment = !line.contains("-->");
            return true;
        }
        let Some(rest) = line.trim_start().strip_prefix("<!--") else {
            return false;
        };
        self.state.in_comment = !rest.contains("-->");
        true
    }

    /// Tracks fenced code blocks; true when the line is inside (or opens/closes) one.
    fn fence(&mut self, line: &str) -> bool {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        if let Some(open) = &self.state.fence {
            if marker.len() >= open.len()
                && marker.starts_with(&open[..1])
                && trimmed[marker.len()..].trim().is_empty()
            {
                self.state.fence = None;
            }
            return true;
        }
        if marker.len() >= 3
            && (marker.chars().all(|c| c == '`') || marker.chars().all(|c| c == '~'))
        {
            self.state.fence = Some(marker);
            self.state.open_item = None;
            return true;
        }
        false
    }

    fn line(&mut self, span: Span, line: &str) {
        if line.trim().is_empty() {
            if self.state.nfr_paragraph {
                self.state.nfr_heading = false;
            }
            return;
        }
        if let Some((level, text_start)) = heading(line) {
            self.state.open_item = None;
            self.state.nfr_heading = false;
            self.state.nfr_paragraph = false;
            let content = line[text_start..]
                .trim_end()
                .trim_end_matches('#')
                .trim_end();
            self.heading(span, level, span.start + text_start, content);
            return;
        }
        let indent = line.len() - line.trim_start().len();
        if let Some(item_start) = bullet(line) {
            // A nested bullet under an open item continues it (Given/When/Then sub-bullets).
            if self.state.open_item.is_some_and(|open| indent > open) {
                self.continue_item(span);
                return;
            }
            self.state.open_item = None;
            self.list_item(span, indent, span.start + item_start);
            return;
        }
        if self.state.open_item.is_some_and(|open| indent > open) {
            self.continue_item(span);
            return;
        }
        self.state.open_item = None;
        if self.state.nfr_heading {
            self.state.nfr_paragraph = true;
            if let Some(nfr) = self.prd.nfrs.last_mut() {
                extend(&mut nfr.text, span, line.trim());
                nfr.span.end = span.end;
            }
            return;
        }
        self.key_line(span, line);
    }

    fn heading(&mut self, line: Span, level: usize, start: usize, content: &str) {
        let lower = content.to_ascii_lowercase();
        let lower = lower.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace());
        if let Some((id, title)) = leading_id(self.text, start, content) {
            if ids::is_nfr(&id.value) {
                self.close_requirement();
                let span = Span::new(line.start, line.end);
                self.prd.nfrs.push(Nfr {
                    id,
                    text: title,
                    span,
                });
                self.state.nfr_heading = true;
                return;
            }
            self.close_requirement();
            if matches!(
                self.state.section,
                Section::None | Section::Other | Section::SharedCriteria | Section::Nfr
            ) {
                self.state.section = Section::Requirements;
                self.state.section_level = level.saturating_sub(1);
            }
            self.state.req_level = level;
            self.state.req = Some(Requirement {
                id,
                title,
                story: None,
                module: None,
                tests: Vec::new(),
                depends_on: Vec::new(),
                depends_line: None,
                criteria: Vec::new(),
                header: line,
                span: line,
            });
            return;
        }
        let is_criteria =
            lower.starts_with("acceptance criteria") || lower.starts_with("acceptance");
        if is_criteria && self.state.req.is_some() && level > self.state.req_level {
            self.state.in_criteria = true;
            return;
        }
        if self.state.req.is_some() && level > self.state.req_level {
            return; // a sub-section inside the requirement
        }
        self.close_requirement();
        let section = if lower.contains("non-functional")
            || lower.contains("nonfunctional")
            || lower.contains("non functional")
        {
            Section::Nfr
        } else if lower.contains("requirements") || lower.contains("user stories") {
            Section::Requirements
        } else if is_criteria {
            Section::SharedCriteria
        } else if self.state.section == Section::Requirements && level > self.state.section_level {
            self.missing_requirement_id(line, start, content);
            return;
        } else {
            Section::Other
        };
        if section == Section::Other
            && self.state.section != Section::None
            && level > self.state.section_level
        {
            return; // a sub-heading of a known section that is not an element
        }
        if self.state.section == Section::Requirements {
            self.prd.requirements_end = Some(self.last_requirement_end());
        }
        self.state.section = section;
        self.state.section_level = level;
    }

    fn missing_requirement_id(&mut self, line: Span, start: usize, content: &str) {
        let taken: Vec<&str> = self
            .prd
            .requirements
            .iter()
            .map(|r| r.id.value.as_str())
            .collect();
        let id = ids::next_free("REQ-", &taken);
        let name = content.trim();
        self.diags.push(
            Diagnostic::new(
                Code::MissingId,
                Span::new(start, line.end),
                format!("requirement heading \"{name}\" has no id, so it is not checked or planned: start it with an id such as `{id}`"),
            )
            .with_fix(format!("Add id {id}"), vec![Edit { span: Span::empty(start), new_text: format!("{id} ") }]),
        );
    }

    fn last_requirement_end(&self) -> usize {
        self.prd.requirements.last().map_or(0, |r| r.span.end)
    }

    fn close_requirement(&mut self) {
        if let Some(req) = self.state.req.take() {
            self.prd.requirements.push(req);
            self.prd.requirements_end = Some(self.last_requirement_end());
        }
        self.state.in_criteria = false;
        self.state.open_item = None;
    }

    fn list_item(&mut self, line: Span, indent: usize, start: usize) {
        let content = Span::new(start, line.end);
        let raw = content.slice(self.text);
        // Keys may come as bullets too ("- Depends on: REQ-1").
        if self.state.req.is_some() && self.key_line(content, raw) {
            return;
        }
        let id = leading_id(self.text, start, raw);
        match self.state.section {
            Section::Nfr if self.state.req.is_none() => {
                let Some((id, text)) = id else {
                    self.diags.push(Diagnostic::new(
                        Code::MissingId,
                        content,
                        "non-functional requirement has no id: start it with an id such as `NFR-1:`",
                    ));
                    return;
                };
                self.prd.nfrs.push(Nfr {
                    id,
                    text,
                    span: line,
                });
                self.state.open_item = Some(indent);
            }
            Section::SharedCriteria if self.state.req.is_none() => {
                let criterion = make_criterion(id, content, raw, line);
                self.prd.shared_criteria.push(criterion);
                self.state.open_item = Some(indent);
            }
            _ => {
                let in_criteria = self.state.in_criteria;
                let Some(req) = self.state.req.as_mut() else {
                    return;
                };
                req.span.end = line.end;
                let looks_like_criterion =
                    id.is_some() || in_criteria || crate::ears::classify(raw).is_testable();
                if !looks_like_criterion {
                    return;
                }
                let criterion = make_criterion(id, content, raw, line);
                req.criteria.push(criterion);
                self.state.open_item = Some(indent);
            }
        }
    }

    fn continue_item(&mut self, line: Span) {
        let text = self.text;
        let body = line.slice(text).trim();
        let body = bullet(body).map_or(body, |s| &body[s..]);
        if let Some(req) = self.state.req.as_mut() {
            req.span.end = line.end;
            if let Some(c) = req.criteria.last_mut() {
                extend(&mut c.text, line, body);
                c.span.end = line.end;
            }
            return;
        }
        match self.state.section {
            Section::Nfr => {
                if let Some(n) = self.prd.nfrs.last_mut() {
                    extend(&mut n.text, line, body);
                    n.span.end = line.end;
                }
            }
            Section::SharedCriteria => {
                if let Some(c) = self.prd.shared_criteria.last_mut() {
                    extend(&mut c.text, line, body);
                    c.span.end = line.end;
                }
            }
            _ => {}
        }
    }

    /// `Module:`, `Tests:`, `Depends on:`, `Acceptance criteria:`, story lines.
    /// Returns true when the line was consumed.
    fn key_line(&mut self, span: Span, line: &str) -> bool {
        let text = self.text;
        let Some(req) = self.state.req.as_mut() else {
            return false;
        };
        let trimmed_start = line.len() - line.trim_start().len();
        let Some((key, value_start)) = key_value(line) else {
            let lower = line.trim().to_ascii_lowercase();
            if lower.starts_with("as a ") || lower.starts_with("as an ") {
                let start = span.start + trimmed_start;
                req.story = Some(Spanned::new(
                    line.trim().to_string(),
                    Span::new(start, span.end),
                ));
                req.span.end = span.end;
                return true;
            }
            req.span.end = span.end;
            return false;
        };
        let value = Span::new(span.start + value_start, span.end);
        let value = trim_span(text, value);
        match key.as_str() {
            "module" | "modules" | "implementation" | "module hint" => {
                req.module = split_list(text, value).into_iter().next();
            }
            "tests" | "test" | "test file" | "test files" => req.tests = split_list(text, value),
            "depends on" | "depends-on" | "dependencies" | "dependency" | "requires" => {
                req.depends_on = split_dependencies(text, value);
                req.depends_line = Some(span);
            }
            "story" | "user story" => {
                req.story = Some(Spanned::new(value.slice(text).to_string(), value))
            }
            k if k.starts_with("acceptance criteria") || k == "acceptance" => {
                self.state.in_criteria = true
            }
            _ => {
                req.span.end = span.end;
                return false;
            }
        }
        if let Some(req) = self.state.req.as_mut() {
            req.span.end = span.end;
        }
        true
    }
}

fn make_criterion(
    id: Option<(Spanned<String>, Spanned<String>)>,
    content: Span,
    raw: &str,
    line: Span,
) -> Criterion {
    match id {
        Some((id, text)) => Criterion {
            id: Some(id),
            text,
            span: line,
        },
        None => Criterion {
            id: None,
            text: Spanned::new(raw.trim().to_string(), content),
            span: line,
        },
    }
}
