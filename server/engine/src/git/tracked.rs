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

use std::collections::BTreeMap;

use git2::{FileMode, ObjectType, Oid, Repository, Tree};

use super::watch::{Tracking, Watch};
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
    /// Starts watching `root`, whose files are exactly `tree` now; `None`
    /// when events are asked for and the platform has none to give.
    pub fn start(repo: &Repository, root: &Path, tree: Oid, how: Tracking) -> Option<Tracker> {
        let watch = match how {
            Tracking::Events => Watch::start(root, &ignorer(repo))?,
            Tracking::Stat => Watch::start_stat(root, &ignorer(repo)),
        };
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

    pub fn tracking(&self) -> Tracking {
        self.watch.tracking()
    }
}

impl Worktree {
    /// Starts tracking this worktree's writes `how`; its files must equal
    /// `HEAD`'s tree now (a fresh checkout, or just restored). Where the
    /// watch cannot be set up the worktree stays untracked and is scanned
    /// whole.
    pub fn track(&mut self, how: Tracking) -> Result<()> {
        let repo = self.repo()?;
        let head = repo.head()?.peel_to_tree()?.id();
        self.tracked =
            Tracker::start(&repo, &self.path, head, how).map(|t| Arc::new(Mutex::new(t)));
        Ok(())
    }

    /// Makes a tracked worktree's index `HEAD`'s again. The engine never
    /// reads it there and leaves it behind while the task runs (writing it
    /// costs what the repository holds: 7 ms at 10,000 files); this is for
    /// a worktree left to a person (a failed task), so `git status` there
    /// tells the truth. An untracked worktree's index is always kept.
    pub fn sync_index(&self) -> Result<()> {
        if self.tracked.is_none() {
            return Ok(());
        }
        let repo = self.repo()?;
        let mut index = super::handles::current_index(&repo)?;
        index.read_tree(&repo.head()?.peel_to_tree()?)?;
        index.write()?;
        Ok(())
    }

    /// Whether writes here are tracked (and the tracking still holds).
    pub fn is_tracked(&self) -> bool {
        self.tracked.as_ref().is_some_and(|t| !lock(t).is_broken())
    }

    /// Whether writes here are tracked `how` (and the tracking still holds).
    pub fn is_tracked_by(&self, how: Tracking) -> bool {
        self.tracked
            .as_ref()
            .is_some_and(|t| !lock(t).is_broken() && lock(t).tracking() == how)
    }

    /// The tree of what the worktree holds now: tracked files and untracked
    /// ones git does not ignore, as the index-free diff sees them, with a
    /// handle on the repository that can read it. Its new blobs and trees are
    /// kept in that handle's memory (a mempack backend), never written to
    /// disk: only the id is wanted, and a loose object is a file created per
    /// call. `None` when the worktree is not tracked (or the tracking lost
    /// count).
    pub(crate) fn content_tree(&self) -> Result<Option<(Repository, Oid)>> {
        let Some(tracked) = &self.tracked else {
            return Ok(None);
        };
        // A handle of its own, never a kept one ([`super::handles`]): the
        // memory backend must not hold what the stages commit.
        let repo = Repository::open(&self.path)?;
        // Above the loose and packed backends, so every write lands here.
        let odb = repo.odb()?;
        odb.add_new_mempack_backend(1000)?;
        drop(odb);
        let tree = self.content_tree_in(&repo, tracked)?;
        Ok(tree.map(|oid| (repo, oid)))
    }

