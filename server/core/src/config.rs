//! The project configuration, `.tdd/config.toml`. `schemas/config.schema.json`
//! is generated from these types.

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroU64};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod agent;
mod template;
pub use agent::{AgentCli, AgentWorkerConfig, DEFAULT_AGENT_IDLE_SECS};
pub use template::config_template;

/// Files treated as PRDs when no configuration says otherwise.
pub const DEFAULT_PRD_GLOBS: &[&str] = &[
    "**/*.prd.md",
    "docs/prd/**",
    "**/PRD*.md",
    "**/*.prd.yaml",
    "**/*.prd.yml",
    "**/*.prd.json",
    "**/*_spec.txt",
];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tdd-orchestrator project configuration (.tdd/config.toml)")]
pub struct Config {
    #[serde(default)]
    pub project: ProjectConfig,
    #[serde(default)]
    pub prd: PrdConfig,
    #[serde(default)]
    pub worker: WorkerConfig,
    #[serde(default)]
    pub verify: VerifyConfig,
    /// Model prices in US dollars per million tokens, by model id or id
    /// prefix, over the built-in defaults (docs/configuration.md).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pricing: BTreeMap<String, crate::pricing::Price>,
    /// Limits on a run's model use (also `run --budget-*`).
    #[serde(default)]
    pub budget: BudgetConfig,
    /// The circuit breakers' numbers (docs/operations.md).
    #[serde(default)]
    pub breakers: crate::breaker::BreakerConfig,
    /// Where to send events as they happen (docs/http-api.md#webhooks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
}

/// `[[webhooks]]`: one receiver of the project's events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to `POST` each event (`http://` or `https://`).
    pub url: String,
    /// The event kinds to send (`task.merged`, `run.finished`, …); empty:
    /// every kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// The environment variable holding the signing secret (never the
    /// secret itself): each body is signed `X-Tdd-Signature-256:
    /// sha256=<HMAC>`. Unset: bodies go unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub format: WebhookFormat,
}

/// What a webhook's body looks like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The event as the panel sees it (`seq`, `at`, `prd`, `task`, `kind`, `data`).
    #[default]
    Json,
    /// `{ "text": "…" }`, for a Slack incoming webhook.
    Slack,
}

/// `[budget]`: when a run stops dispatching new stage attempts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Input plus output tokens over the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// US dollars over the whole run; attempts of unknown cost count as zero
    /// and are reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub usd: Option<f64>,
}

/// What VERIFY runs besides the whole test suite.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Lint and type commands by name, run through `sh -c` in the task's
    /// worktree; a non-zero exit fails VERIFY with the command's output.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub commands: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Implementation language of the project.
    #[serde(default)]
    pub language: Language,
    /// Branch that PRD feature branches start from.
    #[serde(default = "default_base_branch")]
    pub base_branch: String,
    /// Short project name used in branch names (defaults to the PRD file's
    /// name without its extensions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Where implementation files go when a requirement names no `Module:`
    /// (default per language: `src`, or `.` for Go).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_root: Option<String>,
    /// Where test files go when a requirement names no `Tests:`
    /// (default per language: `tests`, `src` for TypeScript, `.` for Go).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_root: Option<String>,
    /// The command that runs the test suite (default per language: `pytest`,
    /// `cargo test`, `npx vitest run`, `go test ./...`). Any other runner
    /// works when it writes JUnit XML: put `{junit}` where the report's path
    /// goes (`ctest --output-junit {junit}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_command: Option<String>,
}

/// The project layout with every default resolved for the language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub language: Language,
    pub source_root: String,
    pub test_root: String,
    pub test_command: String,
}

