//! What model calls used: calls, tokens, time and money. One attempt's, as
//! a worker reports it and the store records it, or a sum of them (a task,
//! a run, a PRD). Serialized as it is in events and the language server's
//! answers.

use std::fmt;

#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub struct Usage {
    pub calls: u32,
    /// Input tokens, cached ones included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// In US dollars; `None` when the price of some call is unknown.
    pub cost_usd: Option<f64>,
    /// Time spent waiting for the model, summed over calls.
    pub latency_ms: u64,
}

impl Usage {
    fn is_empty(&self) -> bool {
        self.calls == 0 && self.input_tokens == 0 && self.output_tokens == 0
    }

    /// Adds another's usage. Nothing plus a cost is that cost; an unknown
    /// cost makes the sum's unknown: a total that silently leaves out calls
    /// would mislead.
    pub fn add(&mut self, other: Usage) {
        self.cost_usd = match (self.is_empty(), other.is_empty()) {
            (true, _) => other.cost_usd,
            (_, true) => self.cost_usd,
            _ => self.cost_usd.zip(other.cost_usd).map(|(a, b)| a + b),
        };
        self.calls += other.calls;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_tokens += other.cached_tokens;
        self.latency_ms += other.latency_ms;
    }

    /// The sum of some usages, `None` when there are none.
    pub fn total(usages: impl IntoIterator<Item = Usage>) -> Option<Usage> {
        usages.into_iter().reduce(|mut total, u| {
            total.add(u);
            total
        })
    }

    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// `3 model calls, 1200 tokens in (200 cached), 300 out, $0.0123, 4.2 s`;
/// `cost unknown` when some call's model has no price.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls = if self.calls == 1 { "call" } else { "calls" };
        write!(
            f,
            "{} model {calls}, {} tokens in",
            self.calls, self.input_tokens
        )?;
        if self.cached_tokens > 0 {
            write!(f, " ({} cached)", self.cached_tokens)?;
        }
        write!(f, ", {} out, ", self.output_tokens)?;
        match self.cost_usd {
            Some(usd) => write!(f, "${usd:.4}")?,
            None => f.write_str("cost unknown")?,
        }
        write!(f, ", {:.1} s", self.latency_ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(calls: u32, cost: Option<f64>) -> Usage {
        Usage {
            calls,
            input_tokens: 10 * u64::from(calls),
            output_tokens: u64::from(calls),
            cost_usd: cost,
            ..Usage::default()
        }
    }

    #[test]
    fn usage_reads_as_one_line() {
        let mut u = usage(3, Some(0.01234));
        u.cached_tokens = 5;
        u.latency_ms = 4_250;
        assert_eq!(
            u.to_string(),
            "3 model calls, 30 tokens in (5 cached), 3 out, $0.0123, 4.2 s"
        );
        assert_eq!(
            usage(1, None).to_string(),
            "1 model call, 10 tokens in, 1 out, cost unknown, 0.0 s"
        );
    }

    #[test]
    fn a_sum_is_priced_only_when_every_part_is() {
        let mut total = Usage::default();
        total.add(usage(2, Some(0.5)));
        total.add(usage(1, Some(0.25)));
        assert_eq!(total.cost_usd, Some(0.75));
        assert_eq!((total.calls, total.tokens()), (3, 33));
        total.add(usage(1, None));
        assert_eq!(total.cost_usd, None);
        total.add(usage(1, Some(1.0)));
        assert_eq!(total.cost_usd, None, "unknown stays unknown");
        let mut fresh = Usage::default();
        fresh.add(Usage::default());
        fresh.add(usage(1, Some(0.1)));
        assert_eq!(fresh.cost_usd, Some(0.1));
        assert_eq!(Usage::total([]), None);
        assert_eq!(
            Usage::total([usage(1, None), usage(2, None)])
                .unwrap()
                .calls,
            3
        );
    }
}
