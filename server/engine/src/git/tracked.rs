//! A worktree whose writes are watched ([`super::watch`]): what it holds is
//! the tree it was last put at plus the touched paths, so its changes, its
//! content's tree id and a move to another tree ([`super::switch`]) cost
//! what was touched, not what the repository holds.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use git2::{ObjectType, Oid, Repository};

use super::trees::{Updates, changed_paths, file_blob, update_tree};
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
        self.drain(repo, root);
        self.watch.touched().cloned()
    }

    /// Reads what the watch saw; a write drops the kept content.
    fn drain(&mut self, repo: &Repository, root: &Path) {
        self.watch.drain(root, &ignorer(repo));
        if self.watch.take_seen() {
            self.content = None;
        }
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
        tracker.drain(&memory.repo, &self.path);
        let Some(touched) = tracker.watch.touched() else {
            return Ok(None);
        };
        if let Some(content) = tracker.content {
            return Ok(Some(content));
        }
        let touched = touched.clone();
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
