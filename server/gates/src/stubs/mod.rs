//! Anti-stub checks on source text, per language: simple line-based heuristics,
//! no parsers. Comments are ignored, and string contents are ignored except where
//! a rule reads a message. Block comments and strings are followed across lines.
//!
//! | finding | Python | Rust | Go | TypeScript / JavaScript |
//! |---|---|---|---|---|
//! | placeholder | a `def` whose whole body (after its docstring) is `pass` or `...`, or with `raise NotImplementedError` at the top level of its body; not under `@abstractmethod` / `@overload`, in a `Protocol` class or a `.pyi` file | a call of the `todo` or `unimplemented` macro | `panic("not implemented…")`, `panic("TODO…")`, `panic("unimplemented…")` (any case) | `throw new Error("not implemented…" / "TODO…" / "unimplemented…")` (any quote, any case) |
//! | assertion-free test | a `def test*` / `async def test*` with no `assert`, `pytest.raises`, `pytest.warns`, `self.assert*`, and no mock assertion | a `#[test]` / `#[…::test]` fn with no `assert*!` / `debug_assert*!`, not `#[should_panic]`, and not returning a `Result` with a `?` in its body | a `func TestX(t *testing.T)` with no `t.Error*` / `t.Fatal*` / `t.Fail*` (any `*testing.T` name, subtests included), no testify `assert.` / `require.` call and no helper given `t` | an `it(…)` / `test(…)` call (not `.skip` / `.todo`) with no `expect(`, `expect.`, `expectTypeOf(`, `assert(` or `assert.` |
//! | mock-only test | Python only: every assertion is about a mock (`assert_called*`, `assert_not_called`, `assert_has_calls`, `assert_any_call`, `assert_awaited*`, or an assertion mentioning `.called`, `.call_count`, `.call_args`, `.await_count`, `.mock_calls`); `pytest.raises` is a real assertion | | | |
//!
//! The heuristics miss what they cannot see (an assertion in a helper, for
//! Python, Rust and TypeScript, reads as assertion-free) and are meant to be
//! strict: a finding says what to do.

mod c_like;
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

pub(super) fn finding(index: usize, kind: FindingKind, message: impl Into<String>) -> Finding {
    Finding {
        file: String::new(),
        line: u32::try_from(index + 1).unwrap_or(u32::MAX),
        kind,
        message: message.into(),
    }
}
