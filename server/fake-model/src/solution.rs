//! A reference solution the solver answers from: per task, the whole new
//! content of each file written in RED, GREEN and REFACTOR, plus optional
//! files the cheater uses instead of its generic misbehaviour.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Relative path → whole new file content. Sorted, so replies are stable.
pub type Files = BTreeMap<String, String>;

/// Every task the solver knows, looked up by its key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solution {
    #[serde(default, rename = "task")]
    pub tasks: Vec<TaskSolution>,
}

/// One task's files per stage. An empty (or missing) stage means "change
/// nothing, just finish".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSolution {
    /// The key the engine's prompt names (`Task <KEY>: <title>`).
    pub task: String,
    #[serde(default, skip_serializing_if = "Files::is_empty")]
    pub red: Files,
    #[serde(default, skip_serializing_if = "Files::is_empty")]
    pub green: Files,
    #[serde(default, skip_serializing_if = "Files::is_empty")]
    pub refactor: Files,
    /// Files the cheater writes in GREEN attempt 1 for `Cheat::EditTest`.
    #[serde(default, skip_serializing_if = "Files::is_empty")]
    pub cheat_edit_test: Files,
    #[serde(default, skip_serializing_if = "Files::is_empty")]
    pub cheat_delete_test: Files,
    /// Paths may leave the worktree here (`../x`, or absolute).
    #[serde(default, skip_serializing_if = "Files::is_empty")]
    pub cheat_write_outside_worktree: Files,
    /// The implementation as a placeholder (`raise NotImplementedError`).
    #[serde(default, alias = "cheat_stub", skip_serializing_if = "Files::is_empty")]
    pub stub: Files,
    /// The test files with skip markers.
    #[serde(
        default,
        alias = "cheat_skip_test",
        skip_serializing_if = "Files::is_empty"
    )]
    pub skip: Files,
}

/// How the cheater misbehaves in GREEN on attempt 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cheat {
    /// Rewrites the task's test files with weakened assertions.
    EditTest,
    /// Writes the test files with their tests removed.
    DeleteTest,
    /// Writes a file outside the worktree (besides the honest files).
    WriteOutsideWorktree,
    /// Writes the implementation as a placeholder that cannot work.
    Stub,
    /// Adds skip markers to the tests.
    SkipTest,
}

impl Cheat {
    pub const ALL: [Cheat; 5] = [
        Cheat::EditTest,
        Cheat::DeleteTest,
        Cheat::WriteOutsideWorktree,
        Cheat::Stub,
        Cheat::SkipTest,
    ];

    /// The snake_case name used in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Cheat::EditTest => "edit_test",
            Cheat::DeleteTest => "delete_test",
            Cheat::WriteOutsideWorktree => "write_outside_worktree",
            Cheat::Stub => "stub",
            Cheat::SkipTest => "skip_test",
        }
    }
}

impl fmt::Display for Cheat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cheat {
    type Err = String;

