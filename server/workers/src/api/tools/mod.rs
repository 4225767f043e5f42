//! The tools the model may call, and the stage's permissions enforced in
//! them: every path is relative to the worktree (no `..`, no absolute
//! path, no symlink leading out), and only the stage's writable paths can be
//! written. A refused call is an error result the model reads, never a crash.

mod paths;
mod report;
mod search;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::super::TestProbe;
use paths::{arg, normalize};

/// Largest file `read_file` returns, and `write_file` accepts.
const MAX_FILE_BYTES: usize = 256 * 1024;
/// Most entries `list_files` returns.
const MAX_LISTED: usize = 500;

/// A tool offered to the model: its name, what it does, its input schema.
pub(in super::super) struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

pub(in super::super) const FINISH: &str = "finish";
const RUN_TESTS: &str = "run_tests";

fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required,
           "additionalProperties": false})
}

/// The tools every attempt gets (`run_tests` comes with a test probe).
pub(in super::super) fn specs() -> Vec<ToolSpec> {
    let string = json!({"type": "string"});
    vec![
        ToolSpec {
            name: "read_file",
            description: "Read a UTF-8 text file of the project (path relative to the project root).",
            schema: object(json!({"path": string}), &["path"]),
        },
        ToolSpec {
            name: "list_files",
            description: "List the files under a directory of the project, recursively (\".\" for the root).",
            schema: object(json!({"dir": string}), &["dir"]),
        },
        ToolSpec {
            name: "search_text",
            description: "Find the lines of the project's text files containing `pattern` (exact, \
                          case-sensitive text, not a regex), optionally only under `path` (a \
                          directory or file). Returns `path:line: text` lines.",
            schema: object(json!({"pattern": string, "path": string}), &["pattern"]),
        },
        ToolSpec {
            name: "write_file",
            description: "Create or replace a whole file. Only the writable paths of this stage are allowed.",
            schema: object(
                json!({"path": string, "content": string}),
                &["path", "content"],
            ),
        },
        ToolSpec {
            name: "edit_file",
            description: "Replace the one occurrence of `search` in a writable file with `replace`. \
                          `search` must match exactly once.",
            schema: object(
                json!({"path": string, "search": string, "replace": string}),
                &["path", "search", "replace"],
            ),
        },
        ToolSpec {
            name: FINISH,
            description: "Say the stage is done, with a one-paragraph summary of what you changed.",
            schema: object(json!({"summary": string}), &["summary"]),
        },
    ]
}

fn run_tests_spec() -> ToolSpec {
    ToolSpec {
        name: RUN_TESTS,
        description: "Run this task's tests now and get the parsed report: counts, and each \
                      failing test's id, kind of failure and message. The engine runs them \
                      again itself after you finish; this is for checking your work.",
        schema: object(json!({}), &[]),
    }
}

/// What a tool call gave back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in super::super) struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub(super) fn ok(content: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: content.into(),
            is_error: false,
        }
    }

    fn error(content: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: format!("error: {}", content.into()),
            is_error: true,
        }
    }
}

/// The tools bound to one stage attempt.
pub(in super::super) struct Tools<'a> {
    root: &'a Path,
    writable: &'a [String],
    tests: Option<&'a TestProbe>,
    /// Writes the stage's permissions refused, for the attempt's evidence.
    denied: RefCell<Vec<String>>,
}

