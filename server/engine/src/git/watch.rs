//! Which paths of a worktree were written since a known state, without
//! looking at every file: an inotify watch on each directory git does not
//! ignore. The kernel queues an event as each write, create, delete, rename
//! or chmod happens, so once a writer has returned (a worker in this process,
//! a test run that exited) every event is already waiting: [`Watch::drain`]
//! reads them without blocking, and the set of touched paths is complete.
//!
//! It is a cache, and it says when it cannot be trusted: a full event queue,
//! a directory renamed (its files move without an event each), a `.gitignore`
//! edited (what is ignored changed), the watch limit reached, or a platform
//! without inotify. Then [`Watch::touched`] is `None` and the caller scans
//! the whole tree as before. Writes through `mmap` raise no inotify event, so
//! workers that run programs of their own are watched by `stat` instead
//! ([`super::stat_watch`]): a scan of every file's stamp, no file read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::stat_watch::StatWatch;

/// How a worktree's writes are seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracking {
    /// inotify: free while nothing is written; for workers that write
    /// through this process (scripted, API).
    Events,
    /// A `stat` of every file against a snapshot: for workers that run
    /// programs of their own (agent CLIs, plugins, a person).
    Stat,
}

/// The touched paths of one worktree, relative to its root, `/`-separated.
pub(crate) struct Watch {
    source: Source,
    touched: BTreeSet<String>,
    broken: bool,
    /// Something was written (or may have been) since [`Watch::take_seen`].
    seen: bool,
    /// A `.gitignore` changed since the known tree (for a stat watch, which
    /// reports racy files touched without knowing whether they changed).
    ignores_changed: bool,
}

enum Source {
    #[cfg(target_os = "linux")]
    Events(linux::Inner),
    Stat(StatWatch),
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("tracking", &self.tracking())
            .field("touched", &self.touched.len())
            .field("broken", &self.broken)
            .finish()
    }
}

impl Watch {
    /// Watches every directory under `root` that `ignored` does not reject
    /// (called with each directory's relative path). `None` where inotify is
    /// missing or the directories cannot all be watched.
    pub fn start(root: &Path, ignored: &dyn Fn(&str) -> bool) -> Option<Watch> {
        #[cfg(target_os = "linux")]
        {
            let inner = linux::Inner::start(root, ignored)?;
            Some(Watch {
                source: Source::Events(inner),
                touched: BTreeSet::new(),
                broken: false,
                seen: true,
                ignores_changed: false,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (root, ignored);
            None
        }
    }

    /// Watches every file under `root` in directories `ignored` does not
    /// reject by a `stat` snapshot (works on every platform).
    pub fn start_stat(root: &Path, ignored: &dyn Fn(&str) -> bool) -> Watch {
        Watch {
            source: Source::Stat(StatWatch::start(root, ignored)),
            touched: BTreeSet::new(),
            broken: false,
            seen: true,
            ignores_changed: false,
        }
    }

    pub fn tracking(&self) -> Tracking {
        match self.source {
            #[cfg(target_os = "linux")]
            Source::Events(_) => Tracking::Events,
            Source::Stat(_) => Tracking::Stat,
        }
    }

    /// Reads every queued event, or scans the stamps again. `ignored`
    /// decides, for a directory created since, whether it is watched.
    pub fn drain(&mut self, root: &Path, ignored: &dyn Fn(&str) -> bool) {
        match &mut self.source {
            #[cfg(target_os = "linux")]
            Source::Events(inner) => {
                if !self.broken && !inner.drain(root, ignored, &mut self.touched, &mut self.seen) {
                    self.broken = true;
                }
            }
            Source::Stat(stat) => {
                self.ignores_changed |=
                    stat.drain(root, ignored, &mut self.touched, &mut self.seen);
            }
        }
    }

    /// Whether a drain saw a write (or, for a stat watch, a file it cannot
    /// tell is unchanged) since the last call: a touched path written again
    /// leaves the touched set as it was, so only this tells that what the
    /// touched paths hold may have changed.
    pub fn take_seen(&mut self) -> bool {
        std::mem::take(&mut self.seen) || self.broken
    }

    /// The paths touched since the last [`Watch::forget`], or `None` when
    /// the watch missed something and the whole tree must be looked at.
    /// Call [`Watch::drain`] first.
    pub fn touched(&self) -> Option<&BTreeSet<String>> {
        let gitignore_changed = match self.source {
            #[cfg(target_os = "linux")]
            Source::Events(_) => self
                .touched
                .iter()
                .any(|p| p == ".gitignore" || p.ends_with("/.gitignore")),
            Source::Stat(_) => self.ignores_changed,
        };
        (!self.broken && !gitignore_changed).then_some(&self.touched)
    }

    /// The worktree is now exactly at a known tree but for `still`: nothing
    /// else is touched. Drain first, or the events of the writes that got it
    /// there come back.
    pub fn forget(&mut self, still: &BTreeSet<String>) {
        if let Source::Stat(stat) = &mut self.source {
            stat.settle();
        }
        self.ignores_changed = false;
        self.touched.clone_from(still);
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

/// `rel` joined under `dir` (both relative, `/`-separated).
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The directories under `root/rel` (`rel` included) that are not ignored,
/// as relative paths, and every file found there (for a directory that
/// appeared after its parent's watch: its files came without events).
pub(super) fn walk(
    root: &Path,
    rel: &str,
    ignored: &dyn Fn(&str) -> bool,
) -> (Vec<String>, Vec<String>) {
    let mut files = Vec::new();
    let dirs = walk_with(root, rel, ignored, &mut |path, _| files.push(path));
    (dirs, files)
}

/// [`walk`], handing each file to `file` with its directory entry (whose
/// metadata is read relative to the open directory, without resolving the
/// whole path again).
pub(super) fn walk_with(
    root: &Path,
    rel: &str,
    ignored: &dyn Fn(&str) -> bool,
    file: &mut dyn FnMut(String, &std::fs::DirEntry),
) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut stack = vec![rel.to_string()];
    while let Some(dir) = stack.pop() {
        let full: PathBuf = if dir.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&dir)
        };
        let Ok(entries) = std::fs::read_dir(&full) else {
            continue;
        };
        dirs.push(dir.clone());
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let path = join(&dir, &name);
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if dir.is_empty() && name == ".git" {
                continue;
            }
            if is_dir {
                if !ignored(&path) {
                    stack.push(path);
                }
            } else {
                file(path, &entry);
            }
        }
    }
    dirs
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::{BTreeSet, HashMap};
    use std::path::Path;

    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

