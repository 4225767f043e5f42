//! Writes a `Prd` as a canonical Markdown PRD (docs/prd-format.md). Used to
//! convert legacy specs: ids and texts are kept as written, and the legacy
//! plan goes into one fenced code block, which the Markdown parser skips.
//!
//! Invariant: the only lines that start with an id (after a list bullet or
//! heading marker) are requirement headings, criterion items and NFR items.
//! Multi-line texts continue on lines indented by two spaces; single-line
//! values (titles, module paths, plan entries) have their line breaks turned
//! into spaces.

use std::fmt::Write as _;

use crate::ids;
use crate::model::{Criterion, Cycle, LegacyPlan, Phase, Prd, Requirement};
use crate::parse::legacy::{id_key, id_mentions};

const UNTITLED: &str = "Untitled PRD";

/// The canonical Markdown text of `prd`.
pub fn to_markdown(prd: &Prd) -> String {
    let mut out = String::new();
    let title = prd
        .meta
        .title
        .as_ref()
        .map(|t| one_line(&t.value))
        .filter(|t| !t.trim().is_empty());
    let title = title.as_deref().map_or(UNTITLED, str::trim);

    out.push_str("---\n");
    if let Some(id) = &prd.meta.id {
        let _ = writeln!(out, "id: {}", yaml_scalar(&id.value));
    }
    let _ = writeln!(out, "title: {}", yaml_scalar(title));
    if let Some(language) = &prd.meta.language {
        let _ = writeln!(out, "language: {}", yaml_scalar(&language.value));
    }
    out.push_str("---\n\n");
    // A title that starts with an id would read as a requirement heading; the
    // front matter still carries it.
    if !starts_with_id(title) {
        let _ = writeln!(out, "# {title}\n");
    }

    out.push_str("## Requirements\n\n");
    for req in &prd.requirements {
        requirement(&mut out, prd, req);
    }

    if !prd.shared_criteria.is_empty() {
        out.push_str("## Acceptance criteria\n\n");
        for criterion in &prd.shared_criteria {
            criterion_item(&mut out, criterion);
        }
        out.push('\n');
    }

    if !prd.nfrs.is_empty() {
        out.push_str("## Non-functional requirements\n\n");
        for nfr in &prd.nfrs {
            item(&mut out, Some(&nfr.id.value), &nfr.text.value);
        }
        out.push('\n');
    }

    if let Some(plan) = prd.plan.as_ref().filter(|p| !plan_is_empty(p)) {
        out.push_str("## Implementation plan (from the legacy spec)\n\n");
        let body = plan_text(plan);
        let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
        let _ = write!(out, "{fence}text\n{body}{fence}\n");
    }

    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn requirement(out: &mut String, prd: &Prd, req: &Requirement) {
    let title = one_line(&req.title.value);
    let title = title.trim();
    if title.is_empty() {
        let _ = writeln!(out, "### {}\n", req.id.value);
    } else {
        let _ = writeln!(out, "### {} {title}\n", req.id.value);
    }

    let mut keys = String::new();
    if let Some(story) = &req.story {
        let _ = writeln!(keys, "Story: {}", one_line(&story.value).trim());
    }
    let module = req
        .module
        .as_ref()
        .map(|m| m.value.clone())
        .or_else(|| module_hint_for(prd, &req.id.value));
    if let Some(module) = module {
        let _ = writeln!(keys, "Module: {}", one_line(&module).trim());
    }
    if !req.tests.is_empty() {
        let tests: Vec<String> = req.tests.iter().map(|t| one_line(&t.value)).collect();
        let _ = writeln!(keys, "Tests: {}", tests.join(", "));
    }
    if !req.depends_on.is_empty() {
        let deps: Vec<String> = req.depends_on.iter().map(|d| one_line(&d.value)).collect();
        let _ = writeln!(keys, "Depends on: {}", deps.join(", "));
    }
    if !keys.is_empty() {
        out.push_str(&keys);
        out.push('\n');
    }

    if !req.criteria.is_empty() {
        out.push_str("Acceptance criteria:\n");
        for criterion in &req.criteria {
            criterion_item(out, criterion);
        }
        out.push('\n');
    }
}

/// The module hint of the first cycle whose title or components mention `id`
/// (a mention of `FR-1.2` counts for `FR-1`).
fn module_hint_for(prd: &Prd, id: &str) -> Option<String> {
    let plan = prd.plan.as_ref()?;
    let key = id_key(id);
    let mentions = |s: &str| {
        id_mentions(s).into_iter().any(|(_, m)| {
            let base = &m[..m.find('.').unwrap_or(m.len())];
            id_key(m) == key || id_key(base) == key
        })
    };
    plan.cycles
        .iter()
        .filter(|c| mentions(&c.title) || c.components.iter().any(|comp| mentions(comp)))
        .find_map(|c| c.module_hint.as_ref())
        .map(|hint| hint.value.clone())
}

fn criterion_item(out: &mut String, criterion: &Criterion) {
    item(
        out,
        criterion.id.as_ref().map(|id| id.value.as_str()),
        &criterion.text.value,
    );
}

/// `- <id>: <text>`; further lines of the text indented by two spaces.
fn item(out: &mut String, id: Option<&str>, text: &str) {
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    let head = match id {
        Some(id) => format!("- {id}: {first}"),
        None => format!("- {first}"),
    };
    out.push_str(head.trim_end());
    out.push('\n');
    for line in lines {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {}", line.trim_end());
        }
    }
}

