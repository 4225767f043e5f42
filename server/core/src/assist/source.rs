//! The source document split into numbered blocks (`S1`, `S2`, …): a
//! heading line, or a run of non-blank lines (a fenced code block stays
//! whole). The model names blocks instead of quoting text, so each later
//! call can be given exactly the blocks of its requirement.

/// Longest block text shown to the model; the rest is cut with a note.
pub const MAX_BLOCK_CHARS: usize = 4_000;
/// Longest source section of one requirement in a step-2 prompt.
pub const MAX_SECTION_CHARS: usize = 12_000;
/// Longest document sent whole in step 1.
pub const MAX_DOCUMENT_CHARS: usize = 60_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// `S1`, `S2`, …
    pub id: String,
    /// The heading this block is under (its own text for a heading).
    pub heading: Option<String>,
    /// 1-based, inclusive.
    pub first_line: usize,
    pub last_line: usize,
    pub text: String,
}

/// The document's blocks, in order. Front matter is one block.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut current: Option<Block> = None;
    let mut heading: Option<String> = None;
    let mut fence: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if let Some(marker) = &fence {
            if trimmed.starts_with(marker.as_str()) {
                fence = None;
            }
            extend(&mut current, &heading, number, line);
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(trimmed[..3].to_string());
            extend(&mut current, &heading, number, line);
            continue;
        }
        if line.trim().is_empty() {
            close(&mut current, &mut out);
            continue;
        }
        if let Some(title) = heading_text(line) {
            close(&mut current, &mut out);
            heading = Some(title);
            current = Some(new_block(&heading, number, line));
            close(&mut current, &mut out);
            continue;
        }
        extend(&mut current, &heading, number, line);
    }
    close(&mut current, &mut out);
    for (i, block) in out.iter_mut().enumerate() {
        block.id = format!("S{}", i + 1);
    }
    out
}

fn heading_text(line: &str) -> Option<String> {
    let hashes = line.len() - line.trim_start_matches('#').len();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = &line[hashes..];
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then(|| rest.trim().to_string())
}

fn new_block(heading: &Option<String>, number: usize, line: &str) -> Block {
    Block {
        id: String::new(),
        heading: heading.clone(),
        first_line: number,
        last_line: number,
        text: line.to_string(),
    }
}

fn extend(current: &mut Option<Block>, heading: &Option<String>, number: usize, line: &str) {
    match current {
        Some(block) => {
            block.text.push('\n');
            block.text.push_str(line);
            block.last_line = number;
        }
        None => *current = Some(new_block(heading, number, line)),
    }
}

fn close(current: &mut Option<Block>, out: &mut Vec<Block>) {
    if let Some(block) = current.take() {
        out.push(block);
    }
}

/// `text` cut to `max` characters, with a note saying so.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!(
            "{}\n[… {} more characters not shown]",
            &text[..cut],
            text[cut..].chars().count()
        ),
        None => text.to_string(),
    }
}

/// The whole document as numbered blocks, for step 1.
pub fn numbered(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        out.push_str(&format!(
            "[{}] ({} {})\n{}\n\n",
            block.id,
            if block.first_line == block.last_line {
                "line"
            } else {
                "lines"
            },
            line_range(block.first_line, block.last_line),
            clip(&block.text, MAX_BLOCK_CHARS)
        ));
    }
    out
}

/// `12` or `12–14`.
pub fn line_range(first: usize, last: usize) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}–{last}")
    }
}

/// The blocks named by `ids` (in document order), with the heading each is
/// under, cut to `MAX_SECTION_CHARS` in all. Unknown ids are skipped.
pub fn section(blocks: &[Block], ids: &[String]) -> String {
    let mut out = String::new();
    let mut shown_heading: Option<&str> = None;
    for block in blocks
        .iter()
        .filter(|b| ids.iter().any(|id| id.eq_ignore_ascii_case(&b.id)))
    {
        let is_heading = heading_text(block.text.lines().next().unwrap_or("")).is_some();
        if let Some(heading) = block.heading.as_deref()
            && !is_heading
            && shown_heading != Some(heading)
        {
            out.push_str(&format!("(under the heading \"{heading}\")\n"));
        }
        shown_heading = block.heading.as_deref();
        out.push_str(&clip(&block.text, MAX_BLOCK_CHARS));
        out.push_str("\n\n");
    }
    clip(out.trim_end(), MAX_SECTION_CHARS)
}

/// Lines the blocks named by `ids` cover, for the rendered PRD: `5–9, 14`.
pub fn lines_of(blocks: &[Block], ids: &[String]) -> String {
    let ranges: Vec<String> = blocks
        .iter()
        .filter(|b| ids.iter().any(|id| id.eq_ignore_ascii_case(&b.id)))
        .map(|b| line_range(b.first_line, b.last_line))
        .collect();
    ranges.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_and_fences_make_blocks() {
        let text =
            "# Notes\n\nFirst para\nstill first.\n\n## Export\nCSV export.\n\n```\na\n\nb\n```\n";
        let b = blocks(text);
        let shown: Vec<(&str, Option<&str>, usize, usize)> = b
            .iter()
            .map(|b| {
                (
                    b.id.as_str(),
                    b.heading.as_deref(),
                    b.first_line,
                    b.last_line,
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("S1", Some("Notes"), 1, 1),
                ("S2", Some("Notes"), 3, 4),
                ("S3", Some("Export"), 6, 6),
                ("S4", Some("Export"), 7, 7),
                ("S5", Some("Export"), 9, 13),
            ]
        );
        let s = section(&b, &["S4".to_string()]);
        assert_eq!(s, "(under the heading \"Export\")\nCSV export.");
        assert_eq!(lines_of(&b, &["S2".into(), "S5".into()]), "3–4, 9–13");
        assert!(numbered(&b).starts_with("[S1] (line 1)\n# Notes\n\n[S2] (lines 3–4)"));
    }

    #[test]
    fn clipping_says_how_much_is_hidden() {
        assert_eq!(clip("abcdef", 4), "abcd\n[… 2 more characters not shown]");
        assert_eq!(clip("abc", 4), "abc");
    }
}
