//! Validation output: compiler-style text (file:line:col, code, message, the
//! source line with a caret) and JSON.

use std::fmt::Write;

use serde_json::{Value, json};
use tdd_core::analysis::Analysis;
use tdd_core::diagnostic::Severity;
use tdd_core::text::{ColumnUnit, LineIndex, Span};

pub struct FileReport {
    pub name: String,
    text: String,
    index: LineIndex,
    pub analysis: Analysis,
}

impl FileReport {
    pub fn new(name: String, bytes: Vec<u8>, analysis: Analysis) -> Self {
        // Invalid UTF-8 is reported by the analysis; show what can be shown.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let index = LineIndex::new(&text);
        FileReport {
            name,
            text,
            index,
            analysis,
        }
    }

    /// 1-based line and character column.
    fn position(&self, offset: usize) -> (u32, u32) {
        let lc = self.index.line_col(&self.text, offset, ColumnUnit::Char);
        (lc.line + 1, lc.col + 1)
    }
}

pub fn text(reports: &[FileReport]) -> String {
    let mut out = String::new();
    let (mut errors, mut warnings) = (0, 0);
    for report in reports {
        for d in &report.analysis.diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
                Severity::Info => {}
            }
            let (line, col) = report.position(d.span.start);
            let _ = writeln!(
                out,
                "{}:{line}:{col}: {}[{}]: {}",
                report.name,
                d.severity.as_str(),
                d.code.as_str(),
                d.message
            );
            snippet(&mut out, &report.text, &report.index, d.span);
            for r in &d.related {
                let (rl, rc) = report.position(r.span.start);
                let _ = writeln!(out, "  = note: {} ({}:{rl}:{rc})", r.message, report.name);
            }
            for fix in &d.fixes {
                let _ = writeln!(out, "  = fix available: {}", fix.title);
            }
        }
    }
    let files = reports.len();
    let _ = writeln!(
        out,
        "{files} file{} checked: {errors} error{}, {warnings} warning{}",
        plural(files),
        plural(errors),
        plural(warnings)
    );
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The source line and a caret under the span (first line of it only).
pub fn snippet(out: &mut String, text: &str, index: &LineIndex, span: Span) {
    let lc = index.line_col(text, span.start, ColumnUnit::Char);
    let line = index.line_span(text, lc.line as usize);
    let source = line.slice(text);
    if source.len() > 400 {
        return; // A caret under a huge line helps nobody.
    }
    let width = Span::new(span.start, span.end.min(line.end))
        .slice(text)
        .chars()
        .count()
        .max(1);
    let number = (lc.line + 1).to_string();
    let pad = " ".repeat(number.len());
    let lead: String = source
        .chars()
        .take(lc.col as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let _ = writeln!(
        out,
        "{pad} |\n{number} | {source}\n{pad} | {lead}{}",
        "^".repeat(width)
    );
}

/// `file:line:col: error: message` and the snippet, for each located message.
pub fn located_errors(
    name: &str,
    text: &str,
    errors: impl IntoIterator<Item = (Span, String)>,
) -> String {
    let index = LineIndex::new(text);
    let mut out = String::new();
    for (span, message) in errors {
        let lc = index.line_col(text, span.start, ColumnUnit::Char);
        let _ = writeln!(
            out,
            "{name}:{}:{}: error: {message}",
            lc.line + 1,
            lc.col + 1
        );
        snippet(&mut out, text, &index, span);
    }
    out
}

pub fn json(reports: &[FileReport]) -> Value {
    let files: Vec<Value> = reports
        .iter()
        .map(|report| {
            let diagnostics: Vec<Value> = report
                .analysis
                .diagnostics
                .iter()
                .map(|d| {
                    let (line, column) = report.position(d.span.start);
                    let (end_line, end_column) = report.position(d.span.end);
                    json!({
                        "code": d.code.as_str(),
                        "name": d.code.name(),
                        "severity": d.severity.as_str(),
                        "message": d.message,
                        "line": line,
                        "column": column,
                        "end_line": end_line,
                        "end_column": end_column,
                        "related": d.related.iter().map(|r| {
                            let (line, column) = report.position(r.span.start);
                            json!({ "message": r.message, "line": line, "column": column })
                        }).collect::<Vec<_>>(),
                        "fixes": d.fixes.iter().map(|f| f.title.clone()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({ "file": report.name, "format": report.analysis.prd.format.as_str(), "diagnostics": diagnostics })
        })
        .collect();
    json!({ "files": files })
}
