//! A worktree whose writes are watched ([`super::watch`]): what it holds is
//! the tree it was last put at plus the touched paths, so its changes, its
//! content's tree id and a move to another tree cost what was touched, not
//! what the repository holds.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use std::collections::BTreeMap;

use git2::{FileMode, ObjectType, Oid, Repository, Tree};

use super::watch::{Tracking, Watch};
use super::{GitError, Result, Worktree, io_err};

/// The watch of a worktree and the tree its files were last known to equal
/// (but for the touched paths).
pub(crate) struct Tracker {
    watch: Watch,
    at: Oid,
    /// The tree of what the worktree holds, as last built, while no write
    /// came since: the stages ask for it several times between two writes.
    content: Option<Oid>,
    /// Where content trees are built (see [`Worktree::with_content_tree`]).
    memory: Option<MemoryRepo>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("watch", &self.watch)
            .field("at", &self.at)
            .field("content", &self.content)
            .finish()
    }
}

/// A repository handle whose new objects stay in memory (a mempack backend
/// above the disk's): a content tree's blobs and trees are wanted for their
/// ids and a diff, and a loose object is a file created per write. Never a
/// kept handle ([`super::handles`]): the stages' commits must reach the disk.
struct MemoryRepo {
    repo: Repository,
    /// The worktree's path when opened: parking and adopting move it.
    path: PathBuf,
    builds: u32,
    /// Bytes of the files hashed into its memory.
    bytes: u64,
}

/// Content trees built, or bytes of files hashed, in one [`MemoryRepo`]
/// before it is opened afresh, which drops what its memory holds (a test
/// suite rewriting a large snapshot file would otherwise pile up copies).
const BUILDS_PER_MEMORY: u32 = 256;
const BYTES_PER_MEMORY: u64 = 32 << 20;

impl MemoryRepo {
    fn open(path: &Path) -> Result<MemoryRepo> {
        let repo = Repository::open(path)?;
        // Above the loose and packed backends, so every write lands here.
        let odb = repo.odb()?;
        odb.add_new_mempack_backend(1000)?;
        drop(odb);
        Ok(MemoryRepo {
            repo,
            path: path.to_path_buf(),
            builds: 0,
            bytes: 0,
        })
    }