impl<'a> Tools<'a> {
    pub(in super::super) fn new(root: &'a Path, writable: &'a [String]) -> Tools<'a> {
        Tools {
            root,
            writable,
            tests: None,
            denied: RefCell::new(Vec::new()),
        }
    }

    /// Offers `run_tests` when there is a probe.
    pub(in super::super) fn with_tests(mut self, tests: Option<&'a TestProbe>) -> Tools<'a> {
        self.tests = tests;
        self
    }

    /// Every write the permissions refused so far, as `tool path: why`.
    pub(in super::super) fn denied(&self) -> Vec<String> {
        self.denied.borrow().clone()
    }

    /// What this attempt offers the model.
    pub(in super::super) fn specs(&self) -> Vec<ToolSpec> {
        let mut specs = specs();
        if self.tests.is_some() {
            let at = specs.len() - 1;
            specs.insert(at, run_tests_spec());
        }
        specs
    }

    /// Runs one call. `finish` is handled by the loop, not here.
    pub(in super::super) fn run(&self, name: &str, input: &Value) -> ToolOutput {
        let result = match name {
            "read_file" => self.read_file(input),
            "list_files" => self.list_files(input),
            "search_text" => self.search_text(input),
            "write_file" => self.write_file(input),
            "edit_file" => self.edit_file(input),
            RUN_TESTS if self.tests.is_some() => self.run_tests(),
            _ => {
                let names: Vec<&str> = self.specs().iter().map(|s| s.name).collect();
                Err(format!(
                    "unknown tool `{name}`; the tools are: {}",
                    names.join(", ")
                ))
            }
        };
        result.unwrap_or_else(ToolOutput::error)
    }

    fn run_tests(&self) -> Result<ToolOutput, String> {
        let probe = self
            .tests
            .ok_or("run_tests is not offered in this attempt")?;
        let report = probe.run(self.root).map_err(|e| {
            format!(
                "the tests could not be run: {}",
                super::prompt::clip(&e, 2_000)
            )
        })?;
        Ok(ToolOutput::ok(report::summarize(&report)))
    }

    fn read_file(&self, input: &Value) -> Result<ToolOutput, String> {
        let rel = arg(input, "path")?;
        let path = self.resolve(rel)?;
        let bytes = fs::read(&path).map_err(|e| format!("cannot read `{rel}`: {e}"))?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(format!(
                "`{rel}` is {} bytes, more than the {MAX_FILE_BYTES} read_file returns",
                bytes.len()
            ));
        }
        String::from_utf8(bytes)
            .map(ToolOutput::ok)
            .map_err(|_| format!("`{rel}` is not UTF-8 text"))
    }

    fn list_files(&self, input: &Value) -> Result<ToolOutput, String> {
        let rel = arg(input, "dir")?;
        let root =
            fs::canonicalize(self.root).map_err(|e| format!("the worktree is unreadable: {e}"))?;
        let dir = if matches!(rel.trim(), "" | "." | "./") {
            root.clone()
        } else {
            self.resolve(rel)?
        };
        if !dir.is_dir() {
            return Err(format!("cannot list `{rel}`: not a directory"));
        }
        // Directories are entries too: walk past the limit, list files up to it.
        let walked = crate::walk::walk(&root, &dir, MAX_LISTED * 4);
        let mut found: Vec<&str> = walked
            .entries
            .iter()
            .filter(|e| !e.is_dir)
            .map(|e| e.path.as_str())
            .collect();
        let truncated = walked.truncated || found.len() > MAX_LISTED;
        found.truncate(MAX_LISTED);
        let mut text = found.join("\n");
        if truncated {
            text.push_str(&format!("\n(listing stopped at {MAX_LISTED} entries)"));
        }
        Ok(ToolOutput::ok(if text.is_empty() {
            "(no files)".to_string()
        } else {
            text
        }))
    }

    fn write_file(&self, input: &Value) -> Result<ToolOutput, String> {
        let rel = arg(input, "path")?;
        let content = arg(input, "content")?;
        if content.len() > MAX_FILE_BYTES {
            return Err(format!("content is larger than {MAX_FILE_BYTES} bytes"));
        }
        let path = self.permitted("write_file", rel)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{rel}`'s directory: {e}"))?;
        }
        // The directories may have been created just now: check again.
        self.resolve(rel)?;
        fs::write(&path, content).map_err(|e| format!("cannot write `{rel}`: {e}"))?;
        Ok(ToolOutput::ok(format!(
            "wrote {rel} ({} bytes)",
            content.len()
        )))
    }

    fn edit_file(&self, input: &Value) -> Result<ToolOutput, String> {
        let rel = arg(input, "path")?;
        let search = arg(input, "search")?;
        let replace = arg(input, "replace")?;
        if search.is_empty() {
            return Err("`search` is empty: give the exact text to replace".to_string());
        }
        let path = self.permitted("edit_file", rel)?;
        let text = fs::read_to_string(&path).map_err(|e| format!("cannot read `{rel}`: {e}"))?;
        match text.matches(search).count() {
            1 => {
                fs::write(&path, text.replacen(search, replace, 1))
                    .map_err(|e| format!("cannot write `{rel}`: {e}"))?;
                Ok(ToolOutput::ok(format!("edited {rel}")))
            }
            0 => Err(format!(
                "`search` was not found in `{rel}`: read the file and copy the text exactly"
            )),
            n => Err(format!(
                "`search` occurs {n} times in `{rel}`: include more context so it matches once"
            )),
        }
    }

    /// [`Tools::writable_path`], remembering a refusal.
    fn permitted(&self, tool: &str, rel: &str) -> Result<PathBuf, String> {
        self.writable_path(rel).inspect_err(|why| {
            self.denied
                .borrow_mut()
                .push(format!("{tool} {rel}: {why}"));
        })
    }

    /// A path the stage may write, resolved in the worktree.
    fn writable_path(&self, rel: &str) -> Result<PathBuf, String> {
        let clean = normalize(rel)?;
        if !self
            .writable
            .iter()
            .any(|w| normalize(w).ok().as_ref() == Some(&clean))
        {
            return Err(format!(
                "`{rel}` is not writable in this stage; the writable paths are: {}",
                self.writable.join(", ")
            ));
        }
        let path = self.resolve(rel)?;
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!("`{rel}` is a symbolic link: it cannot be written"));
        }
        Ok(path)
    }

    /// `rel` in the worktree, refusing anything that leads out of it,
    /// through `..`, an absolute path or a symbolic link.
    fn resolve(&self, rel: &str) -> Result<PathBuf, String> {
        let clean = normalize(rel)?;
        let root =
            fs::canonicalize(self.root).map_err(|e| format!("the worktree is unreadable: {e}"))?;
        let path = root.join(&clean);
        // The deepest part that exists decides where the path really leads.
        let mut existing = path.as_path();
        while fs::symlink_metadata(existing).is_err() {
            existing = existing.parent().unwrap_or(&root);
        }
        let real =
            fs::canonicalize(existing).map_err(|e| format!("cannot resolve `{rel}`: {e}"))?;
        if !real.starts_with(&root) {
            return Err(format!(
                "`{rel}` leads outside the project: only project files are reachable"
            ));
        }
        Ok(path)
    }
}
