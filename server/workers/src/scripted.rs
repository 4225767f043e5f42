//! The scripted worker: file edits replayed per (task, stage, attempt), with
//! no model. Tests build it in code; `tdd-orchestrator run` reads it from a
//! TOML script (see [`super::script_file`]).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use tdd_gates::Stage;

use super::{StageRequest, Worker, WorkerError, WorkerReport};

/// One scripted attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Script {
    /// Write these files (path relative to the worktree, contents).
    Write(Vec<(String, String)>),
    /// Change nothing.
    Nothing,
    /// Fail as the provider would.
    Outage(String),
    /// Write these files, then delete those (paths relative to the worktree).
    Edit {
        write: Vec<(String, String)>,
        delete: Vec<String>,
    },
}

/// The test double every engine test uses: a worker with no model that, for each
/// (task key, stage, attempt), writes the file contents it was given into the
/// worktree, deletes files, does nothing, or reports a provider outage. An
/// attempt with no script does nothing. It writes wherever it is told inside
/// the worktree, writable or not, so tests can check that the engine catches
/// a worker that oversteps; a path that would leave the worktree (`..`, an
/// absolute path, a symlink) fails the attempt. Every request it receives is
/// kept in [`ScriptedWorker::requests`].
#[derive(Debug, Default)]
pub struct ScriptedWorker {
    name: String,
    scripts: HashMap<(String, Stage, u32), Script>,
    pauses: HashMap<(String, Stage, u32), Duration>,
    /// The requests received, in order.
    pub requests: Vec<StageRequest>,
}

impl ScriptedWorker {
    pub fn new(name: impl Into<String>) -> Self {
        ScriptedWorker {
            name: name.into(),
            ..ScriptedWorker::default()
        }
    }

    /// The same worker under another name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Scripts `attempt` (1-based) of `stage` of task `key`.
    pub fn on(mut self, key: &str, stage: Stage, attempt: u32, script: Script) -> Self {
        self.scripts
            .insert((key.to_string(), stage, attempt), script);
        self
    }

    /// Shorthand for [`Script::Write`] of one file.
    pub fn write(self, key: &str, stage: Stage, attempt: u32, path: &str, text: &str) -> Self {
        self.on(
            key,
            stage,
            attempt,
            Script::Write(vec![(path.to_string(), text.to_string())]),
        )
    }

    /// Waits `pause` before acting on that attempt (a window for crash tests).
    pub fn pause(mut self, key: &str, stage: Stage, attempt: u32, pause: Duration) -> Self {
        self.pauses.insert((key.to_string(), stage, attempt), pause);
        self
    }

    /// The script for one attempt, if any.
    pub fn script(&self, key: &str, stage: Stage, attempt: u32) -> Option<&Script> {
        self.scripts.get(&(key.to_string(), stage, attempt))
    }

    /// How many attempts are scripted.
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }
}

impl Worker for ScriptedWorker {
    /// It writes only the script's paths, inside the worktree.
    fn confined_to_worktree(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        self.requests.push(request.clone());
        let key = (request.task.key.clone(), request.stage, request.attempt);
        if let Some(pause) = self.pauses.get(&key) {
            std::thread::sleep(*pause);
        }
        let (write, delete): (&[(String, String)], &[String]) = match self.scripts.get(&key) {
            None | Some(Script::Nothing) => (&[], &[]),
            Some(Script::Outage(message)) => {
                return Err(WorkerError::ProviderOutage(message.clone()));
            }
            Some(Script::Write(files)) => (files, &[]),
            Some(Script::Edit { write, delete }) => (write, delete),
        };
        let summary = apply(&request.worktree, write, delete)?;
        Ok(WorkerReport {
            summary,
            exit_code: Some(0),
            ..WorkerReport::default()
        })
    }
}

