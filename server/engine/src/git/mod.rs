//! Git for parallel tasks: one feature branch per PRD, one branch and one
//! linked worktree per running task, stage commits that hold exactly the
//! files named, and a merge queue that only fast-forwards.
//!
//! Invariant: nothing here touches the user's checked-out branch, `HEAD`,
//! index or working files. Branches are created and moved as refs (never
//! checked out in the user's tree); every checkout happens inside a worktree
//! under `<root>/.tdd/worktrees/`.
//!
//! Names:
//! - feature branch: `tdd/<prd>`;
//! - task branch: `tdd-task/<prd>/<task>`. (`tdd/<prd>/<task>` is impossible:
//!   git refs are files, so `refs/heads/tdd/<prd>` cannot also be a directory.)
//! - worktree: `<root>/.tdd/worktrees/<task>`, `<task>` being
//!   [`worktree_name`] of the task key (one safe path component, the same for
//!   the same key).
//!
//! Locking: [`Project::fast_forward_feature`] holds a process-wide mutex and an
//! exclusive OS file lock on `<root>/.tdd/merge.lock` (released when the file
//! is closed, so a crashed process never leaves it held; the file is left in
//! place on purpose).

mod changes;
mod checkout;
mod commit;
mod handles;
mod merge;
mod pool;
mod stat_watch;
mod switch;
mod tracked;
mod trees;
mod watch;
mod worktree;

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use git2::{BranchType, ErrorCode, Oid, Repository, Signature};

pub use commit::{StageCommit, StageHistory, StageRecord, read_stage_commit};
pub use merge::{MergeLock, Rebase};
pub use pool::WorktreePool;
pub use tdd_gates::{Change, ChangeKind, Stage};
pub use watch::Tracking;
pub use worktree::{Worktree, worktree_name};

/// The directory (under the project root) that holds the task worktrees.
pub const WORKTREES_DIR: &str = ".tdd/worktrees";
/// Author and committer when git config names nobody.
pub const FALLBACK_NAME: &str = "tdd-orchestrator";
pub const FALLBACK_EMAIL: &str = "tdd-orchestrator@localhost";

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "{root} is not a git repository: run `git init` there and make a first commit, or point tdd at the repository's top directory"
    )]
    NotARepository { root: PathBuf },
    #[error("{root} is a bare repository: tdd needs a repository with a working tree")]
    Bare { root: PathBuf },
    #[error(
        "{root} has no commits yet: make a first commit (for example `git commit --allow-empty -m init`) so tasks have a base to branch from"
    )]
    NoCommits { root: PathBuf },
    #[error(
        "base branch `{base}` does not exist (local branches: {existing}): create it or name an existing branch"
    )]
    MissingBase { base: String, existing: String },
    #[error("branch `{branch}` does not exist: {hint}")]
    MissingBranch { branch: String, hint: String },
    #[error("invalid {what} `{name}`: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error(
        "{path}: a worktree already exists there: open it with open_worktree, or remove it first"
    )]
    WorktreeExists { path: PathBuf },
    #[error("{path}: no worktree for task `{task}`: create it with create_worktree")]
    NoWorktree { task: String, path: PathBuf },
    #[error("`{path}`: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("nothing to commit for {stage} of `{task}`: none of the given paths changed")]
    NothingToCommit { task: String, stage: String },
    #[error("{path}: the worktree has uncommitted changes ({files}): commit or restore them first")]
    Dirty { path: PathBuf, files: String },
    #[error(
        "`{branch}` is not a fast-forward of `{feature}`: rebase it onto the feature branch first (rebase_onto_feature)"
    )]
    NotFastForward { feature: String, branch: String },
    #[error("`{branch}` is not a task branch of PRD `{prd}` (expected {expected}*)")]
    WrongPrd {
        branch: String,
        prd: String,
        expected: String,
    },
    #[error("`{branch}` is checked out in {path}: switch that tree to another branch first")]
    CheckedOut { branch: String, path: PathBuf },
    #[error("commit {commit} on `{branch}` is a merge commit: task branches must be linear")]
    MergeCommit { commit: Oid, branch: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

pub type Result<T, E = GitError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> GitError + '_ {
    move |source| GitError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A git repository with a working tree and at least one commit.
///
/// Holds only paths, so a `Project` is `Send + Sync` and can be shared by the
/// workers; each thread keeps the repository handles it opened ([`handles`]).
#[derive(Clone, Debug)]
pub struct Project {
    root: PathBuf,
}

impl Project {
    pub fn open(root: impl AsRef<Path>) -> Result<Project> {
        let root = root.as_ref();
        let repo = match Repository::open(root) {
            Ok(repo) => repo,
            Err(err) if err.code() == ErrorCode::NotFound => {
                return Err(GitError::NotARepository {
                    root: root.to_path_buf(),
                });
            }
            Err(err) => return Err(err.into()),
        };
        let Some(workdir) = repo.workdir() else {
            return Err(GitError::Bare {
                root: root.to_path_buf(),
            });
        };
        let workdir = workdir.to_path_buf();
        match repo.head() {
            Ok(_) => {}
            Err(err) if matches!(err.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => {
                return Err(GitError::NoCommits {
                    root: root.to_path_buf(),
                });
            }
            Err(err) => return Err(err.into()),
        }
        let root = workdir.canonicalize().map_err(io_err(&workdir))?;
        Ok(Project { root })
    }

    /// The top directory of the user's working tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The repository, from this thread's open handles ([`handles`]).
    pub(crate) fn repo(&self) -> Result<Rc<Repository>> {
        handles::open(&self.root)
    }

    /// Creates `tdd/<prd>` at the tip of `base` when it does not exist yet;
    /// an existing one is left where it is. Returns the branch name. Nothing
    /// is checked out.
    pub fn ensure_feature_branch(&self, prd: &str, base: &str) -> Result<String> {
        let name = feature_branch(prd)?;
        let repo = self.repo()?;
        if repo.find_branch(&name, BranchType::Local).is_ok() {
            return Ok(name);
        }
        let base_branch = match repo.find_branch(base, BranchType::Local) {
            Ok(branch) => branch,
            Err(err)
                if err.code() == ErrorCode::NotFound || err.code() == ErrorCode::InvalidSpec =>
            {
                return Err(GitError::MissingBase {
                    base: base.to_string(),
                    existing: local_branches(&repo)?,
                });
            }
            Err(err) => return Err(err.into()),
        };
        let tip = base_branch.get().peel_to_commit()?;
        match repo.branch(&name, &tip, false) {
            Ok(_) => Ok(name),
            // Another worker created it in between: same result.
            Err(err) if err.code() == ErrorCode::Exists => Ok(name),
            Err(err) => Err(err.into()),
        }
    }

    /// The feature tip when the task's stage commits are already on the
    /// feature branch (a run stopped between the fast-forward and recording
    /// it); `None` when the task branch is missing, holds no stage commit of
    /// the task, or is not merged.
    pub fn merged_task(&self, prd: &str, task: &str) -> Result<Option<Oid>> {
        let repo = self.repo()?;
        let tip_of = |name: &str| -> Result<Option<Oid>> {
            match repo.find_branch(name, BranchType::Local) {
                Ok(b) => Ok(Some(b.get().peel_to_commit()?.id())),
                Err(err) if err.code() == ErrorCode::NotFound => Ok(None),
                Err(err) => Err(err.into()),
            }
        };
        let (Some(task_tip), Some(feature_tip)) = (
            tip_of(&task_branch(prd, task)?)?,
            tip_of(&feature_branch(prd)?)?,
        ) else {
            return Ok(None);
        };
        if commit::stage_history(&repo, task_tip, task)?
            .stages
            .is_empty()
        {
            return Ok(None);
        }
        let merged = task_tip == feature_tip || repo.graph_descendant_of(feature_tip, task_tip)?;
        Ok(merged.then_some(feature_tip))
    }

    /// Makes sure `.tdd/` exists. When it has no `.gitignore` yet, writes one
    /// that ignores everything (itself included) so the user's `git status`
    /// does not change; `tdd init` replaces it with its own.
    pub(crate) fn tdd_dir(&self) -> Result<PathBuf> {
        let dir = self.root.join(".tdd");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            let text = "# Written by tdd-orchestrator: `tdd init` replaces this file.\n*\n";
            fs::write(&ignore, text).map_err(io_err(&ignore))?;
        }
        Ok(dir)
    }
}

fn local_branches(repo: &Repository) -> Result<String> {
    let mut names = Vec::new();
    for branch in repo.branches(Some(BranchType::Local))? {
        if let Some(name) = branch?.0.name()? {
            names.push(name.to_string());
        }
    }
    Ok(if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    })
}