impl ProjectConfig {
    pub fn layout(&self) -> Layout {
        let (source, test, command) = match self.language {
            Language::Python => ("src", "tests", "pytest"),
            Language::Rust => ("src", "tests", "cargo test"),
            Language::Typescript => ("src", "src", "npx vitest run"),
            Language::Go => (".", ".", "go test ./..."),
        };
        Layout {
            language: self.language,
            source_root: self
                .source_root
                .clone()
                .unwrap_or_else(|| source.to_string()),
            test_root: self.test_root.clone().unwrap_or_else(|| test.to_string()),
            test_command: self
                .test_command
                .clone()
                .unwrap_or_else(|| command.to_string()),
        }
    }
}

impl Default for ProjectConfig {
    fn default() -> Self {
        ProjectConfig {
            language: Language::default(),
            base_branch: default_base_branch(),
            prefix: None,
            source_root: None,
            test_root: None,
            test_command: None,
        }
    }
}

fn default_base_branch() -> String {
    "main".to_string()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Python,
    Rust,
    Typescript,
    Go,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
            Language::Typescript => "typescript",
            Language::Go => "go",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrdConfig {
    /// Glob patterns (relative to the project root) of files validated as PRDs.
    #[serde(default = "default_globs")]
    pub globs: Vec<String>,
    /// Files larger than this are reported instead of validated.
    #[serde(default = "default_max_file_kib")]
    #[schemars(range(min = 1))]
    pub max_file_kib: u32,
}

impl Default for PrdConfig {
    fn default() -> Self {
        PrdConfig {
            globs: default_globs(),
            max_file_kib: default_max_file_kib(),
        }
    }
}

pub fn default_globs() -> Vec<String> {
    DEFAULT_PRD_GLOBS.iter().map(|g| g.to_string()).collect()
}

fn default_max_file_kib() -> u32 {
    (crate::analysis::DEFAULT_MAX_BYTES / 1024) as u32
}

/// `[worker]`: who performs the RED, GREEN and REFACTOR attempts
/// (docs/workers.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Which worker to use. Unset: no worker is configured, and `run` says
    /// how to configure one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WorkerKind>,
    /// How many workers take tasks in parallel. Unset: one per CPU core
    /// (with CPU-bound tests, more workers than cores is not faster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<NonZeroU32>,
    /// Settings of the `command` worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandWorkerConfig>,
    /// Settings of the `scripted` worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scripted: Option<ScriptedWorkerConfig>,
    /// Settings of the `api` worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiWorkerConfig>,
    /// Settings of the `claude_code`, `codex` and `aider` workers (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentWorkerConfig>,
    /// Where program workers (`command`, `claude_code`, `codex`, `aider`) run: in a
    /// bubblewrap sandbox (the machine read-only, the task's worktree and a
    /// throwaway home writable, the rest of the project hidden) or not.
    #[serde(default)]
    pub sandbox: SandboxMode,
}

/// `[worker] sandbox`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// `bwrap` when it is installed and works here, else `none`.
    #[default]
    Auto,
    /// Always; a worker is refused when bwrap is missing or cannot start.
    Bwrap,
    /// Never: the escape audit alone looks for writes outside the worktree.
    None,
}

impl WorkerConfig {
    /// The configured count, else one worker per core (`cores`, which the
    /// caller reads: this crate does no I/O).
    pub fn count_or_cores(&self, cores: usize) -> u32 {
        self.count.map_or(
            u32::try_from(cores.max(1)).unwrap_or(u32::MAX),
            NonZeroU32::get,
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    /// Replays file edits from a script (tests and the demo).
    Scripted,
    /// Runs an external program per stage attempt (the plugin protocol).
    Command,
    /// Its own tool loop against a model's HTTP API.
    Api,
    /// Claude Code (`claude -p`), headless, per attempt (`[worker.agent]`).
    #[serde(rename = "claude_code")]
    ClaudeCode,
    /// Codex CLI (`codex exec`), headless, per attempt (`[worker.agent]`).
    Codex,
    /// aider (`aider --message`), headless, per attempt (`[worker.agent]`).
    Aider,
    /// A person does each stage; the engine writes the instructions and
    /// waits for `tdd-orchestrator done <task>`.
    Human,
}

impl WorkerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerKind::Scripted => "scripted",
            WorkerKind::Command => "command",
            WorkerKind::Api => "api",
            WorkerKind::ClaudeCode => "claude_code",
            WorkerKind::Codex => "codex",
            WorkerKind::Aider => "aider",
            WorkerKind::Human => "human",
        }
    }

    /// The agent CLI a `claude_code`, `codex` or `aider` worker drives.
    pub fn agent_cli(self) -> Option<AgentCli> {
        match self {
            WorkerKind::ClaudeCode => Some(AgentCli::ClaudeCode),
            WorkerKind::Codex => Some(AgentCli::Codex),
            WorkerKind::Aider => Some(AgentCli::Aider),
            _ => None,
        }
    }
}

