//! Paths the tools accept: relative to the worktree, never leading out.

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

/// Directories the listing and the search do not descend into.
pub(super) const SKIPPED_DIRS: [&str; 7] = [
    ".git",
    ".venv",
    "__pycache__",
    "node_modules",
    "target",
    ".pytest_cache",
    ".tdd",
];

/// A relative path with no `..`, no root and no `.` parts.
pub(super) fn normalize(rel: &str) -> Result<PathBuf, String> {
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

pub(super) fn arg<'v>(input: &'v Value, key: &str) -> Result<&'v str, String> {
    input[key]
        .as_str()
        .ok_or_else(|| format!("missing string argument `{key}`"))
}

pub(super) fn walk(
    root: &Path,
    dir: &Path,
    found: &mut Vec<String>,
    truncated: &mut bool,
    max: usize,
) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        let path = entry.path();
        if kind.is_dir() {
            if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                walk(root, &path, found, truncated, max)?;
            }
        } else if found.len() >= max {
            *truncated = true;
            return Ok(());
        } else {
            let shown = path.strip_prefix(root).unwrap_or(&path);
            found.push(shown.display().to_string());
        }
    }
    Ok(())
}
