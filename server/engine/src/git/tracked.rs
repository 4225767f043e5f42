//! A worktree whose writes are watched ([`super::watch`]): what it holds is
//! the tree it was last put at plus the touched paths, so its changes, its
//! content's tree id and a move to another tree cost what was touched, not
//! what the repository holds.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use git2::{FileMode, ObjectType, Oid, Repository, Tree, build::TreeUpdateBuilder};

use super::watch::Watch;
use super::{GitError, Result, Worktree, io_err};

/// The watch of a worktree and the tree its files were last known to equal
/// (but for the touched paths).
#[derive(Debug)]
pub(crate) struct Tracker {
    watch: Watch,
    at: Oid,
}

/// Shared by the clones of one [`Worktree`].
pub(crate) type Tracked = Arc<Mutex<Tracker>>;

pub(crate) fn lock(tracked: &Tracked) -> MutexGuard<'_, Tracker> {
    tracked.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether git ignores `rel` in `repo`'s working tree.
pub(crate) fn ignorer(repo: &Repository) -> impl Fn(&str) -> bool + '_ {
    move |rel: &str| repo.status_should_ignore(Path::new(rel)).unwrap_or(false)
}

impl Tracker {
    /// Starts watching `root`, whose files are exactly `tree` now.
    pub fn start(repo: &Repository, root: &Path, tree: Oid) -> Option<Tracker> {
        let watch = Watch::start(root, &ignorer(repo))?;
        Some(Tracker { watch, at: tree })
    }

    /// The touched paths, or `None` when the whole tree must be looked at.
    pub fn touched(&mut self, repo: &Repository, root: &Path) -> Option<BTreeSet<String>> {
        self.watch.drain(root, &ignorer(repo));
        self.watch.touched().cloned()
    }

    /// The files are exactly `tree` now (after the engine wrote them so),
    /// but for the paths in `still`.
    pub fn settle(&mut self, repo: &Repository, root: &Path, tree: Oid, still: &BTreeSet<String>) {
        self.watch.drain(root, &ignorer(repo));
        self.watch.forget(still);
        self.at = tree;
    }

    pub fn at(&self) -> Oid {
        self.at
    }

    pub fn is_broken(&self) -> bool {
        self.watch.is_broken()
    }
}

impl Worktree {
    /// Starts tracking this worktree's writes; its files must equal `HEAD`'s
    /// tree now (a fresh checkout, or just restored). Where the watch cannot
    /// be set up the worktree stays untracked and is scanned whole.
    pub fn track(&mut self) -> Result<()> {
        let repo = self.repo()?;
        let head = repo.head()?.peel_to_tree()?.id();
        self.tracked = Tracker::start(&repo, &self.path, head).map(|t| Arc::new(Mutex::new(t)));
        Ok(())
    }

    /// Whether writes here are tracked (and the tracking still holds).
    pub fn is_tracked(&self) -> bool {
        self.tracked.as_ref().is_some_and(|t| !lock(t).is_broken())
    }

    /// The tree of what the worktree holds now: tracked files and untracked
    /// ones git does not ignore, as the index-free diff sees them. Blobs of
    /// touched files are written to the object database. `None` when the
    /// worktree is not tracked (or the tracking lost count).
    pub(crate) fn content_tree(&self, repo: &Repository) -> Result<Option<Oid>> {
        let Some(tracked) = &self.tracked else {
            return Ok(None);
        };
        let mut tracker = lock(tracked);
        let Some(touched) = tracker.touched(repo, &self.path) else {
            return Ok(None);
        };
        let base = repo.find_tree(tracker.at())?;
        if touched.is_empty() {
            return Ok(Some(base.id()));
        }
        let ignored = ignorer(repo);
        let mut update = TreeUpdateBuilder::new();
        for rel in &touched {
            let full = self.path.join(rel);
            let in_base = base.get_path(Path::new(rel)).ok();
            let meta = match fs::symlink_metadata(&full) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if in_base.is_some() {
                        update.remove(rel.as_str());
                    }
                    continue;
                }
                Err(e) => return Err(io_err(&full)(e)),
            };
            let tracked_before = in_base
                .as_ref()
                .is_some_and(|e| e.kind() != Some(ObjectType::Tree));
            if meta.is_dir() {
                // Its files are touched paths of their own.
                if tracked_before {
                    update.remove(rel.as_str());
                }
                continue;
            }
            if !tracked_before && ignored(rel) {
                continue;
            }
            let (oid, mode) = if meta.file_type().is_symlink() {
                let target = fs::read_link(&full).map_err(io_err(&full))?;
                let bytes = target.as_os_str().as_encoded_bytes();
                (repo.blob(bytes)?, FileMode::Link)
            } else {
                let executable = meta.permissions().mode() & 0o111 != 0;
                let mode = if executable {
                    FileMode::BlobExecutable
                } else {
                    FileMode::Blob
                };
                (repo.blob_path(&full)?, mode)
            };
            update.upsert(rel.as_str(), oid, mode);
        }
        Ok(Some(update.create_updated(repo, &base)?))
    }

    /// For a tracked worktree, the untracked files git does not ignore, or
    /// [`GitError::Dirty`] when a tracked file differs from `HEAD`; `None`
    /// when the worktree is not tracked.
    pub(crate) fn tracked_untracked(&self, repo: &Repository) -> Result<Option<BTreeSet<String>>> {
        let Some(now) = self.content_tree(repo).ok().flatten() else {
            return Ok(None);
        };
        let head = repo.head()?.peel_to_tree()?;
        let now = repo.find_tree(now)?;
        let diff = repo.diff_tree_to_tree(Some(&head), Some(&now), None)?;
        let mut untracked = BTreeSet::new();
        let mut dirty = Vec::new();
        for delta in diff.deltas() {
            let path = delta
                .new_file()
                .path()
                .or(delta.old_file().path())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if delta.status() == git2::Delta::Added {
                untracked.insert(path);
            } else {
                dirty.push(path);
            }
        }
        if !dirty.is_empty() {
            let mut files = dirty.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if dirty.len() > 5 {
                files.push_str(&format!(" and {} more", dirty.len() - 5));
            }
            return Err(GitError::Dirty {
                path: self.path.clone(),
                files,
            });
        }
        Ok(Some(untracked))
    }

    /// Moves the files of a tracked worktree from what it holds to `to`:
    /// writes what differs between its known tree and `to`, and puts every
    /// touched path back as `to` has it (an untracked file git would not
    /// ignore is deleted, but for those in `keep`; ignored ones stay, as with
    /// a checkout). The index is then `to`'s. Costs what differs, not what
    /// the tree holds.
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
        let diff = repo.diff_tree_to_tree(Some(&from), Some(to), None)?;
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(path) = file.path().and_then(Path::to_str) {
                    paths.insert(path.to_string());
                }
            }
        }
        let ignored = ignorer(repo);
        for rel in paths.iter().filter(|p| !keep.contains(*p)) {
            put(repo, &self.path, rel, to, &ignored)?;
        }
        let mut index = repo.index()?;
        index.read_tree(to)?;
        index.write()?;
        tracker.settle(repo, &self.path, to.id(), keep);
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
            if let Some(meta) = &existing {
                remove(&full, meta.is_dir())?;
            }
            if let Some(parent) = full.parent() {
                make_dirs(root, parent)?;
            }
            let blob = repo.find_blob(entry.id())?;
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
