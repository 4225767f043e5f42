//! The file's lines without comments, and helpers on them.

use tdd_core::config::Language;

/// The file's lines twice over, without comments: `code` with string contents
/// removed (the quotes stay), `text` with them.
pub(super) struct Lines {
    pub(super) code: Vec<String>,
    pub(super) text: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Code,
    Block,
    Str { quote: char, triple: bool },
}

impl Lines {
    pub(super) fn new(language: Language, source: &str) -> Self {
        let python = language == Language::Python;
        let mut lines = Lines {
            code: Vec::new(),
            text: Vec::new(),
        };
        let mut state = State::Code;
        for line in source.lines() {
            let chars: Vec<char> = line.chars().collect();
            let (mut code, mut text) = (String::new(), String::new());
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                let next = chars.get(i + 1).copied();
                match state {
                    State::Block => {
                        if c == '*' && next == Some('/') {
                            state = State::Code;
                            i += 1;
                        }
                    }
                    State::Str { quote, triple } => {
                        text.push(c);
                        if c == '\\' && !(quote == '`' && language == Language::Go) {
                            if let Some(n) = next {
                                text.push(n);
                            }
                            i += 1;
                        } else if c == quote
                            && (!triple || chars.get(i + 1..i + 3) == Some(&[quote, quote]))
                        {
                            if triple {
                                text.push(quote);
                                text.push(quote);
                                code.push_str(&format!("{quote}{quote}"));
                                i += 2;
                            }
                            code.push(quote);
                            state = State::Code;
                        }
                    }
                    State::Code => {
                        if python && c == '#' || !python && c == '/' && next == Some('/') {
                            break;
                        }
                        if !python && c == '/' && next == Some('*') {
                            state = State::Block;
                            i += 2;
                            continue;
                        }
                        let quote = match c {
                            '"' => true,
                            '\'' => match language {
                                Language::Rust => {
                                    // A char literal (`'x'`, `'\n'`), not a lifetime.
                                    next == Some('\\') || chars.get(i + 2) == Some(&'\'')
                                }
                                _ => true,
                            },
                            '`' => matches!(language, Language::Go | Language::Typescript),
                            _ => false,
                        };
                        code.push(c);
                        text.push(c);
                        if quote {
                            let triple = python && chars.get(i + 1..i + 3) == Some(&[c, c]);
                            if triple {
                                code.push_str(&format!("{c}{c}"));
                                text.push_str(&format!("{c}{c}"));
                                i += 2;
                            }
                            state = State::Str { quote: c, triple };
                        }
                    }
                }
                i += 1;
            }
            // Only Python triple quotes and Go / JS backticks span lines.
            if let State::Str { quote, triple } = state
                && !triple
                && quote != '`'
            {
                state = State::Code;
            }
            lines.code.push(code);
            lines.text.push(text);
        }
        lines
    }

    pub(super) fn len(&self) -> usize {
        self.code.len()
    }
}

pub(super) fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// From line `start`, the last line of the block that counts `open` and `close`
/// from the first `open`; the last line of the file when it never closes.
pub(super) fn block_end(lines: &Lines, start: usize, open: char, close: char) -> usize {
    let mut depth = 0i64;
    let mut opened = false;
    for i in start..lines.len() {
        for c in lines.code[i].chars() {
            if c == open {
                depth += 1;
                opened = true;
            } else if c == close {
                depth -= 1;
            }
        }
        if opened && depth <= 0 {
            return i;
        }
    }
    lines.len().saturating_sub(1)
}

/// The string literal right after `marker` on a line with strings kept, as
/// written (a finding quotes it).
pub(super) fn literal_after(text: &str, marker: &str) -> Option<String> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let rest = rest.trim_start();
    let quote = rest
        .chars()
        .next()
        .filter(|q| matches!(q, '"' | '\'' | '`'))?;
    let body = &rest[1..];
    Some(body[..body.find(quote).unwrap_or(body.len())].to_string())
}

/// The message starts with `TODO`, `not implemented`, … in any case.
pub(super) fn says_unimplemented(message: &str) -> bool {
    let message = message.trim().to_lowercase();
    [
        "not implemented",
        "not yet implemented",
        "unimplemented",
        "todo",
    ]
    .iter()
    .any(|m| message.starts_with(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stubs::{FindingKind, scan};

    fn kinds(language: Language, path: &str, text: &str) -> Vec<(u32, FindingKind)> {
        scan(language, path, text)
            .into_iter()
            .map(|f| (f.line, f.kind))
            .collect()
    }

    #[test]
    fn comments_and_strings_are_not_code() {
        let lines = Lines::new(
            Language::Python,
            "x = '# no' # yes\n\"\"\"doc\nassert x\n\"\"\"\ny = 1",
        );
        assert_eq!(lines.code, vec!["x = '' ", "\"\"\"", "", "\"\"\"", "y = 1"]);
        let lines = Lines::new(Language::Rust, "let c = '{'; // }\nfn f<'a>() /* { */ {}");
        assert_eq!(lines.code, vec!["let c = ''; ", "fn f<'a>()  {}"]);
    }

    #[test]
    fn python_docstring_mentioning_assert_is_not_an_assertion() {
        let src = "def test_x():\n    \"\"\"\n    assert it works\n    \"\"\"\n    run()\n";
        assert_eq!(
            kinds(Language::Python, "t.py", src),
            vec![(1, FindingKind::AssertionFree)]
        );
    }

    #[test]
    fn python_exemptions() {
        let src = "class P(Protocol):\n    def f(self) -> int: ...\n    def g(self):\n        ...\n\nclass A(ABC):\n    @abstractmethod\n    def h(self):\n        raise NotImplementedError\n";
        assert!(kinds(Language::Python, "a.py", src).is_empty());
        assert!(kinds(Language::Python, "a.pyi", "def f(x: int) -> int: ...\n").is_empty());
    }

    #[test]
    fn placeholder_messages_quote_the_source() {
        let src = "func F() int {\n\tpanic(\"TODO: F\")\n}\n";
        let findings = scan(Language::Go, "f.go", src);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].message.contains("panic(\"TODO: F\")"),
            "{findings:?}"
        );
        let src = "throw new Error('Not Implemented yet');\n";
        let findings = scan(Language::Typescript, "f.ts", src);
        assert!(
            findings[0].message.contains("Not Implemented yet"),
            "{findings:?}"
        );
    }

    #[test]
    fn rust_lifetimes_do_not_open_strings() {
        let src =
            "#[test]\nfn t<'a>() {\n    let s: &'a str = \"}\";\n    assert_eq!(s, \"}\");\n}\n";
        assert!(kinds(Language::Rust, "tests/a.rs", src).is_empty());
    }
}
