//! The texts sent to the model. Each call is one system text and one user
//! message; a retry repeats the request with the rejected answer and the
//! problems found in it, so no conversation state is needed and every
//! request stays size-bounded.

use super::source::{Block, MAX_BLOCK_CHARS, clip, numbered, section};
use super::{ListedRequirement, RequirementList};

/// Longest rejected answer quoted back in a retry.
const MAX_PREVIOUS_ANSWER: usize = 8_000;

pub const SYSTEM: &str = "You turn product notes into a structured product requirements \
document for test-driven development. Answer with one JSON object that matches the given \
schema exactly: no prose, no Markdown, no comments. Use only what the document says or \
clearly implies; do not invent features.";

/// The tool (Anthropic) or response format (OpenAI) names of the two steps.
pub const LIST_TOOL: &str = "requirement_list";
pub const DETAIL_TOOL: &str = "requirement_detail";

/// Step 1: the whole document, as numbered blocks.
pub fn list_prompt(document_name: &str, blocks: &[Block]) -> String {
    format!(
        "Task: list the requirements of the product document `{document_name}`.\n\
         \n\
         Rules:\n\
         - One requirement per distinct capability a user or client can observe; ids `REQ-1`, \
           `REQ-2`, … in document order.\n\
         - `title`: a few words; `description`: one or two sentences in the document's words.\n\
         - `depends_on`: ids of requirements that must exist first (no cycles); `[]` when none.\n\
         - `sources`: the ids of the numbered blocks (`S1`, `S2`, …) the requirement comes from, \
           at least one; include the blocks with its details, not whole chapters.\n\
         - `title` at the top level: the product's or feature's name, if the document gives one.\n\
         \n\
         The document, in numbered blocks:\n\
         \n\
         {}",
        numbered(blocks).trim_end()
    )
}

/// Step 2: one requirement, with only its own source blocks.
pub fn detail_prompt(
    document_name: &str,
    language: &str,
    req: &ListedRequirement,
    list: &RequirementList,
    blocks: &[Block],
) -> String {
    let n = req.id.rsplit('-').next().unwrap_or("1");
    let all: Vec<String> = list
        .requirements
        .iter()
        .map(|r| format!("- {} {}", r.id, clip(&r.title, 200)))
        .collect();
    let depends = if req.depends_on.is_empty() {
        "none".to_string()
    } else {
        req.depends_on.join(", ")
    };
    format!(
        "Task: write the acceptance criteria of one requirement of the product document \
         `{document_name}`. The project is written in {language}.\n\
         \n\
         Requirement: {} {}\n\
         Description: {}\n\
         Depends on: {depends}\n\
         \n\
         All requirements of the document (context only: write criteria for {} alone):\n\
         {}\n\
         \n\
         Rules:\n\
         - `criteria`: 1 to 6, ids `AC-{n}.1`, `AC-{n}.2`, …; each one observable behaviour a \
           test can check, in EARS form: `WHEN <trigger> THE SYSTEM SHALL <response>`, \
           `IF <condition> THEN THE SYSTEM SHALL <response>`, or `THE SYSTEM SHALL <response>`.\n\
         - Name error codes in backticks (`not_found`); give numbers with units; avoid words that \
           cannot be measured (fast, easy, user-friendly, etc.).\n\
         - `module` (one implementation file) and `tests` (test files): paths relative to the \
           project root, only when the text suggests them; no two requirements share a test file.\n\
         \n\
         The source text of {} (the only part of the document shown):\n\
         \n\
         {}",
        req.id,
        clip(&req.title, 200),
        clip(&req.description, MAX_BLOCK_CHARS),
        req.id,
        all.join("\n"),
        req.id,
        section(blocks, &req.sources),
    )
}

/// The prompt again, with the rejected answer and why it was rejected.
pub fn retry_prompt(prompt: &str, previous_answer: &str, problems: &[String]) -> String {
    let list: Vec<String> = problems.iter().map(|p| format!("- {p}")).collect();
    format!(
        "{prompt}\n\
         \n\
         Your previous answer was rejected:\n\
         {}\n\
         \n\
         Your previous answer was:\n\
         {}\n\
         \n\
         Answer again with the complete corrected JSON object.",
        list.join("\n"),
        clip(previous_answer, MAX_PREVIOUS_ANSWER)
    )
}
