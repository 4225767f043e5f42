//! The YAML and JSON forms: syntax errors with exact positions, schema
//! violations located at the offending key or value, then a tolerant model
//! build (fields of the wrong type are skipped; the schema already said so).

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Criterion, Format, Meta, Nfr, Prd, Requirement};
use crate::parse::node::{Node, NodeValue, parse_yaml};
use crate::schema::prd_validator;
use crate::text::{ColumnUnit, LineCol, LineIndex, Span, Spanned, floor_char_boundary};

pub fn parse(text: &str, format: Format) -> (Prd, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let empty = Prd::empty(format);
    if text.trim().is_empty() {
        return (empty, diags); // The rules say it has no requirements.
    }
    if format == Format::Json
        && let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(text)
    {
        let at = json_error_offset(text, &err);
        let message = strip_json_position(&err.to_string());
        diags.push(Diagnostic::new(
            Code::SyntaxError,
            point(text, at),
            format!("invalid JSON: {message}"),
        ));
        return (empty, diags);
    }
    let root = match parse_yaml(text) {
        Ok(node) => node,
        Err(err) => {
            let at = err.offset(text).unwrap_or(0);
            let what = if format == Format::Json {
                "JSON"
            } else {
                "YAML"
            };
            diags.push(Diagnostic::new(
                Code::SyntaxError,
                point(text, at),
                format!("invalid {what}: {}", err.message),
            ));
            return (empty, diags);
        }
    };
    if root.value == NodeValue::Null {
        return (empty, diags); // An empty document: the rules say it has no requirements.
    }
    if !matches!(root.value, NodeValue::Map(_)) {
        diags.push(Diagnostic::new(
            Code::SchemaViolation,
            point(text, root.span.start),
            "a PRD must be a mapping with a `requirements` list at the top level",
        ));
        return (empty, diags);
    }
    schema_errors(text, &root, &mut diags);
    (build(&root, format), diags)
}

fn schema_errors(text: &str, root: &Node, diags: &mut Vec<Diagnostic>) {
    let instance = root.to_json();
    for error in prd_validator().iter_errors(&instance).take(100) {
        let pointer = error.instance_path().as_str().to_string();
        let segments: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let at = if pointer.is_empty() {
            "the document".to_string()
        } else {
            format!("`{pointer}`")
        };
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
            error.kind()
        {
            // One diagnostic per unknown key, on the key itself.
            for key in unexpected {
                let span = key_span(root, &segments, key)
                    .unwrap_or_else(|| root.locate(segments.iter().map(String::as_str)));
                let message = format!(
                    "unknown key `{key}` in {at}: remove it or check its spelling (see schemas/prd.schema.json)"
                );
                diags.push(Diagnostic::new(Code::SchemaViolation, span, message));
            }
            continue;
        }
        let span = root.locate(segments.iter().map(String::as_str));
        let span = if span.start == span.end {
            point(text, span.start)
        } else {
            span
        };
        diags.push(Diagnostic::new(
            Code::SchemaViolation,
            span,
            format!("{at} does not match the PRD schema: {error} (see schemas/prd.schema.json)"),
        ));
    }
}

/// The span of key `key` in the mapping at `path`.
fn key_span(root: &Node, path: &[String], key: &str) -> Option<Span> {
    let mut node = root;
    for segment in path {
        node = match &node.value {
            NodeValue::Map(entries) => {
                &entries
                    .iter()
                    .find(|(k, _)| k.scalar_text().as_deref() == Some(segment))?
                    .1
            }
            NodeValue::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match &node.value {
        NodeValue::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k.span),
        _ => None,
    }
}

fn build(root: &Node, format: Format) -> Prd {
    let mut prd = Prd::empty(format);
    prd.meta = Meta {
        id: string(root.get("id")),
        title: string(root.get("title")),
        language: string(root.get("language")),
    };
    if let Some(reqs) = root.get("requirements") {
        for item in reqs.items() {
            if let Some(req) = requirement(item) {
                prd.requirements_end = Some(req.span.end);
                prd.requirements.push(req);
            }
        }
    }
    prd.shared_criteria = criteria(root.get("acceptance_criteria"));
    if let Some(nfrs) = root.get("non_functional") {
        for item in nfrs.items() {
            if let (Some(id), Some(text)) = (string(item.get("id")), string(item.get("text"))) {
                prd.nfrs.push(Nfr {
                    id,
                    text,
                    span: span_of(item),
                });
            }
        }
    }
    prd
}

fn requirement(item: &Node) -> Option<Requirement> {
    let id = string(item.get("id"))?;
    let title = string(item.get("title")).unwrap_or_else(|| Spanned::new(String::new(), id.span));
    let depends = item.get("depends_on");
    Some(Requirement {
        header: id.span,
        span: span_of(item),
        story: string(item.get("story")),
        module: string(item.get("module")),
        tests: strings(item.get("tests")),
        depends_on: strings(depends),
        depends_line: depends.map(|d| d.span),
        criteria: criteria(item.get("acceptance_criteria")),
        id,
        title,
    })
}

fn criteria(node: Option<&Node>) -> Vec<Criterion> {
    let Some(node) = node else { return Vec::new() };
    node.items()
        .iter()
        .filter_map(|item| {
            // A bare string is a criterion without an id: the schema reports
            // its shape, and the rules report the missing id, not "no criteria".
            if let Some(text) = string(Some(item)) {
                return Some(Criterion {
                    id: None,
                    span: text.span,
                    text,
                });
            }
            let text = string(item.get("text"))?;
            Some(Criterion {
                id: string(item.get("id")),
                text,
                span: span_of(item),
            })
        })
        .collect()
}

fn string(node: Option<&Node>) -> Option<Spanned<String>> {
    let node = node?;
    Some(Spanned::new(node.scalar_text()?, node.span))
}

fn strings(node: Option<&Node>) -> Vec<Spanned<String>> {
    let Some(node) = node else { return Vec::new() };
    if let Some(single) = string(Some(node)) {
        return vec![single];
    }
    node.items()
        .iter()
        .filter_map(|item| string(Some(item)))
        .collect()
}

/// The extent of a mapping node: from its first key to the end of its last value.
fn span_of(node: &Node) -> Span {
    match &node.value {
        NodeValue::Map(entries) if !entries.is_empty() => {
            let start = entries
                .iter()
                .map(|(k, _)| k.span.start)
                .min()
                .unwrap_or(node.span.start);
            let end = entries
                .iter()
                .map(|(_, v)| span_of(v).end.max(v.span.end))
                .max()
                .unwrap_or(node.span.end);
            Span::new(start, end)
        }
        NodeValue::Seq(items) if !items.is_empty() => Span::new(
            node.span.start,
            items
                .iter()
                .map(|i| span_of(i).end)
                .max()
                .unwrap_or(node.span.end),
        ),
        _ => node.span,
    }
}

/// A one-character span at `offset` (or an empty one at the end of the text).
fn point(text: &str, offset: usize) -> Span {
    let start = floor_char_boundary(text, offset);
    let end = text[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8());
    Span::new(start, end)
}

fn json_error_offset(text: &str, err: &serde_json::Error) -> usize {
    if err.line() == 0 {
        return text.len();
    }
    let index = LineIndex::new(text);
    // serde_json columns are 1-based byte columns pointing just past the error.
    let pos = LineCol {
        line: err.line() as u32 - 1,
        col: err.column().saturating_sub(1) as u32,
    };
    index.offset(text, pos, ColumnUnit::Utf8)
}

fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
