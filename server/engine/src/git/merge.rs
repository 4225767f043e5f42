//! The merge queue: a task branch is replayed onto the feature branch tip,
//! tested there, then the feature branch fast-forwards to it. Never a merge
//! commit, never a squash, never a reset of the feature branch.

use std::fs::{File, OpenOptions};
use std::sync::{Mutex, MutexGuard};

use git2::{BranchType, Oid, Repository, Sort, Status, StatusOptions, build::CheckoutBuilder};

use super::{
    GitError, Project, Result, Stage, Worktree, feature_branch, io_err, read_stage_commit,
    signature,
};

/// The outcome of [`Project::rebase_onto_feature`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rebase {
    /// The task branch (and its worktree) now sits on the feature branch tip;
    /// `tip` is its new head.
    Done { tip: Oid },
    /// Replaying a commit conflicted on these paths; nothing was changed.
    Conflict { commit: Oid, paths: Vec<String> },
}

/// Serializes fast-forwards within this process; the file lock does it across processes.
static MERGE_LOCK: Mutex<()> = Mutex::new(());

/// The merge queue: while held, no other merge (in this process or another)
/// can move a feature branch. Held from the rebase to the fast-forward, the
/// tip tested is the tip merged onto; taken only for the fast-forward, that
/// fails ([`GitError::NotFastForward`]) when the feature branch moved since
/// the rebase, so the same holds.
pub struct MergeLock {
    _file: File,
    _guard: MutexGuard<'static, ()>,
}

