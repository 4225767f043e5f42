//! Python: a function the task added or changed that returns one literal
//! whatever its parameters — the hard-coded GREEN, which passes any test
//! that checks a single example. A function that was already like that
//! before the task is the project's own and is not flagged; one without
//! parameters (besides `self`/`cls`) may well be a constant.

use std::collections::BTreeMap;

use super::lines::{Lines, indent};
use super::python::{decorated, def_at, header_colon, in_protocol};
use super::{Finding, FindingKind, finding};

/// One `def`: where it starts, its parameters, its statements (the code of
/// each, and its text with strings kept) and its whole text.
struct Def {
    line: usize,
    params: Vec<String>,
    statements: Vec<(String, String)>,
    text: String,
}

/// The functions of a file by name (the last one wins), tests and exempt
/// ones (abstract, overloads, protocols) left out.
fn defs(lines: &Lines) -> BTreeMap<String, Def> {
    let mut found = BTreeMap::new();
    for i in 0..lines.len() {
        let Some((name, def_indent)) = def_at(lines, i) else {
            continue;
        };
        if name.starts_with("test")
            || decorated(lines, i, def_indent)
            || in_protocol(lines, i, def_indent)
        {
            continue;
        }
        let Some((header_end, one_line)) = header_colon(lines, i) else {
            continue;
        };
        let header: String = lines.code[i..=header_end].join(" ");
        let mut statements: Vec<(String, String)> = Vec::new();
        if !one_line.is_empty() {
            // A one-line body: its text is not cut out of the header line.
            statements.push((one_line.clone(), one_line));
        }
        let mut end = header_end;
        for j in header_end + 1..lines.len() {
            let l = &lines.code[j];
            if !l.trim().is_empty() && indent(l) <= def_indent {
                break;
            }
            let t = l.trim();
            // Blank lines after the body belong to no function.
            if !t.is_empty() {
                end = j;
            }
            // Docstrings (only quotes are left of a string in `code`) say nothing.
            if !t.is_empty() && !t.chars().all(|c| matches!(c, '"' | '\'')) {
                statements.push((t.to_string(), lines.text[j].trim().to_string()));
            }
        }
        let text = lines.text[i..=end].join("\n");
        found.insert(
            name,
            Def {
                line: i,
                params: params(&header),
                statements,
                text,
            },
        );
    }
    found
}

/// The parameter names in a `def` header, without `self`, `cls` and the
/// bare `*` and `/` markers.
fn params(header: &str) -> Vec<String> {
    let Some(open) = header.find('(') else {
        return Vec::new();
    };
    let Some(close) = header.rfind(')') else {
        return Vec::new();
    };
    let inside = header.get(open + 1..close).unwrap_or_default();
    let mut depth = 0i32;
    let mut names = Vec::new();
    let mut current = String::new();
    for c in inside.chars().chain(std::iter::once(',')) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                let name: String = current
                    .trim()
                    .trim_start_matches('*')
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != "self" && name != "cls" {
                    names.push(name);
                }
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    names
}

/// `return` of a number, a string, `True`, `False` or `None`.
fn returned_literal(statement: &str) -> Option<&str> {
    let value = statement.strip_prefix("return ")?.trim();
    let number = value
        .trim_start_matches('-')
        .replace('_', "")
        .parse::<f64>()
        .is_ok();
    let string = value.len() >= 2
        && (value.starts_with('"') && value.ends_with('"')
            || value.starts_with('\'') && value.ends_with('\''));
    (number || string || matches!(value, "True" | "False" | "None")).then_some(value)
}

/// The functions of `after` that the task added or changed (against
/// `before`, the file at the task's base; `None`: a new file) and that
/// return a literal whatever their parameters.
pub(super) fn scan(before: Option<&Lines>, after: &Lines) -> Vec<Finding> {
    let old = before.map(defs).unwrap_or_default();
    let mut findings = Vec::new();
    for (name, def) in defs(after) {
        let unchanged = old.get(&name).is_some_and(|o| o.text == def.text);
        if unchanged || def.params.is_empty() || def.statements.len() != 1 {
            continue;
        }
        let (code, text) = &def.statements[0];
        if returned_literal(code).is_some() {
            // As written (`code` keeps only the quotes of a string).
            let shown = returned_literal(text).unwrap_or("a literal");
            findings.push(finding(
                def.line,
                FindingKind::ConstantReturn,
                format!(
                    "`{name}` returns `{shown}` whatever its parameters ({}): a hard-coded \
                     answer passes only the tests' examples; compute the result from them",
                    def.params.join(", ")
                ),
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use tdd_core::config::Language;

    use super::super::constant_returns;

    fn found(before: Option<&str>, after: &str) -> Vec<String> {
        constant_returns(Language::Python, "src/calc.py", before, after)
            .into_iter()
            .map(|f| format!("{}: {}", f.line, f.message))
            .collect()
    }

    #[test]
    fn a_new_function_returning_a_literal_whatever_its_parameters_is_flagged() {
        let after = "def multiply(a, b):\n    \"\"\"The product.\"\"\"\n    return 12\n";
        let found = found(None, after);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("1: `multiply` returns `12` whatever its parameters (a, b)"));
        for literal in ["'x'", "True", "None", "-1.5", "\"\""] {
            let after = format!("def f(self, x: int = 3, *rest) -> int:\n    return {literal}\n");
            assert_eq!(self::found(None, &after).len(), 1, "{literal}");
        }
        assert_eq!(self::found(None, "def f(a): return 4\n").len(), 1);
    }

    #[test]
    fn computed_unparameterized_unchanged_and_exempt_functions_are_not() {
        let computing = "def multiply(a, b):\n    return a * b\n";
        let constant = "def supports(self, feature):\n    return False\n";
        let cases = [
            (None, computing),
            // No parameters: a constant may be just that.
            (None, "def answer():\n    return 42\n"),
            (None, "class A:\n    def name(self):\n        return 'a'\n"),
            // Already in the project before the task: its own.
            (Some(constant), constant),
            (
                Some(constant),
                "def supports(self, feature):\n    return False\n\n\ndef multiply(a, b):\n    return a * b\n",
            ),
            (None, "def test_it(x):\n    return 1\n"),
            (None, "@overload\ndef f(x: int) -> int:\n    return 1\n"),
            (
                None,
                "def f(a, b):\n    if a:\n        return 1\n    return 2\n",
            ),
        ];
        for (before, after) in cases {
            assert_eq!(found(before, after), Vec::<String>::new(), "{after}");
        }
        // Changed into a constant: flagged.
        let changed = found(Some(computing), "def multiply(a, b):\n    return 12\n");
        assert_eq!(changed.len(), 1, "{changed:?}");
    }
}
