//! Text helpers shared by the parsers: bounded messages, ANSI sequences,
//! durations, and the places runners print (`path:line:col`, stack frames).

use std::borrow::Cow;

use super::{Location, MAX_MESSAGE_BYTES};

/// `text` trimmed and cut to [`MAX_MESSAGE_BYTES`] on a character boundary; a cut
/// message ends with a line saying how much was cut.
pub(crate) fn bounded(text: &str) -> String {
    let text = text.trim_matches(|c: char| c == '\n' || c == '\r' || c == ' ');
    if text.len() <= MAX_MESSAGE_BYTES {
        return text.to_string();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[message cut: {} more bytes]",
        &text[..end],
        text.len() - end
    )
}

/// `text` without ANSI colour and cursor sequences (`ESC [ … letter`).
pub(crate) fn strip_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    Cow::Owned(out)
}

/// Seconds (as runners print them) to whole milliseconds.
pub(crate) fn seconds_to_ms(seconds: f64) -> Option<u64> {
    millis(seconds * 1000.0)
}

/// A non-negative, finite number of milliseconds, rounded.
pub(crate) fn millis(ms: f64) -> Option<u64> {
    if ms.is_finite() && (0.0..1e15).contains(&ms) {
        Some(ms.round() as u64)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Locations

/// `path:line` or `path:line:column` (a trailing `:` allowed).
pub(crate) fn parse_location(text: &str) -> Option<Location> {
    let text = text.trim().trim_end_matches(':');
    let text = text.strip_prefix("file://").unwrap_or(text);
    let (head, last) = text.rsplit_once(':')?;
    let last: u32 = last.parse().ok()?;
    let (file, line, column) = match head.rsplit_once(':') {
        Some((file, line)) if line.parse::<u32>().is_ok() => {
            (file, line.parse::<u32>().ok()?, Some(last))
        }
        _ => (head, last, None),
    };
    let file = file.trim();
    if file.is_empty() || line == 0 || file.contains(['\n', '"', '\'']) {
        return None;
    }
    Some(Location {
        file: file.to_string(),
        line,
        column,
    })
}

/// The first JavaScript stack frame outside `node_modules` and node's internals:
/// `at fn (path:l:c)`, `at path:l:c`, or vitest's `❯ fn path:l:c`.
pub(crate) fn js_stack_location(text: &str) -> Option<Location> {
    text.lines().find_map(|line| {
        let line = line.trim();
        let frame = line
            .strip_prefix("at ")
            .or_else(|| line.strip_prefix("❯ "))?;
        let place = match (frame.rfind('('), frame.ends_with(')')) {
            (Some(open), true) => &frame[open + 1..frame.len() - 1],
            _ => frame.rsplit(' ').next().unwrap_or(frame),
        };
        if place.contains("node_modules") || place.starts_with("node:") {
            return None;
        }
        parse_location(place)
    })
}

/// esbuild's `path:line:col: ERROR: …` (vite's `Transform failed`).
pub(crate) fn esbuild_location(line: &str) -> Option<Location> {
    let (place, _) = line.split_once(": ERROR: ")?;
    parse_location(place)
}

/// Python's own `File "path", line N` (SyntaxError, IndentationError).
pub(crate) fn python_file_line(text: &str) -> Option<Location> {
    text.lines().find_map(|line| {
        let rest = &line[line.find("File \"")? + "File \"".len()..];
        let (file, rest) = rest.split_once('"')?;
        let rest = rest.strip_prefix(", line ")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let line: u32 = digits.parse().ok().filter(|l| *l > 0)?;
        Some(Location {
            file: file.to_string(),
            line,
            column: None,
        })
    })
}
