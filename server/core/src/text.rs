//! Source positions. The model stores byte spans; `LineIndex` turns them into
//! line/column pairs in whichever unit the consumer counts (UTF-16 for LSP,
//! characters for terminal output).

use std::ops::Range;

/// A byte range into the document text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub const fn empty(at: usize) -> Self {
        Span { start: at, end: at }
    }

    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }

    pub fn contains(self, offset: usize) -> bool {
        self.start <= offset && offset <= self.end
    }

    pub fn slice(self, text: &str) -> &str {
        text.get(self.start..self.end).unwrap_or("")
    }

    /// The span shifted right by `delta` bytes (used when a sub-parser worked on a slice).
    pub fn shift(self, delta: usize) -> Span {
        Span::new(self.start + delta, self.end + delta)
    }
}

/// A value with the span of the text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// Zero-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: u32,
    pub col: u32,
}

/// The unit a column counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnUnit {
    Utf8,
    Utf16,
    Char,
}

/// Line start offsets of a text, for offset <-> line/column conversion.
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            starts,
            len: text.len(),
        }
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// Byte range of line `line` without its terminator.
    pub fn line_span(&self, text: &str, line: usize) -> Span {
        let start = self.starts.get(line).copied().unwrap_or(self.len);
        let mut end = self.starts.get(line + 1).map_or(self.len, |n| n - 1);
        if end > start && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        Span::new(start, end.max(start))
    }

    /// Position of a byte offset. Offsets inside a multi-byte character are
    /// rounded down to the character start.
    pub fn line_col(&self, text: &str, offset: usize, unit: ColumnUnit) -> LineCol {
        let offset = floor_char_boundary(text, offset.min(self.len));
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let prefix = &text[self.starts[line]..offset];
        let col = match unit {
            ColumnUnit::Utf8 => prefix.len(),
            ColumnUnit::Utf16 => prefix.chars().map(char::len_utf16).sum(),
            ColumnUnit::Char => prefix.chars().count(),
        };
        LineCol {
            line: line as u32,
            col: col as u32,
        }
    }

    /// Byte offset of a position. Lines past the end clamp to the end of the
    /// text; columns past the end of a line clamp to the line end (LSP rules).
    pub fn offset(&self, text: &str, pos: LineCol, unit: ColumnUnit) -> usize {
        let line = pos.line as usize;
        if line >= self.starts.len() {
            return self.len;
        }
        let span = self.line_span(text, line);
        let line_text = span.slice(text);
        let mut counted = 0usize;
        for (i, c) in line_text.char_indices() {
            if counted >= pos.col as usize {
                return span.start + i;
            }
            counted += match unit {
                ColumnUnit::Utf8 => c.len_utf8(),
                ColumnUnit::Utf16 => c.len_utf16(),
                ColumnUnit::Char => 1,
            };
        }
        span.end
    }
}

pub fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Iterate lines with their byte span (terminator excluded).
pub fn lines_with_spans(text: &str) -> impl Iterator<Item = (Span, &str)> {
    let mut start = 0;
    text.split_inclusive('\n').map(move |raw| {
        let mut body = raw.strip_suffix('\n').unwrap_or(raw);
        body = body.strip_suffix('\r').unwrap_or(body);
        let span = Span::new(start, start + body.len());
        start += raw.len();
        (span, body)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_surrogate_pairs() {
        let text = "a😀b\nsecond";
        let idx = LineIndex::new(text);
        let b = text.find('b').unwrap();
        assert_eq!(
            idx.line_col(text, b, ColumnUnit::Utf16),
            LineCol { line: 0, col: 3 }
        );
        assert_eq!(
            idx.line_col(text, b, ColumnUnit::Char),
            LineCol { line: 0, col: 2 }
        );
        assert_eq!(
            idx.offset(text, LineCol { line: 0, col: 3 }, ColumnUnit::Utf16),
            b
        );
        assert_eq!(
            idx.offset(text, LineCol { line: 1, col: 99 }, ColumnUnit::Utf16),
            text.len()
        );
        assert_eq!(
            idx.offset(text, LineCol { line: 7, col: 0 }, ColumnUnit::Utf16),
            text.len()
        );
    }

    #[test]
    fn crlf_is_not_part_of_the_line() {
        let text = "ab\r\ncd";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_span(text, 0).slice(text), "ab");
        let lines: Vec<_> = lines_with_spans(text).map(|(_, l)| l).collect();
        assert_eq!(lines, ["ab", "cd"]);
    }
}
