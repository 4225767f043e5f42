//! `workspace/executeCommand` commands. Every one is listed in
//! `executeCommandProvider`, so Helix's picker and Neovim's `exec_cmd` see them.

use tdd_core::model::Format;

pub struct CommandInfo {
    pub name: &'static str,
    pub title: &'static str,
    /// Code action kind when offered on a PRD.
    pub kind: &'static str,
    /// False for commands whose engine has not shipped yet: they answer with a clear error.
    pub available: bool,
}

pub const VALIDATE: &str = "tdd.validate";
pub const CONVERT: &str = "tdd.convertToMarkdown";
pub const DECOMPOSE: &str = "tdd.decompose";
pub const DECOMPOSE_DRY_RUN: &str = "tdd.decomposeDryRun";
pub const STATUS: &str = "tdd.status";
pub const RUN: &str = "tdd.run";
pub const RESUME: &str = "tdd.resume";
pub const PAUSE: &str = "tdd.pause";
pub const CANCEL: &str = "tdd.cancel";
pub const RESET_BREAKER: &str = "tdd.resetBreaker";
pub const DONE: &str = "tdd.done";

pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: VALIDATE,
        title: "Validate PRD",
        kind: "source.tdd.validate",
        available: true,
    },
    CommandInfo {
        name: CONVERT,
        title: "Convert legacy spec to Markdown PRD",
        kind: "source.tdd.convert",
        available: true,
    },
    CommandInfo {
        name: DECOMPOSE,
        title: "Decompose PRD into TDD tasks",
        kind: "source.tdd.decompose",
        available: true,
    },
    CommandInfo {
        name: DECOMPOSE_DRY_RUN,
        title: "Preview PRD decomposition (dry run)",
        kind: "source.tdd.decompose.dryRun",
        available: true,
    },
    CommandInfo {
        name: RUN,
        title: "Run PRD tasks",
        kind: "source.tdd.run",
        available: true,
    },
    CommandInfo {
        name: RESUME,
        title: "Resume PRD run",
        kind: "source.tdd.resume",
        available: true,
    },
    CommandInfo {
        name: PAUSE,
        title: "Pause PRD run",
        kind: "source.tdd.pause",
        available: true,
    },
    CommandInfo {
        name: CANCEL,
        title: "Cancel PRD run",
        kind: "source.tdd.cancel",
        available: true,
    },
    CommandInfo {
        name: STATUS,
        title: "Show PRD status",
        kind: "source.tdd.status",
        available: true,
    },
    CommandInfo {
        name: RESET_BREAKER,
        title: "Reset circuit breaker",
        kind: "source.tdd.resetBreaker",
        available: true,
    },
    CommandInfo {
        name: DONE,
        title: "Done with the task's stage (human worker)",
        kind: "source.tdd.done",
        available: true,
    },
];

pub fn names() -> Vec<String> {
    COMMANDS.iter().map(|c| c.name.to_string()).collect()
}

pub fn find(name: &str) -> Option<&'static CommandInfo> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Commands offered as code actions on a PRD of this format.
pub fn document_actions(format: Format) -> impl Iterator<Item = &'static CommandInfo> {
    COMMANDS.iter().filter(move |c| match c.name {
        CONVERT => format == Format::Legacy,
        DECOMPOSE | DECOMPOSE_DRY_RUN | RUN | RESUME => true,
        _ => false,
    })
}
