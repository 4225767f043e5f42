//! A new worktree's first checkout, written by the engine: the tree's blobs
//! straight from the object database, on a few threads, then an index with
//! each file's stat data. libgit2's checkout looks up attributes and
//! resolves paths per file, which makes it half as fast as writing the files
//! (10,000 files: 170 ms against 70 ms here), and a run's first task per
//! worker waits for it.
//!
//! Only plain trees take this path: one whose files git would filter on the
//! way out (any `.gitattributes`, `core.autocrlf`, `core.eol`, an attributes
//! file of the repository or the user) is left to libgit2, which applies the
//! filters.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use git2::{FileMode, IndexEntry, IndexTime, ObjectType, Oid, Repository, Tree, TreeWalkMode};

use super::worktree::{admin_dir, link};
use super::{GitError, Result, io_err};

/// A file of the tree: its path, blob and git mode.
pub(super) struct TreeFile {
    path: String,
    id: Oid,
    mode: i32,
}

/// The files of `tree` when writing them needs no filter; `None` when git
/// would convert some on checkout (see the module's doc).
pub(super) fn plain_files(repo: &Repository, tree: &Tree<'_>) -> Result<Option<Vec<TreeFile>>> {
    if filters_configured(repo)? {
        return Ok(None);
    }
    let mut files = Vec::new();
    let mut attributes = false;
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let Ok(name) = entry.name() else {
            // Not UTF-8: leave it to libgit2.
            attributes = true;
            return git2::TreeWalkResult::Abort;
        };
        if name == ".gitattributes" {
            attributes = true;
            return git2::TreeWalkResult::Abort;
        }
        if entry.kind() != Some(ObjectType::Tree) {
            files.push(TreeFile {
                path: format!("{dir}{name}"),
                id: entry.id(),
                mode: entry.filemode(),
            });
        }
        git2::TreeWalkResult::Ok
    })
    .or_else(|e| if attributes { Ok(()) } else { Err(e) })?;
    Ok((!attributes).then_some(files))
}

/// Whether configuration alone may make git filter files on checkout.
fn filters_configured(repo: &Repository) -> Result<bool> {
    let config = repo.config()?;
    let set = |key: &str| config.get_entry(key).is_ok();
    if set("core.autocrlf") || set("core.eol") || set("core.attributesFile") {
        return Ok(true);
    }
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
        .map(|dir| dir.join("git/attributes"));
    let repo_wide = repo.commondir().join("info/attributes");
    Ok(repo_wide.exists() || user.is_some_and(|p| p.exists()))
}

/// Registers a linked worktree `name` at `path` with `branch` checked out,
/// and writes `files` (all of `tree`) there. Cleans up after itself on
/// failure. The caller serializes worktree additions.
pub(super) fn add_worktree(
    repo: &Repository,
    name: &str,
    path: &Path,
    branch: &str,
    tree: &Tree<'_>,
    files: &[TreeFile],
) -> Result<()> {
    let admin = admin_dir(repo, name);
    fs::create_dir(&admin).map_err(io_err(&admin))?;
    let added = register(&admin, path, branch)
        .and_then(|()| write_files(repo.path(), path, files))
        .and_then(|stats| write_index(path, tree, files, &stats));
    if added.is_err() {
        let _ = fs::remove_dir_all(path);
        let _ = fs::remove_dir_all(&admin);
    }
    added
}

fn register(admin: &Path, path: &Path, branch: &str) -> Result<()> {
    fs::create_dir(path).map_err(io_err(path))?;
    for (file, text) in [
        ("commondir", "../..\n".to_string()),
        ("HEAD", format!("ref: refs/heads/{branch}\n")),
    ] {
        let at = admin.join(file);
        fs::write(&at, text).map_err(io_err(&at))?;
    }
    link(path, admin)
}

/// Writes the files on up to four threads (each with its own handle on the
/// object database); returns each file's metadata, in `files`' order.
fn write_files(git_dir: &Path, root: &Path, files: &[TreeFile]) -> Result<Vec<fs::Metadata>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || write_part(git_dir, root, part)))
            .collect();
        let mut stats = Vec::with_capacity(files.len());
        for part in parts {
            let written = part.join().map_err(|_| GitError::Io {
                path: root.to_path_buf(),
                source: io::Error::other("a checkout thread panicked"),
            })?;
            stats.extend(written?);
        }
        Ok(stats)
    })
}

fn write_part(git_dir: &Path, root: &Path, files: &[TreeFile]) -> Result<Vec<fs::Metadata>> {
    let repo = Repository::open(git_dir)?;
    let odb = repo.odb()?;
    let mut made = PathBuf::new();
    let mut stats = Vec::with_capacity(files.len());
    for file in files {
        let full = root.join(&file.path);
        if let Some(dir) = full.parent()
            && dir != made
        {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            made = dir.to_path_buf();
        }
        if file.mode == i32::from(FileMode::Commit) {
            // A submodule: an empty directory, as git leaves it.
            fs::create_dir_all(&full).map_err(io_err(&full))?;
        } else {
            let blob = odb.read(file.id)?;
            if file.mode == i32::from(FileMode::Link) {
                let target =
                    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(blob.data());
                std::os::unix::fs::symlink(target, &full).map_err(io_err(&full))?;
            } else {
                fs::write(&full, blob.data()).map_err(io_err(&full))?;
                if file.mode == i32::from(FileMode::BlobExecutable) {
                    fs::set_permissions(&full, fs::Permissions::from_mode(0o755))
                        .map_err(io_err(&full))?;
                }
            }
        }
        stats.push(fs::symlink_metadata(&full).map_err(io_err(&full))?);
    }
    Ok(stats)
}

/// libgit2's in-memory mark (`GIT_INDEX_ENTRY_UPTODATE`, never written to
/// disk) for an entry known to match its file. Without it, writing the index
/// re-reads and hashes every file written in the same second as the index
/// ("racily clean"), which is all of them here. They match: they were just
/// written from these very blobs. git's own racy check on the next `status`
/// still guards later edits.
const UPTODATE: u16 = 1 << 2;

/// The worktree's index: `tree`, with the stat data of the files just
/// written, so `git status` there need not read them again.
fn write_index(
    root: &Path,
    tree: &Tree<'_>,
    files: &[TreeFile],
    stats: &[fs::Metadata],
) -> Result<()> {
    let repo = Repository::open(root)?;
    let mut index = repo.index()?;
    index.read_tree(tree)?;
    for (file, meta) in files.iter().zip(stats) {
        if file.mode == i32::from(FileMode::Commit) {
            continue;
        }
        index.add(&IndexEntry {
            ctime: IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32),
            mtime: IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32),
            dev: meta.dev() as u32,
            ino: meta.ino() as u32,
            mode: file.mode as u32,
            uid: meta.uid(),
            gid: meta.gid(),
            file_size: meta.len() as u32,
            id: file.id,
            flags: file.path.len().min(0xfff) as u16,
            flags_extended: UPTODATE,
            path: file.path.clone().into_bytes(),
        })?;
    }
    index.write()?;
    Ok(())
}
