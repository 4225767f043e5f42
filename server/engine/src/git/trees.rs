//! Trees built and compared along changed paths only: a stage's commit, a
//! worktree's content tree and their diffs cost what changed, not what the
//! repository holds.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use git2::{FileMode, ObjectType, Oid, Repository, Tree};

use super::{Result, io_err};

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
