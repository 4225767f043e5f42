//! `search_text`: a literal substring search over the worktree's text files.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::paths::arg;
use super::{ToolOutput, Tools};
use crate::api::prompt::clip;

/// Most matching lines returned.
const MAX_MATCHES: usize = 100;
/// Most characters shown of one matching line.
const MAX_LINE: usize = 200;
/// Files larger than this are not searched.
const MAX_SEARCHED_BYTES: u64 = 1024 * 1024;
/// Most files looked at.
const MAX_FILES: usize = 5_000;

struct Search<'p> {
    pattern: &'p str,
    root: &'p Path,
    found: Vec<String>,
    files: usize,
    stopped: bool,
}

impl Tools<'_> {
    pub(super) fn search_text(&self, input: &Value) -> Result<ToolOutput, String> {
        let pattern = arg(input, "pattern")?;
        if pattern.is_empty() {
            return Err("`pattern` is empty: give the text to look for".to_string());
        }
        if pattern.contains('\n') {
            return Err("`pattern` spans lines: search for one line at a time".to_string());
        }
        let root =
            fs::canonicalize(self.root).map_err(|e| format!("the worktree is unreadable: {e}"))?;
        let start = match input["path"].as_str().map(str::trim) {
            None | Some("" | "." | "./") => root.clone(),
            Some(rel) => self.resolve(rel)?,
        };
        let mut search = Search {
            pattern,
            root: &root,
            found: Vec::new(),
            files: 0,
            stopped: false,
        };
        let meta = fs::symlink_metadata(&start).map_err(|e| format!("cannot search there: {e}"))?;
        if meta.is_dir() {
            search.dir(&start);
        } else {
            search.file(&start);
        }
        let mut text = search.found.join("\n");
        if search.stopped {
            text.push_str(&format!(
                "\n(stopped at {MAX_MATCHES} matches or {MAX_FILES} files: narrow `path` or \
                 the pattern)"
            ));
        }
        Ok(ToolOutput::ok(if search.found.is_empty() {
            format!("no line contains `{}`", clip(pattern, MAX_LINE))
        } else {
            text
        }))
    }
}

impl Search<'_> {
    fn dir(&mut self, dir: &Path) {
        // Directories are entries too; `file` stops at MAX_FILES files.
        let walked = crate::walk::walk(self.root, dir, MAX_FILES * 4);
        for entry in walked.entries.iter().filter(|e| !e.is_dir) {
            if self.stopped {
                return;
            }
            self.file(&self.root.join(&entry.path));
        }
        if walked.truncated {
            self.stopped = true;
        }
    }

    fn file(&mut self, path: &Path) {
        self.files += 1;
        if self.files > MAX_FILES {
            self.stopped = true;
            return;
        }
        let too_big = fs::metadata(path).map_or(true, |m| m.len() > MAX_SEARCHED_BYTES);
        if too_big {
            return;
        }
        let Ok(bytes) = fs::read(path) else {
            return;
        };
        // Binary files (a NUL byte, or not UTF-8) are skipped.
        if bytes.contains(&0) {
            return;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            return;
        };
        let shown = path
            .strip_prefix(self.root)
            .unwrap_or(path)
            .display()
            .to_string();
        for (number, line) in text.lines().enumerate() {
            if line.contains(self.pattern) {
                if self.found.len() >= MAX_MATCHES {
                    self.stopped = true;
                    return;
                }
                let line = clip(line.trim_end(), MAX_LINE);
                self.found.push(format!("{shown}:{}: {line}", number + 1));
            }
        }
    }
}
