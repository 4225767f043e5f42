//! `workspace/executeCommand` commands: one closed enum. Every command is
//! listed in `executeCommandProvider`, so Helix's picker and Neovim's
//! `exec_cmd` see them, and each says where it runs (ruff's split between
//! handlers on the session and handlers in the background).

use tdd_core::model::Format;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Validate,
    ConvertToMarkdown,
    Decompose,
    DecomposeDryRun,
    Status,
    Run,
    Resume,
    Pause,
    Cancel,
    Retry,
    Skip,
    Done,
    ResetBreaker,
    IsolateBreaker,
    TaskDetail,
}

/// Where a command's work happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runs {
    /// On the session, from its documents: quick, ordered with edits.
    OnSession,
    /// On a blocking thread: it reads files, SQLite or git. (A run then
    /// goes on a thread of its own.)
    Blocking,
}

impl Command {
    pub const ALL: [Command; 15] = [
        Command::Validate,
        Command::ConvertToMarkdown,
        Command::Decompose,
        Command::DecomposeDryRun,
        Command::Status,
        Command::Run,
        Command::Resume,
        Command::Pause,
        Command::Cancel,
        Command::Retry,
        Command::Skip,
        Command::Done,
        Command::ResetBreaker,
        Command::IsolateBreaker,
        Command::TaskDetail,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Command::Validate => "tdd.validate",
            Command::ConvertToMarkdown => "tdd.convertToMarkdown",
            Command::Decompose => "tdd.decompose",
            Command::DecomposeDryRun => "tdd.decomposeDryRun",
            Command::Status => "tdd.status",
            Command::Run => "tdd.run",
            Command::Resume => "tdd.resume",
            Command::Pause => "tdd.pause",
            Command::Cancel => "tdd.cancel",
            Command::Retry => "tdd.retry",
            Command::Skip => "tdd.skip",
            Command::Done => "tdd.done",
            Command::ResetBreaker => "tdd.resetBreaker",
            Command::IsolateBreaker => "tdd.isolateBreaker",
            Command::TaskDetail => "tdd.taskDetail",
        }
    }

    /// What an editor shows for it.
    pub const fn title(self) -> &'static str {
        match self {
            Command::Validate => "Validate PRD",
            Command::ConvertToMarkdown => "Convert legacy spec to Markdown PRD",
            Command::Decompose => "Decompose PRD into TDD tasks",
            Command::DecomposeDryRun => "Preview PRD decomposition (dry run)",
            Command::Status => "Show PRD status",
            Command::Run => "Run PRD tasks",
            Command::Resume => "Resume PRD run",
            Command::Pause => "Pause PRD run",
            Command::Cancel => "Cancel PRD run",
            Command::Retry => "Retry task",
            Command::Skip => "Skip task",
            Command::Done => "Done with the task's stage (human worker)",
            Command::ResetBreaker => "Reset circuit breaker",
            Command::IsolateBreaker => "Isolate circuit breaker",
            Command::TaskDetail => "Show task detail",
        }
    }

    /// The code action kind when offered on a PRD.
    pub const fn code_action_kind(self) -> &'static str {
        match self {
            Command::Validate => "source.tdd.validate",
            Command::ConvertToMarkdown => "source.tdd.convert",
            Command::Decompose => "source.tdd.decompose",
            Command::DecomposeDryRun => "source.tdd.decompose.dryRun",
            Command::Run => "source.tdd.run",
            Command::Resume => "source.tdd.resume",
            _ => "source.tdd",
        }
    }

    pub const fn runs(self) -> Runs {
        match self {
            Command::Validate | Command::ConvertToMarkdown => Runs::OnSession,
            _ => Runs::Blocking,
        }
    }

    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Offered as a code action on a PRD of this format.
    fn on_documents(self, format: Format) -> bool {
        match self {
            Command::ConvertToMarkdown => format == Format::Legacy,
            Command::Decompose | Command::DecomposeDryRun | Command::Run | Command::Resume => true,
            _ => false,
        }
    }
}

pub fn names() -> Vec<String> {
    Command::ALL.iter().map(|c| c.name().to_string()).collect()
}

/// Commands offered as code actions on a PRD of this format.
pub fn document_actions(format: Format) -> impl Iterator<Item = Command> {
    Command::ALL
        .into_iter()
        .filter(move |c| c.on_documents(format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_back() {
        for command in Command::ALL {
            assert_eq!(Command::from_name(command.name()), Some(command));
        }
        let mut names = names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Command::ALL.len());
        assert_eq!(Command::from_name("tdd.nothing"), None);
    }
}
