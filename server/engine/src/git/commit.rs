//! Stage commits: exactly the named paths, with trailers the engine can read back.

use git2::{ErrorCode, Oid, Repository};

use super::{GitError, Result, Stage, Worktree, check_worktree_path, signature};

/// One stage's commit in a task worktree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageCommit {
    /// The task key (`Tdd-Task:` trailer).
    pub task: String,
    /// The task title for the subject line; the key when `None`.
    pub title: Option<String>,
    pub stage: Stage,
    /// One line summing up the gate's evidence (`Tdd-Evidence:` trailer;
    /// `none` when empty).
    pub evidence: String,
    /// Paths relative to the worktree. A path whose file is gone is committed
    /// as a deletion. Nothing else is staged.
    pub paths: Vec<String>,
    /// Commit even when the paths hold no change (VERIFY changes nothing).
    pub allow_empty: bool,
    /// How the stage ended when that is not a plain pass (`Tdd-Outcome:`
    /// trailer): `already-implemented` for a RED whose tests passed at once,
    /// `rolled-back` for a REFACTOR that never passed.
    pub outcome: Option<String>,
}

impl StageCommit {
    /// `<stage>: <title or key>`, a blank line, then the trailers.
    pub fn message(&self) -> String {
        let title = self.title.as_deref().unwrap_or(&self.task);
        format!(
            "{}: {}\n\nTdd-Task: {}\nTdd-Stage: {}\nTdd-Evidence: {}\n{}",
            self.stage.as_str(),
            one_line(title),
            one_line(&self.task),
            self.stage.as_str(),
            Some(one_line(&self.evidence))
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "none".into()),
            self.outcome
                .as_deref()
                .map(|o| format!("Tdd-Outcome: {}\n", one_line(o)))
                .unwrap_or_default(),
        )
    }
}

/// A stage commit read back from the history of a task branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageRecord {
    pub oid: Oid,
    pub stage: Stage,
    pub evidence: String,
    pub outcome: Option<String>,
}

/// The work a task branch already holds: its stage commits, oldest first,
/// and the commit they start from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageHistory {
    pub stages: Vec<StageRecord>,
    pub base: Oid,
}

impl StageHistory {
    pub fn has(&self, stage: Stage) -> bool {
        self.stages.iter().any(|s| s.stage == stage)
    }

    pub fn outcome(&self, stage: Stage) -> Option<&str> {
        self.stages
            .iter()
            .find(|s| s.stage == stage)
            .and_then(|s| s.outcome.as_deref())
    }
}

