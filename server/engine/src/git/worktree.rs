//! One linked worktree per task, under `<root>/.tdd/worktrees/`.

use std::fs;
use std::path::{Path, PathBuf};

use git2::{BranchType, ErrorCode, Repository, WorktreeAddOptions, WorktreePruneOptions};

use super::checkout;
use super::tracked::Tracked;
use super::{GitError, Project, Result, WORKTREES_DIR, feature_branch, io_err, task_branch};

/// A task's checkout: its directory and the branch checked out there.
#[derive(Clone, Debug)]
pub struct Worktree {
    pub path: PathBuf,
    /// Short branch name, `tdd-task/<prd>/<task>`.
    pub branch: String,
    /// The watch on its writes, when tracked ([`Worktree::track`]).
    pub(crate) tracked: Option<Tracked>,
}

impl PartialEq for Worktree {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.branch == other.branch
    }
}

impl Eq for Worktree {}

impl Worktree {
    /// The worktree's repository, from this thread's open handles.
    pub(crate) fn repo(&self) -> Result<std::rc::Rc<Repository>> {
        super::handles::open(&self.path)
    }
}

/// Where git keeps a linked worktree's own files (`HEAD`, `index`, `gitdir`).
pub(super) fn admin_dir(repo: &Repository, name: &str) -> PathBuf {
    repo.path().join("worktrees").join(name)
}

/// Points the worktree at `path` and its admin directory at each other.
pub(super) fn link(path: &Path, admin: &Path) -> Result<()> {
    let dot_git = path.join(".git");
    fs::write(&dot_git, format!("gitdir: {}\n", admin.display())).map_err(io_err(&dot_git))?;
    let gitdir = admin.join("gitdir");
    fs::write(&gitdir, format!("{}\n", dot_git.display())).map_err(io_err(&gitdir))
}

/// The directory and worktree name for a task key: one safe path component.
///
/// Keeps ASCII letters, digits, `_`, `-` and inner single dots; anything else
/// becomes `-`. When that changed the key (or the key is empty or long), an
/// 8-hex-digit hash of the whole key is appended, so `a/b` and `a:b` get
/// different names, and the same key always gets the same name.
pub fn worktree_name(task_key: &str) -> String {
    let mut name = String::with_capacity(task_key.len());
    for c in task_key.chars() {
        let keep = c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
        let c = if keep { c } else { '-' };
        // No leading dot, no `..`.
        if c == '.' && (name.is_empty() || name.ends_with('.')) {
            name.push('-');
        } else {
            name.push(c);
        }
    }
    while name.ends_with('.') {
        name.pop();
        name.push('-');
    }
    let too_long = name.len() > 64;
    name.truncate(64);
    if name != task_key || too_long || name.is_empty() || name.ends_with(".lock") {
        name.push_str(&format!("-{:08x}", fnv1a(task_key.as_bytes())));
    }
    name
}

/// A hash that never changes between builds (unlike std's `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Removes the registration `name` when its directory is gone (deleted by
/// hand); one whose directory is there is [`GitError::WorktreeExists`].
pub(super) fn prune_stale(repo: &Repository, name: &str) -> Result<()> {
    if let Ok(stale) = repo.find_worktree(name) {
        if stale.validate().is_ok() {
            return Err(GitError::WorktreeExists {
                path: stale.path().to_path_buf(),
            });
        }
        stale.prune(Some(WorktreePruneOptions::new().valid(false)))?;
    }
    Ok(())
}

/// The task branch `branch`, made at the tip of `feature` when missing.
pub(super) fn task_branch_or_new<'r>(
    repo: &'r Repository,
    feature: &str,
    branch: &str,
) -> Result<git2::Branch<'r>> {
    match repo.find_branch(branch, BranchType::Local) {
        Ok(found) => Ok(found),
        Err(err) if err.code() == ErrorCode::NotFound => {
            let tip = match repo.find_branch(feature, BranchType::Local) {
                Ok(b) => b.get().peel_to_commit()?,
                Err(err) if err.code() == ErrorCode::NotFound => {
                    return Err(GitError::MissingBranch {
                        branch: feature.to_string(),
                        hint: "create the feature branch first (ensure_feature_branch)".into(),
                    });
                }
                Err(err) => return Err(err.into()),
            };
            Ok(repo.branch(branch, &tip, false)?)
        }
        Err(err) => Err(err.into()),
    }
}

