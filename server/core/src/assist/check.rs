//! Validating a model's answers: the step's JSON Schema first, then the same
//! rules as any PRD: the outline is rendered as Markdown, parsed, checked
//! with the PRD rules (error severity) and decomposed; every problem becomes
//! a message the model can act on, naming the requirement it is in.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::render::{heading_text, one_line, to_markdown};
use super::source::{Block, lines_of};
use super::{
    ListedRequirement, OutlineCriterion, OutlineRequirement, PrdOutline, RequirementDetail,
    RequirementList,
};
use crate::analysis::{Options, analyze};
use crate::config::Layout;
use crate::diagnostic::Severity;
use crate::model::Prd;
use crate::plan::{ProjectFiles, TaskGraph, decompose};
use crate::text::Span;

/// Most problems fed back at once: enough to fix, short enough to read.
const MAX_PROBLEMS: usize = 20;

/// What the rules need besides the outline.
pub struct Context<'a> {
    pub layout: &'a Layout,
    pub project: &'a ProjectFiles,
    /// The source document's name, as shown in the rendered PRD.
    pub source_name: &'a str,
}

/// A valid outline: its Markdown PRD, graph and the warnings the rules gave.
#[derive(Clone, Debug)]
pub struct Checked {
    pub markdown: String,
    pub graph: TaskGraph,
    pub warnings: Vec<String>,
}

/// Renders, parses and decomposes `outline`; errors are messages for the model.
pub fn check_outline(outline: &PrdOutline, ctx: &Context<'_>) -> Result<Checked, Vec<String>> {
    let value = serde_json::to_value(outline).unwrap_or(Value::Null);
    schema_problems(super::outline_validator(), &value)?;
    let markdown = to_markdown(outline, ctx.source_name);
    let analysis = analyze("assisted.prd.md", &markdown, &Options::default());
    let prd = &analysis.prd;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for d in &analysis.diagnostics {
        let message = format!("{}{} ({})", owner(prd, d.span), d.message, d.code.as_str());
        match d.severity {
            Severity::Error => errors.push(message),
            _ => warnings.push(message),
        }
    }
    let plan = decompose(prd, ctx.layout, ctx.project);
    errors.extend(
        plan.errors
            .iter()
            .map(|e| format!("{}{}", owner(prd, e.span), e.message)),
    );
    if errors.is_empty() {
        errors.extend(round_trip(outline, prd));
    }
    if errors.is_empty() {
        Ok(Checked {
            markdown,
            graph: plan.graph,
            warnings,
        })
    } else {
        errors.dedup();
        errors.truncate(MAX_PROBLEMS);
        Err(errors)
    }
}

/// `REQ-2: ` when the span is inside a requirement.
fn owner(prd: &Prd, span: Span) -> String {
    prd.requirements
        .iter()
        .find(|r| r.span.start <= span.start && span.start <= r.span.end.max(r.header.end))
        .map(|r| format!("{}: ", r.id.value))
        .unwrap_or_default()
}

/// Values the Markdown cannot carry as given (a comma inside a path, say).
fn round_trip(outline: &PrdOutline, prd: &Prd) -> Vec<String> {
    let mut problems = Vec::new();
    if prd.requirements.len() != outline.requirements.len() {
        problems.push(format!(
            "the outline has {} requirements but its Markdown reads as {}: check the titles for ids",
            outline.requirements.len(),
            prd.requirements.len()
        ));
        return problems;
    }
    for (want, got) in outline.requirements.iter().zip(&prd.requirements) {
        let values = |v: &[crate::text::Spanned<String>]| -> Vec<String> {
            v.iter().map(|s| s.value.clone()).collect()
        };
        let one = |v: &[String]| -> Vec<String> { v.iter().map(|s| one_line(s)).collect() };
        let same = one_line(&want.id) == got.id.value
            && heading_text(&want.title) == got.title.value
            && want.module.as_deref().map(one_line) == got.module.as_ref().map(|m| m.value.clone())
            && one(&want.tests) == values(&got.tests)
            && one(&want.depends_on) == values(&got.depends_on)
            && want.criteria.len() == got.criteria.len()
            && want.criteria.iter().zip(&got.criteria).all(|(w, g)| {
                g.id.as_ref().map(|i| i.value.as_str()) == Some(one_line(&w.id).as_str())
                    && one_line(&w.text) == one_line(&g.text.value)
            });
        if !same {
            problems.push(format!(
                "{}: a value cannot be written as a Markdown PRD as given (a comma inside a path, \
                 or a criterion text that starts a new item?): use plain paths and one sentence per criterion",
                want.id
            ));
        }
    }
    problems
}