/// `[worker.command]`: the program run in the task's worktree per attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandWorkerConfig {
    /// A name looked up on `PATH`, or a path (relative to the project root).
    #[schemars(length(min = 1))]
    pub program: String,
    /// Arguments, passed as they are (no shell).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment variables for the program.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// An attempt running longer is killed with everything it started.
    #[serde(default = "default_worker_timeout")]
    pub timeout_secs: NonZeroU64,
}

fn default_worker_timeout() -> NonZeroU64 {
    NonZeroU64::new(1800).expect("1800 is not zero")
}

/// `[worker.api]`: a model behind Anthropic Messages or OpenAI Chat
/// Completions (OpenAI, OpenRouter, Ollama, vLLM, llama.cpp, LM Studio …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiWorkerConfig {
    pub dialect: ApiDialectConfig,
    /// Anthropic: without `/v1` (`https://api.anthropic.com`); OpenAI-style:
    /// with it (`https://api.openai.com/v1`, `http://localhost:11434/v1`).
    #[schemars(length(min = 1))]
    pub base_url: String,
    #[schemars(length(min = 1))]
    pub model: String,
    /// The environment variable holding the key (never the key itself: it
    /// does not belong in a file under version control). Default:
    /// `ANTHROPIC_API_KEY` or `OPENAI_API_KEY` by dialect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Most model replies per attempt.
    #[serde(default = "default_max_turns")]
    pub max_turns: NonZeroU32,
    /// Per HTTP request.
    #[serde(default = "default_request_timeout")]
    pub timeout_secs: NonZeroU64,
    /// Stream replies as server-sent events (default); `false` asks for one
    /// JSON body per reply.
    #[serde(default = "default_stream")]
    pub stream: bool,
    /// The model per stage, overriding `model` (`{ red = "…", green = "…",
    /// refactor = "…" }`, each optional).
    #[serde(default, skip_serializing_if = "ApiStageModels::is_empty")]
    pub models: ApiStageModels,
    /// The model for retries: used from attempt `escalate_after + 1` of a
    /// stage on, whatever the stage's model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub escalate_model: Option<String>,
    /// Attempts of a stage made before `escalate_model` takes over
    /// (default 1: from the first retry on).
    #[serde(default = "default_escalate_after")]
    pub escalate_after: NonZeroU32,
}

/// `[worker.api] models`: a model per worker stage; unset stages use `model`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiStageModels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub red: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub green: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub refactor: Option<String>,
}

impl ApiStageModels {
    pub fn is_empty(&self) -> bool {
        self.red.is_none() && self.green.is_none() && self.refactor.is_none()
    }
}

fn default_stream() -> bool {
    true
}

