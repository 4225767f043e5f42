//! What model-backed attempts used: per attempt (columns of `attempts`) and
//! summed per run, for `status`, `tasks show` and budgets.

use rusqlite::params;

use super::error::{At, Result};
use super::runs::RunId;
use super::types::PrdId;

/// Model calls, tokens, time and money of one attempt, or a sum of them.
/// Serialized as it is in events and the language server's answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ModelUsage {
    pub calls: i64,
    /// Input tokens, cached ones included.
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub tokens_cached: i64,
    /// `None`: the price of some call is unknown.
    pub cost_usd: Option<f64>,
    pub latency_ms: i64,
}

impl ModelUsage {
    fn is_empty(&self) -> bool {
        self.calls == 0 && self.tokens_in == 0 && self.tokens_out == 0
    }

    /// Adds another attempt's usage. An unknown cost makes the sum's cost
    /// unknown: a total that silently leaves out calls would mislead.
    pub fn add(&mut self, other: &ModelUsage) {
        self.cost_usd = match (self.is_empty(), other.is_empty()) {
            (true, _) => other.cost_usd,
            (_, true) => self.cost_usd,
            _ => self.cost_usd.zip(other.cost_usd).map(|(a, b)| a + b),
        };
        self.calls += other.calls;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.tokens_cached += other.tokens_cached;
        self.latency_ms += other.latency_ms;
    }

    pub fn tokens(&self) -> i64 {
        self.tokens_in + self.tokens_out
    }
}

/// `3 model calls, 1200 tokens in (200 cached), 300 out, $0.0123, 4.2 s`;
/// `cost unknown` when some call's model has no price.
impl std::fmt::Display for ModelUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let calls = if self.calls == 1 { "call" } else { "calls" };
        write!(
            f,
            "{} model {calls}, {} tokens in",
            self.calls, self.tokens_in
        )?;
        if self.tokens_cached > 0 {
            write!(f, " ({} cached)", self.tokens_cached)?;
        }
        write!(f, ", {} out, ", self.tokens_out)?;
        match self.cost_usd {
            Some(usd) => write!(f, "${usd:.4}")?,
            None => f.write_str("cost unknown")?,
        }
        write!(f, ", {:.1} s", self.latency_ms as f64 / 1000.0)
    }
}

/// A PRD's model usage per run, oldest run first; runs without any are left out.
pub(super) fn by_run(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    prd_id: PrdId,
) -> Result<Vec<(RunId, ModelUsage)>> {
    conn.prepare_cached(
        "SELECT a.run_id, SUM(a.model_calls), SUM(a.tokens_in), SUM(a.tokens_out),
                SUM(a.tokens_cached), SUM(a.latency_ms), SUM(a.cost_usd),
                COUNT(a.cost_usd) = COUNT(*)
         FROM attempts a JOIN runs r ON r.id = a.run_id
         WHERE r.prd_id = ?1 AND (a.tokens_in IS NOT NULL OR a.tokens_out IS NOT NULL)
         GROUP BY a.run_id ORDER BY a.run_id",
    )
    .and_then(|mut stmt| {
        stmt.query_map(params![prd_id], |row| {
            let all_priced: bool = row.get(7)?;
            let cost: Option<f64> = row.get(6)?;
            Ok((
                row.get(0)?,
                ModelUsage {
                    calls: row.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    tokens_in: row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                    tokens_out: row.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    tokens_cached: row.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    latency_ms: row.get::<_, Option<i64>>(5)?.unwrap_or(0),
                    cost_usd: cost.filter(|_| all_priced),
                },
            ))
        })?
        .collect()
    })
    .at(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(calls: i64, cost: Option<f64>) -> ModelUsage {
        ModelUsage {
            calls,
            tokens_in: 10 * calls,
            tokens_out: calls,
            cost_usd: cost,
            ..ModelUsage::default()
        }
    }

    #[test]
    fn usage_reads_as_one_line() {
        let mut u = usage(3, Some(0.01234));
        u.tokens_cached = 5;
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
        let mut total = ModelUsage::default();
        total.add(&usage(2, Some(0.5)));
        total.add(&usage(1, Some(0.25)));
        assert_eq!(total.cost_usd, Some(0.75));
        assert_eq!((total.calls, total.tokens()), (3, 33));
        total.add(&usage(1, None));
        assert_eq!(total.cost_usd, None);
        total.add(&usage(1, Some(1.0)));
        assert_eq!(total.cost_usd, None, "unknown stays unknown");
        let mut fresh = ModelUsage::default();
        fresh.add(&ModelUsage::default());
        fresh.add(&usage(1, Some(0.1)));
        assert_eq!(fresh.cost_usd, Some(0.1));
    }
}