    /// Accepts `edit_test`, `edit-test` and `EditTest` alike.
    fn from_str(s: &str) -> Result<Self, String> {
        let wanted: String = s
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        Cheat::ALL
            .into_iter()
            .find(|c| c.name().replace('_', "") == wanted)
            .ok_or_else(|| {
                let known: Vec<&str> = Cheat::ALL.iter().map(|c| c.name()).collect();
                format!("unknown cheat `{s}` (known: {})", known.join(", "))
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SolutionError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// TOML syntax or shape; the message carries the line and column.
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    /// Well-formed TOML that makes no sense as a solution.
    #[error("{path}: task #{index} `{task}`: {message}")]
    Invalid {
        path: String,
        /// 1-based position of the `[[task]]` table.
        index: usize,
        task: String,
        message: String,
    },
}

impl Solution {
    pub fn new() -> Self {
        Solution::default()
    }

    /// Adds a task (builder style).
    pub fn with_task(mut self, task: TaskSolution) -> Self {
        self.tasks.push(task);
        self
    }

    /// The task with this key.
    pub fn task(&self, key: &str) -> Option<&TaskSolution> {
        self.tasks.iter().find(|t| t.task == key)
    }

    /// Reads and checks a TOML solution file.
    pub fn from_file(path: &Path) -> Result<Self, SolutionError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SolutionError::Read {
            path: shown.clone(),
            source,
        })?;
        Solution::parse(&text, &shown)
    }

    /// Parses and checks TOML text; errors name `<string>` as the file.
    pub fn from_toml_str(text: &str) -> Result<Self, SolutionError> {
        Solution::parse(text, "<string>")
    }

    fn parse(text: &str, shown: &str) -> Result<Self, SolutionError> {
        let solution: Solution = toml::from_str(text).map_err(|e| SolutionError::Parse {
            path: shown.to_owned(),
            message: e.to_string(),
        })?;
        solution
            .validate()
            .map_err(|(index, task, message)| SolutionError::Invalid {
                path: shown.to_owned(),
                index,
                task,
                message,
            })?;
        Ok(solution)
    }

    /// Keys must be unique and non-empty; every path but the outside
    /// cheat's must stay inside the worktree.
    fn validate(&self) -> Result<(), (usize, String, String)> {
        for (i, t) in self.tasks.iter().enumerate() {
            let fail = |message: String| (i + 1, t.task.clone(), message);
            if t.task.trim().is_empty() || t.task.lines().count() > 1 {
                return Err(fail("the `task` key must be one non-empty line".into()));
            }
            if self.tasks[..i].iter().any(|o| o.task == t.task) {
                return Err(fail("this task key appears twice".into()));
            }
            let inside = [
                ("red", &t.red),
                ("green", &t.green),
                ("refactor", &t.refactor),
                ("cheat_edit_test", &t.cheat_edit_test),
                ("cheat_delete_test", &t.cheat_delete_test),
                ("stub", &t.stub),
                ("skip", &t.skip),
            ];
            for (stage, files) in inside {
                if let Some(bad) = files.keys().find(|p| !is_inside(p)) {
                    return Err(fail(format!(
                        "{stage}: path `{bad}` must be relative, without `..`"
                    )));
                }
            }
            if t.cheat_write_outside_worktree.keys().any(|p| p.is_empty()) {
                return Err(fail("cheat_write_outside_worktree: empty path".into()));
            }
        }
        Ok(())
    }
}

/// A non-empty relative path with no `..`, `/` root or Windows prefix.
pub(crate) fn is_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

impl TaskSolution {
    pub fn new(task: impl Into<String>) -> Self {
        TaskSolution {
            task: task.into(),
            ..TaskSolution::default()
        }
    }

    pub fn red(mut self, path: impl Into<String>, content: impl Into<String>) -> Self {
        self.red.insert(path.into(), content.into());
        self
    }

    pub fn green(mut self, path: impl Into<String>, content: impl Into<String>) -> Self {
        self.green.insert(path.into(), content.into());
        self
    }

    pub fn refactor(mut self, path: impl Into<String>, content: impl Into<String>) -> Self {
        self.refactor.insert(path.into(), content.into());
        self
    }

    /// A file the cheater writes for `cheat` instead of its generic one.
    pub fn cheat(
        mut self,
        cheat: Cheat,
        path: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        self.cheat_files_mut(cheat)
            .insert(path.into(), content.into());
        self
    }

    /// The files given for a cheat (possibly empty: use the fallback).
    pub fn cheat_files(&self, cheat: Cheat) -> &Files {
        match cheat {
            Cheat::EditTest => &self.cheat_edit_test,
            Cheat::DeleteTest => &self.cheat_delete_test,
            Cheat::WriteOutsideWorktree => &self.cheat_write_outside_worktree,
            Cheat::Stub => &self.stub,
            Cheat::SkipTest => &self.skip,
        }
    }

    fn cheat_files_mut(&mut self, cheat: Cheat) -> &mut Files {
        match cheat {
            Cheat::EditTest => &mut self.cheat_edit_test,
            Cheat::DeleteTest => &mut self.cheat_delete_test,
            Cheat::WriteOutsideWorktree => &mut self.cheat_write_outside_worktree,
            Cheat::Stub => &mut self.stub,
            Cheat::SkipTest => &mut self.skip,
        }
    }
}
