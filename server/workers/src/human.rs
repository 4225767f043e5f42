//! The human worker: a person does the stage, the engine coaches. It writes
//! the stage's instructions to `.tdd/human/<task>.md`, says so (a notice the
//! CLI prints and the editor shows), and waits until the person says done
//! (`tdd-orchestrator done <task>` or the editor's `tdd.done`, which create
//! `.tdd/human/<task>.done`). The same gates judge the work; a rejected
//! attempt comes back with its evidence in the next instructions.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use super::api::prompt::user_message;
use super::{StageRequest, Worker, WorkerError, WorkerReport};

/// Where the instructions and the done markers live, under the project root.
pub const HUMAN_DIR: &str = ".tdd/human";

pub struct HumanWorker {
    name: String,
    dir: PathBuf,
    poll: Duration,
}

impl HumanWorker {
    pub fn new(name: impl Into<String>, project_root: &Path) -> HumanWorker {
        HumanWorker {
            name: name.into(),
            dir: project_root.join(HUMAN_DIR),
            poll: Duration::from_millis(200),
        }
    }

    /// How often the done marker is looked for.
    pub fn poll(mut self, every: Duration) -> HumanWorker {
        self.poll = every;
        self
    }

    fn instructions(&self, request: &StageRequest) -> String {
        let key = &request.task.key;
        format!(
            "# {key}: {stage} (attempt {attempt})\n\n\
             Work in the task's worktree: {worktree}\n\
             Change only the writable paths below. When you are done, run\n\n    \
             tdd-orchestrator done {key}\n\n\
             (or the editor's \"done\" command). The engine then runs the tests \
             itself and judges the stage; if it is rejected, these instructions \
             come back with the evidence.\n\n---\n\n{body}",
            stage = request.stage.as_str().to_uppercase(),
            attempt = request.attempt,
            worktree = request.worktree.display(),
            body = user_message(request),
        )
    }
}

impl Worker for HumanWorker {
    fn name(&self) -> &str {
        &self.name
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let key = &request.task.key;
        let (text, done) = paths(&self.dir, key);
        let failed = |what: &str, e: std::io::Error| {
            WorkerError::Failed(format!("cannot {what} {}: {e}", text.display()))
        };
        fs::create_dir_all(&self.dir).map_err(|e| failed("create the directory of", e))?;
        // A marker left from before (a crash) must not end this attempt.
        let _ = fs::remove_file(&done);
        fs::write(&text, self.instructions(request)).map_err(|e| failed("write", e))?;
        if let Some(notice) = &request.notice {
            notice.say(&format!(
                "waiting for you: {} attempt {}; instructions in {}; work in {}; then run \
                 `tdd-orchestrator done {key}`",
                request.stage.as_str().to_uppercase(),
                request.attempt,
                text.display(),
                request.worktree.display()
            ));
        }
        loop {
            if done.exists() {
                let _ = fs::remove_file(&done);
                let _ = fs::remove_file(&text);
                return Ok(WorkerReport {
                    summary: format!("{key}: done by hand"),
                    ..WorkerReport::default()
                });
            }
            if request.cancel.is_cancelled() {
                let _ = fs::remove_file(&text);
                return Err(WorkerError::Failed(
                    "the run was cancelled while waiting for you".to_string(),
                ));
            }
            thread::sleep(self.poll);
        }
    }
}

/// A task key as a file name: `REQ-1/AC-1.1` → `REQ-1_AC-1.1`.
fn slug(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The instructions file and the done marker of a task.
fn paths(dir: &Path, key: &str) -> (PathBuf, PathBuf) {
    let slug = slug(key);
    (
        dir.join(format!("{slug}.md")),
        dir.join(format!("{slug}.done")),
    )
}

/// Why [`done`] refused.
#[derive(Debug, thiserror::Error)]
pub enum DoneError {
    #[error(
        "{key} is not waiting for you{}: a task waits while a run with the human worker \
         is on its stage",
        if waiting.is_empty() { String::new() } else { format!(" (waiting: {})", waiting.join(", ")) }
    )]
    NotWaiting { key: String, waiting: Vec<String> },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The person says the task's current stage is done: the waiting run
/// judges it. Returns the instructions file it answered.
pub fn done(project_root: &Path, key: &str) -> Result<PathBuf, DoneError> {
    let dir = project_root.join(HUMAN_DIR);
    let (text, marker) = paths(&dir, key);
    if !text.exists() {
        return Err(DoneError::NotWaiting {
            key: key.to_string(),
            waiting: waiting(project_root),
        });
    }
    fs::write(&marker, b"done\n").map_err(|source| DoneError::Write {
        path: marker.clone(),
        source,
    })?;
    Ok(text)
}

/// The tasks waiting for a person now, by the first line of their
/// instructions (`# KEY: STAGE (attempt N)`).
pub fn waiting(project_root: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(project_root.join(HUMAN_DIR)) else {
        return Vec::new();
    };
    let mut found: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .filter_map(|e| {
            let text = fs::read_to_string(e.path()).ok()?;
            let first = text.lines().next()?.strip_prefix("# ")?;
            Some(first.split(':').next()?.to_string())
        })
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_file_names_and_done_needs_a_waiting_task() {
        assert_eq!(slug("REQ-1/AC-1.1"), "REQ-1_AC-1.1");
        assert_eq!(slug("SETUP/manifest"), "SETUP_manifest");
        let root = std::env::temp_dir().join(format!("tdd-human-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let err = done(&root, "REQ-1/AC-1.1").unwrap_err().to_string();
        assert!(
            err.starts_with("REQ-1/AC-1.1 is not waiting for you:"),
            "{err}"
        );
        fs::create_dir_all(root.join(HUMAN_DIR)).unwrap();
        fs::write(
            root.join(HUMAN_DIR).join("REQ-2_AC-2.1.md"),
            "# REQ-2/AC-2.1: GREEN (attempt 1)\n",
        )
        .unwrap();
        assert_eq!(waiting(&root), ["REQ-2/AC-2.1"]);
        let err = done(&root, "REQ-1/AC-1.1").unwrap_err().to_string();
        assert!(err.contains("(waiting: REQ-2/AC-2.1)"), "{err}");
        done(&root, "REQ-2/AC-2.1").unwrap();
        assert!(root.join(HUMAN_DIR).join("REQ-2_AC-2.1.done").exists());
        let _ = fs::remove_dir_all(&root);
    }
}