/// Line breaks (and other control characters) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn starts_with_id(s: &str) -> bool {
    ids::scan_id(s.trim_start_matches(['*', '_', '[', ' '])).is_some()
}

/// A YAML scalar, double-quoted when plain style would change or break it.
fn yaml_scalar(value: &str) -> String {
    let lower = value.to_ascii_lowercase();
    let needs_quotes = value.is_empty()
        || value != value.trim()
        || value.contains([':', '#', '"', '\\'])
        || value.chars().any(|c| {
            c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
        })
        || value.starts_with([
            '-', '?', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '%', '@', '`', '~',
            '=', '.', '+',
        ])
        || value.starts_with(|c: char| c.is_ascii_digit())
        || matches!(
            lower.as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if !needs_quotes {
        return value.to_string();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(quoted, "\\u{:04X}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn plan_is_empty(plan: &LegacyPlan) -> bool {
    plan.phases.is_empty()
        && plan.cycles.is_empty()
        && plan.module_structure.is_none()
        && plan.dependency_changes.is_none()
        && plan.module_api.is_empty()
}

fn longest_backtick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// The plan as indented text. Top-level lines start with a fixed label;
/// everything taken from the spec is indented, so no line starts with an id.
fn plan_text(plan: &LegacyPlan) -> String {
    enum Entry<'a> {
        Phase(&'a Phase),
        Cycle(&'a Cycle),
    }
    let mut out = String::new();
    let mut entries: Vec<(usize, Entry<'_>)> = plan
        .phases
        .iter()
        .map(|p| (p.span.start, Entry::Phase(p)))
        .collect();
    entries.extend(plan.cycles.iter().map(|c| (c.span.start, Entry::Cycle(c))));
    entries.sort_by_key(|(start, _)| *start);
    let mut current_phase = None;
    for (_, entry) in entries {
        match entry {
            Entry::Phase(phase) => {
                let _ = writeln!(
                    out,
                    "Phase {}: {}",
                    phase.number,
                    one_line(&phase.title).trim()
                );
                current_phase = Some(phase.number);
            }
            Entry::Cycle(cycle) => {
                let indent = if cycle.phase.is_some() { "  " } else { "" };
                let _ = writeln!(
                    out,
                    "{indent}TDD Cycle {}: {}",
                    cycle.number,
                    one_line(&cycle.title).trim()
                );
                // Nesting shows the phase; say it only when the order does not.
                if let Some(phase) = cycle.phase.filter(|p| current_phase != Some(*p)) {
                    let _ = writeln!(out, "{indent}  Phase: {phase}");
                }
                if !cycle.components.is_empty() {
                    let _ = writeln!(out, "{indent}  Components:");
                    for component in &cycle.components {
                        let _ = writeln!(out, "{indent}    - {}", one_line(component));
                    }
                }
                match cycle.expected_tests {
                    Some((low, high)) if low == high => {
                        let _ = writeln!(out, "{indent}  Tests: {low}");
                    }
                    Some((low, high)) => {
                        let _ = writeln!(out, "{indent}  Tests: {low}-{high}");
                    }
                    None => {}
                }
                if let Some(hint) = &cycle.module_hint {
                    let _ = writeln!(out, "{indent}  Module hint: {}", one_line(&hint.value));
                }
            }
        }
    }
    if let Some(structure) = &plan.module_structure {
        out.push_str("Module structure:\n");
        if let Some(base) = &structure.base_path {
            let _ = writeln!(out, "  Base path: {}", one_line(base));
        }
        if !structure.files.is_empty() {
            out.push_str("  Files:\n");
            for file in &structure.files {
                let _ = writeln!(out, "    - {}", one_line(file));
            }
        }
    }
    if let Some(deps) = &plan.dependency_changes {
        out.push_str("Dependency changes:\n");
        if let Some(extra) = &deps.extra {
            let _ = writeln!(out, "  Extra: {}", one_line(extra));
        }
        if !deps.packages.is_empty() {
            out.push_str("  Packages:\n");
            for package in &deps.packages {
                let _ = writeln!(out, "    - {}", one_line(package));
            }
        }
    }
    if !plan.module_api.is_empty() {
        out.push_str("Module API:\n");
        for module in &plan.module_api {
            let _ = writeln!(out, "  {}:", one_line(&module.path));
            if !module.exports.is_empty() {
                out.push_str("    Exports:\n");
                for export in &module.exports {
                    let mut line = format!("      - {}", one_line(&export.name));
                    if let Some(kind) = &export.kind {
                        let _ = write!(line, " ({})", one_line(kind));
                    }
                    if let Some(description) = &export.description {
                        let _ = write!(line, ": {}", one_line(description));
                    }
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            if let Some(pattern) = &module.import_pattern {
                let _ = writeln!(out, "    Import pattern: {}", one_line(pattern));
            }
            if let Some(test_import) = &module.test_import {
                let _ = writeln!(out, "    Test import: {}", one_line(test_import));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Format, Meta, Nfr};
    use crate::parse::legacy;
    use crate::text::{Span, Spanned};

    const FIXTURE: &str = include_str!("../../../tests/corpus/legacy/library_spec.txt");

    fn spanned(s: &str) -> Spanned<String> {
        Spanned::new(s.to_string(), Span::default())
    }

    fn requirement(id: &str, title: &str, criteria: Vec<Criterion>) -> Requirement {
        Requirement {
            id: spanned(id),
            title: spanned(title),
            story: None,
            module: None,
            tests: Vec::new(),
            depends_on: Vec::new(),
            depends_line: None,
            criteria,
            header: Span::default(),
            span: Span::default(),
        }
    }

    fn criterion(id: Option<&str>, text: &str) -> Criterion {
        Criterion {
            id: id.map(spanned),
            text: spanned(text),
            span: Span::default(),
        }
    }

    /// The fenced plan block, if any: (opening line index, closing line index).
    fn fence_lines(lines: &[&str]) -> Option<(usize, usize)> {
        let open = lines.iter().position(|l| l.starts_with("```"))?;
        let marker: String = lines[open].chars().take_while(|c| *c == '`').collect();
        let close = open + 1 + lines[open + 1..].iter().position(|l| *l == marker)?;
        Some((open, close))
    }

    #[test]
    fn render_fixture_keeps_every_id_and_text() {
        let (prd, _) = legacy::parse(FIXTURE);
        let md = to_markdown(&prd);
        let lines: Vec<&str> = md.lines().collect();
        assert!(md.starts_with("---\ntitle: Library Loans Service\n---\n\n# Library Loans Service\n\n## Requirements\n\n"));
        for req in &prd.requirements {
            let heading = format!("### {} {}", req.id.value, req.title.value);
            assert!(lines.contains(&heading.as_str()), "missing {heading}");
            for c in &req.criteria {
                let item = format!("- {}: {}", c.id.as_ref().unwrap().value, c.text.value);
                assert!(lines.contains(&item.as_str()), "missing {item}");
            }
        }
        for nfr in &prd.nfrs {
            let item = format!("- {}: {}", nfr.id.value, nfr.text.value);
            assert!(lines.contains(&item.as_str()), "missing {item}");
        }
        let shared = lines
            .iter()
            .position(|l| *l == "## Acceptance criteria")
            .expect("shared section");
        assert!(
            lines[shared + 2]
                .starts_with("- AC-4: Circulation events are written to the audit log GIVEN")
        );
        let nfr = lines
            .iter()
            .position(|l| *l == "## Non-functional requirements")
            .unwrap();
        assert!(shared < nfr);

        // Every id of the source survives.
        let ids = id_mentions(FIXTURE);
        let ids = ids
            .iter()
            .filter(|(_, id)| matches!(ids::prefix(id).as_str(), "FR" | "NFR" | "AC"));
        for (_, id) in ids {
            assert!(md.contains(id), "{id} lost");
        }
    }

    #[test]
    fn render_fixture_module_lines_and_layout() {
        let (prd, _) = legacy::parse(FIXTURE);
        let md = to_markdown(&prd);
        let expected = "### FR-1 Borrow a book\n\nModule: src/library/loans.py\n\nAcceptance criteria:\n\
                        - FR-1.1: The system SHALL record a loan with the member id, the copy barcode and a due date 21 days after the checkout date.\n\
                        - FR-1.2: The system SHALL reject a checkout when the member already holds 5 active loans.\n\n\
                        ### FR-2 Return a book\n\nModule: src/library/fees.py\n";
        assert!(md.contains(expected), "{md}");
        assert!(md.contains("### FR-3 Reserve a title\n\nModule: src/library/api.py\n"));
        assert!(md.contains("### FR-API-4 Loans HTTP API\n\nModule: src/library/api.py\n"));
    }

    #[test]
    fn render_plan_is_one_fenced_block() {
        let (prd, _) = legacy::parse(FIXTURE);
        let md = to_markdown(&prd);
        let lines: Vec<&str> = md.lines().collect();
        let heading = lines
            .iter()
            .position(|l| *l == "## Implementation plan (from the legacy spec)")
            .unwrap();
        let (open, close) = fence_lines(&lines).expect("a fenced block");
        assert_eq!((open, lines[open]), (heading + 2, "```text"));
        assert_eq!(close, lines.len() - 1, "the block ends the document");
        assert_eq!(lines.iter().filter(|l| l.starts_with("```")).count(), 2);
        let plan = lines[open + 1..close].join("\n");
        for expected in [
            "Phase 1: Catalogue and loans",
            "  TDD Cycle 1: Loan records",
            "      - Loan model with due date calculation (FR-1.1)",
            "    Tests: 8-10",
            "    Tests: 6",
            "    Module hint: src/library/fees.py",
            "Phase 2: Reservations and HTTP API",
            "  Base path: src/library/",
            "    - reservations.py",
            "  Extra: library",
            "    - sqlalchemy>=2.0",
            "  src/library/loans.py:",
            "      - LoanLimitError (exception): Raised when a member already holds 5 active loans",
            "    Import pattern: from library.loans import Loan, checkout",
            "    Test import: from library.api import router",
        ] {
            assert!(plan.contains(expected), "missing {expected:?} in\n{plan}");
        }
        let phase2 = plan.find("Phase 2").unwrap();
        assert!(
            plan.find("TDD Cycle 2").unwrap() < phase2
                && phase2 < plan.find("TDD Cycle 3").unwrap()
        );
    }

    #[test]
    fn no_line_starts_with_an_id() {
        let (mut prd, _) = legacy::parse(FIXTURE);
        prd.meta.title = Some(spanned("FR-9 looks like an id"));
        prd.requirements[0].title = spanned("Borrow\nFR-8: smuggled");
        prd.requirements[0].criteria[0].text = spanned("first line\nAC-7: second line");
        prd.plan.as_mut().unwrap().cycles[0]
            .components
            .push("FR-6: a component\nFR-5: on two lines".into());
        let md = to_markdown(&prd);
        for line in md.lines() {
            assert!(
                ids::scan_id(line).is_none(),
                "line starts with an id: {line:?}"
            );
        }
        assert!(md.contains("title: FR-9 looks like an id\n"));
        assert!(!md.contains("# FR-9"));
        assert!(md.contains("### FR-1 Borrow FR-8: smuggled\n"));
        assert!(md.contains("- FR-1.1: first line\n  AC-7: second line\n"));
    }

    #[test]
    fn minimal_prd_and_multi_line_texts() {
        let mut prd = Prd::empty(Format::Yaml);
        prd.requirements.push(requirement(
            "REQ-1",
            "",
            vec![
                criterion(Some("AC-1.1"), "WHEN a\nTHEN b\n\nlast"),
                criterion(None, "An item without id"),
            ],
        ));
        prd.requirements[0].story = Some(spanned("As a member, I want to borrow books"));
        prd.requirements[0].tests = vec![spanned("tests/test_a.py"), spanned("tests/test_b.py")];
        prd.requirements[0].depends_on = vec![spanned("REQ-0")];
        prd.nfrs.push(Nfr {
            id: spanned("NFR-1"),
            text: spanned("Within 200 ms\nat 50 clients"),
            span: Span::default(),
        });
        let md = to_markdown(&prd);
        assert_eq!(
            md,
            "---\ntitle: Untitled PRD\n---\n\n# Untitled PRD\n\n## Requirements\n\n### REQ-1\n\n\
             Story: As a member, I want to borrow books\nTests: tests/test_a.py, tests/test_b.py\nDepends on: REQ-0\n\n\
             Acceptance criteria:\n- AC-1.1: WHEN a\n  THEN b\n\n  last\n- An item without id\n\n\
             ## Non-functional requirements\n\n- NFR-1: Within 200 ms\n  at 50 clients\n"
        );
        assert!(!md.contains("## Acceptance criteria"));
        assert!(!md.contains("Implementation plan"));
    }

    #[test]
    fn front_matter_values_are_quoted_when_needed() {
        let mut prd = Prd::empty(Format::Markdown);
        prd.meta = Meta {
            id: Some(spanned("PRD-7")),
            title: Some(spanned("Loans: v2 # draft \"beta\"")),
            language: Some(spanned("python")),
        };
        let md = to_markdown(&prd);
        assert!(md.starts_with(
            "---\nid: PRD-7\ntitle: \"Loans: v2 # draft \\\"beta\\\"\"\nlanguage: python\n---\n"
        ));
        assert_eq!(yaml_scalar("plain words"), "plain words");
        assert_eq!(yaml_scalar("- dash"), "\"- dash\"");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar("2024"), "\"2024\"");
        assert_eq!(yaml_scalar(" padded"), "\" padded\"");
        assert_eq!(yaml_scalar("tab\there\\"), "\"tab\\there\\\\\"");
        assert_eq!(yaml_scalar("bell\u{7}"), "\"bell\\u0007\"");
        prd.meta.title = Some(spanned("  "));
        assert!(to_markdown(&prd).contains("title: Untitled PRD\n"));
    }

    #[test]
    fn fence_grows_past_backticks_in_the_plan() {
        let (mut prd, _) = legacy::parse(FIXTURE);
        prd.plan.as_mut().unwrap().cycles[0]
            .components
            .push("uses ```` fences".into());
        let md = to_markdown(&prd);
        let lines: Vec<&str> = md.lines().collect();
        let (open, close) = fence_lines(&lines).unwrap();
        assert_eq!(lines[open], "`````text");
        assert_eq!(lines[close], "`````");
        assert_eq!(close, lines.len() - 1);
    }
}