/// The value of trailer `key` in a commit message.
fn trailer<'m>(message: &'m str, key: &str) -> Option<&'m str> {
    message.lines().rev().find_map(|line| {
        line.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

fn stage_named(name: &str) -> Option<Stage> {
    [
        Stage::Red,
        Stage::Green,
        Stage::Verify,
        Stage::Refactor,
        Stage::Merge,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

/// A stage commit's trailers: the task key and its [`StageRecord`] (with
/// `oid`); `None` for a commit that is not a stage commit.
pub fn read_stage_commit(oid: Oid, message: &str) -> Option<(String, StageRecord)> {
    let task = trailer(message, "Tdd-Task")?;
    let stage = trailer(message, "Tdd-Stage").and_then(stage_named)?;
    Some((
        task.to_string(),
        StageRecord {
            oid,
            stage,
            evidence: trailer(message, "Tdd-Evidence").unwrap_or("").to_string(),
            outcome: trailer(message, "Tdd-Outcome").map(str::to_string),
        },
    ))
}

/// The stage commits of `task` on top of `tip`, walking first parents back
/// to the first commit that is not one.
pub(crate) fn stage_history(repo: &Repository, tip: Oid, task: &str) -> Result<StageHistory> {
    let mut stages = Vec::new();
    let mut commit = repo.find_commit(tip)?;
    loop {
        let message = commit.message_raw().unwrap_or_default();
        let record = read_stage_commit(commit.id(), message).filter(|(key, _)| key == task);
        let Some((_, record)) = record else { break };
        stages.push(record);
        if commit.parent_count() == 0 {
            break;
        }
        commit = commit.parent(0)?;
    }
    stages.reverse();
    let base = match stages.first() {
        Some(first) => {
            let first = repo.find_commit(first.oid)?;
            if first.parent_count() == 0 {
                first.id()
            } else {
                first.parent_id(0)?
            }
        }
        None => tip,
    };
    Ok(StageHistory { stages, base })
}

/// Trailers and the subject are single lines: whitespace runs become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Worktree {
    /// The stage commits of `task` at the top of this worktree's `HEAD`.
    pub fn stage_history(&self, task: &str) -> Result<StageHistory> {
        let repo = self.repo()?;
        let head = repo.head()?.peel_to_commit()?.id();
        stage_history(&repo, head, task)
    }

    /// Commits exactly `commit.paths` on the task branch and returns the commit.
    ///
    /// The worktree's index is first reset to `HEAD` (whatever the worker
    /// staged is dropped from the index; working files are never touched),
    /// then each path is staged from the working tree, or staged as deleted
    /// when its file is gone. Refuses ([`GitError::NothingToCommit`]) when the
    /// tree would not change, unless `allow_empty`.
    pub fn commit_stage(&self, commit: &StageCommit) -> Result<Oid> {
        if self.is_tracked() {
            return self.commit_stage_tracked(commit);
        }
        let repo = self.repo()?;
        let head = repo.head()?.peel_to_commit()?;
        let mut index = super::handles::current_index(&repo)?;
        index.read_tree(&head.tree()?)?;
        for path in &commit.paths {
            let rel = check_worktree_path(&self.path, path)?;
            let full = self.path.join(rel);
            let meta = std::fs::symlink_metadata(&full);
            match meta {
                Ok(meta) if meta.is_dir() => {
                    return Err(GitError::BadPath {
                        path: path.clone(),
                        reason: "is a directory: name its files",
                    });
                }
                Ok(_) => index.add_path(rel)?,
                Err(_) => match index.remove_path(rel) {
                    Ok(()) => {}
                    Err(err) if err.code() == ErrorCode::NotFound => {}
                    Err(err) => return Err(err.into()),
                },
            }
        }
        let tree_id = index.write_tree()?;
        if tree_id == head.tree_id() && !commit.allow_empty {
            // Leave the index as HEAD has it.
            index.write()?;
            return Err(GitError::NothingToCommit {
                task: commit.task.clone(),
                stage: commit.stage.as_str().to_string(),
            });
        }
        let tree = repo.find_tree(tree_id)?;
        let sig = signature(&repo)?;
        let oid = repo.commit(Some("HEAD"), &sig, &sig, &commit.message(), &tree, &[&head])?;
        index.write()?;
        Ok(oid)
    }
}

impl Worktree {
    /// [`Worktree::commit_stage`] for a tracked worktree: the new tree is
    /// `HEAD`'s with the paths' blobs in place, built along those paths only,
    /// and the index is left alone, so a commit costs what it holds, not
    /// what the repository holds.
    fn commit_stage_tracked(&self, commit: &StageCommit) -> Result<Oid> {
        let repo = self.repo()?;
        let head = repo.head()?.peel_to_commit()?;
        let mut updates = super::trees::Updates::new();
        for path in &commit.paths {
            let rel = check_worktree_path(&self.path, path)?;
            let full = self.path.join(rel);
            let update = match std::fs::symlink_metadata(&full) {
                Ok(meta) if meta.is_dir() => {
                    return Err(GitError::BadPath {
                        path: path.clone(),
                        reason: "is a directory: name its files",
                    });
                }
                Ok(meta) => Some(super::trees::file_blob(&repo, &full, &meta)?),
                Err(_) => None,
            };
            updates.insert(rel.to_string_lossy().into_owned(), update);
        }
        let tree_id = super::trees::update_tree(&repo, &head.tree()?, &updates)?;
        if tree_id == head.tree_id() && !commit.allow_empty {
            return Err(GitError::NothingToCommit {
                task: commit.task.clone(),
                stage: commit.stage.as_str().to_string(),
            });
        }
        let tree = repo.find_tree(tree_id)?;
        let sig = signature(&repo)?;
        let oid = repo.commit(Some("HEAD"), &sig, &sig, &commit.message(), &tree, &[&head])?;
        // Only a shortcut for what follows: the content is built again if
        // this fails.
        let _ = self.settle_if_at(tree_id);
        Ok(oid)
    }
}
