//! Anti-stub checks on source text, per language: simple line-based heuristics,
//! no parsers. Comments are ignored, and string contents are ignored except where
//! a rule reads a message. Block comments and strings are followed across lines.
//!
//! | finding | Python | Rust | Go | TypeScript / JavaScript |
//! |---|---|---|---|---|
//! | placeholder | a `def` whose whole body (after its docstring) is `pass` or `...`, or with `raise NotImplementedError` at the top level of its body; not under `@abstractmethod` / `@overload`, in a `Protocol` class or a `.pyi` file | a call of the `todo` or `unimplemented` macro | `panic("not implemented…")`, `panic("TODO…")`, `panic("unimplemented…")` (any case) | `throw new Error("not implemented…" / "TODO…" / "unimplemented…")` (any quote, any case) |
//! | assertion-free test | a `def test*` / `async def test*` with no `assert`, `pytest.raises`, `pytest.warns`, `self.assert*`, and no mock assertion | a `#[test]` / `#[…::test]` fn with no `assert*!` / `debug_assert*!`, not `#[should_panic]`, and not returning a `Result` with a `?` in its body | a `func TestX(t *testing.T)` with no `t.Error*` / `t.Fatal*` / `t.Fail*` (any `*testing.T` name, subtests included), no testify `assert.` / `require.` call and no helper given `t` | an `it(…)` / `test(…)` call (not `.skip` / `.todo`) with no `expect(`, `expect.`, `expectTypeOf(`, `assert(` or `assert.` |
//! | constant return | Python only: a `def` with parameters (besides `self` / `cls`), added or changed by the task, whose only statement returns a number, a string, `True`, `False` or `None` ([`constant_returns`], given the file before the task) | | | |
//! | mock-only test | Python only: every assertion is about a mock (`assert_called*`, `assert_not_called`, `assert_has_calls`, `assert_any_call`, `assert_awaited*`, or an assertion mentioning `.called`, `.call_count`, `.call_args`, `.await_count`, `.mock_calls`); `pytest.raises` is a real assertion | | | |
//!
//! The heuristics miss what they cannot see (an assertion in a helper, for
//! Python, Rust and TypeScript, reads as assertion-free) and are meant to be
//! strict: a finding says what to do.

mod c_like;
mod constant;
mod lines;
mod python;

use serde::Serialize;

use lines::Lines;
use tdd_core::config::Language;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A body that only marks where code should be.
    Placeholder,
    /// A test with no assertion.
    AssertionFree,
    /// A test whose assertions are all about mocks.
    MockOnly,
    /// A function the task added or changed that returns one literal
    /// whatever its parameters (Python).
    ConstantReturn,
}

/// One finding in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    /// One-based.
    pub line: u32,
    pub kind: FindingKind,
    pub message: String,
}

/// The language of a source file, from its extension; `None` for other files.
pub fn language_of(path: &str) -> Option<Language> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    match ext {
        "py" | "pyi" => Some(Language::Python),
        "rs" => Some(Language::Rust),
        "go" => Some(Language::Go),
        "ts" | "tsx" | "mts" | "cts" | "js" | "jsx" | "mjs" | "cjs" => Some(Language::Typescript),
        _ => None,
    }
}

/// Every finding in one file.
pub fn scan(language: Language, path: &str, text: &str) -> Vec<Finding> {
    let lines = Lines::new(language, text);
    let mut findings = match language {
        Language::Python => python::scan(&lines, path),
        Language::Rust => c_like::rust(&lines),
        Language::Go => c_like::go(&lines),
        Language::Typescript => c_like::typescript(&lines),
    };
    for f in &mut findings {
        f.file = path.to_string();
    }
    findings.sort_by_key(|f| f.line);
    findings
}

/// The functions of `after` (a file at the task's end; `before`, the same
/// file at its base, `None` when new) that the task added or changed and
/// that return a literal whatever their parameters. Python only for now.
pub fn constant_returns(
    language: Language,
    path: &str,
    before: Option<&str>,
    after: &str,
) -> Vec<Finding> {
    if language != Language::Python || path.ends_with(".pyi") {
        return Vec::new();
    }
    let before = before.map(|text| Lines::new(language, text));
    let mut findings = constant::scan(before.as_ref(), &Lines::new(language, after));
    for f in &mut findings {
        f.file = path.to_string();
    }
    findings.sort_by_key(|f| f.line);
    findings
}

pub(super) fn finding(index: usize, kind: FindingKind, message: impl Into<String>) -> Finding {
    Finding {
        file: String::new(),
        line: u32::try_from(index + 1).unwrap_or(u32::MAX),
        kind,
        message: message.into(),
    }
}
