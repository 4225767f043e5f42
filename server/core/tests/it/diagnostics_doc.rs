//! `docs/diagnostics.md` is executable documentation. Every fenced block with a
//! `file=` attribute is validated under that file name: a block labelled
//! **Failing** must report its section's code, a block labelled **Fixed** must
//! report nothing at all. The sections must match `Code::ALL` one to one, and
//! the vague-wording and unit tables must match what the checker accepts.

use std::fmt::Write as _;

use tdd_core::analysis::{Options, analyze};
use tdd_core::diagnostic::{Code, Diagnostic};
use tdd_core::wording::{VAGUE, has_measurable_target};

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/diagnostics.md");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Failing,
    Fixed,
}

/// A fenced block with a `file=` attribute.
struct Example {
    /// The label line's verdict; `None` when the line says neither or both.
    label: Option<Label>,
    /// The last non-blank line before the fence, if any.
    label_line: Option<String>,
    lang: String,
    file: String,
    text: String,
    /// 1-based line of the opening fence in the document.
    line: usize,
}

/// A `## ` section: its heading, prose outside fences, and examples.
struct Section {
    heading: String,
    line: usize,
    prose: String,
    examples: Vec<Example>,
}

impl Section {
    /// `("PRD002", "duplicate-id")` for a heading `PRD002 duplicate-id`.
    fn code_and_name(&self) -> Option<(&str, &str)> {
        let (code, name) = self.heading.split_once(' ')?;
        let digits = code.strip_prefix("PRD")?;
        let is_code = digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit());
        is_code.then_some((code, name.trim()))
    }

    fn title(&self) -> String {
        format!(
            "`## {}` (docs/diagnostics.md line {})",
            self.heading, self.line
        )
    }
}

struct Doc {
    /// Examples before the first `## ` heading.
    stray: Vec<Example>,
    sections: Vec<Section>,
}

impl Doc {
    fn load() -> Doc {
        let text = std::fs::read_to_string(DOC_PATH)
            .unwrap_or_else(|e| panic!("cannot read {DOC_PATH}: {e}"));
        parse(&text)
    }

    fn prd_sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().filter(|s| s.code_and_name().is_some())
    }

    fn section(&self, heading: &str) -> &Section {
        self.sections
            .iter()
            .find(|s| s.heading == heading)
            .unwrap_or_else(|| panic!("docs/diagnostics.md has no `## {heading}` section"))
    }
}

/// An opening fence: (marker character, marker length, info string).
fn fence_open(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    (len >= 3).then(|| (ch, len, trimmed[len..].trim()))
}

fn parse(text: &str) -> Doc {
    let mut doc = Doc {
        stray: Vec::new(),
        sections: Vec::new(),
    };
    // (marker, length, example being collected if the block has `file=`)
    let mut fence: Option<(char, usize, Option<Example>)> = None;
    let mut label_line: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        if let Some((ch, len, example)) = &mut fence {
            let trimmed = line.trim_start_matches(' ');
            let closing = trimmed.chars().take_while(|c| c == ch).count();
            if closing >= *len && trimmed[closing..].trim().is_empty() {
                if let Some(example) = example.take() {
                    match doc.sections.last_mut() {
                        Some(section) => section.examples.push(example),
                        None => doc.stray.push(example),
                    }
                }
                fence = None;
                label_line = None;
            } else if let Some(example) = example {
                example.text.push_str(line);
                example.text.push('\n');
            }
            continue;
        }
        if let Some((ch, len, info)) = fence_open(line) {
            let mut words = info.split_whitespace();
            let lang = words.next().unwrap_or("").to_string();
            let file = words
                .find_map(|w| w.strip_prefix("file="))
                .map(str::to_string);
            let example = file.map(|file| {
                let says = |word: &str| label_line.as_deref().is_some_and(|l| l.contains(word));
                let label = match (says("Failing"), says("Fixed")) {
                    (true, false) => Some(Label::Failing),
                    (false, true) => Some(Label::Fixed),
                    _ => None,
                };
                Example {
                    label,
                    label_line: label_line.clone(),
                    lang,
                    file,
                    text: String::new(),
                    line: index + 1,
                }
            });
            fence = Some((ch, len, example));
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            doc.sections.push(Section {
                heading: heading.trim().to_string(),
                line: index + 1,
                prose: String::new(),
                examples: Vec::new(),
            });
            label_line = None;
            continue;
        }
        if !line.trim().is_empty() {
            label_line = Some(line.trim().to_string());
        }
        if let Some(section) = doc.sections.last_mut() {
            section.prose.push_str(line);
            section.prose.push('\n');
        }
    }
    assert!(
        fence.is_none(),
        "docs/diagnostics.md ends inside a fenced code block"
    );
    doc
}

