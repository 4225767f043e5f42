//! Paths the tools accept: relative to the worktree, never leading out.

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

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
