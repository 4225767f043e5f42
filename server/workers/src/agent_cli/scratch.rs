//! The throwaway home directory of one attempt: `HOME` and the XDG
//! directories point into it, so a CLI reads no user settings or logins
//! and leaves no session files behind. Removed when dropped.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub(super) struct Scratch(PathBuf);

impl Scratch {
    /// A new private (0700) directory under the system's temp dir.
    pub(super) fn create() -> io::Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("tdd-agent-{}-{n}", std::process::id()));
            // Never reuse a directory someone else put there.
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Scratch(path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }

    /// `HOME` and the XDG base directories, all inside.
    pub(super) fn env(&self) -> Vec<(String, String)> {
        let at = |sub: &str| self.0.join(sub).display().to_string();
        vec![
            ("HOME".to_string(), self.0.display().to_string()),
            ("XDG_CONFIG_HOME".to_string(), at(".config")),
            ("XDG_CACHE_HOME".to_string(), at(".cache")),
            ("XDG_DATA_HOME".to_string(), at(".local/share")),
            ("XDG_STATE_HOME".to_string(), at(".local/state")),
        ]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
