//! What model calls cost: a price table in US dollars per million tokens,
//! with defaults for common models that `[pricing]` in `.tdd/config.toml`
//! overrides or extends. A model found nowhere has an unknown cost, reported
//! as such, never as zero.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One model's prices, in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input tokens not read from the prompt cache.
    #[schemars(range(min = 0.0))]
    pub input: f64,
    #[schemars(range(min = 0.0))]
    pub output: f64,
    /// Input tokens read from the prompt cache. Default: `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub cached_input: Option<f64>,
}

impl Price {
    const fn new(input: f64, output: f64, cached_input: f64) -> Price {
        Price {
            input,
            output,
            cached_input: Some(cached_input),
        }
    }

    /// `input` counts cached tokens too; `cached` of them came from the cache.
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> f64 {
        let cached = cached.min(input);
        let per_token = |tokens: u64, usd_per_million: f64| tokens as f64 * usd_per_million / 1e6;
        per_token(input - cached, self.input)
            + per_token(cached, self.cached_input.unwrap_or(self.input))
            + per_token(output, self.output)
    }
}

/// List prices of common models when this table was written (2026). Keys are
/// prefixes of model ids, so dated ids (`claude-sonnet-4-5-20250929`) match;
/// the longest prefix wins. Prices change: `[pricing]` overrides any of them.
const DEFAULTS: &[(&str, Price)] = &[
    ("claude-opus-4-5", Price::new(5.0, 25.0, 0.5)),
    ("claude-opus-4", Price::new(15.0, 75.0, 1.5)),
    ("claude-sonnet-4", Price::new(3.0, 15.0, 0.3)),
    ("claude-3-7-sonnet", Price::new(3.0, 15.0, 0.3)),
    ("claude-3-5-sonnet", Price::new(3.0, 15.0, 0.3)),
    ("claude-haiku-4", Price::new(1.0, 5.0, 0.1)),
    ("claude-3-5-haiku", Price::new(0.8, 4.0, 0.08)),
    ("gpt-5-mini", Price::new(0.25, 2.0, 0.025)),
    ("gpt-5-nano", Price::new(0.05, 0.4, 0.005)),
    ("gpt-5", Price::new(1.25, 10.0, 0.125)),
    ("gpt-4.1-mini", Price::new(0.4, 1.6, 0.1)),
    ("gpt-4.1-nano", Price::new(0.1, 0.4, 0.025)),
    ("gpt-4.1", Price::new(2.0, 8.0, 0.5)),
    ("gpt-4o-mini", Price::new(0.15, 0.6, 0.075)),
    ("gpt-4o", Price::new(2.5, 10.0, 1.25)),
    ("o4-mini", Price::new(1.1, 4.4, 0.275)),
    ("o3", Price::new(2.0, 8.0, 0.5)),
];

/// The defaults plus `[pricing]` from the configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    configured: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new(configured: &BTreeMap<String, Price>) -> PriceTable {
        PriceTable {
            configured: configured.clone(),
        }
    }

    /// The price of `model`: the entry whose key is the longest prefix of
    /// the id, a configured one winning over a default of the same key.
    /// Providers that prefix ids (`anthropic/claude-sonnet-4`, OpenRouter)
    /// also match on the part after the last `/`.
    pub fn price(&self, model: &str) -> Option<Price> {
        let bare = model.rsplit('/').next().unwrap_or(model);
        [model, bare].into_iter().find_map(|id| {
            let configured = self.configured.iter().map(|(k, p)| (k.as_str(), *p, 1));
            let defaults = DEFAULTS.iter().map(|(k, p)| (*k, *p, 0));
            configured
                .chain(defaults)
                .filter(|(key, _, _)| id.starts_with(key))
                .max_by_key(|(key, _, configured)| (key.len(), *configured))
                .map(|(_, price, _)| price)
        })
    }

    /// The cost of one call in US dollars, `None` when the price is unknown.
    pub fn cost(&self, model: &str, input: u64, cached: u64, output: u64) -> Option<f64> {
        self.price(model).map(|p| p.cost(input, cached, output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn dated_and_prefixed_ids_find_their_default() {
        let table = PriceTable::default();
        let sonnet = table.price("claude-sonnet-4-5-20250929").unwrap();
        assert!(close(sonnet.input, 3.0));
        assert_eq!(table.price("anthropic/claude-sonnet-4"), Some(sonnet));
        // The longest prefix wins: gpt-4o-mini is not priced as gpt-4o.
        assert!(close(
            table.price("gpt-4o-mini-2024-07-18").unwrap().input,
            0.15
        ));
        assert!(close(table.price("claude-opus-4-5").unwrap().input, 5.0));
        assert!(close(table.price("claude-opus-4-1").unwrap().input, 15.0));
    }

    #[test]
    fn unknown_models_have_no_price() {
        let table = PriceTable::default();
        assert_eq!(table.cost("llama3.1:8b", 1000, 0, 10), None);
        assert_eq!(table.cost("fake-model", 1000, 0, 10), None);
    }

    #[test]
    fn configured_prices_override_and_extend_the_defaults() {
        let mut configured = BTreeMap::new();
        configured.insert("fake-model".to_string(), Price::new(1.0, 2.0, 0.5));
        configured.insert(
            "gpt-4o".to_string(),
            Price {
                input: 0.0,
                output: 0.0,
                cached_input: None,
            },
        );
        let table = PriceTable::new(&configured);
        // 1M input of which 200k cached, 500k output.
        let cost = table
            .cost("fake-model", 1_000_000, 200_000, 500_000)
            .unwrap();
        assert!(close(cost, 0.8 + 0.1 + 1.0), "{cost}");
        assert_eq!(table.cost("gpt-4o", 1_000, 0, 1_000), Some(0.0));
        assert!(table.cost("gpt-4o-mini", 1_000_000, 0, 0).unwrap() > 0.0);
    }

    #[test]
    fn cached_tokens_never_exceed_input() {
        let price = Price::new(1.0, 1.0, 0.0);
        assert!(close(price.cost(10, 50, 0), 0.0));
    }
}
