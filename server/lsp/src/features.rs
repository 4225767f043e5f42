//! Request features computed from a document and its analysis: diagnostics,
//! code actions, hover, definition, outline and completion. Pure functions of
//! the snapshot, so each is easy to test and never touches the session.

use std::collections::HashMap;

use tdd_core::analysis::Analysis;
use tdd_core::diagnostic::Severity;
use tdd_core::ids;
use tdd_core::model::{Format, Prd};
use tdd_core::text::Span;
use tower_lsp_server::ls_types::*;

use crate::commands;
use crate::document::Document;

pub fn diagnostics(doc: &Document, uri: &Uri, analysis: &Analysis) -> Vec<Diagnostic> {
    analysis
        .diagnostics
        .iter()
        .map(|d| Diagnostic {
            range: doc.range(d.span),
            severity: Some(match d.severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
                Severity::Info => DiagnosticSeverity::INFORMATION,
            }),
            code: Some(NumberOrString::String(d.code.as_str().to_string())),
            source: Some("tdd-orchestrator".to_string()),
            message: d.message.clone(),
            related_information: (!d.related.is_empty()).then(|| {
                d.related
                    .iter()
                    .map(|r| DiagnosticRelatedInformation {
                        location: Location::new(uri.clone(), doc.range(r.span)),
                        message: r.message.clone(),
                    })
                    .collect()
            }),
            ..Default::default()
        })
        .collect()
}

pub fn code_actions(
    doc: &Document,
    uri: &Uri,
    analysis: &Analysis,
    range: Range,
) -> Vec<CodeActionOrCommand> {
    let (start, end) = (doc.offset(range.start), doc.offset(range.end));
    let mut actions = Vec::new();
    let published = diagnostics(doc, uri, analysis);
    for (diag, lsp) in analysis.diagnostics.iter().zip(published) {
        if diag.span.end < start || diag.span.start > end {
            continue;
        }
        for fix in &diag.fixes {
            let edits = fix
                .edits
                .iter()
                .map(|e| TextEdit::new(doc.range(e.span), e.new_text.clone()))
                .collect();
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: fix.title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![lsp.clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), edits)])),
                    ..Default::default()
                }),
                is_preferred: Some(diag.fixes.len() == 1),
                ..Default::default()
            }));
        }
    }
    let argument = serde_json::json!({ "uri": uri.as_str() });
    for command in commands::document_actions(analysis.prd.format) {
        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: command.title().to_string(),
            kind: Some(CodeActionKind::new(command.code_action_kind())),
            command: Some(Command::new(
                command.title().to_string(),
                command.name().to_string(),
                Some(vec![argument.clone()]),
            )),
            ..Default::default()
        }));
    }
    actions
}

/// The id under `offset`, with its span.
pub fn id_at(text: &str, offset: usize) -> Option<(String, Span)> {
    let is_id_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let offset = tdd_core::text::floor_char_boundary(text, offset);
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_id_char(*c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = text[offset..]
        .char_indices()
        .find(|(_, c)| !is_id_char(*c))
        .map_or(text.len(), |(i, _)| offset + i);
    let word = text[start..end].trim_end_matches('.');
    let len = ids::scan_id(word)?;
    (start + len >= offset).then(|| (word[..len].to_string(), Span::new(start, start + len)))
}

/// Where an id is defined.
pub fn definition_span(prd: &Prd, id: &str) -> Option<Span> {
    let same = |s: &str| s.eq_ignore_ascii_case(id);
    if let Some(req) = prd.requirements.iter().find(|r| same(&r.id.value)) {
        return Some(req.id.span);
    }
    if let Some((_, c)) = prd
        .criteria()
        .find(|(_, c)| c.id.as_ref().is_some_and(|i| same(&i.value)))
    {
        return c.id.as_ref().map(|i| i.span);
    }
    prd.nfrs
        .iter()
        .find(|n| same(&n.id.value))
        .map(|n| n.id.span)
}

pub fn hover(doc: &Document, analysis: &Analysis, pos: Position) -> Option<Hover> {
    let (id, span) = id_at(&doc.text, doc.offset(pos))?;
    let prd = &analysis.prd;
    let same = |s: &str| s.eq_ignore_ascii_case(&id);
    let line_of = |span: Span| doc.position(span.start).line + 1;
    let mut md = String::new();
    if let Some(req) = prd.requirements.iter().find(|r| same(&r.id.value)) {
        md.push_str(&format!("**{}** {}\n\n", req.id.value, req.title.value));
        if let Some(story) = &req.story {
            md.push_str(&format!("{}\n\n", story.value));
        }
        for c in &req.criteria {
            let cid = c.id.as_ref().map_or("(no id)", |i| i.value.as_str());
            md.push_str(&format!("- `{cid}` {}\n", c.text.value));
        }
        let users: Vec<String> = prd
            .requirements
            .iter()
            .flat_map(|r| {
                r.depends_on
                    .iter()
                    .filter(|d| same(&d.value))
                    .map(move |d| (r, d))
            })
            .map(|(r, d)| format!("{} (line {})", r.id.value, line_of(d.span)))
            .collect();
        md.push_str(&if users.is_empty() {
            "\nNo requirement depends on it.".to_string()
        } else {
            format!("\nDepended on by: {}", users.join(", "))
        });
    } else if let Some((owner, c)) = prd
        .criteria()
        .find(|(_, c)| c.id.as_ref().is_some_and(|i| same(&i.value)))
    {
        let owner = owner.map_or("the whole PRD".to_string(), |r| {
            format!("{} {}", r.id.value, r.title.value)
        });
        md.push_str(&format!(
            "**{id}** (acceptance criterion of {owner})\n\n{}",
            c.text.value
        ));
    } else if let Some(n) = prd.nfrs.iter().find(|n| same(&n.id.value)) {
        md.push_str(&format!(
            "**{}** (non-functional requirement)\n\n{}",
            n.id.value, n.text.value
        ));
    } else {
        md.push_str(&format!("`{id}` is not defined in this PRD."));
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: md,
        }),
        range: Some(doc.range(span)),
    })
}

