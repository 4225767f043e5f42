//! The solver and cheater modes: when the script has nothing for a
//! request, answer it from a reference [`Solution`]. Stateless: the stage,
//! attempt, task, turn, tools and working directory all come from the
//! request itself, so any number of workers and retries can share a server.

mod cheat;
mod conversation;
mod tools;

use serde_json::{Value, json};

use crate::request::Dialect;
use crate::script::{Reply, ToolCall, Usage};
use crate::solution::{Cheat, Solution, TaskSolution};
use conversation::{Conversation, Stage};
use tools::{FileWrite, Writer};

/// What answers a request the script has no entry for.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Mode {
    /// A 400 (`no scripted reply matches`), so a test fails fast.
    #[default]
    Script,
    /// Every stage answered from the solution.
    Solver(Solution),
    /// As the solver, but GREEN attempt 1 commits this cheat.
    Cheater(Solution, Cheat),
}

impl Mode {
    /// The reply for this request, or `None` in script mode.
    pub(crate) fn answer(&self, dialect: Dialect, body: &Value, body_len: usize) -> Option<Reply> {
        let (solution, cheat) = match self {
            Mode::Script => return None,
            Mode::Solver(s) => (s, None),
            Mode::Cheater(s, c) => (s, Some(*c)),
        };
        let conv = Conversation::read(dialect, body);
        let mut reply = decide(solution, cheat, &conv);
        reply.usage = usage(body_len, &reply);
        Some(reply)
    }
}

fn decide(solution: &Solution, cheat: Option<Cheat>, conv: &Conversation) -> Reply {
    let refuse = |why: String| Reply::text(format!("fake model (solver): {why}"));
    let Some(prompt) = &conv.prompt else {
        return refuse(
            "no user message has a `Stage: <STAGE> (attempt N)` line, so there is no stage to \
             answer"
                .into(),
        );
    };
    let stage = match &prompt.stage {
        Ok(stage) => *stage,
        Err(word) => return refuse(format!("unknown stage `{word}` in the `Stage:` line")),
    };
    let Some(key) = &prompt.task else {
        return refuse("the prompt has no `Task <KEY>: <title>` line".into());
    };
    let Some(task) = solution.task(key) else {
        let known: Vec<&str> = solution.tasks.iter().map(|t| t.task.as_str()).collect();
        return refuse(format!(
            "task `{key}` is not in the solution (known: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ));
    };
    let cheat = cheat.filter(|_| stage == Stage::Green && prompt.attempt == 1);
    let writes = stage_writes(task, stage, cheat);
    let done = if writes.is_empty() {
        format!("Nothing to change for task {key} in {}.", stage.name())
    } else {
        let paths: Vec<&str> = writes.iter().map(|w| w.path.as_str()).collect();
        format!("Task {key}, {}: wrote {}.", stage.name(), paths.join(", "))
    };
    if conv.has_written || writes.is_empty() {
        return finish(conv, done);
    }
    if conv.tools.is_empty() {
        // A client with no tools takes edits as text (aider's "whole" format).
        return Reply::text(whole_files(&writes));
    }
    match Writer::choose(conv) {
        Ok(writer) => Reply {
            text: Some(format!(
                "Writing {} file(s) for task {key} ({}).",
                writes.len(),
                stage.name()
            )),
            tool_calls: writes.iter().map(|w| writer.call(w)).collect(),
            ..Reply::default()
        },
        Err(why) => Reply::text(why),
    }
}

/// Each file as its path on a line and its whole content fenced below it:
/// the edit format aider uses for models it does not know.
fn whole_files(writes: &[FileWrite]) -> String {
    let mut text = String::new();
    for file in writes {
        let newline = if file.content.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        text.push_str(&format!(
            "{}\n```\n{}{newline}```\n\n",
            file.path, file.content
        ));
    }
    text
}

/// The files a stage writes; the cheat replaces GREEN's honest files.
fn stage_writes(task: &TaskSolution, stage: Stage, cheat: Option<Cheat>) -> Vec<FileWrite> {
    match (stage, cheat) {
        (Stage::Green, Some(c)) => cheat::writes(task, c),
        (Stage::Red, _) => cheat::files(&task.red),
        (Stage::Green, None) => cheat::files(&task.green),
        (Stage::Refactor, _) => cheat::files(&task.refactor),
        (Stage::Verify | Stage::Merge, _) => Vec::new(),
    }
}

/// The closing turn: the engine's `finish` tool when offered, else text.
fn finish(conv: &Conversation, summary: String) -> Reply {
    if conv.offers("finish") {
        Reply::tool("finish", json!({ "summary": summary }))
    } else {
        Reply::text(summary)
    }
}

/// Plausible counts so clients can record tokens: a quarter of the bytes
/// each way, half of the input as a cache read.
fn usage(body_len: usize, reply: &Reply) -> Usage {
    let out_bytes = reply.text.as_ref().map_or(0, String::len)
        + reply
            .tool_calls
            .iter()
            .map(|c: &ToolCall| c.name.len() + c.input.to_string().len())
            .sum::<usize>();
    let input = (body_len as u64 / 4).max(1);
    let cached = input / 2;
    Usage {
        input_tokens: input - cached,
        output_tokens: (out_bytes as u64 / 4).max(1),
        cache_read_tokens: cached,
    }
}
