//! What a worker changed in its worktree, and putting paths back.

use std::fs;
use std::io;
use std::path::Path;

use git2::{
    Delta, Diff, DiffFindOptions, DiffOptions, ErrorCode, Oid, Repository, build::CheckoutBuilder,
};

use super::{Change, ChangeKind, GitError, Result, Worktree, check_worktree_path, io_err};

impl Worktree {
    /// The working tree (tracked and untracked files, minus what `.gitignore`
    /// ignores; the index plays no part) against commit `since`, sorted by path.
    /// Renames are found by content similarity, untracked files included.
    /// A tracked worktree ([`Worktree::track`]) looks only at the paths
    /// written since it was last at a known tree.
    pub fn changes(&self, since: Oid) -> Result<Vec<Change>> {
        // A tracked worktree's content costs what was touched; the
        // index-free scan reads and hashes every file.
        if let Some(changes) = self
            .with_content_tree(|repo, now| tracked_changes(repo, since, now))
            .ok()
            .flatten()
        {
            return Ok(changes);
        }
        let repo = self.repo()?;
        let tree = repo.find_commit(since)?.tree()?;
        let diff = repo.diff_tree_to_workdir(Some(&tree), Some(&mut diff_options()))?;
        read_deltas(diff)
    }

    /// Puts `paths` back as they are in the worktree's `HEAD` (file and index
    /// entry); a path that `HEAD` does not have is deleted (and unstaged), and
    /// directories it leaves empty are removed. Other paths are not touched.
    pub fn restore_paths<S: AsRef<str>>(&self, paths: &[S]) -> Result<()> {
        let repo = self.repo()?;
        let head = repo.head()?.peel_to_tree()?;
        let mut restore = Vec::new();
        let mut index = super::handles::current_index(&repo)?;
        let mut index_changed = false;
        for path in paths {
            let rel = check_worktree_path(&self.path, path.as_ref())?;
            match head.get_path(rel) {
                Ok(entry) if entry.kind() != Some(git2::ObjectType::Tree) => restore.push(rel),
                Ok(_) => {
                    return Err(GitError::BadPath {
                        path: path.as_ref().to_string(),
                        reason: "is a directory in HEAD: name its files",
                    });
                }
                Err(err) if err.code() == ErrorCode::NotFound => {
                    if index.get_path(rel, 0).is_some() {
                        index.remove_path(rel)?;
                        index_changed = true;
                    }
                    remove_added(&self.path, rel)?;
                }
                Err(err) => return Err(err.into()),
            }
        }
        if index_changed {
            index.write()?;
        }
        if restore.is_empty() {
            return Ok(());
        }
        for rel in &restore {
            // A directory where HEAD has a file would block the checkout.
            let full = self.path.join(rel);
            if full.is_dir() && !full.is_symlink() {
                fs::remove_dir_all(&full).map_err(io_err(&full))?;
            }
        }
        let mut checkout = CheckoutBuilder::new();
        checkout.force().disable_pathspec_match(true);
        for rel in &restore {
            checkout.path(rel);
        }
        repo.checkout_head(Some(&mut checkout))?;
        Ok(())
    }
}

/// Deletes an added file (or directory, or symlink, never following it) and
/// the directories it leaves empty, up to the worktree root.
fn remove_added(root: &Path, rel: &Path) -> Result<()> {
    let full = root.join(rel);
    let meta = match fs::symlink_metadata(&full) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io_err(&full)(err)),
    };
    if meta.is_dir() {
        fs::remove_dir_all(&full).map_err(io_err(&full))?;
    } else {
        fs::remove_file(&full).map_err(io_err(&full))?;
    }
    let mut dir = full.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) {
            break;
        }
        // Fails (and stops) on the first non-empty directory.
        if fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

fn diff_options() -> DiffOptions {
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_typechange(true);
    opts
}

/// The changes from commit `since` to tree `now`, diffed as two small trees
/// of only the changed paths: the same deltas and renames, at the cost of
/// what changed.
fn tracked_changes(repo: &Repository, since: Oid, now: Oid) -> Result<Vec<Change>> {
    let tree = repo.find_commit(since)?.tree()?;
    let now = repo.find_tree(now)?;
    let paths = super::trees::changed_paths(repo, Some(&tree), Some(&now))?;
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let old = repo.find_tree(super::trees::only_paths(repo, &tree, &paths)?)?;
    let new = repo.find_tree(super::trees::only_paths(repo, &now, &paths)?)?;
    read_deltas(repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut diff_options()))?)
}

/// A diff's deltas as changes, renames found by content similarity
/// (untracked files included), sorted by path.
fn read_deltas(mut diff: Diff<'_>) -> Result<Vec<Change>> {
    let mut find = DiffFindOptions::new();
    find.renames(true).for_untracked(true);
    diff.find_similar(Some(&mut find))?;
    let path_of = |file: git2::DiffFile<'_>| {
        file.path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for delta in diff.deltas() {
        let new = path_of(delta.new_file());
        let old = path_of(delta.old_file());
        let change = match delta.status() {
            Delta::Added | Delta::Untracked => Change::new(new, ChangeKind::Added),
            Delta::Modified | Delta::Typechange => Change::new(new, ChangeKind::Modified),
            Delta::Deleted => Change::new(old, ChangeKind::Deleted),
            Delta::Renamed => Change::new(new, ChangeKind::Renamed { from: old }),
            // A copy leaves its source in place: the new file is an addition.
            Delta::Copied => Change::new(new, ChangeKind::Added),
            Delta::Unmodified | Delta::Ignored | Delta::Unreadable | Delta::Conflicted => {
                continue;
            }
        };
        out.push(change);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
