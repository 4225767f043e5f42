//! Rust, Go and TypeScript: placeholders and assertion-free tests, with blocks
//! found by counting braces (parentheses for a TypeScript `it(…)` call).

use super::lines::{Lines, block_end, literal_after, says_unimplemented};
use super::{Finding, FindingKind, finding};
// ---------------------------------------------------------------------------
// Rust

pub(super) fn rust(lines: &Lines) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, code) in lines.code.iter().enumerate() {
        for mac in ["todo!", "unimplemented!"] {
            if has_macro(code, mac) {
                findings.push(finding(
                    i,
                    FindingKind::Placeholder,
                    format!("`{mac}()` is a placeholder; implement it"),
                ));
            }
        }
    }
    let mut i = 0;
    while i < lines.len() {
        let attr = lines.code[i].trim();
        let is_test = attr == "#[test]"
            || attr.starts_with('#') && (attr.contains("::test]") || attr.contains("::test("));
        if !is_test {
            i += 1;
            continue;
        }
        // The attributes around it, then the fn.
        let mut should_panic = false;
        let mut j = i;
        while j < lines.len() && !lines.code[j].contains("fn ") {
            should_panic |= lines.code[j].contains("should_panic");
            j += 1;
        }
        if (0..i)
            .rev()
            .take_while(|&k| lines.code[k].trim().starts_with("#["))
            .any(|k| lines.code[k].contains("should_panic"))
        {
            should_panic = true;
        }
        if j >= lines.len() {
            break;
        }
        let end = block_end(lines, j, '{', '}');
        let name = lines.code[j]
            .split("fn ")
            .nth(1)
            .map(|r| {
                r.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .unwrap_or_default();
        let signature: String = (j..=end)
            .map(|k| lines.code[k].as_str())
            .take_while(|l| !l.contains('{'))
            .chain(
                lines.code[j..=end]
                    .iter()
                    .map(String::as_str)
                    .find(|l| l.contains('{')),
            )
            .collect::<Vec<_>>()
            .join(" ");
        let signature = signature.split('{').next().unwrap_or("");
        let returns_result = signature.contains("->") && signature.contains("Result");
        let body = &lines.code[j..=end];
        let asserts = body.iter().any(|l| has_assert_macro(l));
        let question = returns_result && body.iter().any(|l| l.contains('?'));
        if !(asserts || should_panic || question) {
            findings.push(finding(
                j,
                FindingKind::AssertionFree,
                format!("test `{name}` asserts nothing; use `assert!`/`assert_eq!` on what the code returns"),
            ));
        }
        i = end + 1;
    }
    findings
}

/// `mac` (`todo!`) as a macro call, not as the tail of a longer name.
fn has_macro(code: &str, mac: &str) -> bool {
    code.match_indices(mac).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// `assert!`, `assert_eq!`, `debug_assert_ne!`, `assert_matches!`…
fn has_assert_macro(code: &str) -> bool {
    code.match_indices("assert").any(|(at, _)| {
        let rest = &code[at..];
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        rest[ident.len()..].starts_with('!')
    })
}

// ---------------------------------------------------------------------------
// Go

pub(super) fn go(lines: &Lines) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, text) in lines.text.iter().enumerate() {
        if let Some(message) = literal_after(text, "panic(")
            && says_unimplemented(&message)
        {
            findings.push(finding(
                i,
                FindingKind::Placeholder,
                format!("`panic(\"{message}\")` is a placeholder; implement it"),
            ));
        }
    }
    let mut i = 0;
    while i < lines.len() {
        let code = &lines.code[i];
        if !(code.starts_with("func Test") && code.contains("*testing.T")) {
            i += 1;
            continue;
        }
        let end = block_end(lines, i, '{', '}');
        let name: String = code["func ".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let body = &lines.code[i..=end];
        // Every name declared `*testing.T` in the test and its subtests.
        let mut names: Vec<String> = Vec::new();
        for l in body {
            for (at, _) in l.match_indices("*testing.T") {
                let before = l[..at].trim_end();
                let ident: String = before
                    .chars()
                    .rev()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                if !ident.is_empty() && !names.contains(&ident) {
                    names.push(ident);
                }
            }
        }
        let asserts = body.iter().skip(1).any(|l| {
            l.contains("assert.")
                || l.contains("require.")
                || names.iter().any(|t| {
                    [".Error", ".Fatal", ".Fail"]
                        .iter()
                        .any(|m| l.contains(&format!("{t}{m}")))
                        || l.contains(&format!("({t},"))
                        || l.contains(&format!("({t})"))
                        || l.contains(&format!(", {t})"))
                        || l.contains(&format!(", {t},"))
                })
        });
        if !asserts {
            findings.push(finding(
                i,
                FindingKind::AssertionFree,
                format!(
                    "test `{name}` asserts nothing; call t.Errorf/t.Fatalf when the result is wrong"
                ),
            ));
        }
        i = end + 1;
    }
    findings
}

// ---------------------------------------------------------------------------
// TypeScript / JavaScript

pub(super) fn typescript(lines: &Lines) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, text) in lines.text.iter().enumerate() {
        if let Some(message) = literal_after(text, "new Error(")
            && text.contains("throw")
            && says_unimplemented(&message)
        {
            findings.push(finding(
                i,
                FindingKind::Placeholder,
                format!("`throw new Error(\"{message}\")` is a placeholder; implement it"),
            ));
        }
    }
    let mut i = 0;
    while i < lines.len() {
        let code = lines.code[i].trim_start();
        let starts = [
            "it(",
            "test(",
            "it.only(",
            "test.only(",
            "it.concurrent(",
            "test.concurrent(",
        ]
        .iter()
        .any(|s| code.starts_with(s));
        if !starts {
            i += 1;
            continue;
        }
        let end = block_end(lines, i, '(', ')');
        let name = literal_after(&lines.text[i], "(").unwrap_or_default();
        let asserts = lines.code[i..=end].iter().any(|l| {
            ["expect(", "expect.", "expectTypeOf(", "assert(", "assert."]
                .iter()
                .any(|m| l.contains(m))
        });
        if !asserts {
            findings.push(finding(
                i,
                FindingKind::AssertionFree,
                format!("test \"{name}\" asserts nothing; expect(…) what the code returns"),
            ));
        }
        i = end + 1;
    }
    findings
}
