//! Turning a model's reply text into one JSON object: Markdown code fences,
//! prose before and after the object, trailing commas and a document cut off
//! mid-way (an unterminated string, open arrays and objects) are repaired,
//! and every repair is reported so the user can see what was guessed.
//!
//! Never panics, whatever the text; the work is linear in the text's length
//! apart from a bounded number of re-parses.

use std::fmt;

use serde_json::Value;

/// Most candidate starts (`{` positions) tried before giving up.
const MAX_STARTS: usize = 32;
/// Most cut points tried when closing a truncated document.
const MAX_CUTS: usize = 64;
/// Longest stretch of prose quoted in a repair note.
const MAX_QUOTE: usize = 60;

/// One thing changed to make the reply JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    /// The JSON was inside a Markdown code fence.
    CodeFence,
    /// Text before the JSON was dropped (quoted, shortened).
    LeadingText(String),
    /// Text after the JSON was dropped (quoted, shortened).
    TrailingText(String),
    /// Commas before `}` or `]` were dropped.
    TrailingCommas(usize),
    /// The document was cut off: it was closed with `added`, after dropping
    /// `dropped` bytes of an incomplete last value.
    Truncated { dropped: usize, added: String },
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::CodeFence => write!(f, "removed a Markdown code fence"),
            Repair::LeadingText(t) => write!(f, "removed text before the JSON: \"{t}\""),
            Repair::TrailingText(t) => write!(f, "removed text after the JSON: \"{t}\""),
            Repair::TrailingCommas(n) => write!(f, "removed {n} trailing comma(s)"),
            Repair::Truncated { dropped: 0, added } => {
                write!(f, "closed a truncated document with `{added}`")
            }
            Repair::Truncated { dropped, added } => write!(
                f,
                "closed a truncated document: dropped its incomplete last {dropped} byte(s), added `{added}`"
            ),
        }
    }
}

/// A JSON object read from a reply, and what was repaired to read it.
#[derive(Clone, Debug, PartialEq)]
pub struct Repaired {
    pub value: Value,
    pub repairs: Vec<Repair>,
}

/// The JSON object in `text`, repaired if need be; else why there is none.
pub fn repair_json(text: &str) -> Result<Repaired, String> {
    if let Some((before, inner, after)) = unfence(text)
        && let Ok(mut found) = find_object(inner)
    {
        let mut repairs = vec![Repair::CodeFence];
        if !before.trim().is_empty() {
            repairs.push(Repair::LeadingText(quote(before.trim())));
        }
        repairs.append(&mut found.repairs);
        if !after.trim().is_empty() {
            repairs.push(Repair::TrailingText(quote(after.trim())));
        }
        found.repairs = repairs;
        return Ok(found);
    }
    find_object(text)
}

/// The first `{` from which an object can be read (repaired), else why not.
fn find_object(body: &str) -> Result<Repaired, String> {
    let starts: Vec<usize> = body
        .char_indices()
        .filter(|&(_, c)| c == '{')
        .map(|(i, _)| i)
        .take(MAX_STARTS)
        .collect();
    if starts.is_empty() {
        return Err(format!(
            "the reply has no JSON object (it starts: \"{}\")",
            quote(body.trim())
        ));
    }
    let mut first_problem = None;
    for start in starts {
        match object_at(&body[start..]) {
            Ok((value, mut more)) => {
                let mut repairs = Vec::new();
                let lead = body[..start].trim();
                if !lead.is_empty() {
                    repairs.push(Repair::LeadingText(quote(lead)));
                }
                repairs.append(&mut more);
                return Ok(Repaired { value, repairs });
            }
            Err(problem) => {
                first_problem.get_or_insert(problem);
            }
        }
    }
    Err(first_problem.unwrap_or_else(|| "the reply has no JSON object".to_string()))
}

/// The text before, inside and after the first Markdown code fence, when
/// there is one. Fences start a line; JSON strings cannot hold a raw line
/// break, so a fence marker inside a JSON string is never taken for one.
fn unfence(text: &str) -> Option<(&str, &str, &str)> {
    let mut offset = 0;
    let mut opened: Option<(usize, usize)> = None;
    for line in text.split_inclusive('\n') {
        let is_fence = line.trim_start().starts_with("```");
        match opened {
            None if is_fence => opened = Some((offset, offset + line.len())),
            Some((open, start)) if is_fence => {
                let after = text.get(offset + line.len()..).unwrap_or("");
                return Some((text.get(..open)?, text.get(start..offset)?, after));
            }
            _ => {}
        }
        offset += line.len();
    }
    let (open, start) = opened?;
    Some((text.get(..open)?, text.get(start..)?, ""))
}

/// The object starting at the beginning of `text`.
fn object_at(text: &str) -> Result<(Value, Vec<Repair>), String> {
    let mut repairs = Vec::new();
    let (cleaned, commas) = drop_trailing_commas(text);
    let text = if commas > 0 {
        repairs.push(Repair::TrailingCommas(commas));
        cleaned.as_str()
    } else {
        text
    };
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    match stream.next() {
        Some(Ok(value)) => {
            let rest = text[stream.byte_offset().min(text.len())..].trim();
            if !rest.is_empty() {
                repairs.push(Repair::TrailingText(quote(rest)));
            }
            Ok((value, repairs))
        }
        Some(Err(e)) if e.is_eof() => {
            let (value, repair) = close_truncated(text).ok_or_else(|| {
                format!("the JSON is cut off and cannot be closed ({e}): answer with the complete object")
            })?;
            repairs.push(repair);
            Ok((value, repairs))
        }
        Some(Err(e)) => Err(format!("the reply is not valid JSON ({e})")),
        None => Err("the reply has no JSON object".to_string()),
    }
}

