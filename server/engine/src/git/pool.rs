//! Worktrees kept between tasks. Checking a whole tree out for each task and
//! deleting it after the merge costs what the repository holds; a merged
//! task's worktree is parked instead (renamed aside, its branch let go) and
//! the next task adopts it: renamed into the task's place, its branch checked
//! out by writing only the files that differ.
//!
//! A parked worktree lives under `.tdd/worktrees/.idle-<n>` (no task's
//! worktree name starts with a dot). The pool belongs to one process's run:
//! when the last clone of it is dropped, what is parked is removed. A run
//! that died left its parked worktrees behind (a checkout of the whole
//! repository each); the next run removes them
//! ([`Project::remove_stale_parked`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use git2::{ErrorCode, WorktreePruneOptions};

use super::watch::Tracking;
use super::worktree::{ADD_WORKTREE, admin_dir, link, prune_stale, task_branch_or_new};
use super::{Project, Result, WORKTREES_DIR, Worktree, feature_branch, io_err};

/// Parked worktrees, shared by the clones of a pipeline context.
#[derive(Clone, Debug, Default)]
pub struct WorktreePool(Arc<Parked>);

#[derive(Debug, Default)]
struct Parked(Mutex<Vec<(Project, Worktree, String)>>);

impl WorktreePool {
    fn take(&self, project: &Project) -> Option<(Worktree, String)> {
        let mut parked = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        let at = parked
            .iter()
            .position(|(p, _, _)| p.root() == project.root())?;
        let (_, wt, admin) = parked.swap_remove(at);
        Some((wt, admin))
    }

    /// How many worktrees wait to be adopted.
    pub fn len(&self) -> usize {
        self.0
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        let parked = self.0.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (project, wt, admin) in parked.drain(..) {
            let _ = project.remove_worktree_at(&wt.path, &admin);
        }
    }
}

impl Project {
    /// The task's worktree: a parked one adopted when the pool has one (only
    /// the files that differ are written), else a new checkout. With `track`
    /// its writes are tracked that way ([`Worktree::track`]) where the
    /// platform allows; a tracked parked worktree moves at the cost of what was
    /// touched, an untracked one after a stat scan of its files.
    pub fn checkout_task(
        &self,
        pool: &WorktreePool,
        prd: &str,
        task_key: &str,
        track: Option<Tracking>,
    ) -> Result<Worktree> {
        if let Some((parked, admin)) = pool.take(self) {
            match self.adopt(&parked, &admin, prd, task_key, track) {
                Ok(wt) => return Ok(wt),
                Err(_) => {
                    // Not worth failing the task for: a fresh checkout follows.
                    let _ = self.remove_worktree_at(&parked.path, &admin);
                    // A half-adopted one may already sit at the task's path.
                    let _ = self.remove_worktree(task_key);
                }
            }
        }
        let mut wt = self.create_worktree(prd, task_key)?;
        if let Some(how) = track {
            wt.track(how)?;
        }
        Ok(wt)
    }

    /// Sets a merged task's worktree aside for the next task.
    pub fn park_worktree(&self, pool: &WorktreePool, wt: Worktree) -> Result<()> {
        let admin = wt
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let repo = self.repo()?;
        let idle = self.root().join(WORKTREES_DIR).join(format!(
            ".idle-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let head = wt.repo()?.head()?.peel_to_commit()?.id();
        let admin_path = admin_dir(&repo, &admin);
        fs::rename(&wt.path, &idle).map_err(io_err(&wt.path))?;
        link(&idle, &admin_path)?;
        // Detached, so the task branch is checked out nowhere.
        let head_file = admin_path.join("HEAD");
        fs::write(&head_file, format!("{head}\n")).map_err(io_err(&head_file))?;
        let parked = Worktree {
            path: idle,
            branch: String::new(),
            tracked: wt.tracked,
        };
        let mut list = pool.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        list.push((self.clone(), parked, admin));
        Ok(())
    }

    fn adopt(
        &self,
        parked: &Worktree,
        admin: &str,
        prd: &str,
        task_key: &str,
        track: Option<Tracking>,
    ) -> Result<Worktree> {
        let (branch_name, name, path) = self.free_slot(prd, task_key)?;
        let repo = self.repo()?;
        let feature = feature_branch(prd)?;
        let target = task_branch_or_new(&repo, &feature, &branch_name)?
            .get()
            .peel_to_commit()?;
        let _one_at_a_time = ADD_WORKTREE.lock().unwrap_or_else(PoisonError::into_inner);
        prune_stale(&repo, &name)?;
        let old_admin = admin_dir(&repo, admin);
        let new_admin = admin_dir(&repo, &name);
        fs::rename(&old_admin, &new_admin).map_err(io_err(&old_admin))?;
        fs::rename(&parked.path, &path).map_err(io_err(&parked.path))?;
        link(&path, &new_admin)?;
        let head_file = new_admin.join("HEAD");
        let point_head = || {
            fs::write(&head_file, format!("ref: refs/heads/{branch_name}\n"))
                .map_err(io_err(&head_file))
        };
        if track.is_some_and(|how| parked.is_tracked_by(how)) {
            point_head()?;
            let wt = Worktree {
                path,
                branch: branch_name.clone(),
                tracked: parked.tracked.clone(),
            };
            wt.switch_files(&*wt.repo()?, &target.tree()?, &Default::default())?;
            return Ok(wt);
        }
        // Untracked, tracked another way, or the watch lost count: a stat
        // scan finds what differs from its HEAD, still the parked commit.
        let mut wt = Worktree {
            path,
            branch: branch_name.clone(),
            tracked: None,
        };
        wt.switch_files_scanned(&*wt.repo()?, &target.tree()?)?;
        point_head()?;
        if let Some(how) = track {
            wt.track(how)?;
        }
        Ok(wt)
    }

    /// Removes the parked worktrees a run that died left behind, with their
    /// registrations. Call only while holding the project's run lock: it
    /// proves no run (so no pool) is alive. Returns the directories removed.
    pub fn remove_stale_parked(&self) -> Result<Vec<PathBuf>> {
        let dir = self.root().join(WORKTREES_DIR);
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(".idle-") || !entry.path().is_dir() {
                continue;
            }
            // Its `.git` file names its registration: `gitdir: …/worktrees/<admin>`.
            let link = fs::read_to_string(entry.path().join(".git")).unwrap_or_default();
            let admin = link
                .trim()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            self.remove_worktree_at(&entry.path(), &admin)?;
            removed.push(entry.path());
        }
        Ok(removed)
    }

    /// Deletes a worktree directory and its registration, named by its
    /// admin directory (which need not match the directory's name).
    pub(crate) fn remove_worktree_at(&self, path: &Path, admin: &str) -> Result<()> {
        if path.exists() {
            fs::remove_dir_all(path).map_err(io_err(path))?;
        }
        let repo = self.repo()?;
        match repo.find_worktree(admin) {
            Ok(wt) => {
                wt.prune(Some(WorktreePruneOptions::new().valid(true).locked(true)))?;
                Ok(())
            }
            Err(err) if err.code() == ErrorCode::NotFound => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}
