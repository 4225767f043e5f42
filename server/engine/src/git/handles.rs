//! Repository handles kept open per thread. Opening one costs about 40
//! system calls (the real path of every path it keeps, three config files)
//! and starts with an empty object cache, and a task's stages asked for one
//! about 40 times, each then reading the same trees and commits from disk
//! again (400 loose-object reads a task). A thread keeps the few it opened
//! last.
//!
//! A handle is reused only while the path's `.git` entry reads the same: a
//! worktree's `.git` file names its admin directory, which changes when the
//! worktree is parked, adopted or made anew elsewhere. Everything else a
//! handle caches, libgit2 checks against the disk on use (refs are read from
//! their files, the index and config are reloaded when their stat changes,
//! a missing object makes it look for new packs), as it must for the git CLI
//! working beside it.

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use git2::Repository;

use super::Result;

/// Handles a thread keeps: the project's and the worktree it works in, with
/// room to spare.
const KEPT: usize = 4;

struct Kept {
    path: PathBuf,
    dot_git: Vec<u8>,
    repo: Rc<Repository>,
}

thread_local! {
    static KEPT_HANDLES: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
}

/// What a `.git` entry says: a file's text (a worktree's pointer to its admin
/// directory), or a directory's inode (a repository removed and made again
/// at the same path is another one).
fn identity(dot_git: &Path) -> Vec<u8> {
    match fs::metadata(dot_git) {
        Ok(meta) if meta.is_dir() => meta.ino().to_le_bytes().to_vec(),
        Ok(_) => fs::read(dot_git).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The repository at `path`, from this thread's kept handles when its
/// `.git` entry has not changed since, else opened (and kept).
pub(super) fn open(path: &Path) -> Result<Rc<Repository>> {
    let dot_git = identity(&path.join(".git"));
    let found = KEPT_HANDLES.with_borrow_mut(|kept| {
        let at = kept.iter().position(|k| k.path == path)?;
        let hit = kept.remove(at);
        let fresh = hit.dot_git == dot_git;
        let repo = hit.repo.clone();
        if fresh {
            kept.push(hit);
        }
        fresh.then_some(repo)
    });
    if let Some(repo) = found {
        return Ok(repo);
    }
    let repo = Rc::new(Repository::open(path)?);
    KEPT_HANDLES.with_borrow_mut(|kept| {
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push(Kept {
            path: path.to_path_buf(),
            dot_git,
            repo: repo.clone(),
        });
    });
    Ok(repo)
}

/// The repository's index as it is on disk now: a kept handle's index may
/// predate a `git add` made beside the engine (libgit2 reloads it only when
/// asked, or for a status or checkout).
pub(super) fn current_index(repo: &Repository) -> Result<git2::Index> {
    let mut index = repo.index()?;
    index.read(false)?;
    Ok(index)
}