/// Schema violations as `at /requirements/0/id: …` messages.
fn schema_problems(validator: &jsonschema::Validator, value: &Value) -> Result<(), Vec<String>> {
    let problems: Vec<String> = validator
        .iter_errors(value)
        .take(MAX_PROBLEMS)
        .map(|e| {
            let at = e.instance_path().as_str().to_string();
            let at = if at.is_empty() { "/".to_string() } else { at };
            format!("schema: at `{at}`: {e}")
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn read<T: DeserializeOwned>(
    validator: &jsonschema::Validator,
    value: &Value,
) -> Result<T, Vec<String>> {
    schema_problems(validator, value)?;
    serde_json::from_value(value.clone()).map_err(|e| vec![format!("schema: {e}")])
}

/// The `n` of `REQ-n`.
fn number(id: &str) -> &str {
    id.rsplit('-').next().unwrap_or(id)
}

/// A stand-in criterion for a requirement whose criteria are not known yet.
fn placeholder(req: &ListedRequirement) -> RequirementDetail {
    RequirementDetail {
        module: None,
        tests: Vec::new(),
        criteria: vec![OutlineCriterion {
            id: format!("AC-{}.1", number(&req.id)),
            text: format!("THE SYSTEM SHALL provide what {} describes.", req.id),
        }],
    }
}

/// The outline from the list and the details known so far (placeholders for the rest).
pub fn assemble(
    list: &RequirementList,
    details: &BTreeMap<String, RequirementDetail>,
    blocks: &[Block],
) -> PrdOutline {
    let requirements = list
        .requirements
        .iter()
        .map(|req| {
            let detail = details
                .get(&req.id)
                .cloned()
                .unwrap_or_else(|| placeholder(req));
            let lines = lines_of(blocks, &req.sources);
            OutlineRequirement {
                id: req.id.clone(),
                title: req.title.clone(),
                description: req.description.clone(),
                depends_on: req.depends_on.clone(),
                module: detail.module,
                tests: detail.tests,
                criteria: detail.criteria,
                source: match lines.contains([',', '–']) {
                    _ if lines.is_empty() => None,
                    true => Some(format!("lines {lines}")),
                    false => Some(format!("line {lines}")),
                },
            }
        })
        .collect();
    PrdOutline {
        title: list.title.clone(),
        requirements,
    }
}

/// Step 1's answer, checked: schema, known source blocks, and the PRD rules
/// on the requirements with a placeholder criterion each (so ids,
/// dependencies and cycles are judged exactly as in any PRD).
pub fn validate_list(
    value: &Value,
    blocks: &[Block],
    ctx: &Context<'_>,
) -> Result<RequirementList, Vec<String>> {
    let list: RequirementList = read(super::list_validator(), value)?;
    let mut problems = Vec::new();
    for req in &list.requirements {
        for source in &req.sources {
            if !blocks.iter().any(|b| b.id.eq_ignore_ascii_case(source)) {
                problems.push(format!(
                    "{}: source `{source}` is not a block of the document (they are S1 to S{})",
                    req.id,
                    blocks.len()
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    check_outline(&assemble(&list, &BTreeMap::new(), blocks), ctx)?;
    Ok(list)
}

/// Step 2's answer for `req`, checked with the criteria accepted so far
/// (and placeholders for the requirements still to come).
pub fn validate_detail(
    value: &Value,
    req: &ListedRequirement,
    list: &RequirementList,
    accepted: &BTreeMap<String, RequirementDetail>,
    blocks: &[Block],
    ctx: &Context<'_>,
) -> Result<RequirementDetail, Vec<String>> {
    let detail: RequirementDetail = read(super::detail_validator(), value)?;
    let prefix = format!("AC-{}.", number(&req.id));
    let misnumbered: Vec<String> = detail
        .criteria
        .iter()
        .filter(|c| !c.id.starts_with(&prefix))
        .map(|c| {
            format!(
                "{}: criterion `{}` must be numbered `{prefix}1`, `{prefix}2`, … like its requirement",
                req.id, c.id
            )
        })
        .collect();
    if !misnumbered.is_empty() {
        return Err(misnumbered);
    }
    let mut details = accepted.clone();
    details.insert(req.id.clone(), detail.clone());
    check_outline(&assemble(list, &details, blocks), ctx)?;
    Ok(detail)
}
