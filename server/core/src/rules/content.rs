//! Rules about what the text says: criteria present, testable, ids present,
//! wording measurable.

use super::{Edits, newline};
use crate::diagnostic::{Code, Diagnostic, Edit};
use crate::ears::{CriterionForm, classify};
use crate::ids;
use crate::model::{Format, Prd, Requirement};
use crate::text::{LineIndex, Span};
use crate::wording::{find_vague, has_measurable_target};

pub fn no_requirements(prd: &Prd, text: &str, out: &mut Vec<Diagnostic>) {
    if !prd.requirements.is_empty() {
        return;
    }
    let first_line = LineIndex::new(text).line_span(text, 0);
    let hint = match prd.format {
        Format::Markdown => "add a `## Requirements` section with `### REQ-1 Title` blocks",
        Format::Legacy => "add `FR-1: Title` lines at the start of a line",
        _ => "add a `requirements` list with at least one entry",
    };
    out.push(Diagnostic::new(
        Code::NoRequirements,
        first_line,
        format!("this PRD has no requirements: {hint}"),
    ));
}

/// The next criterion id for a requirement: `AC-<n>.<k>` where n is the
/// requirement's number, skipping ids already taken.
fn next_criterion_id(prd: &Prd, req: &Requirement, extra: &[String]) -> String {
    let number = ids::split_number(&req.id.value)
        .map_or_else(|| req.id.value.clone(), |(_, n)| n.to_string());
    let mut taken: Vec<&str> = prd
        .criteria()
        .filter_map(|(_, c)| c.id.as_ref().map(|i| i.value.as_str()))
        .collect();
    taken.extend(extra.iter().map(String::as_str));
    ids::next_free(&format!("AC-{number}."), &taken)
}

pub fn missing_criteria(prd: &Prd, text: &str, edits: Edits, out: &mut Vec<Diagnostic>) {
    let nl = newline(text);
    for req in prd.requirements.iter().filter(|r| r.criteria.is_empty()) {
        let id = &req.id.value;
        // In the legacy format criteria are `FR-n.k` sub-items; elsewhere an `AC-n.k` list.
        let (example, skeleton) = match prd.format {
            Format::Legacy => {
                let item = format!("{id}.1: The system SHALL <observable response>.");
                (
                    format!("an indented `{item}` sub-item"),
                    format!("{nl}  {item}"),
                )
            }
            Format::Yaml | Format::Json => (
                "an `acceptance_criteria` list of `{id, text}` entries".to_string(),
                String::new(),
            ),
            Format::Markdown => {
                let ac = next_criterion_id(prd, req, &[]);
                let item =
                    format!("- {ac}: WHEN <trigger> THE SYSTEM SHALL <observable response>.");
                (
                    format!("a list such as `{item}`"),
                    format!("{nl}{nl}Acceptance criteria:{nl}{item}"),
                )
            }
        };
        let message =
            format!("`{id}` has no acceptance criteria, so nothing can test it: add {example}");
        let mut diag = Diagnostic::new(Code::MissingCriteria, req.id.span, message);
        if edits.enabled && !skeleton.is_empty() {
            let edit = Edit {
                span: Span::empty(req.span.end.min(text.len())),
                new_text: skeleton,
            };
            diag = diag.with_fix("Insert acceptance criteria skeleton", vec![edit]);
        }
        out.push(diag);
    }
}

pub fn missing_criterion_ids(prd: &Prd, text: &str, edits: Edits, out: &mut Vec<Diagnostic>) {
    for req in &prd.requirements {
        let mut assigned: Vec<String> = Vec::new();
        for criterion in req.criteria.iter().filter(|c| c.id.is_none()) {
            let id = next_criterion_id(prd, req, &assigned);
            let how = match prd.format {
                Format::Yaml | Format::Json => format!("write it as `{{id: {id}, text: …}}`"),
                _ => format!("start it with `{id}:`"),
            };
            let message = format!(
                "this acceptance criterion has no id, so tasks and tests cannot refer to it: {how}"
            );
            let mut diag = Diagnostic::new(Code::MissingId, criterion.text.span, message);
            if edits.enabled && criterion.text.span.end <= text.len() {
                let edit = Edit {
                    span: Span::empty(criterion.text.span.start),
                    new_text: format!("{id}: "),
                };
                diag = diag.with_fix(format!("Add id {id}"), vec![edit]);
            }
            assigned.push(id);
            out.push(diag);
        }
    }
}

pub fn untestable_criteria(prd: &Prd, out: &mut Vec<Diagnostic>) {
    for (_, criterion) in prd.criteria() {
        let form = classify(&criterion.text.value);
        let name = criterion
            .id
            .as_ref()
            .map_or("this criterion".to_string(), |id| format!("`{}`", id.value));
        let message = match form {
            CriterionForm::Untestable => format!(
                "{name} is not testable as written: use EARS (`WHEN <trigger> THE SYSTEM SHALL <response>`, `IF … THEN …`, `WHILE …`, `WHERE …`), Given/When/Then, or a SHALL statement"
            ),
            CriterionForm::Incomplete(why) => format!("{name} is incomplete: {why}"),
            _ => continue,
        };
        out.push(Diagnostic::new(
            Code::UntestableCriterion,
            criterion.text.span,
            message,
        ));
    }
}

pub fn vague_wording(prd: &Prd, text: &str, out: &mut Vec<Diagnostic>) {
    let mut spans: Vec<Span> = Vec::new();
    for req in &prd.requirements {
        spans.push(req.title.span);
        spans.extend(req.story.as_ref().map(|s| s.span));
        spans.extend(req.criteria.iter().map(|c| c.text.span));
    }
    spans.extend(prd.shared_criteria.iter().map(|c| c.text.span));
    spans.extend(prd.nfrs.iter().map(|n| n.text.span));
    for span in spans {
        for (word, phrase, hint) in find_vague(span.slice(text)) {
            let at = word.shift(span.start);
            let said = at.slice(text);
            out.push(Diagnostic::new(
                Code::VagueWording,
                at,
                format!("\"{said}\" cannot be measured or tested: {hint}"),
            ));
            let _ = phrase;
        }
    }
}

pub fn unmeasurable_nfrs(prd: &Prd, out: &mut Vec<Diagnostic>) {
    for nfr in prd
        .nfrs
        .iter()
        .filter(|n| !has_measurable_target(&n.text.value))
    {
        out.push(Diagnostic::new(
            Code::UnmeasurableNfr,
            nfr.id.span,
            format!(
                "`{}` has no measurable target: state a number with a unit, e.g. `p95 under 200 ms` or `99.9% of requests`",
                nfr.id.value
            ),
        ));
    }
}
