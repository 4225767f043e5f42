//! What an [`super::ApiWorker`] is built from: the provider, the key, the
//! models (per stage, and for retries), and the limits.

use std::fmt;
use std::time::Duration;

use tdd_core::config::{ApiDialectConfig, ApiWorkerConfig};
use tdd_gates::Stage;

/// The wire protocol of the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiDialect {
    /// `POST {base_url}/v1/messages`; `base_url` without `/v1`
    /// (e.g. `https://api.anthropic.com`).
    Anthropic,
    /// `POST {base_url}/chat/completions`; `base_url` with `/v1`
    /// (e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`).
    OpenAiChat,
}

/// How long to wait between tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait; each retry doubles it, with jitter.
    pub base: Duration,
    /// The longest computed wait.
    pub cap: Duration,
    /// The longest `Retry-After` obeyed; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// A model per worker stage, overriding [`ApiConfig::model`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageModels {
    pub red: Option<String>,
    pub green: Option<String>,
    pub refactor: Option<String>,
}

/// Everything an [`super::ApiWorker`] needs. `Debug` never shows the key.
#[derive(Clone)]
pub struct ApiConfig {
    pub dialect: ApiDialect,
    pub base_url: String,
    /// Sent only in the request headers (`x-api-key` or `Authorization`).
    pub api_key: String,
    /// The model of every stage [`ApiConfig::models`] does not name.
    pub model: String,
    pub models: StageModels,
    /// The model from attempt `escalate_after + 1` of a stage on.
    pub escalate_model: Option<String>,
    pub escalate_after: u32,
    /// Ask for server-sent events instead of one JSON body.
    pub stream: bool,
    /// Most model replies per attempt.
    pub max_turns: u32,
    /// Per HTTP request, connection included.
    pub timeout: Duration,
    /// Tries after the first before a provider outage is declared.
    pub max_retries: u32,
    pub backoff: Backoff,
}

impl ApiConfig {
    /// A configuration with the defaults: streaming, the one model for
    /// every stage, 40 turns, 120 s per request, 4 retries with the default
    /// backoff.
    pub fn new(
        dialect: ApiDialect,
        base_url: impl Into<String>,
        api_key: impl Into<String>,
        model: impl Into<String>,
    ) -> ApiConfig {
        ApiConfig {
            dialect,
            base_url: base_url.into(),
            api_key: api_key.into(),
            model: model.into(),
            models: StageModels::default(),
            escalate_model: None,
            escalate_after: 1,
            stream: true,
            max_turns: 40,
            timeout: Duration::from_secs(120),
            max_retries: 4,
            backoff: Backoff::default(),
        }
    }

    /// From `[worker.api]` in `.tdd/config.toml`, with the key read from
    /// the environment.
    pub fn from_settings(settings: &ApiWorkerConfig, api_key: impl Into<String>) -> ApiConfig {
        let dialect = match settings.dialect {
            ApiDialectConfig::Anthropic => ApiDialect::Anthropic,
            ApiDialectConfig::OpenaiChat => ApiDialect::OpenAiChat,
        };
        let mut config = ApiConfig::new(dialect, &settings.base_url, api_key, &settings.model);
        config.max_turns = settings.max_turns.get();
        config.timeout = Duration::from_secs(settings.timeout_secs.get());
        config.stream = settings.stream;
        config.models = StageModels {
            red: settings.models.red.clone(),
            green: settings.models.green.clone(),
            refactor: settings.models.refactor.clone(),
        };
        config.escalate_model = settings.escalate_model.clone();
        config.escalate_after = settings.escalate_after.get();
        config
    }

    /// The model for `attempt` (1-based) of `stage`.
    pub fn model_for(&self, stage: Stage, attempt: u32) -> &str {
        if let Some(stronger) = &self.escalate_model
            && attempt > self.escalate_after
        {
            return stronger;
        }
        let chosen = match stage {
            Stage::Red => &self.models.red,
            Stage::Green => &self.models.green,
            Stage::Refactor => &self.models.refactor,
            Stage::Verify | Stage::Merge => &None,
        };
        chosen.as_deref().unwrap_or(&self.model)
    }
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("dialect", &self.dialect)
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("models", &self.models)
            .field("escalate_model", &self.escalate_model)
            .field("escalate_after", &self.escalate_after)
            .field("stream", &self.stream)
            .field("max_turns", &self.max_turns)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_model_then_the_escalation_model_from_the_set_attempt_on() {
        let mut config = ApiConfig::new(ApiDialect::Anthropic, "u", "k", "base");
        assert_eq!(config.model_for(Stage::Green, 3), "base");
        config.models.green = Some("green-m".to_string());
        assert_eq!(config.model_for(Stage::Green, 1), "green-m");
        assert_eq!(config.model_for(Stage::Red, 1), "base");
        config.escalate_model = Some("big".to_string());
        config.escalate_after = 2;
        assert_eq!(config.model_for(Stage::Green, 2), "green-m");
        assert_eq!(config.model_for(Stage::Green, 3), "big");
        assert_eq!(config.model_for(Stage::Refactor, 3), "big");
    }

    #[test]
    fn reads_the_configuration_table() {
        let text = "[worker]\nkind = \"api\"\n[worker.api]\ndialect = \"openai_chat\"\n\
                    base_url = \"http://h/v1\"\nmodel = \"m\"\nstream = false\n\
                    models = { red = \"r\" }\nescalate_model = \"e\"\nescalate_after = 2\n";
        let parsed = tdd_core::config::parse_config(text).unwrap();
        let config = ApiConfig::from_settings(parsed.worker.api.as_ref().unwrap(), "k");
        assert_eq!(config.dialect, ApiDialect::OpenAiChat);
        assert!(!config.stream);
        assert_eq!(config.model_for(Stage::Red, 1), "r");
        assert_eq!(config.model_for(Stage::Red, 3), "e");
        assert!(!format!("{config:?}").contains("\"k\""));
        let text = "[worker.api]\ndialect = \"anthropic\"\nbase_url = \"u\"\nmodel = \"m\"\n";
        let api = tdd_core::config::parse_config(text)
            .unwrap()
            .worker
            .api
            .unwrap();
        let config = ApiConfig::from_settings(&api, "k");
        assert!(config.stream);
        assert_eq!(config.escalate_after, 1);
        assert!(
            tdd_core::config::parse_config(&format!("{text}models = {{ blue = \"x\" }}\n"))
                .is_err()
        );
    }
}