/// Serializes `git worktree add` within the process.
pub(super) static ADD_WORKTREE: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Project {
    /// Where the worktree of `task_key` lives (whether it exists or not).
    pub fn worktree_path(&self, task_key: &str) -> PathBuf {
        self.root()
            .join(WORKTREES_DIR)
            .join(worktree_name(task_key))
    }

    /// Creates the task branch `tdd-task/<prd>/<task>` at the tip of the
    /// feature branch `tdd/<prd>` (which must exist: see
    /// [`Project::ensure_feature_branch`]) and checks it out in a new worktree
    /// at [`Project::worktree_path`].
    ///
    /// An existing worktree for the task is an error ([`GitError::WorktreeExists`]):
    /// a fresh attempt never silently reuses a dirty tree; use
    /// [`Project::open_worktree`] to resume one. A task branch left by
    /// [`Project::remove_worktree`] is checked out as it is (resumed), not reset.
    pub fn create_worktree(&self, prd: &str, task_key: &str) -> Result<Worktree> {
        let (branch_name, name, path) = self.free_slot(prd, task_key)?;
        let feature = feature_branch(prd)?;
        let repo = self.repo()?;
        prune_stale(&repo, &name)?;
        let branch = task_branch_or_new(&repo, &feature, &branch_name)?;
        let parent = self.tdd_dir()?.join("worktrees");
        fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        // libgit2 fails when two threads create `.git/worktrees` at once
        // (both mkdir it); make it first, and add worktrees one at a time.
        let admin = repo.path().join("worktrees");
        fs::create_dir_all(&admin).map_err(io_err(&admin))?;
        let tree = branch.get().peel_to_tree()?;
        let plain = checkout::plain_files(&repo, &tree)?;
        let _one_at_a_time = ADD_WORKTREE.lock().unwrap_or_else(|p| p.into_inner());
        match plain {
            Some(files) => {
                if let Some((_, at)) = self
                    .checked_out_branches(&repo)?
                    .into_iter()
                    .find(|(b, _)| *b == branch_name)
                {
                    return Err(GitError::CheckedOut {
                        branch: branch_name,
                        path: at,
                    });
                }
                checkout::add_worktree(&repo, &name, &path, &branch_name, &tree, &files)?;
            }
            None => {
                let reference = branch.into_reference();
                let mut opts = WorktreeAddOptions::new();
                opts.reference(Some(&reference));
                repo.worktree(&name, &path, Some(&opts))?;
            }
        }
        Ok(Worktree {
            path,
            branch: branch_name,
            tracked: None,
        })
    }

    /// A new worktree's task branch name, admin name and path; an error
    /// when something is at the path already.
    pub(super) fn free_slot(&self, prd: &str, task_key: &str) -> Result<(String, String, PathBuf)> {
        let branch_name = task_branch(prd, task_key)?;
        let path = self.worktree_path(task_key);
        if path.exists() {
            return Err(GitError::WorktreeExists { path });
        }
        Ok((branch_name, worktree_name(task_key), path))
    }

    /// The existing worktree of a task.
    pub fn open_worktree(&self, prd: &str, task_key: &str) -> Result<Worktree> {
        let branch = task_branch(prd, task_key)?;
        let path = self.worktree_path(task_key);
        let repo = self.repo()?;
        let missing = || GitError::NoWorktree {
            task: task_key.to_string(),
            path: path.clone(),
        };
        let wt = repo
            .find_worktree(&worktree_name(task_key))
            .map_err(|_| missing())?;
        if wt.validate().is_err() || !path.is_dir() {
            return Err(missing());
        }
        let wt_repo = Repository::open_from_worktree(&wt)?;
        let head = wt_repo.head()?;
        let checked_out = head.shorthand().unwrap_or_default();
        if checked_out != branch {
            return Err(GitError::WrongPrd {
                branch: checked_out.to_string(),
                prd: prd.to_string(),
                expected: branch,
            });
        }
        Ok(Worktree {
            path,
            branch,
            tracked: None,
        })
    }

    /// Deletes the task's worktree directory and its registration in
    /// `.git/worktrees/`. The task branch is kept. Removing a worktree that
    /// does not exist is not an error.
    pub fn remove_worktree(&self, task_key: &str) -> Result<()> {
        self.remove_worktree_at(&self.worktree_path(task_key), &worktree_name(task_key))
    }

    /// Deletes the task branch `tdd-task/<prd>/<task>`, so the task's next
    /// worktree starts again from the feature branch. Remove the worktree
    /// first: git refuses to delete a branch that is checked out. Returns the
    /// branch's name when it existed.
    pub fn delete_task_branch(&self, prd: &str, task_key: &str) -> Result<Option<String>> {
        let name = task_branch(prd, task_key)?;
        let repo = self.repo()?;
        match repo.find_branch(&name, BranchType::Local) {
            Ok(mut branch) => {
                branch.delete()?;
                Ok(Some(name))
            }
            Err(err) if err.code() == ErrorCode::NotFound => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Short names of the branches checked out anywhere: the user's tree and
    /// every valid linked worktree, with their paths.
    pub(crate) fn checked_out_branches(&self, repo: &Repository) -> Result<Vec<(String, PathBuf)>> {
        let mut out = Vec::new();
        if let Ok(head) = repo.head()
            && head.is_branch()
            && let Ok(name) = head.shorthand()
        {
            out.push((name.to_string(), self.root().to_path_buf()));
        }
        for name in repo.worktrees()?.iter().flatten().flatten() {
            let Ok(wt) = repo.find_worktree(name) else {
                continue;
            };
            if wt.validate().is_err() {
                continue;
            }
            let Ok(wt_repo) = Repository::open_from_worktree(&wt) else {
                continue;
            };
            if let Ok(head) = wt_repo.head()
                && head.is_branch()
                && let Ok(branch) = head.shorthand()
            {
                out.push((branch.to_string(), wt.path().to_path_buf()));
            }
        }
        Ok(out)
    }
}

impl Project {
    /// Deletes the lock files a killed run can leave in git's own
    /// directories: `<ref>.lock` under `refs/heads/tdd/` and
    /// `refs/heads/tdd-task/`, and `index.lock` / `HEAD.lock` of the
    /// worktrees under `.tdd/worktrees/`. git never removes a stale lock
    /// itself, and every later update of that ref fails on it. Call only
    /// while holding the project's run lock: it proves no other run is
    /// alive, so these locks are stale. Returns what it removed.
    pub fn clear_stale_locks(&self) -> Result<Vec<PathBuf>> {
        let repo = self.repo()?;
        let common = repo.commondir().to_path_buf();
        let mut stale = Vec::new();
        for namespace in ["refs/heads/tdd", "refs/heads/tdd-task"] {
            let mut dirs = vec![common.join(namespace)];
            while let Some(dir) = dirs.pop() {
                let Ok(entries) = fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        dirs.push(path);
                    } else if path.extension().is_some_and(|e| e == "lock") {
                        stale.push(path);
                    }
                }
            }
        }
        // The ref `tdd/<prd>` itself may be locked: `refs/heads/tdd/<prd>.lock`
        // is found above; `refs/heads/tdd.lock` cannot exist (tdd is a directory).
        let ours = self.root().join(WORKTREES_DIR);
        if let Ok(admins) = fs::read_dir(common.join("worktrees")) {
            for admin in admins.flatten().map(|e| e.path()) {
                let gitdir = fs::read_to_string(admin.join("gitdir")).unwrap_or_default();
                if !Path::new(gitdir.trim()).starts_with(&ours) {
                    continue;
                }
                for name in ["index.lock", "HEAD.lock"] {
                    if admin.join(name).exists() {
                        stale.push(admin.join(name));
                    }
                }
            }
        }
        for path in &stale {
            fs::remove_file(path).map_err(io_err(path))?;
        }
        Ok(stale)
    }
}