fn code_by_str(code: &str) -> Option<Code> {
    Code::ALL.iter().copied().find(|c| c.as_str() == code)
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn describe(text: &str, diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "    (no diagnostics)\n".to_string();
    }
    let mut out = String::new();
    for d in diagnostics {
        let (line, col) = line_col(text, d.span.start);
        let _ = write!(
            out,
            "    {line}:{col}: {}[{} {}]: {}",
            d.severity.as_str(),
            d.code.as_str(),
            d.code.name(),
            d.message
        );
        if !d.fixes.is_empty() {
            let titles: Vec<&str> = d.fixes.iter().map(|f| f.title.as_str()).collect();
            let _ = write!(out, " (fixes: {})", titles.join("; "));
        }
        out.push('\n');
    }
    out
}

fn check(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "docs/diagnostics.md:\n\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_code_has_a_section_in_order() {
    let doc = Doc::load();
    let mut problems = Vec::new();
    let documented: Vec<(&Section, &str, &str)> = doc
        .prd_sections()
        .filter_map(|s| s.code_and_name().map(|(code, name)| (s, code, name)))
        .collect();
    for code in Code::ALL {
        let found: Vec<&&Section> = documented
            .iter()
            .filter(|(_, c, _)| *c == code.as_str())
            .map(|(s, _, _)| s)
            .collect();
        match found.as_slice() {
            [] => problems.push(format!("no section `## {} {}`", code.as_str(), code.name())),
            [section] => {
                let (_, name) = section.code_and_name().unwrap();
                if name != code.name() {
                    problems.push(format!(
                        "{}: the name should be `{}`",
                        section.title(),
                        code.name()
                    ));
                }
                let severity = format!("**Severity:** {}", code.severity().as_str());
                if !section.prose.contains(&severity) {
                    problems.push(format!("{}: expected a line `{severity}`", section.title()));
                }
            }
            _ => problems.push(format!("{} has {} sections", code.as_str(), found.len())),
        }
    }
    for (section, code, _) in &documented {
        if code_by_str(code).is_none() {
            problems.push(format!(
                "{}: {code} is not a code in `Code::ALL`",
                section.title()
            ));
        }
    }
    // The summary table: one `| PRDnnn | name | severity |` row per code.
    let rows: Vec<Vec<&str>> = doc
        .sections
        .iter()
        .flat_map(|s| s.prose.lines())
        .filter(|l| l.starts_with("| PRD"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    for code in Code::ALL {
        let expected = [code.as_str(), code.name(), code.severity().as_str()];
        match rows.iter().find(|r| r.first() == Some(&code.as_str())) {
            None => problems.push(format!(
                "the summary table has no row for {}",
                code.as_str()
            )),
            Some(row) if row[..] != expected[..] => problems.push(format!(
                "the summary table row {row:?} should read {expected:?}"
            )),
            Some(_) => {}
        }
    }
    for row in rows
        .iter()
        .filter(|r| r.first().and_then(|c| code_by_str(c)).is_none())
    {
        problems.push(format!(
            "the summary table row {row:?} names no code in `Code::ALL`"
        ));
    }
    let order: Vec<&str> = documented.iter().map(|(_, c, _)| *c).collect();
    let expected: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| order.contains(c))
        .collect();
    if order != expected {
        problems.push(format!(
            "sections are out of order: {order:?}, expected {expected:?}"
        ));
    }
    check(problems);
}

#[test]
fn examples_are_labelled_typed_and_paired() {
    let doc = Doc::load();
    let mut problems = Vec::new();
    for example in &doc.stray {
        problems.push(format!(
            "example `{}` at line {} is outside any `## ` section",
            example.file, example.line
        ));
    }
    for section in &doc.sections {
        if section.code_and_name().is_none() && !section.examples.is_empty() {
            problems.push(format!(
                "{}: examples belong in a `## PRDnnn name` section",
                section.title()
            ));
        }
        for example in &section.examples {
            if example.label.is_none() {
                problems.push(format!(
                    "{}: example `{}` (line {}) needs a label line saying either Failing or Fixed just before it, found {:?}",
                    section.title(),
                    example.file,
                    example.line,
                    example.label_line
                ));
            }
            let lower = example.file.to_ascii_lowercase();
            let expected = if lower.ends_with(".md") {
                "markdown"
            } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
                "yaml"
            } else if lower.ends_with(".json") {
                "json"
            } else if lower.ends_with(".txt") {
                "text"
            } else {
                "?"
            };
            if example.lang != expected {
                problems.push(format!(
                    "{}: example `{}` (line {}) is marked `{}`, expected `{expected}`",
                    section.title(),
                    example.file,
                    example.line,
                    example.lang
                ));
            }
        }
        let has = |label| section.examples.iter().any(|e| e.label == Some(label));
        if has(Label::Failing) && !has(Label::Fixed) {
            problems.push(format!(
                "{}: has a Failing example but no Fixed one",
                section.title()
            ));
        }
    }
    check(problems);
}

