//! One task, in full: every attempt with its verdict and evidence, the diff
//! of each stage commit, and the task's events.

use std::collections::HashMap;
use std::path::Path;

use git2::{Oid, Repository};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::snapshot::{Snapshot, TaskView};
use super::{ViewError, time};
use crate::events::LoggedEvent;
use crate::store::runs::{AttemptRow, TranscriptRow};
use crate::store::{Queries, Reader};
use tdd_workers::usage::Usage;

/// Commits walked back from a branch tip looking for a task's stage commits.
const MAX_WALK: usize = 10_000;
/// Files shown per stage commit, and bytes of each file's diff.
const MAX_FILES: usize = 100;
const MAX_DIFF_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskDetail {
    pub task: TaskView,
    /// Oldest first, over every run.
    pub attempts: Vec<AttemptView>,
    /// The task's stage commits, oldest first: on its own branch while it
    /// runs, on the feature branch once merged.
    pub stages: Vec<StageDiff>,
    /// Every event about the task, in order.
    pub events: Vec<LoggedEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttemptView {
    pub run: i64,
    pub stage: String,
    pub attempt: u32,
    pub worker: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub passed: bool,
    /// `violation`, `infrastructure` or `provider_outage`.
    pub failure_kind: Option<String>,
    /// The gate's evidence line and its reasons, or the error.
    pub evidence: Option<String>,
    pub exit_code: Option<i32>,
    /// The judged test run: counts, failing tests (id, kind, message,
    /// location) and problems.
    pub report: Option<Value>,
    /// Files the worker changed, by kind.
    pub diff_stats: Option<Value>,
    pub usage: Option<Usage>,
    /// What the worker said and did in the attempt, redacted; `None` for
    /// workers that keep none (scripted, human) and stores from before
    /// transcripts were kept.
    pub transcript: Option<TranscriptView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranscriptView {
    /// `messages` (a JSON array of the model API's messages), `json_lines`
    /// (an agent CLI's event stream) or `text`.
    pub format: String,
    pub text: String,
    /// Bytes of the whole transcript; more than `text` holds when it was
    /// `truncated` (its head and tail are kept).
    pub bytes: i64,
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageDiff {
    pub stage: String,
    pub commit: String,
    pub parent: Option<String>,
    /// The `Tdd-Evidence` trailer.
    pub evidence: String,
    pub files: Vec<FileDiff>,
    /// More files changed than are listed.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileDiff {
    pub path: String,
    /// Where a renamed file came from.
    pub old_path: Option<String>,
    /// `added`, `deleted`, `modified` or `renamed`.
    pub status: String,
    /// Unified diff with 3 lines of context; empty for a binary file.
    pub unified: String,
    pub binary: bool,
    /// The diff was cut at the size limit.
    pub truncated: bool,
}

/// The task `key` (of the PRD `prd`, needed only when two PRDs share the
/// key). `snapshot` gives the task's row as the panel shows it.
pub fn task_detail(
    reader: &Reader,
    root: &Path,
    snapshot: &Snapshot,
    prd: Option<&str>,
    key: &str,
) -> Result<TaskDetail, ViewError> {
    let matching: Vec<&TaskView> = snapshot
        .tasks
        .iter()
        .filter(|t| t.key == key && prd.is_none_or(|p| t.prd == p))
        .collect();
    let task = match matching.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(ViewError::NoTask {
                key: key.to_string(),
                db: reader.path().to_path_buf(),
            });
        }
        many => {
            let prds = many.iter().map(|t| t.prd.as_str()).collect::<Vec<_>>();
            return Err(ViewError::Ambiguous {
                key: key.to_string(),
                prds: prds.join(", "),
            });
        }
    };
    let (attempts, mut transcripts, events) = reader.read(|tx| -> Result<_, ViewError> {
        let prd_row = tx.prd(&task.prd)?;
        let row = match &prd_row {
            Some(p) => tx.task(p.id, key)?,
            None => None,
        };
        let (attempts, transcripts) = match &row {
            Some(row) => (tx.task_attempts(row.id)?, tx.task_transcripts(row.id)?),
            None => (Vec::new(), Vec::new()),
        };
        let transcripts: HashMap<i64, TranscriptRow> =
            transcripts.into_iter().map(|t| (t.attempt_id, t)).collect();
        let prd_id = prd_row.map(|p| p.id);
        let path = task.prd.clone();
        let events = tx
            .events_of_task(key)?
            .into_iter()
            .filter(|e| {
                e.task_key.as_deref() == Some(key) && (e.prd_id == prd_id || e.prd_id.is_none())
            })
            .map(|e| LoggedEvent::from_row(e, |_| Some(path.clone())))
            .collect();
        Ok((attempts, transcripts, events))
    })?;
    Ok(TaskDetail {
        stages: stage_diffs(root, &task.prd, key).unwrap_or_default(),
        attempts: attempts
            .into_iter()
            .map(|row| {
                let transcript = transcripts.remove(&row.id).map(transcript_view);
                attempt_view(row, transcript)
            })
            .collect(),
        events,
        task,
    })
}

/// A stored transcript as the panel shows it; one that cannot be inflated
/// says so in its text.
fn transcript_view(row: TranscriptRow) -> TranscriptView {
    TranscriptView {
        text: tdd_workers::transcript::unpack(&row.deflated).unwrap_or_else(|e| e),
        format: row.format,
        bytes: row.original_len,
        truncated: row.truncated,
    }
}

fn attempt_view(row: AttemptRow, transcript: Option<TranscriptView>) -> AttemptView {
    let duration_ms = row
        .finished_at
        .as_deref()
        .and_then(time::millis)
        .zip(time::millis(&row.started_at))
        .map(|(end, start)| end - start);
    AttemptView {
        run: row.run_id.0,
        passed: row.failure_kind.is_none(),
        stage: row.stage,
        attempt: row.attempt,
        worker: row.worker,
        started_at: row.started_at,
        finished_at: row.finished_at,
        duration_ms,
        failure_kind: row.failure_kind,
        evidence: row.evidence,
        exit_code: row.exit_code,
        report: row.test_summary,
        diff_stats: row.diff_stats,
        usage: row.usage,
        transcript,
    }
}

/// The task's stage commits with their diffs: from its task branch when it
/// still has one, else from the feature branch. Git trouble (no repository,
/// no branch yet) means no diffs, not an error: the attempts still show.
fn stage_diffs(root: &Path, prd: &str, key: &str) -> Option<Vec<StageDiff>> {
    let config = crate::project::load_config(root).ok()?;
    let name = crate::execution::prd_name(config.project.prefix.as_deref(), Path::new(prd));
    let repo = Repository::open(root).ok()?;
    let tip = |branch: &str| {
        repo.find_branch(branch, git2::BranchType::Local)
            .ok()?
            .get()
            .target()
    };
    let branches = [
        crate::git::task_branch(&name, key).ok(),
        crate::git::feature_branch(&name).ok(),
    ];
    let commits = branches
        .into_iter()
        .flatten()
        .filter_map(|b| tip(&b))
        .map(|tip| task_commits(&repo, tip, key))
        .find(|found| !found.is_empty())
        .unwrap_or_default();
    commits
        .into_iter()
        .map(|(oid, stage, evidence)| stage_diff(&repo, oid, stage, evidence))
        .collect::<Result<Vec<_>, git2::Error>>()
        .ok()
}

/// `(commit, stage, evidence)` of each commit trailered `Tdd-Task: key` on
/// the first-parent line from `tip`, oldest first.
fn task_commits(repo: &Repository, tip: Oid, key: &str) -> Vec<(Oid, String, String)> {
    let mut found = Vec::new();
    let mut next = repo.find_commit(tip).ok();
    let mut walked = 0;
    while let Some(commit) = next {
        walked += 1;
        let message = commit.message_raw().unwrap_or_default();
        if trailer(message, "Tdd-Task") == Some(key)
            && let Some(stage) = trailer(message, "Tdd-Stage")
        {
            let evidence = trailer(message, "Tdd-Evidence").unwrap_or_default();
            found.push((commit.id(), stage.to_string(), evidence.to_string()));
        } else if !found.is_empty() {
            // A task's stage commits are consecutive: the first other commit ends them.
            break;
        }
        if walked >= MAX_WALK {
            break;
        }
        next = commit.parent(0).ok();
    }
    found.reverse();
    found
}

fn trailer<'m>(message: &'m str, key: &str) -> Option<&'m str> {
    message.lines().rev().find_map(|line| {
        line.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

fn stage_diff(
    repo: &Repository,
    oid: Oid,
    stage: String,
    evidence: String,
) -> Result<StageDiff, git2::Error> {
    let commit = repo.find_commit(oid)?;
    let parent = commit.parent(0).ok();
    let old_tree = parent.as_ref().map(|p| p.tree()).transpose()?;
    let mut diff = repo.diff_tree_to_tree(old_tree.as_ref(), Some(&commit.tree()?), None)?;
    diff.find_similar(None)?;
    let mut files = Vec::new();
    let deltas: Vec<_> = diff.deltas().collect();
    for delta in deltas.iter().take(MAX_FILES) {
        let path = |f: git2::DiffFile<'_>| f.path().map(|p| p.to_string_lossy().into_owned());
        let new_path = path(delta.new_file()).or_else(|| path(delta.old_file()));
        let old_path = path(delta.old_file());
        let status = match delta.status() {
            git2::Delta::Added => "added",
            git2::Delta::Deleted => "deleted",
            git2::Delta::Renamed => "renamed",
            _ => "modified",
        };
        let text = |id: Oid| -> Option<Vec<u8>> {
            (!id.is_zero())
                .then(|| repo.find_blob(id).ok().map(|b| b.content().to_vec()))
                .flatten()
        };
        let old = text(delta.old_file().id()).unwrap_or_default();
        let new = text(delta.new_file().id()).unwrap_or_default();
        let (old, new) = (std::str::from_utf8(&old), std::str::from_utf8(&new));
        let (unified, binary, truncated) = match (old, new) {
            (Ok(old), Ok(new)) if !old.contains('\0') && !new.contains('\0') => {
                let name = new_path.clone().unwrap_or_default();
                let from = old_path.clone().unwrap_or_else(|| name.clone());
                let text = similar::TextDiff::from_lines(old, new)
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{from}"), &format!("b/{name}"))
                    .to_string();
                let (text, cut) = clip(text);
                (text, false, cut)
            }
            _ => (String::new(), true, false),
        };
        files.push(FileDiff {
            path: new_path.unwrap_or_default(),
            old_path: (status == "renamed").then_some(old_path).flatten(),
            status: status.to_string(),
            unified,
            binary,
            truncated,
        });
    }
    Ok(StageDiff {
        stage,
        commit: oid.to_string(),
        parent: parent.map(|p| p.id().to_string()),
        evidence,
        truncated: deltas.len() > MAX_FILES,
        files,
    })
}

fn clip(mut text: String) -> (String, bool) {
    if text.len() <= MAX_DIFF_BYTES {
        return (text, false);
    }
    let mut end = MAX_DIFF_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}
