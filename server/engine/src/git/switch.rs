//! Moving a worktree's files to another tree, writing only what differs:
//! a tracked worktree from its known tree plus the touched paths
//! ([`super::tracked`]), an untracked one after a stat scan. A file that
//! already holds the target's bytes is left as it is.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use git2::{FileMode, ObjectType, Repository, Tree};

use super::tracked::{ignorer, lock};
use super::trees::changed_paths;
use super::{GitError, Result, Worktree, io_err};

impl Worktree {
    /// Moves the files of a tracked worktree from what it holds to `to`:
    /// writes what differs between its known tree and `to`, and puts every
    /// touched path back as `to` has it (an untracked file git would not
    /// ignore is deleted, but for those in `keep`; ignored ones stay, as with
    /// a checkout). Costs what differs, not what the tree holds; the
    /// worktree's index is not updated (nothing of the engine reads it).
    pub(crate) fn switch_files(
        &self,
        repo: &Repository,
        to: &Tree<'_>,
        keep: &BTreeSet<String>,
    ) -> Result<()> {
        let Some(tracked) = &self.tracked else {
            return Err(GitError::Io {
                path: self.path.clone(),
                source: io::Error::other("switch_files needs a tracked worktree"),
            });
        };
        let mut tracker = lock(tracked);
        let Some(mut paths) = tracker.touched(repo, &self.path) else {
            return Err(GitError::Io {
                path: self.path.clone(),
                source: io::Error::other("the worktree's watch lost count of its writes"),
            });
        };
        let from = repo.find_tree(tracker.at())?;
        paths.extend(changed_paths(repo, Some(&from), Some(to))?);
        let ignored = ignorer(repo);
        for rel in paths.iter().filter(|p| !keep.contains(*p)) {
            put(repo, &self.path, rel, to, &ignored)?;
        }
        // The index is left alone: the engine never reads it here, and
        // writing it costs what the tree holds (see `trees::update_tree`).
        tracker.settle(repo, &self.path, to.id(), keep);
        Ok(())
    }

    /// Moves an untracked worktree's files from `HEAD` to `to`, writing only
    /// what differs: the paths that differ between the two trees, and what
    /// `git status` reports on disk (modified, deleted, and new files git
    /// does not ignore; a stat scan with the index as its cache, no file
    /// read unless its stat changed). Ignored files (build output) stay.
    /// The index is then `to`'s. Move `HEAD` afterwards.
    pub(crate) fn switch_files_scanned(&self, repo: &Repository, to: &Tree<'_>) -> Result<()> {
        let from = repo.head()?.peel_to_tree()?;
        let mut paths: BTreeSet<String> = changed_paths(repo, Some(&from), Some(to))?
            .into_iter()
            .collect();
        let mut options = git2::StatusOptions::new();
        options
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        for entry in repo.statuses(Some(&mut options))?.iter() {
            if let Ok(path) = entry.path() {
                paths.insert(path.to_string());
            }
        }
        let ignored = ignorer(repo);
        for rel in &paths {
            put(repo, &self.path, rel, to, &ignored)?;
        }
        let mut index = super::handles::current_index(repo)?;
        index.read_tree(to)?;
        index.write()?;
        Ok(())
    }
}

/// Makes `root/rel` what `to` has there: the blob written, or, where `to`
/// has nothing, the file deleted unless git ignores it.
fn put(
    repo: &Repository,
    root: &Path,
    rel: &str,
    to: &Tree<'_>,
    ignored: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let full = root.join(rel);
    let entry = to.get_path(Path::new(rel)).ok();
    let existing = fs::symlink_metadata(&full).ok();
    match entry {
        Some(entry) if entry.kind() == Some(ObjectType::Blob) => {
            let blob = repo.find_blob(entry.id())?;
            if let Some(meta) = &existing {
                // A file created again costs far more than one read (a new
                // inode; on ext4, after many deletions, a search for one).
                if holds(&full, meta, &blob, entry.filemode()) {
                    return Ok(());
                }
                remove(&full, meta.is_dir())?;
            }
            if let Some(parent) = full.parent() {
                make_dirs(root, parent)?;
            }
            if entry.filemode() == i32::from(FileMode::Link) {
                let target =
                    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(blob.content());
                std::os::unix::fs::symlink(target, &full).map_err(io_err(&full))?;
            } else {
                fs::write(&full, blob.content()).map_err(io_err(&full))?;
                let mode = if entry.filemode() == i32::from(FileMode::BlobExecutable) {
                    0o755
                } else {
                    0o644
                };
                fs::set_permissions(&full, fs::Permissions::from_mode(mode))
                    .map_err(io_err(&full))?;
            }
        }
        // A directory in `to`: its files are paths of their own.
        Some(_) => {}
        None => {
            if let Some(meta) = existing
                && !meta.is_dir()
                && !ignored(rel)
            {
                remove(&full, false)?;
                prune_empty(root, &full);
            }
        }
    }
    Ok(())
}

/// Whether `full` (whose metadata is `meta`) is already `blob` with git
/// mode `mode`: same kind, same executable bit, same bytes.
fn holds(full: &Path, meta: &fs::Metadata, blob: &git2::Blob<'_>, mode: i32) -> bool {
    if mode == i32::from(FileMode::Link) {
        return meta.file_type().is_symlink()
            && fs::read_link(full)
                .is_ok_and(|target| target.as_os_str().as_encoded_bytes() == blob.content());
    }
    let executable = mode == i32::from(FileMode::BlobExecutable);
    meta.file_type().is_file()
        && (meta.permissions().mode() & 0o111 != 0) == executable
        && meta.len() == blob.size() as u64
        && fs::read(full).is_ok_and(|bytes| bytes == blob.content())
}

fn remove(full: &Path, dir: bool) -> Result<()> {
    let removed = if dir {
        fs::remove_dir_all(full)
    } else {
        fs::remove_file(full)
    };
    match removed {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(full)(e)),
        _ => Ok(()),
    }
}

/// Creates `dir` and its parents under `root`, replacing a file in the way.
fn make_dirs(root: &Path, dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut at = dir;
    while at != root {
        if let Ok(meta) = fs::symlink_metadata(at)
            && !meta.is_dir()
        {
            fs::remove_file(at).map_err(io_err(at))?;
        }
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    fs::create_dir_all(dir).map_err(io_err(dir))
}

/// Removes the directories `full` leaves empty, up to `root`.
fn prune_empty(root: &Path, full: &Path) {
    let mut dir = full.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}
