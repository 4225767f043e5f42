//! Writes that escaped the worktree. A worker that runs a program (an agent
//! CLI, a plugin) can write anywhere the user can; the diff audit only sees
//! the task's worktree. Around each attempt the engine also looks at the two
//! places such a write lands in a project: the user's own checkout, and the
//! worktrees directory itself (`../file` from a worktree). What appeared
//! there during the attempt fails it as a violation. A stray file among the
//! worktrees is removed; a change in the user's checkout is left as it is
//! (the user may have made it) and named.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use git2::{Repository, Status, StatusOptions};

/// A file's state, enough to tell that it changed.
type Stamp = (u32, Option<SystemTime>, u64);

/// What the checkout and the worktrees directory held before an attempt.
pub(super) struct Outside {
    checkout: BTreeMap<String, Stamp>,
    strays: BTreeMap<String, Stamp>,
}

impl Outside {
    pub fn snapshot(root: &Path, worktrees: &Path) -> Outside {
        Outside {
            checkout: checkout(root),
            strays: strays(worktrees),
        }
    }

    /// Paths (relative to the project root) written during the attempt:
    /// strays among the worktrees, removed, then changes in the checkout.
    pub fn escaped(&self, root: &Path, worktrees: &Path) -> Vec<String> {
        let mut escaped = Vec::new();
        for (name, stamp) in strays(worktrees) {
            if self.strays.get(&name) != Some(&stamp) {
                let _ = fs::remove_file(worktrees.join(&name));
                let shown = worktrees
                    .strip_prefix(root)
                    .unwrap_or(worktrees)
                    .join(&name);
                escaped.push(format!("{} (removed)", shown.display()));
            }
        }
        for (path, stamp) in checkout(root) {
            if self.checkout.get(&path) != Some(&stamp) {
                escaped.push(format!("{path} (in your checkout, left as it is)"));
            }
        }
        escaped
    }
}

/// Files directly in the worktrees directory: every worktree is a
/// directory, so a file there came from outside one.
fn strays(worktrees: &Path) -> BTreeMap<String, Stamp> {
    let Ok(entries) = fs::read_dir(worktrees) else {
        return BTreeMap::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                stamp(&e.path(), 0),
            )
        })
        .collect()
}

/// The user's checkout: every path git reports as changed or new, with its
/// status and file stamp (a file already modified before the attempt and
/// written again shows as a new stamp). `.tdd/` is ignored by its own
/// `.gitignore`.
fn checkout(root: &Path) -> BTreeMap<String, Stamp> {
    let Ok(repo) = Repository::open(root) else {
        return BTreeMap::new();
    };
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let Ok(statuses) = repo.statuses(Some(&mut options)) else {
        return BTreeMap::new();
    };
    statuses
        .iter()
        .filter(|s| s.status() != Status::CURRENT)
        .filter_map(|s| {
            let path = s.path().ok()?.to_string();
            let stamp = stamp(&root.join(&path), s.status().bits());
            Some((path, stamp))
        })
        .collect()
}

fn stamp(path: &Path, status: u32) -> Stamp {
    let meta = fs::symlink_metadata(path).ok();
    (
        status,
        meta.as_ref().and_then(|m| m.modified().ok()),
        meta.map_or(0, |m| m.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strays_and_checkout_changes_made_during_the_attempt_are_found() {
        let root = std::env::temp_dir().join(format!("tdd-escape-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let worktrees = root.join(".tdd/worktrees");
        fs::create_dir_all(worktrees.join("task-1")).unwrap();
        let repo = Repository::init(&root).unwrap();
        fs::write(root.join(".tdd/.gitignore"), "*\n").unwrap();
        fs::write(root.join("mine.txt"), "the user's, before the run\n").unwrap();
        drop(repo);

        let before = Outside::snapshot(&root, &worktrees);
        assert!(before.escaped(&root, &worktrees).is_empty());

        fs::write(worktrees.join("outside-task-1.txt"), "escaped\n").unwrap();
        fs::write(root.join("escaped.txt"), "escaped\n").unwrap();
        fs::create_dir_all(worktrees.join("task-2")).unwrap();
        let escaped = before.escaped(&root, &worktrees);
        assert_eq!(
            escaped,
            [
                ".tdd/worktrees/outside-task-1.txt (removed)",
                "escaped.txt (in your checkout, left as it is)",
            ]
        );
        assert!(!worktrees.join("outside-task-1.txt").exists());
        assert!(root.join("escaped.txt").exists());
        let _ = fs::remove_dir_all(&root);
    }
}
