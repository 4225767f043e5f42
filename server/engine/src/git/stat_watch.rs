//! The touched paths of a worktree found by comparing its files' `stat`
//! with a snapshot, for workers that run programs of their own: they may
//! write through `mmap`, which inotify does not see, but every write moves
//! a file's ctime, which no process can set back. A scan costs a `stat` per
//! file, not a read and a hash: at 10,000 files about a tenth of the
//! index-free diff it replaces.
//!
//! Racy entries (as git calls them): a file changed again within the
//! filesystem's timestamp granularity of its snapshot keeps the same ctime.
//! So an entry whose ctime is within [`RACY`] of the snapshot's start is
//! always reported touched; the caller then reads it (at worst it finds the
//! file unchanged). Linux stamps files from its coarse clock, a tick (1 to
//! 10 ms) behind, so 50 ms is enough; a filesystem that keeps whole seconds
//! only (its stamps have no nanoseconds) gets [`RACY_COARSE`].

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::watch::walk_with;

/// Wider than the kernel's clock tick, by which file stamps lag.
const RACY: Duration = Duration::from_millis(50);
/// For stamps in whole seconds (no nanoseconds): wider than a FAT second pair.
const RACY_COARSE: Duration = Duration::from_secs(3);

/// What tells that a file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    mode: u32,
}

/// A scan of the worktree: every file git does not ignore wholesale (by
/// directory) with its stamp, and when the scan began.
#[derive(Debug, Default)]
struct Scan {
    files: HashMap<String, Stamp>,
    began: i64,
}

impl Scan {
    fn take(root: &Path, ignored: &dyn Fn(&str) -> bool) -> Scan {
        let began = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let mut files = HashMap::new();
        walk_with(root, "", ignored, &mut |rel, entry| {
            // Not followed if it is a link, as `symlink_metadata`.
            let Ok(meta) = entry.metadata() else { return };
            let stamp = Stamp {
                len: meta.len(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                ctime: (meta.ctime(), meta.ctime_nsec()),
                ino: meta.ino(),
                mode: meta.mode(),
            };
            files.insert(rel, stamp);
        });
        Scan { files, began }
    }

    fn racy(&self, stamp: &Stamp) -> bool {
        let ctime = stamp.ctime.0 * 1_000_000_000 + stamp.ctime.1;
        let margin = if stamp.ctime.1 == 0 {
            RACY_COARSE
        } else {
            RACY
        };
        ctime >= self.began - margin.as_nanos() as i64
    }
}

/// The snapshot a worktree was last known to match, and the latest scan.
#[derive(Debug)]
pub(super) struct StatWatch {
    known: Scan,
    latest: Option<Scan>,
}

impl StatWatch {
    pub fn start(root: &Path, ignored: &dyn Fn(&str) -> bool) -> StatWatch {
        StatWatch {
            known: Scan::take(root, ignored),
            latest: None,
        }
    }

    /// Scans again and adds every path that differs from the snapshot (new,
    /// gone, changed or racy) to `touched`; sets `seen` when the scan differs
    /// from the one before (or holds a file racy against it). True when a
    /// `.gitignore` surely changed (a racy one only may have).
    pub fn drain(
        &mut self,
        root: &Path,
        ignored: &dyn Fn(&str) -> bool,
        touched: &mut BTreeSet<String>,
        seen: &mut bool,
    ) -> bool {
        let is_ignore_file = |p: &str| p == ".gitignore" || p.ends_with("/.gitignore");
        let mut ignores_changed = false;
        let now = Scan::take(root, ignored);
        // Against the scan before: anything new, gone, changed or racy.
        let before = self.latest.as_ref().unwrap_or(&self.known);
        let mut moved = before.files.len() != now.files.len();
        for (path, stamp) in &now.files {
            moved |= before.files.get(path) != Some(stamp) || before.racy(stamp);
            let changed = self.known.files.get(path) != Some(stamp);
            if changed || self.known.racy(stamp) {
                touched.insert(path.clone());
            }
            ignores_changed |= changed && is_ignore_file(path);
        }
        *seen |= moved;
        for path in self.known.files.keys() {
            if !now.files.contains_key(path) {
                touched.insert(path.clone());
                ignores_changed |= is_ignore_file(path);
            }
        }
        self.latest = Some(now);
        ignores_changed
    }

    /// The worktree matches a known tree again: the latest scan (made by
    /// the drain just before) is the new snapshot.
    pub fn settle(&mut self) {
        if let Some(latest) = self.latest.take() {
            self.known = latest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn a_write_a_new_file_and_a_deletion_are_touched_and_a_settled_tree_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("a.py"), "a\n").unwrap();
        fs::write(root.join("b.py"), "b\n").unwrap();
        let mut watch = StatWatch::start(root, &none);
        // Every file is racy right after it was written: touched, to be read.
        let mut touched = BTreeSet::new();
        watch.drain(root, &none, &mut touched, &mut true);
        assert_eq!(touched, BTreeSet::from(["a.py".into(), "b.py".into()]));

        // Old enough not to be racy, they are not touched.
        std::thread::sleep(RACY + Duration::from_millis(50));
        let mut watch = StatWatch::start(root, &none);
        let mut touched = BTreeSet::new();
        watch.drain(root, &none, &mut touched, &mut true);
        assert!(touched.is_empty(), "{touched:?}");

        // Same length, same mtime put back: the ctime still moved.
        let mtime = fs::metadata(root.join("a.py")).unwrap().modified().unwrap();
        fs::write(root.join("a.py"), "A\n").unwrap();
        fs::File::options()
            .write(true)
            .open(root.join("a.py"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        fs::write(root.join("c.py"), "c\n").unwrap();
        fs::remove_file(root.join("b.py")).unwrap();
        watch.drain(root, &none, &mut touched, &mut true);
        let expected = ["a.py", "b.py", "c.py"].map(String::from);
        assert_eq!(touched, BTreeSet::from(expected));
    }

    #[test]
    fn a_scan_like_the_one_before_sees_nothing_and_a_write_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("a.py"), "a\n").unwrap();
        std::thread::sleep(RACY + Duration::from_millis(50));
        let mut watch = StatWatch::start(root, &none);
        let mut touched = BTreeSet::new();
        let mut seen = false;
        watch.drain(root, &none, &mut touched, &mut seen);
        assert!(!seen);
        fs::write(root.join("a.py"), "b\n").unwrap();
        watch.drain(root, &none, &mut touched, &mut seen);
        assert!(seen);
        // Written within the racy window of the scan before: seen again,
        // though its stamp may not have moved.
        let mut seen = false;
        watch.drain(root, &none, &mut touched, &mut seen);
        assert!(seen);
    }
}
