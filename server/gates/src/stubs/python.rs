//! Python: placeholder bodies, assertion-free and mock-only tests.

use super::lines::{Lines, indent};
use super::{Finding, FindingKind, finding};

const PY_MOCK_CALLS: &[&str] = &[
    ".assert_called",
    ".assert_not_called",
    ".assert_has_calls",
    ".assert_any_call",
    ".assert_awaited",
    ".assert_not_awaited",
    ".assert_has_awaits",
    ".assert_any_await",
];
const PY_MOCK_ATTRS: &[&str] = &[
    ".called",
    ".call_count",
    ".call_args",
    ".await_count",
    ".await_args",
    ".mock_calls",
    ".method_calls",
];

pub(super) fn scan(lines: &Lines, path: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let stub_file = path.ends_with(".pyi");
    for i in 0..lines.len() {
        let Some((name, def_indent)) = def_at(lines, i) else {
            continue;
        };
        let exempt =
            stub_file || decorated(lines, i, def_indent) || in_protocol(lines, i, def_indent);

        let Some((header_end, rest)) = header_colon(lines, i) else {
            continue;
        };
        // `def f(): pass` on one line.
        if !rest.is_empty() {
            let placeholder = matches!(rest.as_str(), "pass" | "...")
                || rest.starts_with("raise NotImplementedError");
            if placeholder && !exempt {
                findings.push(placeholder_py(i, &name));
            }
            if name.starts_with("test") {
                python_test(i, &name, &[rest.as_str()], &mut findings);
            }
            continue;
        }
        let body: Vec<usize> = (header_end + 1..lines.len())
            .take_while(|&j| {
                let l = &lines.code[j];
                l.trim().is_empty() || indent(l) > def_indent
            })
            .filter(|&j| !lines.code[j].trim().is_empty())
            .collect();
        // Statements, without string-only lines (docstrings).
        let statements: Vec<usize> = body
            .iter()
            .copied()
            .filter(|&j| {
                !lines.code[j]
                    .trim()
                    .chars()
                    .all(|c| matches!(c, '"' | '\''))
            })
            .collect();
        if !exempt {
            let body_indent = statements.first().map(|&j| indent(&lines.code[j]));
            let whole =
                statements.len() == 1 && matches!(lines.code[statements[0]].trim(), "pass" | "...");
            if whole {
                findings.push(placeholder_py(statements[0], &name));
            } else if let Some(j) = statements.iter().copied().find(|&j| {
                Some(indent(&lines.code[j])) == body_indent
                    && lines.code[j]
                        .trim()
                        .starts_with("raise NotImplementedError")
            }) {
                findings.push(placeholder_py(j, &name));
            }
        }
        if name.starts_with("test") {
            let body: Vec<&str> = body.iter().map(|&j| lines.code[j].trim()).collect();
            python_test(i, &name, &body, &mut findings);
        }
    }
    findings
}

/// The name and indent of the `def` (or `async def`) on line `i`, if any.
pub(super) fn def_at(lines: &Lines, i: usize) -> Option<(String, usize)> {
    let line = &lines.code[i];
    let trimmed = line.trim_start();
    let rest = trimmed
        .strip_prefix("def ")
        .or_else(|| trimmed.strip_prefix("async def "))?;
    let name = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    Some((name, indent(line)))
}

/// Where the `def` header starting on line `def_line` ends: the line of its first
/// `:` outside brackets, and the code after that colon (a one-line body).
pub(super) fn header_colon(lines: &Lines, def_line: usize) -> Option<(usize, String)> {
    let mut depth = 0i32;
    for j in def_line..lines.len().min(def_line + 40) {
        for (at, c) in lines.code[j].char_indices() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ':' if depth == 0 => {
                    return Some((j, lines.code[j][at + 1..].trim().to_string()));
                }
                _ => {}
            }
        }
    }
    None
}

fn placeholder_py(line: usize, name: &str) -> Finding {
    finding(
        line,
        FindingKind::Placeholder,
        format!(
            "`{name}` is a placeholder (`pass`, `...` or `raise NotImplementedError`); implement it"
        ),
    )
}

/// The decorators right above line `def_line` include `@abstractmethod` or `@overload`.
pub(super) fn decorated(lines: &Lines, def_line: usize, def_indent: usize) -> bool {
    (0..def_line)
        .rev()
        .map(|j| &lines.code[j])
        .take_while(|l| {
            let t = l.trim_start();
            t.starts_with('@') && indent(l) == def_indent
        })
        .any(|l| l.contains("abstractmethod") || l.contains("overload"))
}

/// The nearest enclosing `class` (less indented, above) names `Protocol`.
pub(super) fn in_protocol(lines: &Lines, def_line: usize, def_indent: usize) -> bool {
    for j in (0..def_line).rev() {
        let l = &lines.code[j];
        if l.trim().is_empty() || indent(l) >= def_indent {
            continue;
        }
        return l.trim_start().starts_with("class ") && l.contains("Protocol");
    }
    false
}

fn python_test(def_line: usize, name: &str, body: &[&str], findings: &mut Vec<Finding>) {
    let (mut real, mut mock) = (0, 0);
    for &code in body {
        let mock_call = PY_MOCK_CALLS.iter().any(|m| code.contains(m));
        let assertion = code.starts_with("assert ")
            || code.starts_with("assert(")
            || code.contains("self.assert")
            || code.contains("pytest.raises")
            || code.contains("pytest.warns");
        if mock_call {
            mock += 1;
        } else if assertion {
            let about_mock =
                !code.contains("pytest.raises") && PY_MOCK_ATTRS.iter().any(|m| code.contains(m));
            if about_mock {
                mock += 1;
            } else {
                real += 1;
            }
        }
    }
    if real + mock == 0 {
        findings.push(finding(
            def_line,
            FindingKind::AssertionFree,
            format!("test `{name}` asserts nothing; assert on what the code returns or does"),
        ));
    } else if real == 0 {
        findings.push(finding(
            def_line,
            FindingKind::MockOnly,
            format!(
                "test `{name}` only asserts how mocks were called; assert on a real return value or state too"
            ),
        ));
    }
}