/// What the scanner knows at one point of the text.
#[derive(Clone)]
struct Scan {
    /// Open containers, innermost last: `{` or `[`.
    stack: Vec<u8>,
    in_string: bool,
}

/// Commas outside strings that are followed (after whitespace) by `}` or `]`.
fn drop_trailing_commas(text: &str) -> (String, usize) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' => {
                let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                if matches!(next, Some(b'}' | b']')) {
                    out.push_str(&text[copied..i]);
                    copied = i + 1;
                    count += 1;
                }
            }
            _ => {}
        }
    }
    out.push_str(&text[copied..]);
    (out, count)
}

/// Closes a document that ends too early: first as it is (closing an open
/// string and every open container), then cut back to earlier points where
/// a value ended, until one parses.
fn close_truncated(text: &str) -> Option<(Value, Repair)> {
    let bytes = text.as_bytes();
    let mut scan = Scan {
        stack: Vec::new(),
        in_string: false,
    };
    let mut escaped = false;
    // (cut position, state there): right after `{`/`[`, and before each `,`.
    let mut cuts: Vec<(usize, Scan)> = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if scan.in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => scan.in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => scan.in_string = true,
            b'{' | b'[' => {
                scan.stack.push(b);
                cuts.push((i + 1, scan.clone()));
            }
            b'}' | b']' => {
                scan.stack.pop();
            }
            b',' => cuts.push((i, scan.clone())),
            _ => {}
        }
    }
    if scan.stack.is_empty() {
        return None;
    }
    let mut whole = text.to_string();
    if scan.in_string {
        // A dangling escape (`\` or `\u12`) cannot be closed: drop it.
        if let Some(slash) = whole.rfind('\\')
            && whole.len() - slash <= 6
            && !whole[slash..].contains('"')
        {
            whole.truncate(slash);
        }
        whole.push('"');
    }
    let tail = closers(&scan.stack);
    if let Ok(value) = serde_json::from_str::<Value>(&format!("{whole}{tail}")) {
        let added = if scan.in_string {
            format!("\"{tail}")
        } else {
            tail
        };
        return Some((value, Repair::Truncated { dropped: 0, added }));
    }
    for (cut, state) in cuts.iter().rev().take(MAX_CUTS) {
        let head = text.get(..*cut)?;
        let tail = closers(&state.stack);
        if let Ok(value) = serde_json::from_str::<Value>(&format!("{head}{tail}")) {
            let dropped = text.len() - cut;
            return Some((
                value,
                Repair::Truncated {
                    dropped,
                    added: tail,
                },
            ));
        }
    }
    None
}

fn closers(stack: &[u8]) -> String {
    stack
        .iter()
        .rev()
        .map(|&b| if b == b'{' { '}' } else { ']' })
        .collect()
}

/// `text` shortened to `MAX_QUOTE` characters, on one line.
fn quote(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(MAX_QUOTE) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repaired(text: &str) -> (Value, Vec<String>) {
        let r = repair_json(text).unwrap();
        (r.value, r.repairs.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn clean_json_needs_no_repair() {
        assert_eq!(
            repaired(r#" {"a": [1, 2]} "#),
            (json!({"a": [1, 2]}), vec![])
        );
    }

    #[test]
    fn fences_and_prose_are_removed() {
        let (value, notes) =
            repaired("Here is the plan:\n```json\n{\"a\": 1}\n```\nHope this helps!");
        assert_eq!(value, json!({"a": 1}));
        assert_eq!(
            notes,
            [
                "removed a Markdown code fence",
                "removed text before the JSON: \"Here is the plan:\"",
                "removed text after the JSON: \"Hope this helps!\""
            ]
        );
        let (value, notes) = repaired("Sure {not json}. Result: {\"a\": 1} -- done");
        assert_eq!(value, json!({"a": 1}));
        assert_eq!(
            notes,
            [
                "removed text before the JSON: \"Sure {not json}. Result:\"",
                "removed text after the JSON: \"-- done\""
            ]
        );
    }

    #[test]
    fn truncated_documents_are_closed() {
        let (value, notes) = repaired(r#"{"a": [{"b": "cut here"#);
        assert_eq!(value, json!({"a": [{"b": "cut here"}]}));
        assert_eq!(notes, ["closed a truncated document with `\"}]}`"]);
        let (value, notes) = repaired(r#"{"a": [1, 2], "b": tr"#);
        assert_eq!(value, json!({"a": [1, 2]}));
        assert!(
            notes[0].contains("dropped its incomplete last"),
            "{notes:?}"
        );
        let (value, _) = repaired(r#"{"a": "x\u00"#);
        assert_eq!(value, json!({"a": "x"}));
        let (value, _) = repaired("```json\n{\"a\": [1, 2,");
        assert_eq!(value, json!({"a": [1, 2]}));
    }

    #[test]
    fn trailing_commas_are_dropped_outside_strings() {
        let (value, notes) = repaired(r#"{"a": [1, 2,], "b": "x,]",}"#);
        assert_eq!(value, json!({"a": [1, 2], "b": "x,]"}));
        assert_eq!(notes, ["removed 2 trailing comma(s)"]);
    }

    #[test]
    fn no_object_is_an_error() {
        assert!(repair_json("I cannot help with that.").is_err());
        assert!(repair_json("[1, 2]").is_err());
        assert!(repair_json("{\"a\" 1}").is_err());
    }
}