    fn is_full(&self) -> bool {
        self.builds >= BUILDS_PER_MEMORY || self.bytes >= BYTES_PER_MEMORY
    }
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
        Some(Tracker {
            watch,
            at: tree,
            content: None,
            memory: None,
        })
    }

    /// The touched paths, or `None` when the whole tree must be looked at.
    pub fn touched(&mut self, repo: &Repository, root: &Path) -> Option<BTreeSet<String>> {
        self.watch.drain(root, &ignorer(repo));
        if self.watch.take_seen() {
            self.content = None;
        }
        self.watch.touched().cloned()
    }

    /// The files are exactly `tree` now (after the engine wrote them so),
    /// but for the paths in `still`.
    pub fn settle(&mut self, repo: &Repository, root: &Path, tree: Oid, still: &BTreeSet<String>) {
        self.watch.drain(root, &ignorer(repo));
        self.watch.take_seen();
        self.watch.forget(still);
        self.at = tree;
        self.content = still.is_empty().then_some(tree);
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

    /// Runs `f` on the tree of what the worktree holds now (tracked files
    /// and untracked ones git does not ignore, as the index-free diff sees
    /// them) and a handle that can read it, whose new objects stay in memory
    /// ([`MemoryRepo`]). `None` when the worktree is not tracked (or the
    /// tracking lost count). The tracker stays locked while `f` runs.
    pub(crate) fn with_content_tree<T>(
        &self,
        f: impl FnOnce(&Repository, Oid) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some(tracked) = &self.tracked else {
            return Ok(None);
        };
        let mut tracker = lock(tracked);
        let Some(oid) = self.content_in(&mut tracker)? else {
            return Ok(None);
        };
        let memory = tracker.memory.as_ref().expect("content_in opens it");
        f(&memory.repo, oid).map(Some)
    }

    /// The id of [`Worktree::with_content_tree`]'s tree.
    pub(crate) fn content_tree(&self) -> Result<Option<Oid>> {
        self.with_content_tree(|_, oid| Ok(oid))
    }

    /// After a commit of `tree`: when the files hold exactly that tree, it
    /// becomes the known one and nothing is touched, so asking for the
    /// content, or moving the worktree to another tree, costs nothing until
    /// the next write. Only for an event watch: a stat watch would scan every
    /// file to know, and its next look scans anyway.
    pub(crate) fn settle_if_at(&self, tree: Oid) -> Result<()> {
        let Some(tracked) = &self.tracked else {
            return Ok(());
        };
        let mut tracker = lock(tracked);
        if tracker.tracking() != Tracking::Events {
            return Ok(());
        }
        if self.content_in(&mut tracker)? == Some(tree) {
            // `content_in` drained the watch just now.
            tracker.watch.forget(&BTreeSet::new());
            tracker.at = tree;
        }
        Ok(())
    }

    /// The content tree's id, built in the tracker's [`MemoryRepo`] unless
    /// no write came since it was last built.
    fn content_in(&self, tracker: &mut Tracker) -> Result<Option<Oid>> {
        let mut memory = match tracker.memory.take() {
            Some(m) if !m.is_full() && m.path == self.path => m,
            _ => {
                // The kept content's trees were in the memory dropped.
                tracker.content = None;
                MemoryRepo::open(&self.path)?
            }
        };
        let content = self.content_with(tracker, &mut memory);
        tracker.memory = Some(memory);
        content
    }

    fn content_with(&self, tracker: &mut Tracker, memory: &mut MemoryRepo) -> Result<Option<Oid>> {
        let Some(touched) = tracker.touched(&memory.repo, &self.path) else {
            return Ok(None);
        };
        if let Some(content) = tracker.content {
            return Ok(Some(content));
        }
        let built = self.build_content_tree(memory, tracker.at, &touched)?;
        tracker.content = Some(built);
        Ok(Some(built))
    }

    /// `base` with the touched paths as the worktree holds them.
    fn build_content_tree(
        &self,
        memory: &mut MemoryRepo,
        base: Oid,
        touched: &BTreeSet<String>,
    ) -> Result<Oid> {
        memory.builds += 1;
        let repo = &memory.repo;
        let base = repo.find_tree(base)?;
        if touched.is_empty() {
            return Ok(base.id());
        }
        let ignored = ignorer(repo);
        let mut update = Updates::new();
        for rel in touched {
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
            memory.bytes += meta.len();
            update.insert(rel.clone(), Some((oid, mode)));
        }
        update_tree(repo, &base, &update)
    }

    /// For a tracked worktree, the untracked files git does not ignore, or
    /// [`GitError::Dirty`] when a tracked file differs from `HEAD`; `None`
    /// when the worktree is not tracked.
    pub(crate) fn tracked_untracked(&self) -> Result<Option<BTreeSet<String>>> {
        // The content tree's own failure means "not tracked"; a dirty tree is an error.
        self.with_content_tree(|repo, now| Ok(untracked_or_dirty(&self.path, repo, now)))
            .ok()
            .flatten()
            .transpose()
    }
}

/// The paths of tree `now` that `HEAD` lacks, or [`GitError::Dirty`] naming
/// the ones it has with other content.
fn untracked_or_dirty(root: &Path, repo: &Repository, now: Oid) -> Result<BTreeSet<String>> {
    let head = repo.head()?.peel_to_tree()?;
    let now = repo.find_tree(now)?;
    let mut untracked = BTreeSet::new();
    let mut dirty = Vec::new();
    for path in changed_paths(repo, Some(&head), Some(&now))? {
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
            path: root.to_path_buf(),
            files,
        });
    }
    Ok(untracked)
}

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