fn default_escalate_after() -> NonZeroU32 {
    NonZeroU32::new(1).expect("1 is not zero")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiDialectConfig {
    Anthropic,
    OpenaiChat,
}

impl ApiWorkerConfig {
    /// The variable the key is read from.
    pub fn key_env(&self) -> &str {
        match (&self.api_key_env, self.dialect) {
            (Some(name), _) => name,
            (None, ApiDialectConfig::Anthropic) => "ANTHROPIC_API_KEY",
            (None, ApiDialectConfig::OpenaiChat) => "OPENAI_API_KEY",
        }
    }
}

fn default_max_turns() -> NonZeroU32 {
    NonZeroU32::new(40).expect("40 is not zero")
}

fn default_request_timeout() -> NonZeroU64 {
    NonZeroU64::new(120).expect("120 is not zero")
}

/// `[worker.scripted]`: the script the scripted worker replays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptedWorkerConfig {
    /// The TOML script, relative to the project root.
    #[schemars(length(min = 1))]
    pub script: String,
}

/// A config file error with its byte span, if TOML gave one.
#[derive(Clone, Debug)]
pub struct ConfigError {
    pub span: Option<std::ops::Range<usize>>,
    pub message: String,
}

pub fn parse_config(text: &str) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError {
        span: e.span(),
        message: e.message().to_string(),
    })
}

pub fn config_schema_json() -> String {
    crate::schema::pretty(schemars::schema_for!(Config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults() {
        let config = parse_config(&config_template(Language::Rust)).unwrap();
        assert_eq!(config.project.language, Language::Rust);
        assert_eq!(config.prd, PrdConfig::default());
        assert_eq!(config.worker, WorkerConfig::default());
    }

    #[test]
    fn an_api_worker_table_names_its_key_variable_by_dialect() {
        let text = "[worker]\nkind = \"api\"\n[worker.api]\ndialect = \"openai_chat\"\nbase_url = \"http://localhost:11434/v1\"\nmodel = \"qwen\"\n";
        let api = parse_config(text).unwrap().worker.api.unwrap();
        assert_eq!(api.dialect, ApiDialectConfig::OpenaiChat);
        assert_eq!(api.key_env(), "OPENAI_API_KEY");
        assert_eq!((api.max_turns.get(), api.timeout_secs.get()), (40, 120));
        let named = text.replace("model", "api_key_env = \"MY_KEY\"\nmodel");
        assert_eq!(
            parse_config(&named).unwrap().worker.api.unwrap().key_env(),
            "MY_KEY"
        );
        // The key itself has no place in the file.
        let keyed = text.replace("model", "api_key = \"sk-1\"\nmodel");
        assert!(parse_config(&keyed).is_err());
    }

    #[test]
    fn a_command_worker_table_parses_with_defaults() {
        let text = "[worker]\nkind = \"command\"\n[worker.command]\nprogram = \"agent\"\n";
        let worker = parse_config(text).unwrap().worker;
        assert_eq!(worker.kind, Some(WorkerKind::Command));
        assert_eq!(worker.count, None);
        assert_eq!(worker.count_or_cores(6), 6);
        let command = worker.command.unwrap();
        assert_eq!(command.program, "agent");
        assert!(command.args.is_empty() && command.env.is_empty());
        assert_eq!(command.timeout_secs.get(), 1800);
    }

    #[test]
    fn worker_errors_have_positions() {
        let err = parse_config("[worker]\nkind = \"llm\"\n").unwrap_err();
        assert!(err.message.contains("scripted"), "{}", err.message);
        assert_eq!(err.span, Some(16..21));
        let err = parse_config("[worker]\ncount = 0\n").unwrap_err();
        assert_eq!(err.span, Some(17..18), "{}", err.message);
        let err = parse_config("[worker.command]\nprogram = \"a\"\ntimeout = 3\n").unwrap_err();
        assert!(err.message.contains("unknown field"), "{}", err.message);
        assert_eq!(err.span, Some(31..38));
    }

    #[test]
    fn unknown_keys_are_errors_with_positions() {
        let err = parse_config("[project]\nlanguag = \"go\"\n").unwrap_err();
        assert!(err.message.contains("unknown field"), "{}", err.message);
        assert_eq!(err.span, Some(10..17));
    }
}
