//! Waking when the store may have new events, whichever process wrote them.
//!
//! In WAL mode every commit appends to `orchestrator.db-wal` (and a
//! checkpoint writes `orchestrator.db`), so an inotify watch on `.tdd/`
//! wakes a follower within a millisecond of another process's commit.
//! Readers never write either file, so following does not wake itself.
//! Where inotify is missing, or `.tdd/` does not exist yet, the follower
//! polls: [`Follower::wait`] returns after its timeout and the caller reads
//! `last_seq` again, which costs one indexed query.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Blocks until the project's store may have changed.
pub struct Follower {
    dir: PathBuf,
    #[cfg(target_os = "linux")]
    watch: Option<inotify::Inotify>,
}

impl Follower {
    pub fn new(root: &Path) -> Follower {
        let mut follower = Follower {
            dir: root.join(crate::project::TDD_DIR),
            #[cfg(target_os = "linux")]
            watch: None,
        };
        follower.arm();
        follower
    }

    /// Whether changes wake it (else it polls).
    pub fn watching(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.watch.is_some();
        #[cfg(not(target_os = "linux"))]
        return false;
    }

    #[cfg(target_os = "linux")]
    fn arm(&mut self) {
        use inotify::{Inotify, WatchMask};
        if self.watch.is_some() || !self.dir.is_dir() {
            return;
        }
        let Ok(inotify) = Inotify::init() else { return };
        let mask =
            WatchMask::MODIFY | WatchMask::CREATE | WatchMask::MOVED_TO | WatchMask::DELETE_SELF;
        if inotify.watches().add(&self.dir, mask).is_ok() {
            self.watch = Some(inotify);
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn arm(&mut self) {}

    /// Returns when a file of the store changed, or after `timeout`. Either
    /// way the caller reads what is new; a spurious wake costs one query.
    pub fn wait(&mut self, timeout: Duration) {
        self.arm();
        #[cfg(target_os = "linux")]
        if let Some(inotify) = &mut self.watch {
            use std::os::fd::AsRawFd;
            let mut poll = libc::pollfd {
                fd: inotify.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd, owned by this frame, for the call's duration.
            let ready = unsafe { libc::poll(&mut poll, 1, ms) };
            if ready < 0 {
                std::thread::sleep(timeout);
                return;
            }
            let mut buffer = [0u8; 4096];
            let mut gone = false;
            while let Ok(events) = inotify.read_events(&mut buffer) {
                let mut any = false;
                for event in events {
                    any = true;
                    gone |= event.mask.contains(inotify::EventMask::DELETE_SELF)
                        || event.mask.contains(inotify::EventMask::IGNORED);
                }
                if !any {
                    break;
                }
            }
            if gone {
                // `.tdd/` was removed (or replaced): watch it again when it is back.
                self.watch = None;
            }
            return;
        }
        std::thread::sleep(timeout);
    }
}