impl Project {
    /// Waits for and takes the merge lock (see [`MergeLock`]).
    pub fn merge_lock(&self) -> Result<MergeLock> {
        let guard = MERGE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let path = self.tdd_dir()?.join("merge.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        file.lock().map_err(io_err(&path))?;
        Ok(MergeLock {
            _file: file,
            _guard: guard,
        })
    }

    /// Replays the task branch's own commits (those the feature branch does
    /// not have), oldest first, onto the feature branch tip, each one with
    /// cherry-pick semantics, in memory. On success the task branch points at
    /// the last replayed commit and the worktree is checked out there. On a
    /// conflict nothing changes: the branch, its worktree and the feature
    /// branch stay as they were.
    ///
    /// The worktree must have no uncommitted changes to tracked files, and no
    /// untracked file where the new commits put one ([`GitError::Dirty`]);
    /// other untracked files are left alone. Authors and
    /// messages (trailers included) are kept; the committer is the current one.
    pub fn rebase_onto_feature(&self, worktree: &Worktree, prd: &str) -> Result<Rebase> {
        self.replay_onto_feature(worktree, prd, false)
    }

    /// As [`Project::rebase_onto_feature`], but only the task's RED commits
    /// are replayed: after a conflict, the task starts again from its tests
    /// on the new feature tip (the pipeline then redoes GREEN on top).
    pub fn replay_red_onto_feature(&self, worktree: &Worktree, prd: &str) -> Result<Rebase> {
        self.replay_onto_feature(worktree, prd, true)
    }

    fn replay_onto_feature(
        &self,
        worktree: &Worktree,
        prd: &str,
        red_only: bool,
    ) -> Result<Rebase> {
        let feature = feature_branch(prd)?;
        check_task_branch(prd, worktree)?;
        let repo = worktree.repo()?;
        let untracked = match worktree.tracked_untracked()? {
            Some(untracked) => untracked,
            None => {
                // A worktree whose watch lost count has an index left behind
                // (see `Worktree::sync_index`): bring it back first.
                worktree.sync_index()?;
                ensure_clean(&repo, worktree)?;
                Default::default()
            }
        };
        let onto = branch_tip(&repo, &feature)?;
        let tip = branch_tip(&repo, &worktree.branch)?;
        if repo.merge_base(tip, onto)? == onto {
            return Ok(Rebase::Done { tip });
        }
        let mut walk = repo.revwalk()?;
        walk.push(tip)?;
        walk.hide(onto)?;
        walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
        let mut own: Vec<Oid> = walk.collect::<Result<_, _>>()?;
        if red_only {
            let is_red = |id: &Oid| {
                repo.find_commit(*id).ok().is_some_and(|c| {
                    read_stage_commit(c.id(), c.message_raw().unwrap_or(""))
                        .is_some_and(|(_, record)| record.stage == Stage::Red)
                })
            };
            own.retain(is_red);
        }

        let sig = signature(&repo)?;
        let mut base = repo.find_commit(onto)?;
        for id in own {
            let commit = repo.find_commit(id)?;
            if commit.parent_count() > 1 {
                return Err(GitError::MergeCommit {
                    commit: id,
                    branch: worktree.branch.clone(),
                });
            }
            let mut index = repo.cherrypick_commit(&commit, &base, 0, None)?;
            if index.has_conflicts() {
                let mut paths = Vec::new();
                for conflict in index.conflicts()? {
                    let conflict = conflict?;
                    let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
                    if let Some(entry) = entry {
                        paths.push(String::from_utf8_lossy(&entry.path).into_owned());
                    }
                }
                paths.sort();
                paths.dedup();
                return Ok(Rebase::Conflict { commit: id, paths });
            }
            let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
            let message = commit.message_raw().unwrap_or_default();
            let new = repo.commit(None, &commit.author(), &sig, message, &tree, &[&base])?;
            base = repo.find_commit(new)?;
        }

        // Check the new tip out in the worktree, then move the branch. A safe
        // checkout checks for conflicts before writing anything, so an
        // untracked file in the way fails it with the worktree unchanged.
        if worktree.is_tracked() {
            let tree = base.tree()?;
            let in_the_way: Vec<&String> = untracked
                .iter()
                .filter(|p| tree.get_path(std::path::Path::new(p)).is_ok())
                .collect();
            if !in_the_way.is_empty() {
                return Err(GitError::Dirty {
                    path: worktree.path.clone(),
                    files: format!("untracked files in the way: {in_the_way:?}"),
                });
            }
            worktree.switch_files(&repo, &tree, &untracked)?;
            let mut reference = repo
                .find_branch(&worktree.branch, BranchType::Local)?
                .into_reference();
            reference.set_target(base.id(), &format!("tdd: rebase onto {feature}"))?;
            return Ok(Rebase::Done { tip: base.id() });
        }
        let mut checkout = CheckoutBuilder::new();
        checkout.safe();
        if let Err(err) = repo.checkout_tree(base.as_object(), Some(&mut checkout)) {
            if err.code() == git2::ErrorCode::Conflict {
                return Err(GitError::Dirty {
                    path: worktree.path.clone(),
                    files: format!("untracked files in the way: {}", err.message()),
                });
            }
            return Err(err.into());
        }
        let mut reference = repo
            .find_branch(&worktree.branch, BranchType::Local)?
            .into_reference();
        reference.set_target(base.id(), &format!("tdd: rebase onto {feature}"))?;
        Ok(Rebase::Done { tip: base.id() })
    }

    /// Moves a task branch that holds no work of its own (a task that
    /// failed before its first stage commit) to the feature branch tip, and
    /// its worktree with it, so a retry starts from the current code.
    pub fn restart_on_feature(&self, worktree: &Worktree, prd: &str) -> Result<()> {
        let feature = feature_branch(prd)?;
        check_task_branch(prd, worktree)?;
        let repo = worktree.repo()?;
        let onto = branch_tip(&repo, &feature)?;
        if repo.head()?.peel_to_commit()?.id() == onto {
            return Ok(());
        }
        let commit = repo.find_commit(onto)?;
        if worktree.is_tracked() {
            worktree.switch_files(&repo, &commit.tree()?, &Default::default())?;
            let mut reference = repo
                .find_branch(&worktree.branch, BranchType::Local)?
                .into_reference();
            reference.set_target(onto, &format!("tdd: restart on {feature}"))?;
            return Ok(());
        }
        repo.reset(commit.as_object(), git2::ResetType::Hard, None)?;
        Ok(())
    }

    /// Moves `tdd/<prd>` to the task branch tip, only when that is a
    /// fast-forward ([`GitError::NotFastForward`] otherwise: rebase first).
    /// Holds the merge lock (see the module docs) and moves the ref with a
    /// compare-and-swap, so a concurrent move is never lost. Refuses when the
    /// feature branch is checked out anywhere (moving it would change that
    /// tree's `HEAD` under its files). Returns the new feature tip.
    pub fn fast_forward_feature(&self, prd: &str, worktree: &Worktree) -> Result<Oid> {
        let lock = self.merge_lock()?;
        self.fast_forward_feature_locked(&lock, prd, worktree)
    }

    /// [`Project::fast_forward_feature`] for a caller that already holds the
    /// merge lock (it is not reentrant).
    pub fn fast_forward_feature_locked(
        &self,
        _lock: &MergeLock,
        prd: &str,
        worktree: &Worktree,
    ) -> Result<Oid> {
        let feature = feature_branch(prd)?;
        check_task_branch(prd, worktree)?;
        let repo = self.repo()?;
        if let Some((_, path)) = self
            .checked_out_branches(&repo)?
            .into_iter()
            .find(|(branch, _)| *branch == feature)
        {
            return Err(GitError::CheckedOut {
                branch: feature,
                path,
            });
        }
        let current = branch_tip(&repo, &feature)?;
        let tip = branch_tip(&repo, &worktree.branch)?;
        if tip == current {
            return Ok(tip);
        }
        if !repo.graph_descendant_of(tip, current)? {
            return Err(GitError::NotFastForward {
                feature,
                branch: worktree.branch.clone(),
            });
        }
        let message = format!("tdd: fast-forward to {}", worktree.branch);
        repo.reference_matching(
            &format!("refs/heads/{feature}"),
            tip,
            true,
            current,
            &message,
        )?;
        Ok(tip)
    }
}

fn check_task_branch(prd: &str, worktree: &Worktree) -> Result<()> {
    let expected = format!("tdd-task/{prd}/");
    if !worktree.branch.starts_with(&expected) {
        return Err(GitError::WrongPrd {
            branch: worktree.branch.clone(),
            prd: prd.to_string(),
            expected,
        });
    }
    Ok(())
}

fn branch_tip(repo: &Repository, name: &str) -> Result<Oid> {
    match repo.find_branch(name, BranchType::Local) {
        Ok(branch) => Ok(branch.get().peel_to_commit()?.id()),
        Err(err) if err.code() == git2::ErrorCode::NotFound => Err(GitError::MissingBranch {
            branch: name.to_string(),
            hint: "create it first (ensure_feature_branch / create_worktree)".into(),
        }),
        Err(err) => Err(err.into()),
    }
}

/// No staged, modified or deleted tracked file in the worktree.
fn ensure_clean(repo: &Repository, worktree: &Worktree) -> Result<()> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false).include_ignored(false);
    let statuses = repo.statuses(Some(&mut opts))?;
    let dirty: Vec<String> = statuses
        .iter()
        .filter(|s| !s.status().is_empty() && s.status() != Status::CURRENT)
        .filter_map(|s| s.path().ok().map(str::to_string))
        .collect();
    if dirty.is_empty() {
        return Ok(());
    }
    let mut files = dirty.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if dirty.len() > 5 {
        files.push_str(&format!(" and {} more", dirty.len() - 5));
    }
    Err(GitError::Dirty {
        path: worktree.path.clone(),
        files,
    })
}
