//! The commented `.tdd/config.toml` that `init` writes.

use super::{DEFAULT_PRD_GLOBS, Language, default_max_file_kib};

/// The commented file `init` writes. It parses to the defaults.
pub fn config_template(language: Language) -> String {
    let globs = DEFAULT_PRD_GLOBS
        .iter()
        .map(|g| format!("\"{g}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"# tdd-orchestrator project configuration.
# Schema: schemas/config.schema.json in the tdd-orchestrator repository.

[project]
# Implementation language: python, rust, typescript or go.
language = "{language}"
# Branch that each PRD's feature branch starts from.
base_branch = "main"
# Short project name used in branch names (defaults to the PRD file's name).
# prefix = "LOANS"
# Where new implementation and test files go when a requirement names none
# (defaults per language; python: src and tests).
# source_root = "src"
# test_root = "tests"
# The command that runs the test suite (python default: pytest).
# test_command = "pytest"

[prd]
# Files validated as PRDs, relative to the project root.
globs = [{globs}]
# Files larger than this many KiB are reported instead of validated.
max_file_kib = {max}

# Who performs the RED, GREEN and REFACTOR attempts (docs/workers.md).
# Until a kind is set, `run` says how to configure one.
[worker]
# kind = "command"       # command | scripted | api | claude_code | codex | human
# How many workers take tasks in parallel (default: one per CPU core).
# count = 2
# Program workers (command, claude_code, codex) in a bubblewrap sandbox:
# auto (when bwrap works here) | bwrap (required) | none.
# sandbox = "auto"

# A program run in the task's worktree for each attempt; it gets the stage
# request as JSON on stdin and in TDD_* environment variables.
# [worker.command]
# program = "./tools/agent.sh"   # a name on PATH, or a path from the project root
# args = []
# env = {{ AGENT_MODEL = "small" }}
# timeout_secs = 1800

# A script of file edits per task, stage and attempt (tests and demos).
# [worker.scripted]
# script = "worker-script.toml"

# A model behind an HTTP API, with the engine's own tool loop. The key is
# read from an environment variable, never from this file.
# [worker.api]
# dialect = "anthropic"            # anthropic | openai_chat
# base_url = "https://api.anthropic.com"
# model = "claude-sonnet-4-5"
# api_key_env = "ANTHROPIC_API_KEY"

# Claude Code (kind = "claude_code"), Codex CLI (kind = "codex") or aider
# (kind = "aider"), run headless in the task's worktree per attempt. Every
# key is optional.
# [worker.agent]
# program = "claude"               # default: claude | codex | aider
# model = "claude-sonnet-4-5"
# base_url = "https://api.anthropic.com"   # codex: an OpenAI Responses URL with /v1, aider: chat completions with /v1
# api_key_env = "ANTHROPIC_API_KEY"        # codex, aider: OPENAI_API_KEY
# timeout_secs = 1800
# idle_timeout_secs = 300          # no output and no file change: an outage

# Lint and type commands VERIFY runs in the task's worktree, besides the
# whole test suite; a non-zero exit fails VERIFY with the command's output.
[verify]
# commands = {{ lint = "ruff check .", types = "mypy src" }}

# Where a run stops starting attempts (also `run --budget-tokens/--budget-usd`).
[budget]
# tokens = 2000000   # input plus output, the whole run
# usd = 5.0          # priced model calls, the whole run

# Model prices in US dollars per million tokens, over the built-in table
# (docs/configuration.md); a model priced nowhere has cost "unknown".
# [pricing.my-local-model]
# input = 0.0
# output = 0.0
# cached_input = 0.0

# Circuit breakers (docs/operations.md); these are the defaults.
# [breakers.worker]
# failures = 3       # provider outages in a row that pause a worker
# pause_secs = 300
"#,
        language = language.as_str(),
        max = default_max_file_kib(),
    )
}
