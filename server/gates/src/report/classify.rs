//! The classification rules shared by every parser: which message means an
//! assertion, a missing symbol, a syntax error; where a failure happened; how a
//! message is bounded.
//!
//! | rule | recognised text |
//! |---|---|
//! | assertion | `AssertionError` (and `*AssertionError`, `AssertionFailedError`, `ComparisonFailure`), pytest's `Failed` (`pytest.fail`), `assert …`, `expected … to …`, Rust's `assertion failed` / ``assertion `left == right` failed`` |
//! | missing symbol | Python: `cannot import name 'X'`, `No module named 'x'`, `name 'x' is not defined`, `has no attribute 'x'` (not on `None`); JS: `does not provide an export named 'X'`, `Cannot find module 'x'`, `Cannot find package 'x'`, `Failed to load url x`, `x is not a function`, `x is not a constructor`, `x is not defined`; Go: `undefined: X`, `has no field or method X`, `no required module provides package p`, `package p is not in GOROOT/std`, `cannot find package "p"`; Rust: ``cannot find … `x` ``, ``unresolved import `a::x` ``, ``failed to resolve: could not find `x` ``, ``use of undeclared … `x` ``, ``use of unresolved module or unlinked crate `x` ``, ``no method / function or associated item / associated item named `x` ``, ``no field `x` `` |
//! | syntax | `SyntaxError` (not JSON.parse's, not a missing ESM export), `IndentationError`, `TabError`, vite's `Transform failed`; Go parser messages (`syntax error`, `missing ','`, `expected …`, `illegal character`, `not terminated`); rustc errors without a code that start `expected …`, `unterminated …`, `unknown start of token` or mention a delimiter |
//! | timeout | vitest's `Test timed out in`, Go's `test timed out after`, pytest-timeout's `Timeout >` |
//! | error | any other exception or panic |

use super::FailureKind;

// ---------------------------------------------------------------------------
// Kinds

/// The kind of a failure given an exception type (Python, JavaScript, Java; may be
/// dotted, e.g. `builtins.AssertionError`) and its message.
pub(crate) fn exception_kind(exception: &str, message: &str) -> FailureKind {
    let base = exception.rsplit(['.', ':']).next().unwrap_or(exception);
    if let Some(kind) = timeout(message) {
        return kind;
    }
    if is_assertion_type(base) {
        return FailureKind::Assertion;
    }
    if let Some(symbol) = missing_symbol(message) {
        return FailureKind::MissingSymbol { symbol };
    }
    match base {
        "SyntaxError" if message.contains("JSON") => FailureKind::Error,
        "SyntaxError" | "IndentationError" | "TabError" => FailureKind::Syntax,
        _ if message.contains("Transform failed") => FailureKind::Syntax,
        _ => FailureKind::Error,
    }
}

/// The kind of a failure from its text alone, when the text says; `None` when it
/// is not recognised (the caller decides the default).
pub(crate) fn text_kind(text: &str) -> Option<FailureKind> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if let Some((exception, message)) = split_exception(first) {
        return Some(exception_kind(exception, message));
    }
    if let Some(kind) = timeout(text) {
        return Some(kind);
    }
    if text.contains("Transform failed") {
        return Some(FailureKind::Syntax);
    }
    if looks_like_assertion(first) {
        return Some(FailureKind::Assertion);
    }
    if let Some(symbol) = missing_symbol(first) {
        return Some(FailureKind::MissingSymbol { symbol });
    }
    None
}

/// The kind of a test file's load or collection failure, from its whole text: a
/// missing symbol or a syntax error anywhere in it, else a collection error.
pub(crate) fn load_error_kind(text: &str) -> FailureKind {
    if let Some(symbol) = missing_symbol(text) {
        return FailureKind::MissingSymbol { symbol };
    }
    let syntax = text.contains("Transform failed")
        || text.lines().any(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("Error: ").unwrap_or(l);
            (l.starts_with("SyntaxError") && !l.contains("JSON"))
                || l.starts_with("IndentationError")
                || l.starts_with("TabError")
        });
    if syntax {
        FailureKind::Syntax
    } else {
        FailureKind::Collection
    }
}

fn is_assertion_type(base: &str) -> bool {
    base.ends_with("AssertionError")
        || base.ends_with("AssertionFailedError")
        || base == "ComparisonFailure"
        || base == "Failed"
}

/// A test's own assertion message: pytest's `assert …`, chai's `expected … to …`,
/// Rust's `assertion failed` / ``assertion `left == right` failed``.
pub(crate) fn looks_like_assertion(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("assert ")
        || line.starts_with("assertion failed")
        || line.starts_with("assertion `")
        || line.starts_with("AssertionError")
        || (line.starts_with("expected ") && line.contains(" to "))
}

fn timeout(text: &str) -> Option<FailureKind> {
    let hit = text.contains("Test timed out in")
        || text.contains("test timed out after")
        || text.contains("Timeout >");
    hit.then_some(FailureKind::Timeout)
}

/// The kind of a Rust panic message (the lines after `panicked at …:`).
pub(crate) fn panic_kind(message: &str) -> FailureKind {
    if looks_like_assertion(message) {
        FailureKind::Assertion
    } else {
        FailureKind::Error
    }
}

/// The kind of one rustc diagnostic: its code (`E0425`) if any, and its header.
pub(crate) fn rustc_kind(code: Option<&str>, header: &str) -> FailureKind {
    if let Some(symbol) = missing_symbol(header) {
        return FailureKind::MissingSymbol { symbol };
    }
    let syntax = code.is_none()
        && (header.starts_with("expected ")
            || header.starts_with("unterminated ")
            || header.starts_with("unknown start of token")
            || header.starts_with("unexpected token")
            || header.starts_with("unexpected end of")
            || header.contains(" delimiter"));
    if syntax {
        FailureKind::Syntax
    } else {
        FailureKind::Build
    }
}

