//! The project's files as the planner and the API worker's tools see them:
//! what git would track. One walker for all of them (ripgrep's `ignore`
//! crate): `.gitignore`, `.git/info/exclude` and git's global excludes are
//! honoured (in a plain directory too), hidden entries are skipped (so
//! `.git`, `.tdd` and `.venv` are never entered), as are the build and
//! dependency directories of [`ALWAYS_SKIPPED`] even where no `.gitignore`
//! names them; symbolic links are listed, never followed.

use std::path::Path;

use ignore::WalkBuilder;

/// Skipped whether or not a `.gitignore` says so: build output and
/// installed dependencies, never a project's own sources.
pub const ALWAYS_SKIPPED: &[&str] = &[
    "target",
    "node_modules",
    "__pycache__",
    "venv",
    "dist",
    "build",
];

/// One file or directory below the walk's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the root given to [`walk`], with `/` separators.
    pub path: String,
    pub is_dir: bool,
}

/// What [`walk`] found, sorted by path within each directory.
#[derive(Clone, Debug, Default)]
pub struct Walked {
    pub entries: Vec<Entry>,
    /// The walk stopped at its limit.
    pub truncated: bool,
}

/// The entries below `start` (a directory inside `root`, or `root`
/// itself), at most `max`. The walk begins at `root`, so its `.gitignore`
/// applies to `start` too, and reads no ignore file above it: a task's
/// worktree lives under `.tdd/`, which ignores everything.
pub fn walk(root: &Path, start: &Path, max: usize) -> Walked {
    let mut walked = Walked::default();
    let wanted = start.to_path_buf();
    let walker = WalkBuilder::new(root)
        .standard_filters(true)
        .parents(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            let name = entry.file_name().to_string_lossy();
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let on_the_way = entry.path().starts_with(&wanted) || wanted.starts_with(entry.path());
            on_the_way && !(is_dir && ALWAYS_SKIPPED.contains(&&*name))
        })
        .build();
    for entry in walker.flatten() {
        if entry.depth() == 0 || !entry.path().starts_with(start) || entry.path() == start {
            continue;
        }
        if walked.entries.len() >= max {
            walked.truncated = true;
            break;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let path = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        walked.entries.push(Entry { path, is_dir });
    }
    walked
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for file in files {
            let path = root.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x\n").unwrap();
        }
        root
    }

    fn paths(walked: &Walked) -> Vec<&str> {
        walked.entries.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn gitignore_hidden_and_build_directories_are_left_out() {
        let root = tree(&[
            ".gitignore",
            ".git/config",
            ".tdd/orchestrator.db",
            "src/app.py",
            "src/generated/big.py",
            "node_modules/x/index.js",
            "target/debug/app",
            "notes.log",
        ]);
        let root = root.path();
        fs::write(root.join(".gitignore"), "*.log\n/src/generated/\n").unwrap();
        let walked = walk(root, root, 100);
        assert_eq!(paths(&walked), ["src", "src/app.py"]);
        assert!(walked.entries[0].is_dir && !walked.entries[1].is_dir);
        assert!(!walked.truncated);
    }

    #[test]
    fn ignore_files_above_the_root_do_not_apply() {
        let outer = tree(&[".gitignore", "project/src/app.py"]);
        fs::write(outer.path().join(".gitignore"), "*\n").unwrap();
        let root = outer.path().join("project");
        assert_eq!(paths(&walk(&root, &root, 10)), ["src", "src/app.py"]);
    }

    #[test]
    fn a_walk_from_a_subdirectory_keeps_paths_relative_to_the_root_and_stops_at_its_limit() {
        let root = tree(&["src/a.py", "src/b.py", "src/c.py", "tests/t.py"]);
        let root = root.path();
        let walked = walk(root, &root.join("src"), 2);
        assert_eq!(paths(&walked), ["src/a.py", "src/b.py"]);
        assert!(walked.truncated);
    }
}