    use super::{join, walk};

    pub(super) struct Inner {
        inotify: Inotify,
        dirs: HashMap<WatchDescriptor, String>,
    }

    fn mask() -> WatchMask {
        WatchMask::MODIFY
            | WatchMask::ATTRIB
            | WatchMask::CLOSE_WRITE
            | WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
            | WatchMask::ONLYDIR
            | WatchMask::DONT_FOLLOW
    }

    impl Inner {
        pub fn start(root: &Path, ignored: &dyn Fn(&str) -> bool) -> Option<Inner> {
            let mut inner = Inner {
                inotify: Inotify::init().ok()?,
                dirs: HashMap::new(),
            };
            let (dirs, _) = walk(root, "", ignored);
            for dir in dirs {
                inner.add(root, dir).ok()?;
            }
            Some(inner)
        }

        fn add(&mut self, root: &Path, dir: String) -> std::io::Result<()> {
            let full = if dir.is_empty() {
                root.to_path_buf()
            } else {
                root.join(&dir)
            };
            let wd = self.inotify.watches().add(&full, mask())?;
            self.dirs.insert(wd, dir);
            Ok(())
        }

        /// Reads the queue dry into `touched` (`seen` set when an event came);
        /// false when the watch can no longer be trusted.
        pub fn drain(
            &mut self,
            root: &Path,
            ignored: &dyn Fn(&str) -> bool,
            touched: &mut BTreeSet<String>,
            seen: &mut bool,
        ) -> bool {
            let mut buffer = [0u8; 16 * 1024];
            loop {
                let events = match self.inotify.read_events(&mut buffer) {
                    Ok(events) => events,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                };
                let mut new_dirs = Vec::new();
                for event in events {
                    *seen = true;
                    if event.mask.contains(EventMask::Q_OVERFLOW) {
                        return false;
                    }
                    let Some(dir) = self.dirs.get(&event.wd).cloned() else {
                        continue;
                    };
                    if event.mask.contains(EventMask::IGNORED) {
                        self.dirs.remove(&event.wd);
                        continue;
                    }
                    // A watched directory renamed: the map from watches to
                    // paths is stale. (The root moves only when the engine
                    // parks or adopts the worktree: paths stay relative.)
                    if event.mask.contains(EventMask::MOVE_SELF) {
                        if dir.is_empty() {
                            continue;
                        }
                        return false;
                    }
                    if event.mask.contains(EventMask::DELETE_SELF) {
                        if dir.is_empty() {
                            return false;
                        }
                        continue;
                    }
                    let Some(name) = event.name.and_then(|n| n.to_str()) else {
                        // A name that is not UTF-8 cannot be named to git here.
                        return false;
                    };
                    if dir.is_empty() && name == ".git" {
                        continue;
                    }
                    let path = join(&dir, name);
                    let is_dir = event.mask.contains(EventMask::ISDIR);
                    if is_dir
                        && event
                            .mask
                            .intersects(EventMask::MOVED_FROM | EventMask::MOVED_TO)
                    {
                        // pytest makes `.pytest_cache` by renaming a temporary
                        // directory into place: what git ignores is no work.
                        if ignored(&path) {
                            continue;
                        }
                        return false;
                    }
                    if is_dir && event.mask.contains(EventMask::CREATE) {
                        if !ignored(&path) {
                            new_dirs.push(path);
                        }
                        continue;
                    }
                    if is_dir {
                        // A directory deleted: its files came with events of their own.
                        continue;
                    }
                    touched.insert(path);
                }
                for dir in new_dirs {
                    // Files written before the watch was in place came with no event.
                    let (dirs, files) = walk(root, &dir, ignored);
                    for dir in dirs {
                        if self.add(root, dir).is_err() {
                            return false;
                        }
                    }
                    touched.extend(files);
                }
            }
        }
    }
}