/// Writes, then deletes, inside `worktree`; returns the summary.
fn apply(
    worktree: &Path,
    write: &[(String, String)],
    delete: &[String],
) -> Result<String, WorkerError> {
    for (rel, text) in write {
        let path = inside(worktree, rel)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| failed(parent, e))?;
        }
        // Re-checked after creating directories: one of them may be a symlink now.
        let path = inside(worktree, rel)?;
        fs::write(&path, text).map_err(|e| failed(&path, e))?;
    }
    for rel in delete {
        let path = inside(worktree, rel)?;
        match fs::remove_file(&path) {
            // Already gone is what the script asked for (a resumed attempt).
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(failed(&path, e)),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    if !write.is_empty() {
        let names: Vec<&str> = write.iter().map(|(p, _)| p.as_str()).collect();
        parts.push(format!("wrote {}", names.join(", ")));
    }
    if !delete.is_empty() {
        parts.push(format!("deleted {}", delete.join(", ")));
    }
    Ok(if parts.is_empty() {
        "changed nothing".to_string()
    } else {
        parts.join("; ")
    })
}

fn failed(path: &Path, error: io::Error) -> WorkerError {
    WorkerError::Failed(format!("{}: {error}", path.display()))
}

/// `rel` under `worktree`, refused when it could end up outside: not a plain
/// relative path, or passing through (or being) a symlink.
pub(super) fn inside(worktree: &Path, rel: &str) -> Result<PathBuf, WorkerError> {
    check_relative(rel).map_err(|why| WorkerError::Failed(format!("`{rel}` {why}")))?;
    let mut path = worktree.to_path_buf();
    for component in Path::new(rel).components() {
        if let Component::Normal(part) = component {
            path.push(part);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(WorkerError::Failed(format!(
                        "`{rel}` goes through the symlink {}; a worker writes only real files \
                         inside the worktree",
                        path.display()
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(path)
}

/// Why `rel` is not a plain path inside a directory, if it is not.
pub(super) fn check_relative(rel: &str) -> Result<(), &'static str> {
    if rel.is_empty() {
        return Err("is empty: give a path relative to the worktree");
    }
    if rel.contains('\0') {
        return Err("contains a NUL byte");
    }
    let mut normal = 0;
    for component in Path::new(rel).components() {
        match component {
            Component::Normal(_) => normal += 1,
            Component::CurDir => {}
            Component::ParentDir => return Err("leaves the worktree: remove the `..`"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("is absolute: give a path relative to the worktree");
            }
        }
    }
    if normal == 0 {
        return Err("names no file: give a path relative to the worktree");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_request as request;
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tdd-scripted-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_then_deletes_and_ignores_missing_files() {
        let wt = temp("edit");
        fs::write(wt.join("old.py"), "x").unwrap();
        let mut worker = ScriptedWorker::new("s").on(
            "T",
            Stage::Green,
            1,
            Script::Edit {
                write: vec![("src/a/new.py".to_string(), "y".to_string())],
                delete: vec!["old.py".to_string(), "never.py".to_string()],
            },
        );
        let report = worker.perform(&request(&wt, Stage::Green, 1)).unwrap();
        assert_eq!(
            report.summary,
            "wrote src/a/new.py; deleted old.py, never.py"
        );
        assert_eq!(fs::read_to_string(wt.join("src/a/new.py")).unwrap(), "y");
        assert!(!wt.join("old.py").exists());
        let nothing = worker.perform(&request(&wt, Stage::Green, 2)).unwrap();
        assert_eq!(nothing.summary, "changed nothing");
        assert_eq!(worker.requests.len(), 2);
    }

    #[test]
    fn refuses_paths_that_leave_the_worktree() {
        let wt = temp("escape");
        let outside = temp("escape-target");
        std::os::unix::fs::symlink(&outside, wt.join("link")).unwrap();
        for rel in ["../x.py", "/etc/x", "link/x.py", "", "."] {
            let mut worker = ScriptedWorker::new("s").write("T", Stage::Red, 1, rel, "boom");
            let err = worker.perform(&request(&wt, Stage::Red, 1)).unwrap_err();
            assert!(matches!(err, WorkerError::Failed(_)), "{rel}: {err}");
        }
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        assert!(!wt.parent().unwrap().join("x.py").exists());
    }

    #[test]
    fn an_outage_script_is_a_provider_outage() {
        let wt = temp("outage");
        let mut worker =
            ScriptedWorker::new("s").on("T", Stage::Red, 1, Script::Outage("503".to_string()));
        let err = worker.perform(&request(&wt, Stage::Red, 1)).unwrap_err();
        assert!(matches!(err, WorkerError::ProviderOutage(m) if m == "503"));
    }
}