#[test]
fn failing_examples_report_their_code() {
    let doc = Doc::load();
    let mut problems = Vec::new();
    let mut checked = 0;
    for section in doc.prd_sections() {
        let Some(code) = code_by_str(section.code_and_name().unwrap().0) else {
            continue;
        };
        for example in section
            .examples
            .iter()
            .filter(|e| e.label == Some(Label::Failing))
        {
            checked += 1;
            let analysis = analyze(&example.file, &example.text, &Options::default());
            let found = describe(&example.text, &analysis.diagnostics);
            let own: Vec<&Diagnostic> = analysis
                .diagnostics
                .iter()
                .filter(|d| d.code == code)
                .collect();
            if own.is_empty() {
                problems.push(format!(
                    "{}: Failing example `{}` (line {}) should report {}, but found:\n{found}",
                    section.title(),
                    example.file,
                    example.line,
                    code.as_str()
                ));
                continue;
            }
            // The section names every quick fix its example offers, or says there is none.
            let says_none = section.prose.contains("**Quick fix:** none");
            for fix in own.iter().flat_map(|d| &d.fixes) {
                if says_none || !section.prose.contains(&fix.title) {
                    problems.push(format!(
                        "{}: Failing example `{}` (line {}) offers the quick fix \"{}\", which the section does not name; found:\n{found}",
                        section.title(),
                        example.file,
                        example.line,
                        fix.title
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no Failing examples found in {DOC_PATH}");
    check(problems);
}

#[test]
fn fixed_examples_are_clean() {
    let doc = Doc::load();
    let mut problems = Vec::new();
    let mut checked = 0;
    for section in doc.prd_sections() {
        for example in section
            .examples
            .iter()
            .filter(|e| e.label == Some(Label::Fixed))
        {
            checked += 1;
            let analysis = analyze(&example.file, &example.text, &Options::default());
            if !analysis.diagnostics.is_empty() {
                problems.push(format!(
                    "{}: Fixed example `{}` (line {}) should have no diagnostics, but found:\n{}",
                    section.title(),
                    example.file,
                    example.line,
                    describe(&example.text, &analysis.diagnostics)
                ));
            } else if analysis.prd.requirements.is_empty() {
                problems.push(format!(
                    "{}: Fixed example `{}` (line {}) has no requirements",
                    section.title(),
                    example.file,
                    example.line
                ));
            }
        }
    }
    assert!(checked > 0, "no Fixed examples found in {DOC_PATH}");
    check(problems);
}

/// Backticked items in the first column of each table row of `prose`, with the row.
fn table_rows(prose: &str) -> Vec<(Vec<String>, &str)> {
    prose
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .filter_map(|row| {
            let first = row.trim_start_matches('|').split('|').next()?;
            let items: Vec<String> = first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            (!items.is_empty()).then_some((items, row))
        })
        .collect()
}

#[test]
fn vague_word_table_matches_the_checker() {
    let doc = Doc::load();
    let section = doc.section("Vague words and phrases");
    let rows = table_rows(&section.prose);
    let mut problems = Vec::new();
    for (phrase, hint) in VAGUE {
        match rows
            .iter()
            .find(|(items, _)| items.iter().any(|i| i == phrase))
        {
            None => problems.push(format!(
                "{}: `{phrase}` is missing from the table",
                section.title()
            )),
            Some((_, row)) if !row.contains(hint) => problems.push(format!(
                "{}: the row of `{phrase}` should give the hint \"{hint}\"",
                section.title()
            )),
            Some(_) => {}
        }
    }
    for (items, _) in &rows {
        for item in items.iter().filter(|i| !VAGUE.iter().any(|(p, _)| p == i)) {
            problems.push(format!(
                "{}: `{item}` is not in `wording::VAGUE`",
                section.title()
            ));
        }
    }
    check(problems);
}

#[test]
fn listed_units_are_accepted() {
    let doc = Doc::load();
    let section = doc.section("Measurable targets");
    let mut problems = Vec::new();
    let mut units = 0;
    for line in section
        .prose
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
    {
        let Some(cell) = line.trim_matches('|').split('|').nth(1) else {
            continue;
        };
        for unit in cell.split('`').skip(1).step_by(2) {
            units += 1;
            let target = format!("NFR text with a target of 2 {unit}");
            if !has_measurable_target(&target) {
                problems.push(format!(
                    "{}: unit `{unit}` is listed but \"{target}\" is not measurable",
                    section.title()
                ));
            }
        }
    }
    assert!(
        units > 0,
        "{}: no units found in its table",
        section.title()
    );
    check(problems);
}