    fn content_tree_in(&self, repo: &Repository, tracked: &Tracked) -> Result<Option<Oid>> {
        let mut tracker = lock(tracked);
        let Some(touched) = tracker.touched(repo, &self.path) else {
            return Ok(None);
        };
        let base = repo.find_tree(tracker.at())?;
        if touched.is_empty() {
            return Ok(Some(base.id()));
        }
        let ignored = ignorer(repo);
        let mut update = Updates::new();
        for rel in &touched {
            let full = self.path.join(rel);
            let in_base = base.get_path(Path::new(rel)).ok();
            let meta = match fs::symlink_metadata(&full) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if in_base.is_some() {
                        update.insert(rel.clone(), None);
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
                    update.insert(rel.clone(), None);
                }
                continue;
            }
            if !tracked_before && ignored(rel) {
                continue;
            }
            let (oid, mode) = file_blob(repo, &full, &meta)?;
            update.insert(rel.clone(), Some((oid, mode)));
        }
        Ok(Some(update_tree(repo, &base, &update)?))
    }

    /// For a tracked worktree, the untracked files git does not ignore, or
    /// [`GitError::Dirty`] when a tracked file differs from `HEAD`; `None`
    /// when the worktree is not tracked.
    pub(crate) fn tracked_untracked(&self) -> Result<Option<BTreeSet<String>>> {
        let Some((repo, now)) = self.content_tree().ok().flatten() else {
            return Ok(None);
        };
        let head = repo.head()?.peel_to_tree()?;
        let now = repo.find_tree(now)?;
        let mut untracked = BTreeSet::new();
        let mut dirty = Vec::new();
        for path in changed_paths(&repo, Some(&head), Some(&now))? {
            let in_head = head
                .get_path(Path::new(&path))
                .is_ok_and(|e| e.kind() != Some(ObjectType::Tree));
            if in_head {
                dirty.push(path);
            } else {
                untracked.insert(path);
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
        // writing it costs what the tree holds (see `update_tree`).
        tracker.settle(repo, &self.path, to.id(), keep);
        Ok(())
    }
}

impl Worktree {
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

/// A path's new blob and mode, or `None` to remove it.
pub(crate) type Update = Option<(Oid, FileMode)>;

/// Path → its update.
pub(crate) type Updates = BTreeMap<String, Update>;

/// `base` with `updates` applied, written to the object database. Only the
/// trees on the updated paths are rebuilt, so it costs what changed (libgit2's
/// own `git_tree_create_updated` reads the whole tree into an index and
/// hashes every tree again). A directory left empty disappears, as in git.
pub(crate) fn update_tree(repo: &Repository, base: &Tree<'_>, updates: &Updates) -> Result<Oid> {
    Ok(update_dir(
        repo,
        Some(base),
        updates.iter().map(|(p, u)| (p.as_str(), *u)),
    )?
    .unwrap_or(empty_tree(repo)?))
}

fn empty_tree(repo: &Repository) -> Result<Oid> {
    Ok(repo.treebuilder(None)?.write()?)
}

/// The tree `base` (or none) with the updates, paths relative to it; `None`
/// when it ends up empty.
fn update_dir<'p>(
    repo: &Repository,
    base: Option<&Tree<'_>>,
    updates: impl Iterator<Item = (&'p str, Update)>,
) -> Result<Option<Oid>> {
    let mut builder = repo.treebuilder(base)?;
    // Updates below a directory of this tree, grouped by that directory.
    let mut nested: BTreeMap<&str, Vec<(&str, Update)>> = BTreeMap::new();
    for (path, update) in updates {
        match path.split_once('/') {
            Some((dir, rest)) => nested.entry(dir).or_default().push((rest, update)),
            None => match update {
                Some((oid, mode)) => {
                    builder.insert(path, oid, i32::from(mode))?;
                }
                None => {
                    if builder.get(path)?.is_some() {
                        builder.remove(path)?;
                    }
                }
            },
        }
    }
    for (dir, updates) in nested {
        let sub = match builder.get(dir)? {
            Some(entry) if entry.kind() == Some(ObjectType::Tree) => {
                Some(repo.find_tree(entry.id())?)
            }
            _ => None,
        };
        // A file where a directory now goes is replaced by it.
        let all_removals = updates.iter().all(|(_, u)| u.is_none());
        if sub.is_none() && all_removals {
            continue;
        }
        match update_dir(repo, sub.as_ref(), updates.into_iter())? {
            Some(oid) => {
                builder.insert(dir, oid, i32::from(FileMode::Tree))?;
            }
            None => {
                if builder.get(dir)?.is_some() {
                    builder.remove(dir)?;
                }
            }
        }
    }
    if builder.is_empty() {
        return Ok(None);
    }
    Ok(Some(builder.write()?))
}

/// A file (or symlink) of the worktree as a blob and its git mode, written
/// with [`raw_blob`].
pub(crate) fn file_blob(
    repo: &Repository,
    full: &Path,
    meta: &fs::Metadata,
) -> Result<(Oid, FileMode)> {
    if meta.file_type().is_symlink() {
        let target = fs::read_link(full).map_err(io_err(full))?;
        return Ok((
            repo.blob(target.as_os_str().as_encoded_bytes())?,
            FileMode::Link,
        ));
    }
    let mode = if meta.permissions().mode() & 0o111 != 0 {
        FileMode::BlobExecutable
    } else {
        FileMode::Blob
    };
    Ok((raw_blob(repo, full)?, mode))
}

/// Writes a file's bytes as a blob, as they are. `Repository::blob_path`
/// would run git's filters, whose attribute lookup loads the whole index (a
/// cost that grows with the repository, 4 ms a file at 10,000 files). So a
/// tracked worktree does not apply `.gitattributes` conversions (`eol`,
/// `ident`) to what its stages commit; a scanned one does.
pub(crate) fn raw_blob(repo: &Repository, full: &Path) -> Result<Oid> {
    let bytes = fs::read(full).map_err(io_err(full))?;
    Ok(repo.blob(&bytes)?)
}

/// The paths whose blob or mode differ between `a` and `b` (either may be
/// missing), walking only the subtrees whose ids differ: libgit2's
/// tree-to-tree diff visits every file of both trees.
pub(crate) fn changed_paths(
    repo: &Repository,
    a: Option<&Tree<'_>>,
    b: Option<&Tree<'_>>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk_changed(repo, a, b, "", &mut out)?;
    Ok(out)
}

fn walk_changed(
    repo: &Repository,
    a: Option<&Tree<'_>>,
    b: Option<&Tree<'_>>,
    prefix: &str,
    out: &mut Vec<String>,
) -> Result<()> {
    type Side = Option<(Oid, i32, bool)>;
    let mut names: BTreeMap<String, (Side, Side)> = BTreeMap::new();
    for (tree, first) in [(a, true), (b, false)] {
        for entry in tree.into_iter().flat_map(|t| t.iter()) {
            let Ok(name) = entry.name() else { continue };
            let side = Some((
                entry.id(),
                entry.filemode(),
                entry.kind() == Some(ObjectType::Tree),
            ));
            let slot = names.entry(name.to_string()).or_default();
            if first {
                slot.0 = side;
            } else {
                slot.1 = side;
            }
        }
    }
    for (name, (old, new)) in names {
        if old.is_some() && old == new {
            continue;
        }
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let subtree = |side: Side| -> Result<Option<Tree<'_>>> {
            match side {
                Some((oid, _, true)) => Ok(Some(repo.find_tree(oid)?)),
                _ => Ok(None),
            }
        };
        let (old_tree, new_tree) = (subtree(old)?, subtree(new)?);
        if old_tree.is_some() || new_tree.is_some() {
            walk_changed(repo, old_tree.as_ref(), new_tree.as_ref(), &path, out)?;
        }
        let is_file = |side: Side| side.is_some_and(|(_, _, tree)| !tree);
        if is_file(old) || is_file(new) {
            out.push(path);
        }
    }
    Ok(())
}

/// `tree` cut down to `paths` (those it has): a small tree to diff, so
/// libgit2's diff and rename detection see only what changed.
pub(crate) fn only_paths(repo: &Repository, tree: &Tree<'_>, paths: &[String]) -> Result<Oid> {
    let mut updates = Updates::new();
    for path in paths {
        if let Ok(entry) = tree.get_path(Path::new(path))
            && entry.kind() != Some(ObjectType::Tree)
        {
            let mode = match entry.filemode() {
                m if m == i32::from(FileMode::BlobExecutable) => FileMode::BlobExecutable,
                m if m == i32::from(FileMode::Link) => FileMode::Link,
                m if m == i32::from(FileMode::Commit) => FileMode::Commit,
                _ => FileMode::Blob,
            };
            updates.insert(path.clone(), Some((entry.id(), mode)));
        }
    }
    let empty = repo.find_tree(empty_tree(repo)?)?;
    update_tree(repo, &empty, &updates)
}
