//! An open document: its text, version, line index and a cached analysis.

use std::sync::Arc;

use tdd_core::analysis::{Analysis, Options, analyze};
use tdd_core::text::{ColumnUnit, LineCol, LineIndex, Span};
use tower_lsp_server::ls_types::{Position, TextDocumentContentChangeEvent};

pub struct Document {
    pub path: String,
    pub text: String,
    pub version: i32,
    pub index: LineIndex,
    pub is_prd: bool,
    analysis: Option<Arc<Analysis>>,
}

impl Document {
    pub fn new(path: String, text: String, version: i32, is_prd: bool) -> Self {
        let index = LineIndex::new(&text);
        Document {
            path,
            text,
            version,
            index,
            is_prd,
            analysis: None,
        }
    }

    /// Applies changes in order; a change without a range replaces the text.
    pub fn apply(&mut self, changes: Vec<TextDocumentContentChangeEvent>, version: i32) {
        for change in changes {
            match change.range {
                Some(range) => {
                    let start = self.offset(range.start);
                    let end = self.offset(range.end).max(start);
                    self.text.replace_range(start..end, &change.text);
                }
                None => self.text = change.text,
            }
            self.index = LineIndex::new(&self.text);
        }
        self.version = version;
        self.analysis = None;
    }

    pub fn offset(&self, pos: Position) -> usize {
        self.index.offset(
            &self.text,
            LineCol {
                line: pos.line,
                col: pos.character,
            },
            ColumnUnit::Utf16,
        )
    }

    pub fn position(&self, offset: usize) -> Position {
        let lc = self.index.line_col(&self.text, offset, ColumnUnit::Utf16);
        Position::new(lc.line, lc.col)
    }

    pub fn range(&self, span: Span) -> tower_lsp_server::ls_types::Range {
        tower_lsp_server::ls_types::Range::new(self.position(span.start), self.position(span.end))
    }

    /// The analysis of the current text, computed on first use after a change.
    pub fn analysis(&mut self, options: &Options) -> Arc<Analysis> {
        let (path, text) = (&self.path, &self.text);
        self.analysis
            .get_or_insert_with(|| Arc::new(analyze(path, text, options)))
            .clone()
    }
}
