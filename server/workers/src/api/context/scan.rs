//! Line-based scanning of source files: the declarations of a file and the
//! test names of a test file, per language. No parser: good enough to tell
//! the model what exists, and never fails.

use tdd_core::config::Language;

use super::super::prompt::clip;
use super::MAX_LINE;

/// Declarations a test may call or a change must keep, line by line:
/// `(line number, the declaration without its body)`.
pub(in super::super) fn signatures(language: Language, text: &str) -> Vec<(usize, String)> {
    let starts: &[&str] = match language {
        Language::Python => &["def ", "async def ", "class "],
        Language::Rust => &[
            "pub fn ",
            "pub async fn ",
            "pub(crate) fn ",
            "pub struct ",
            "pub enum ",
            "pub trait ",
            "pub type ",
            "pub const ",
            "pub mod ",
            "impl ",
            "impl<",
        ],
        Language::Typescript => &["export ", "function ", "class ", "interface "],
        Language::Go => &["func ", "type "],
    };
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            // Python methods are kept (indented under their class); other
            // languages' nested items are left out.
            let deep = indent > 0 && language != Language::Python;
            if deep || !starts.iter().any(|s| trimmed.starts_with(s)) {
                return None;
            }
            let head = line.trim_end().trim_end_matches('{').trim_end();
            Some((i + 1, clip(head, MAX_LINE)))
        })
        .collect()
}

/// The names of the tests a test file defines.
pub(in super::super) fn test_names(language: Language, text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut attribute = false;
    for line in text.lines().map(str::trim) {
        let name = match language {
            Language::Python => line
                .strip_prefix("def ")
                .or_else(|| line.strip_prefix("async def "))
                .filter(|rest| rest.starts_with("test"))
                .map(ident),
            Language::Go => line
                .strip_prefix("func ")
                .filter(|rest| rest.starts_with("Test"))
                .map(ident),
            Language::Rust => {
                if line.starts_with("#[") && line.contains("test") {
                    attribute = true;
                    continue;
                }
                let found = attribute
                    .then(|| {
                        let rest = line.strip_prefix("pub ").unwrap_or(line);
                        let rest = rest.strip_prefix("async ").unwrap_or(rest);
                        rest.strip_prefix("fn ").map(ident)
                    })
                    .flatten();
                if !line.starts_with("#[") && !line.is_empty() {
                    attribute = false;
                }
                found
            }
            Language::Typescript => ["it(", "test(", "describe(", "it.each", "test.each"]
                .iter()
                .find(|p| line.starts_with(*p))
                .and_then(|_| quoted(line)),
        };
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            names.push(name);
        }
    }
    names
}

fn ident(rest: &str) -> String {
    rest.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The first string literal of a line (`'…'`, `"…"` or `` `…` ``).
fn quoted(line: &str) -> Option<String> {
    let start = line.find(['"', '\'', '`'])?;
    let quote = line[start..].chars().next()?;
    let rest = &line[start + 1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_string())
}