pub fn definition(
    doc: &Document,
    uri: &Uri,
    analysis: &Analysis,
    pos: Position,
) -> Option<GotoDefinitionResponse> {
    let (id, _) = id_at(&doc.text, doc.offset(pos))?;
    let span = definition_span(&analysis.prd, &id)?;
    Some(GotoDefinitionResponse::Scalar(Location::new(
        uri.clone(),
        doc.range(span),
    )))
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must still be set.
pub fn symbols(doc: &Document, analysis: &Analysis) -> Vec<DocumentSymbol> {
    let symbol =
        |name: String, detail: Option<String>, kind, span: Span, selection: Span, children| {
            DocumentSymbol {
                name,
                detail,
                kind,
                tags: None,
                deprecated: None,
                range: doc.range(span),
                selection_range: doc.range(selection),
                children,
            }
        };
    let prd = &analysis.prd;
    let mut out: Vec<DocumentSymbol> = prd
        .requirements
        .iter()
        .map(|r| {
            let criteria = r
                .criteria
                .iter()
                .map(|c| {
                    let name = c
                        .id
                        .as_ref()
                        .map_or_else(|| "(criterion without id)".to_string(), |i| i.value.clone());
                    let selection = c.id.as_ref().map_or(c.text.span, |i| i.span);
                    symbol(
                        name,
                        Some(shorten(&c.text.value)),
                        SymbolKind::EVENT,
                        c.span,
                        selection,
                        None,
                    )
                })
                .collect();
            let name = format!("{} {}", r.id.value, r.title.value);
            symbol(
                name,
                None,
                SymbolKind::CLASS,
                r.span,
                r.id.span,
                Some(criteria),
            )
        })
        .collect();
    out.extend(prd.shared_criteria.iter().filter_map(|c| {
        let id = c.id.as_ref()?;
        Some(symbol(
            id.value.clone(),
            Some(shorten(&c.text.value)),
            SymbolKind::EVENT,
            c.span,
            id.span,
            None,
        ))
    }));
    out.extend(prd.nfrs.iter().map(|n| {
        symbol(
            n.id.value.clone(),
            Some(shorten(&n.text.value)),
            SymbolKind::CONSTANT,
            n.span,
            n.id.span,
            None,
        )
    }));
    out
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Requirement ids after `Depends on:` (Markdown and legacy) or in a `depends_on` list.
pub fn completion(
    doc: &Document,
    analysis: &Analysis,
    pos: Position,
) -> Option<CompletionResponse> {
    let offset = doc.offset(pos);
    let line_start = doc.text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = doc.text[line_start..offset].to_ascii_lowercase();
    let key = before
        .trim_start_matches([' ', '-', '*', '\t'])
        .trim_start_matches("**");
    let wants_ids = match analysis.prd.format {
        Format::Yaml | Format::Json => {
            before.contains("depends_on") || in_depends_list(&doc.text[..line_start])
        }
        _ => ["depends on:", "depends-on:", "dependencies:", "requires:"]
            .iter()
            .any(|k| key.starts_with(k)),
    };
    if !wants_ids {
        return None;
    }
    let current = analysis
        .prd
        .requirements
        .iter()
        .find(|r| r.span.contains(offset))
        .map(|r| r.id.value.as_str());
    let items = analysis
        .prd
        .requirements
        .iter()
        .filter(|r| Some(r.id.value.as_str()) != current)
        .map(|r| CompletionItem {
            label: r.id.value.clone(),
            kind: Some(CompletionItemKind::REFERENCE),
            detail: Some(r.title.value.clone()),
            ..Default::default()
        })
        .collect();
    Some(CompletionResponse::Array(items))
}

/// In YAML, `depends_on:` may open a block list on the lines above the cursor.
fn in_depends_list(before: &str) -> bool {
    let key = before.lines().rev().find(|l| {
        let t = l.trim_start();
        !t.is_empty() && !t.starts_with('-')
    });
    key.is_some_and(|l| l.trim_start().starts_with("depends_on"))
}

/// Requests that must panic once, for the test of what a panic does to the
/// session: (request name, document uri). Never set outside tests.
static PANIC_ONCE: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Makes the next `what` request on `uri` panic (test support: the server's
/// own code has no way to reach it).
#[doc(hidden)]
pub fn panic_once_for_tests(what: &str, uri: &str) {
    let mut asked = PANIC_ONCE.lock().unwrap_or_else(|p| p.into_inner());
    asked.push((what.to_string(), uri.to_string()));
}

pub(crate) fn panic_if_asked(what: &str, uri: &Uri) {
    let mut asked = PANIC_ONCE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(at) = asked
        .iter()
        .position(|(w, u)| w == what && u == uri.as_str())
    {
        asked.remove(at);
        drop(asked);
        panic!("a panic the tests asked for");
    }
}

#[cfg(test)]
mod tests {
    use super::id_at;

    #[test]
    fn finds_ids_under_the_cursor() {
        let text = "Depends on: REQ-2, AC-1.1.";
        assert_eq!(id_at(text, 13).map(|(id, _)| id), Some("REQ-2".into()));
        assert_eq!(id_at(text, 17).map(|(id, _)| id), Some("REQ-2".into()));
        assert_eq!(id_at(text, 21).map(|(id, _)| id), Some("AC-1.1".into()));
        assert_eq!(id_at(text, 3), None);
    }
}
