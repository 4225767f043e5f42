//! The legacy parser's state machine over classified lines.

use std::collections::HashMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Criterion, Cycle, LegacyPlan, Nfr, Phase, Prd, Requirement};
use crate::text::{Span, Spanned};

use super::*;

pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    pub(super) lines: Vec<Line<'a>>,
    pub(super) prd: Prd,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) plan: LegacyPlan,
    /// `AC-…` criteria, attached once every requirement is known.
    pub(super) acs: Vec<Criterion>,
    /// Requirement index by `id_key`; the first of duplicates wins.
    pub(super) by_id: HashMap<String, usize>,
    /// Number of the nearest preceding phase header.
    pub(super) phase: Option<u32>,
    /// The requirement whose block is open: following lines extend its span.
    pub(super) open_req: Option<usize>,
}

impl Parser<'_> {
    pub(super) fn run(&mut self) {
        let mut i = 0;
        let mut first = true;
        while i < self.lines.len() {
            if self.lines[i].blank {
                i += 1;
                continue;
            }
            let is_first = std::mem::replace(&mut first, false);
            i = self.step(i, is_first).max(i + 1);
        }
    }

    pub(super) fn after_blank(&self, i: usize) -> bool {
        i == 0 || self.lines[i - 1].blank
    }

    /// The underline character when line `i` is a heading underlined by line `i + 1`.
    pub(super) fn underlined(&self, i: usize) -> Option<char> {
        let line = self.lines.get(i)?;
        if line.blank || underline(line.body).is_some() {
            return None;
        }
        underline(self.lines.get(i + 1)?.body)
    }

    /// A line that ends any open block: a heading of any kind, a rule, a
    /// section name, a phase or a cycle.
    pub(super) fn is_boundary(&self, i: usize) -> bool {
        let line = &self.lines[i];
        if line.blank {
            return false;
        }
        let content = line.content();
        underline(line.body).is_some()
            || hash_heading(line).is_some()
            || self.underlined(i).is_some()
            || (line.indent == 0 && self.after_blank(i) && is_caps_heading(content))
            || known_section(content).is_some()
            || self.head(i, "phase").is_some()
            || self.head(i, "tdd cycle").is_some()
    }

    /// A boundary, or an element line at column 0 (ends plan blocks).
    pub(super) fn ends_plan_block(&self, i: usize) -> bool {
        let line = &self.lines[i];
        self.is_boundary(i)
            || (line.indent == 0
                && parse_item(line.content_start(), line.content()).is_some_and(|it| !it.bulleted))
    }

    /// A phase or cycle header on line `i`: `#`/bold/underlined, or a bare
    /// `Keyword N:` at column 0.
    pub(super) fn head(&self, i: usize, keyword: &str) -> Option<NumberedHead> {
        let line = &self.lines[i];
        if line.indent > 3 && hash_heading(line).is_none() {
            return None;
        }
        let head = numbered_head(line.content(), keyword)?;
        let accepted =
            head.strong || self.underlined(i).is_some() || (head.colon && line.indent == 0);
        accepted.then_some(head)
    }

    /// Handles the non-blank line `i`; returns the next line to look at.
    pub(super) fn step(&mut self, i: usize, first: bool) -> usize {
        let line = self.lines[i];
        if underline(line.body).is_some() {
            self.open_req = None;
            return i + 1;
        }
        let hashes = hash_heading(&line);
        let (start, content) = match hashes {
            Some(n) => (line.content_start() + n, &line.content()[n..]),
            None => (line.content_start(), line.content()),
        };
        if let Some(item) = parse_item(start, content) {
            return self.element(i, item);
        }
        let underlined = self.underlined(i);
        let next = if underlined.is_some() { i + 2 } else { i + 1 };
        if let Some(head) = self.head(i, "tdd cycle") {
            self.open_req = None;
            return self.cycle(i, next, head);
        }
        if let Some(head) = self.head(i, "phase") {
            self.open_req = None;
            self.plan.phases.push(Phase {
                number: head.number,
                title: head.title,
                span: line_span(&line),
            });
            self.phase = Some(head.number);
            return next;
        }
        let section = known_section(content);
        let heading = hashes.is_some()
            || underlined.is_some()
            || section.is_some()
            || (line.indent == 0 && self.after_blank(i) && is_caps_heading(content));
        if !heading {
            if let Some(r) = self.open_req {
                let req = &mut self.prd.requirements[r];
                req.span.end = req.span.end.max(line.content_end());
            }
            return i + 1;
        }
        self.open_req = None;
        match section {
            Some(Section::ModuleStructure) => return self.module_structure(i, next),
            Some(Section::DependencyChanges) => return self.dependency_changes(i, next),
            Some(Section::ModuleApi) => return self.module_api(next),
            Some(Section::Known) => return next,
            None => {}
        }
        let single_hash = line.content().starts_with('#') && !line.content().starts_with("##");
        let title_like = underlined == Some('=') || (hashes.is_some() && single_hash);
        if first && title_like {
            let bold = bold_len(content);
            let inner = content[bold..].trim_end_matches(['*', '_']).trim_end();
            let inner = if hashes.is_some() {
                inner.trim_end_matches('#').trim_end()
            } else {
                inner
            };
            if !inner.is_empty() {
                let from = start + bold;
                self.prd.meta.title = Some(Spanned::new(
                    inner.to_string(),
                    Span::new(from, from + inner.len()),
                ));
            }
        }
        next
    }

    /// An `FR`/`NFR`/`AC` line.
    pub(super) fn element(&mut self, i: usize, item: Item) -> usize {
        let line = self.lines[i];
        let Some(id_span) = item.id else {
            let keyword = item.kind.keyword();
            self.diags.push(Diagnostic::new(
                Code::MissingId,
                item.label,
                format!(
                    "this `{keyword}` line has no valid id, so it is ignored: write it as `{keyword}-<n>: …`, e.g. `{keyword}-1:`"
                ),
            ));
            if item.kind == Kind::Ac {
                self.open_req = None;
                return self.ac_end(i);
            }
            let (end, next) = self.continuation(i);
            match self.open_req {
                // An indented `FR:` line inside a requirement block stays part of the block.
                Some(r) if item.kind == Kind::Fr && line.indent > 0 => {
                    let req = &mut self.prd.requirements[r];
                    req.span.end = req.span.end.max(end.unwrap_or(line.content_end()));
                }
                _ => self.open_req = None,
            }
            return next;
        };
        let id = Spanned::new(id_span.slice(self.text).to_string(), id_span);
        match item.kind {
            Kind::Fr if !id.value.contains('.') => {
                let title = Spanned::new(item.title.slice(self.text).to_string(), item.title);
                let header = line_span(&line);
                let index = self.prd.requirements.len();
                self.by_id.entry(id_key(&id.value)).or_insert(index);
                self.prd.requirements.push(Requirement {
                    id,
                    title,
                    story: None,
                    module: None,
                    tests: Vec::new(),
                    depends_on: Vec::new(),
                    depends_line: None,
                    criteria: Vec::new(),
                    header,
                    span: header,
                });
                self.open_req = Some(index);
                i + 1
            }
            Kind::Fr => {
                let (text, next) = self.continuation_text(i, item.title);
                let criterion = Criterion {
                    id: Some(id),
                    span: Span::new(item.start, text.span.end.max(item.title.end)),
                    text,
                };
                self.attach_sub_item(criterion);
                next
            }
            Kind::Nfr => {
                self.open_req = None;
                let (text, next) = self.continuation_text(i, item.title);
                let span = Span::new(item.start, text.span.end.max(item.title.end));
                self.prd.nfrs.push(Nfr { id, text, span });
                next
            }
            Kind::Ac => {
                self.open_req = None;
                let (criterion, next) = self.ac(i, item, id);
                self.acs.push(criterion);
                next
            }
        }
    }

    /// A dotted `FR-…` item goes to the open requirement; with none open, to
    /// the requirement its id extends (`FR-2.1` → `FR-2`), else to the shared criteria.
    pub(super) fn attach_sub_item(&mut self, criterion: Criterion) {
        let owner = self.open_req.or_else(|| {
            let id = &criterion.id.as_ref()?.value;
            let base = &id[..id.find('.').unwrap_or(id.len())];
            self.by_id.get(&id_key(base)).copied()
        });
        match owner {
            Some(r) => {
                let last = r + 1 == self.prd.requirements.len();
                let req = &mut self.prd.requirements[r];
                if last {
                    req.span.end = req.span.end.max(criterion.span.end);
                }
                req.criteria.push(criterion);
            }
            None => self.prd.shared_criteria.push(criterion),
        }
    }

    /// The lines after item line `i` indented deeper than it: (end of the
    /// last one, next line to look at).
    pub(super) fn continuation(&self, i: usize) -> (Option<usize>, usize) {
        let indent = self.lines[i].indent;
        let mut end = None;
        let mut j = i + 1;
        while j < self.lines.len() {
            let line = &self.lines[j];
            if line.blank || line.indent <= indent || self.is_boundary(j) {
                break;
            }
            if parse_item(line.content_start(), line.content()).is_some() {
                break;
            }
            end = Some(line.content_end());
            j += 1;
        }
        (end, j)
    }

    /// The item's title joined with its continuation lines.
    pub(super) fn continuation_text(&self, i: usize, title: Span) -> (Spanned<String>, usize) {
        let (_, next) = self.continuation(i);
        let mut value = title.slice(self.text).to_string();
        let mut span = title;
        for line in &self.lines[i + 1..next] {
            let content = line.content();
            if value.is_empty() {
                span.start = line.content_start();
            } else {
                value.push(' ');
            }
            value.push_str(content);
            span.end = line.content_end();
        }
        (Spanned::new(value, span), next)
    }

    /// An `AC-…` block: the line, its Given/When/Then lines (blank lines
    /// between them allowed) and lines indented deeper than the step before.
    pub(super) fn ac(&mut self, i: usize, item: Item, id: Spanned<String>) -> (Criterion, usize) {
        let line = self.lines[i];
        let mut value = item.title.slice(self.text).to_string();
        let mut text_span = item.title;
        let mut end = line.content_end();
        let mut last_indent = line.indent;
        let mut j = i + 1;
        while let Some(step) = self.ac_line(j, last_indent) {
            let next = &self.lines[step.line];
            let is_gherkin = step.gherkin.is_some();
            let (from, part) = match step.gherkin {
                Some((from, part)) => (from, part),
                None => (next.content_start(), next.content().to_string()),
            };
            if value.is_empty() {
                text_span.start = from;
            } else {
                value.push(' ');
            }
            value.push_str(&part);
            text_span.end = next.content_end();
            end = next.content_end();
            if is_gherkin {
                last_indent = next.indent;
            }
            j = step.line + 1;
        }
        let text = Spanned::new(value, text_span);
        (
            Criterion {
                id: Some(id),
                text,
                span: Span::new(item.start, end),
            },
            j,
        )
    }

    /// Where the block of the `AC` line `i` ends (used for lines without an id).
    pub(super) fn ac_end(&self, i: usize) -> usize {
        let mut last_indent = self.lines[i].indent;
        let mut j = i + 1;
        while let Some(step) = self.ac_line(j, last_indent) {
            if step.gherkin.is_some() {
                last_indent = self.lines[step.line].indent;
            }
            j = step.line + 1;
        }
        j
    }

    /// The next line of an AC block at or after `j`, skipping blank lines
    /// only when a Given/When/Then line follows them.
    pub(super) fn ac_line(&self, j: usize, last_indent: usize) -> Option<AcStep> {
        let mut k = j;
        while k < self.lines.len() && self.lines[k].blank {
            k += 1;
        }
        let line = self.lines.get(k)?;
        if parse_item(line.content_start(), line.content()).is_some() {
            return None;
        }
        if let Some(g) = parse_gherkin(line.content_start(), line.content()) {
            return Some(AcStep {
                line: k,
                gherkin: Some(g),
            });
        }
        let continues = k == j && line.indent > last_indent && !self.is_boundary(k);
        continues.then_some(AcStep {
            line: k,
            gherkin: None,
        })
    }

    /// A `TDD Cycle` block starting at header line `i`, content from line `from`.
    pub(super) fn cycle(&mut self, i: usize, from: usize, head: NumberedHead) -> usize {
        let header = self.lines[i];
        let mut cycle = Cycle {
            number: head.number,
            title: head.title,
            phase: self.phase,
            components: Vec::new(),
            expected_tests: None,
            module_hint: None,
            span: line_span(&header),
        };
        let mut fallback = path_token(header.content_start(), header.content());
        let mut j = from;
        while j < self.lines.len() {
            let line = self.lines[j];
            if line.blank {
                j += 1;
                continue;
            }
            if self.ends_plan_block(j) {
                break;
            }
            let (start, content) = (line.content_start(), line.content());
            let key = key_value(start, content);
            match key.as_ref().map(|(k, v)| (k.as_str(), *v)) {
                Some((
                    "tests" | "expected tests" | "estimated tests" | "test count" | "test",
                    value,
                )) => {
                    if cycle.expected_tests.is_none() {
                        cycle.expected_tests = parse_range(value.slice(self.text));
                    }
                }
                Some(("module hint" | "module-hint" | "module_hint" | "hint", value)) => {
                    if cycle.module_hint.is_none() {
                        cycle.module_hint =
                            tokens(value.slice(self.text)).next().map(|(at, token)| {
                                let (inner, cleaned) = clean_token(token);
                                let from = value.start + at + inner;
                                Spanned::new(
                                    cleaned.to_string(),
                                    Span::new(from, from + cleaned.len()),
                                )
                            });
                    }
                }
                _ => {
                    let bullet = bullet_len(content);
                    if bullet > 0 {
                        let component = content[bullet..].trim();
                        if !component.is_empty() {
                            cycle.components.push(component.to_string());
                        }
                    }
                }
            }
            if fallback.is_none() {
                fallback = path_token(start, content);
            }
            cycle.span.end = line.content_end();
            j += 1;
        }
        if cycle.module_hint.is_none() {
            cycle.module_hint = fallback;
        }
        self.plan.cycles.push(cycle);
        j
    }

    pub(super) fn finish(mut self) -> (Prd, Vec<Diagnostic>) {
        for criterion in std::mem::take(&mut self.acs) {
            match self.owner_of(&criterion) {
                Some(r) => self.prd.requirements[r].criteria.push(criterion),
                None => self.prd.shared_criteria.push(criterion),
            }
        }
        for req in &mut self.prd.requirements {
            req.criteria.sort_by_key(|c| c.span.start);
        }
        self.prd.requirements_end = self.prd.requirements.iter().map(|r| r.span.end).max();
        let plan = &self.plan;
        let has_plan = !plan.phases.is_empty()
            || !plan.cycles.is_empty()
            || plan.module_structure.is_some()
            || plan.dependency_changes.is_some()
            || !plan.module_api.is_empty();
        if has_plan {
            self.prd.plan = Some(self.plan);
        }
        (self.prd, self.diags)
    }

    /// The requirement an `AC-…` criterion belongs to (see the module docs).
    pub(super) fn owner_of(&self, criterion: &Criterion) -> Option<usize> {
        let lookup = |id: &str| -> Option<usize> {
            self.by_id.get(&id_key(id)).copied().or_else(|| {
                let dot = id.find('.')?;
                self.by_id.get(&id_key(&id[..dot])).copied()
            })
        };
        let mentioned = fr_mentions(&criterion.text.value)
            .into_iter()
            .find_map(|(_, id)| lookup(id));
        mentioned.or_else(|| {
            let id = &criterion.id.as_ref()?.value;
            let suffix = id
                .get(3..)
                .filter(|_| id.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("AC-")))?;
            lookup(&format!("FR-{suffix}"))
        })
    }
}

pub(super) struct AcStep {
    pub(super) line: usize,
    /// For a Given/When/Then line: its start and its text.
    pub(super) gherkin: Option<(usize, String)>,
}

/// The line's content span (indentation and trailing whitespace excluded).
pub(super) fn line_span(line: &Line<'_>) -> Span {
    Span::new(line.content_start(), line.content_end())
}
