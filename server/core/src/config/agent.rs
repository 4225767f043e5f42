//! `[worker.agent]`: the settings shared by the agent-CLI presets
//! (`kind = "claude_code"`, `"codex"` and `"aider"`, docs/workers.md).

use std::num::NonZeroU64;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which agent CLI an [`AgentWorkerConfig`] drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentCli {
    /// Anthropic's Claude Code (`claude -p`).
    ClaudeCode,
    /// OpenAI's Codex CLI (`codex exec`).
    Codex,
    /// aider (`aider --message`, PyPI `aider-chat`), against any OpenAI
    /// chat-completions server.
    Aider,
}

impl AgentCli {
    /// The program run when `program` is not set.
    pub fn default_program(self) -> &'static str {
        match self {
            AgentCli::ClaudeCode => "claude",
            AgentCli::Codex => "codex",
            AgentCli::Aider => "aider",
        }
    }

    /// The variable the key is read from when `api_key_env` is not set.
    pub fn default_key_env(self) -> &'static str {
        match self {
            AgentCli::ClaudeCode => "ANTHROPIC_API_KEY",
            AgentCli::Codex | AgentCli::Aider => "OPENAI_API_KEY",
        }
    }

    /// The command that installs the CLI.
    pub fn install_command(self) -> &'static str {
        match self {
            AgentCli::ClaudeCode => "npm install -g @anthropic-ai/claude-code",
            AgentCli::Codex => "npm install -g @openai/codex",
            AgentCli::Aider => "pipx install aider-chat",
        }
    }
}

/// `[worker.agent]`: an agent CLI run once per attempt in the task's
/// worktree, headless, with its permission prompts off. Every key is
/// optional: the table may be left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentWorkerConfig {
    /// The CLI: a name looked up on `PATH`, or a path (relative to the
    /// project root). Default: `claude`, `codex` or `aider` by kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub program: Option<String>,
    /// The model the CLI asks for; default: the CLI's own choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub model: Option<String>,
    /// The model server. Claude Code: without `/v1`
    /// (`https://api.anthropic.com`, passed as `ANTHROPIC_BASE_URL`); Codex:
    /// with it (`https://api.openai.com/v1`, an OpenAI Responses endpoint);
    /// aider: with it too, an OpenAI chat-completions endpoint (the model is
    /// then asked for as `openai/<model>`). Default: the CLI's own provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub base_url: Option<String>,
    /// The environment variable holding the key (never the key itself). It
    /// reaches the CLI through its environment only. Default:
    /// `ANTHROPIC_API_KEY` (claude_code) or `OPENAI_API_KEY` (codex, aider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub api_key_env: Option<String>,
    /// An attempt running longer is killed with everything it started.
    #[serde(default = "default_agent_timeout")]
    pub timeout_secs: NonZeroU64,
    /// An attempt that prints nothing and changes no file in the worktree
    /// this long is stopped as a provider outage (a model server that
    /// accepts the connection and never answers).
    #[serde(default = "default_agent_idle")]
    pub idle_timeout_secs: NonZeroU64,
    /// More arguments for the CLI, after the preset's own (no shell).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
}

impl Default for AgentWorkerConfig {
    fn default() -> Self {
        AgentWorkerConfig {
            program: None,
            model: None,
            base_url: None,
            api_key_env: None,
            timeout_secs: default_agent_timeout(),
            idle_timeout_secs: default_agent_idle(),
            extra_args: Vec::new(),
        }
    }
}

impl AgentWorkerConfig {
    /// The program to run for `cli`.
    pub fn program(&self, cli: AgentCli) -> &str {
        self.program
            .as_deref()
            .unwrap_or_else(|| cli.default_program())
    }

    /// The variable the key is read from for `cli`.
    pub fn key_env(&self, cli: AgentCli) -> &str {
        self.api_key_env
            .as_deref()
            .unwrap_or_else(|| cli.default_key_env())
    }
}

fn default_agent_timeout() -> NonZeroU64 {
    NonZeroU64::new(1800).expect("1800 is not zero")
}

/// The default of `idle_timeout_secs` (also `AgentCliWorker`'s).
pub const DEFAULT_AGENT_IDLE_SECS: u64 = 300;

fn default_agent_idle() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_AGENT_IDLE_SECS).expect("300 is not zero")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{WorkerKind, parse_config};

    #[test]
    fn an_agent_kind_needs_no_table_and_defaults_by_cli() {
        let worker = parse_config("[worker]\nkind = \"claude_code\"\n")
            .unwrap()
            .worker;
        assert_eq!(worker.kind, Some(WorkerKind::ClaudeCode));
        assert_eq!(worker.kind.unwrap().as_str(), "claude_code");
        assert_eq!(worker.kind.unwrap().agent_cli(), Some(AgentCli::ClaudeCode));
        let agent = worker.agent.unwrap_or_default();
        assert_eq!(agent.program(AgentCli::ClaudeCode), "claude");
        assert_eq!(agent.key_env(AgentCli::ClaudeCode), "ANTHROPIC_API_KEY");
        assert_eq!(agent.key_env(AgentCli::Codex), "OPENAI_API_KEY");
        assert_eq!(agent.timeout_secs.get(), 1800);
        let codex = parse_config("[worker]\nkind = \"codex\"\n").unwrap().worker;
        assert_eq!(codex.kind.unwrap().agent_cli(), Some(AgentCli::Codex));
        // The Rust-style name is not an alias.
        assert!(parse_config("[worker]\nkind = \"claudecode\"\n").is_err());
    }

    #[test]
    fn the_agent_table_parses_every_key_and_refuses_a_key_value() {
        let text = "[worker]\nkind = \"codex\"\n[worker.agent]\nprogram = \"tools/codex\"\n\
                    model = \"gpt-5\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
                    api_key_env = \"MY_KEY\"\ntimeout_secs = 60\nextra_args = [\"-c\", \"x=1\"]\n";
        let agent = parse_config(text).unwrap().worker.agent.unwrap();
        assert_eq!(agent.program(AgentCli::Codex), "tools/codex");
        assert_eq!(agent.model.as_deref(), Some("gpt-5"));
        assert_eq!(agent.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(agent.key_env(AgentCli::Codex), "MY_KEY");
        assert_eq!(agent.timeout_secs.get(), 60);
        assert_eq!(agent.extra_args, ["-c", "x=1"]);
        let keyed = text.replace("model =", "api_key = \"sk-1\"\nmodel =");
        let err = parse_config(&keyed).unwrap_err();
        assert!(err.message.contains("unknown field"), "{}", err.message);
        assert!(parse_config(&text.replace("= 60", "= 0")).is_err());
    }
}