/// `tdd/<prd>`; `prd` must be one valid branch-name component.
pub fn feature_branch(prd: &str) -> Result<String> {
    check_component("PRD name", prd)?;
    Ok(format!("tdd/{prd}"))
}

/// `tdd-task/<prd>/<worktree_name(task)>`.
pub fn task_branch(prd: &str, task: &str) -> Result<String> {
    check_component("PRD name", prd)?;
    Ok(format!("tdd-task/{prd}/{}", worktree_name(task)))
}

fn check_component(what: &'static str, name: &str) -> Result<()> {
    let invalid = |reason| {
        Err(GitError::InvalidName {
            what,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.contains('/') {
        return invalid("it may not contain `/`");
    }
    if !git2::Branch::name_is_valid(&format!("tdd/{name}"))? {
        return invalid(
            "it is not a valid git branch name (no spaces, `..`, `~^:?*[\\`, or `.lock` ending)",
        );
    }
    Ok(())
}

/// Author and committer: the repository's git config, else the fallback.
pub(crate) fn signature(repo: &Repository) -> Result<Signature<'static>> {
    match repo.signature() {
        Ok(sig) => Ok(sig),
        Err(_) => Ok(Signature::now(FALLBACK_NAME, FALLBACK_EMAIL)?),
    }
}

/// A path relative to a worktree: no absolute paths, no `..`, nothing in `.git`.
pub(crate) fn check_rel_path(path: &str) -> Result<&Path> {
    let bad = |reason| {
        Err(GitError::BadPath {
            path: path.to_string(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("empty path");
    }
    let p = Path::new(path);
    for component in p.components() {
        match component {
            Component::Normal(part) if part == ".git" => {
                return bad("paths inside .git are not allowed");
            }
            Component::Normal(_) => {}
            Component::CurDir => return bad("use a plain relative path, without `.`"),
            Component::ParentDir => return bad("`..` leaves the worktree"),
            Component::RootDir | Component::Prefix(_) => {
                return bad("absolute paths are not allowed");
            }
        }
    }
    Ok(p)
}

/// [`check_rel_path`], and no directory on the way is a symlink (it could
/// lead out of the worktree `root`).
pub(crate) fn check_worktree_path<'a>(root: &Path, path: &'a str) -> Result<&'a Path> {
    let rel = check_rel_path(path)?;
    let mut dir = root.to_path_buf();
    if let Some(parent) = rel.parent() {
        for part in parent.components() {
            dir.push(part);
            let is_link = fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink());
            if is_link {
                return Err(GitError::BadPath {
                    path: path.to_string(),
                    reason: "goes through a symlinked directory",
                });
            }
        }
    }
    Ok(rel)
}
