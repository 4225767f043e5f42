//! Turning "write this file" into a call of whichever writing tool the
//! client offers: the engine's `write_file`, Claude Code's `Write`, Codex's
//! `exec_command`, or a `Bash` shell.

use std::path::{Component, Path, PathBuf};

use serde_json::json;

use super::conversation::Conversation;
use crate::script::ToolCall;

/// One file to write: a path relative to the worktree (or, for the
/// outside-worktree cheat, one leaving it) and its whole content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileWrite {
    pub path: String,
    pub content: String,
}

/// The tool the solver writes with, chosen once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Writer {
    /// `write_file {path, content}`, path relative.
    WriteFile,
    /// `Write {file_path, content}`, path absolute under `cwd`.
    Write { cwd: String },
    /// `exec_command {cmd}`, run in the worktree.
    Exec,
    /// `Bash {command}`, run in the worktree.
    Bash,
}

impl Writer {
    /// The preferred writing tool among those offered, or why none fits.
    pub fn choose(conv: &Conversation) -> Result<Writer, String> {
        if conv.offers("write_file") {
            return Ok(Writer::WriteFile);
        }
        match &conv.cwd {
            Some(cwd) if conv.offers("Write") => {
                return Ok(Writer::Write { cwd: cwd.clone() });
            }
            _ => {}
        }
        if conv.offers("exec_command") {
            return Ok(Writer::Exec);
        }
        if conv.offers("Bash") {
            return Ok(Writer::Bash);
        }
        let why = if conv.offers("Write") {
            "the request offers `Write` but names no working directory (no `Primary working \
             directory:` or `Working directory:` line), so no absolute path can be given"
                .to_owned()
        } else {
            format!(
                "the request offers none of the tools it can write files with \
                 (write_file, Write, exec_command, Bash); offered: {}",
                shown_list(&conv.tools)
            )
        };
        Err(format!("fake model (solver): {why}"))
    }

    pub fn call(&self, file: &FileWrite) -> ToolCall {
        let (name, input) = match self {
            Writer::WriteFile => (
                "write_file",
                json!({"path": file.path, "content": file.content}),
            ),
            Writer::Write { cwd } => (
                "Write",
                json!({"file_path": absolute(cwd, &file.path), "content": file.content}),
            ),
            Writer::Exec => ("exec_command", json!({"cmd": shell_write(file)})),
            Writer::Bash => ("Bash", json!({"command": shell_write(file)})),
        };
        ToolCall {
            id: None,
            name: name.to_owned(),
            input,
        }
    }
}

fn shown_list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// `cwd/path` with `.` and `..` resolved lexically, so the client gets a
/// clean absolute path (an outside-worktree cheat really points outside).
pub(crate) fn absolute(cwd: &str, path: &str) -> String {
    let joined = Path::new(cwd).join(path);
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out.to_string_lossy().into_owned()
}

/// A shell command writing the exact bytes of `file`: `printf '%s'` with
/// the content single-quoted, so no here-document delimiter can clash
/// and no trailing newline is added.
pub(crate) fn shell_write(file: &FileWrite) -> String {
    let write = format!(
        "printf '%s' {} > {}",
        quote(&file.content),
        quote(&file.path)
    );
    match Path::new(&file.path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            format!("mkdir -p {} && {write}", quote(&dir.to_string_lossy()))
        }
        _ => write,
    }
}

/// POSIX single quoting: `'` becomes `'\''`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_resolves_dot_dot_lexically() {
        assert_eq!(absolute("/tmp/wt", "src/a.py"), "/tmp/wt/src/a.py");
        assert_eq!(absolute("/tmp/wt/", "../outside.txt"), "/tmp/outside.txt");
        assert_eq!(absolute("/tmp/wt", "/etc/x"), "/etc/x");
    }

    #[test]
    fn shell_write_quotes_content_and_makes_the_directory() {
        let f = FileWrite {
            path: "tests/it's.py".into(),
            content: "print('hi')\nTDD_EOF\n".into(),
        };
        assert_eq!(
            shell_write(&f),
            r"mkdir -p 'tests' && printf '%s' 'print('\''hi'\'')
TDD_EOF
' > 'tests/it'\''s.py'"
        );
        let top = FileWrite {
            path: "a.txt".into(),
            content: "x".into(),
        };
        assert_eq!(shell_write(&top), "printf '%s' 'x' > 'a.txt'");
    }
}