/// The kind of one Go compiler or loader message (the text after `file:line:col: `).
pub(crate) fn go_build_kind(message: &str) -> FailureKind {
    if let Some(symbol) = missing_symbol(message) {
        return FailureKind::MissingSymbol { symbol };
    }
    let syntax = message.starts_with("syntax error")
        || message.starts_with("missing ',' ")
        || message.starts_with("expected ")
        || message.starts_with("illegal character")
        || message.contains("not terminated")
        || message.starts_with("invalid character");
    if syntax {
        FailureKind::Syntax
    } else {
        FailureKind::Build
    }
}

/// `("TypeError", "x is not a function")` from `TypeError: x is not a function`:
/// a dotted identifier ending in `Error`, `Exception`, `Failure`, or one of a few
/// Python names, then `: ` (or nothing).
pub(crate) fn split_exception(line: &str) -> Option<(&str, &str)> {
    let (name, message) = match line.find(": ") {
        Some(i) => (&line[..i], &line[i + 2..]),
        None => (line.trim_end_matches(':'), ""),
    };
    let well_formed = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !well_formed {
        return None;
    }
    let base = name.rsplit('.').next().unwrap_or(name);
    let exceptional = base.ends_with("Error")
        || base.ends_with("Exception")
        || base.ends_with("Failure")
        || matches!(
            base,
            "Failed" | "StopIteration" | "KeyboardInterrupt" | "SystemExit" | "Exit"
        );
    exceptional.then_some((name, message))
}

// ---------------------------------------------------------------------------
// Missing symbols

/// The name a message says does not exist, in any of the runners' languages.
pub(crate) fn missing_symbol(text: &str) -> Option<String> {
    text.lines().find_map(missing_symbol_in_line)
}

fn missing_symbol_in_line(line: &str) -> Option<String> {
    let quoted: [(&str, char); 7] = [
        // Python
        ("cannot import name '", '\''),
        ("No module named '", '\''),
        ("name '", '\''),
        // JavaScript (ESM, vite, node)
        ("does not provide an export named '", '\''),
        ("Cannot find module '", '\''),
        ("Cannot find package '", '\''),
        // Go
        ("cannot find package \"", '"'),
    ];
    for (needle, close) in quoted {
        if let Some(symbol) = between(line, needle, close) {
            if needle == "name '"
                && !after(line, needle).is_some_and(|r| r.contains("is not defined"))
            {
                continue;
            }
            return Some(symbol);
        }
    }
    if let Some(symbol) = between(line, "has no attribute '", '\'') {
        // `'NoneType' object has no attribute 'x'` is a bug, not a missing symbol.
        if !line.contains("'NoneType' object") {
            return Some(symbol);
        }
    }
    if let Some(rest) = after(line, "Failed to load url ") {
        return word(rest);
    }
    // Go
    if let Some(rest) = after(line, "undefined: ") {
        return word(rest).map(|w| last_segment(&w, '.').to_string());
    }
    if let Some(rest) = after(line, "has no field or method ") {
        return word(rest);
    }
    if let Some(rest) = after(line, "no required module provides package ") {
        return word(rest);
    }
    for suffix in [" is not in GOROOT", " is not in std"] {
        if let Some(end) = line.find(suffix)
            && let Some(start) = line[..end].rfind("package ")
        {
            return word(&line[start + "package ".len()..end]);
        }
    }
    // Rust
    let backticked = [
        "cannot find ",
        "unresolved import `",
        "failed to resolve: could not find `",
        "use of undeclared ",
        "use of unresolved module or unlinked crate `",
        "no method named `",
        "no function or associated item named `",
        "no associated item named `",
        "no field `",
    ];
    for needle in backticked {
        let Some(rest) = after(line, needle) else {
            continue;
        };
        let rest = if needle.ends_with('`') {
            Some(rest)
        } else {
            after(rest, "`")
        };
        let name = rest.and_then(|r| r.split('`').next());
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            return Some(last_segment(name, ':').to_string());
        }
    }
    // JavaScript runtime errors
    for suffix in [
        " is not a function",
        " is not a constructor",
        " is not defined",
    ] {
        if let Some(end) = line.find(suffix) {
            return js_name(&line[..end]);
        }
    }
    None
}

/// The identifier just before ` is not a function` etc.: `(0 , power)` →
/// `power`, `calc.multiply` → `multiply`, `TypeError: x` → `x`.
fn js_name(before: &str) -> Option<String> {
    let before = before.trim_end().trim_end_matches(')');
    let start = before
        .char_indices()
        .rfind(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let name = &before[start..];
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$');
    valid.then(|| name.to_string())
}

fn after<'a>(line: &'a str, needle: &str) -> Option<&'a str> {
    line.find(needle).map(|i| &line[i + needle.len()..])
}

fn between(line: &str, needle: &str, close: char) -> Option<String> {
    let rest = after(line, needle)?;
    let end = rest.find(close)?;
    let name = &rest[..end];
    (!name.is_empty()).then(|| name.to_string())
}

fn word(text: &str) -> Option<String> {
    let w = text.split_whitespace().next()?;
    let w = w.trim_end_matches([',', ';', ':', ')', '.']);
    (!w.is_empty()).then(|| w.to_string())
}

fn last_segment(path: &str, separator: char) -> &str {
    path.rsplit(separator)
        .find(|s| !s.is_empty())
        .unwrap_or(path)
}
