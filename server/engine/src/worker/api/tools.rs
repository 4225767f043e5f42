//! The tools the model may call, and the stage's permissions enforced in
//! them: every path is relative to the worktree (no `..`, no absolute
//! path, no symlink leading out), and only the stage's writable paths can be
//! written. A refused call is an error result the model reads, never a crash.

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

/// Largest file `read_file` returns, and `write_file` accepts.
const MAX_FILE_BYTES: usize = 256 * 1024;
/// Most entries `list_files` returns.
const MAX_LISTED: usize = 500;
/// Directories `list_files` does not descend into.
const SKIPPED_DIRS: [&str; 7] = [
    ".git",
    ".venv",
    "__pycache__",
    "node_modules",
    "target",
    ".pytest_cache",
    ".tdd",
];

/// A tool offered to the model: its name, what it does, its input schema.
pub(super) struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

pub(super) const FINISH: &str = "finish";

pub(super) fn specs() -> Vec<ToolSpec> {
    let string = json!({"type": "string"});
    let object = |props: Value, required: &[&str]| {
        json!({"type": "object", "properties": props, "required": required,
               "additionalProperties": false})
    };
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

/// What a tool call gave back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    fn ok(content: impl Into<String>) -> ToolOutput {
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
pub(super) struct Tools<'a> {
    root: &'a Path,
    writable: &'a [String],
}

impl<'a> Tools<'a> {
    pub(super) fn new(root: &'a Path, writable: &'a [String]) -> Tools<'a> {
        Tools { root, writable }
    }

    /// Runs one call. `finish` is handled by the loop, not here.
    pub(super) fn run(&self, name: &str, input: &Value) -> ToolOutput {
        let result = match name {
            "read_file" => self.read_file(input),
            "list_files" => self.list_files(input),
            "write_file" => self.write_file(input),
            "edit_file" => self.edit_file(input),
            _ => {
                let names: Vec<&str> = specs().iter().map(|s| s.name).collect();
                Err(format!(
                    "unknown tool `{name}`; the tools are: {}",
                    names.join(", ")
                ))
            }
        };
        result.unwrap_or_else(ToolOutput::error)
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
        let mut found = Vec::new();
        let mut truncated = false;
        walk(&root, &dir, &mut found, &mut truncated)
            .map_err(|e| format!("cannot list `{rel}`: {e}"))?;
        found.sort();
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
        let path = self.writable_path(rel)?;
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
        let path = self.writable_path(rel)?;
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

/// A relative path with no `..`, no root and no `.` parts.
fn normalize(rel: &str) -> Result<PathBuf, String> {
    let mut clean = PathBuf::new();
    for part in Path::new(rel.trim()).components() {
        match part {
            Component::Normal(p) => clean.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "`{rel}` contains `..`: use a path inside the project"
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{rel}` is absolute: use a path relative to the project root"
                ));
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err("the path is empty".to_string());
    }
    Ok(clean)
}

fn arg<'v>(input: &'v Value, key: &str) -> Result<&'v str, String> {
    input[key]
        .as_str()
        .ok_or_else(|| format!("missing string argument `{key}`"))
}

fn walk(
    root: &Path,
    dir: &Path,
    found: &mut Vec<String>,
    truncated: &mut bool,
) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        let path = entry.path();
        if kind.is_dir() {
            if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                walk(root, &path, found, truncated)?;
            }
        } else if found.len() >= MAX_LISTED {
            *truncated = true;
            return Ok(());
        } else {
            let shown = path.strip_prefix(root).unwrap_or(&path);
            found.push(shown.display().to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tdd-api-tools-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("src/a.py"), "x = 1\nx = 1\ny = 2\n").unwrap();
        dir
    }

    #[test]
    fn writes_only_the_writable_paths_inside_the_worktree() {
        let dir = root("perm");
        let writable = vec!["src/a.py".to_string(), "tests/test_a.py".to_string()];
        let tools = Tools::new(&dir, &writable);
        let write = |path: &str| tools.run("write_file", &json!({"path": path, "content": "z"}));
        assert!(!write("tests/test_a.py").is_error);
        assert_eq!(
            fs::read_to_string(dir.join("tests/test_a.py")).unwrap(),
            "z"
        );
        assert!(!write("./src/a.py").is_error);
        for (path, says) in [
            ("src/b.py", "not writable"),
            ("../a.py", "contains `..`"),
            ("/etc/passwd", "absolute"),
            ("", "empty"),
        ] {
            let out = write(path);
            assert!(
                out.is_error && out.content.contains(says),
                "{path}: {out:?}"
            );
        }
        let out = tools.run("read_file", &json!({"path": "../../etc/passwd"}));
        assert!(out.is_error, "{out:?}");
        let out = tools.run("delete_everything", &json!({}));
        assert!(
            out.is_error && out.content.contains("unknown tool"),
            "{out:?}"
        );
    }

    #[test]
    fn a_symlink_out_of_the_worktree_is_refused() {
        let dir = root("link");
        let outside = root("outside");
        std::os::unix::fs::symlink(&outside, dir.join("out")).unwrap();
        let writable = vec!["out/a.py".to_string()];
        let tools = Tools::new(&dir, &writable);
        let out = tools.run("read_file", &json!({"path": "out/a.py"}));
        assert!(out.is_error && out.content.contains("outside"), "{out:?}");
        let out = tools.run("write_file", &json!({"path": "out/a.py", "content": "w"}));
        assert!(out.is_error && out.content.contains("outside"), "{out:?}");
        assert_eq!(
            fs::read_to_string(outside.join("src/a.py")).unwrap(),
            "x = 1\nx = 1\ny = 2\n"
        );
    }

    #[test]
    fn edit_needs_exactly_one_match_and_list_shows_files() {
        let dir = root("edit");
        let writable = vec!["src/a.py".to_string()];
        let tools = Tools::new(&dir, &writable);
        let edit = |search: &str| {
            tools.run(
                "edit_file",
                &json!({"path": "src/a.py", "search": search, "replace": "y = 3"}),
            )
        };
        assert!(edit("x = 1").content.contains("2 times"));
        assert!(edit("z = 0").content.contains("not found"));
        assert!(!edit("y = 2").is_error);
        assert_eq!(
            fs::read_to_string(dir.join("src/a.py")).unwrap(),
            "x = 1\nx = 1\ny = 3\n"
        );
        let listed = tools.run("list_files", &json!({"dir": "."}));
        assert_eq!(listed.content, "src/a.py");
    }
}
