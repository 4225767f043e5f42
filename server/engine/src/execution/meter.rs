//! The worker wrapper every run puts around its workers: it prices each
//! attempt's model use, keeps the run's totals, and refuses the next attempt
//! once a budget (attempts, tokens, US dollars) is used up, stopping the run
//! cleanly so it can be resumed with a larger budget.

use std::sync::{Arc, Mutex, PoisonError};

use tdd_core::pricing::PriceTable;

use crate::store::runs::RunId;
use crate::store::{PrdId, Queries, StoreError};
use tdd_workers::process::CancelToken;
use tdd_workers::{StageRequest, Usage, Worker, WorkerError, WorkerReport};

use super::control::{StopReason, Stopper};
use super::{Budget, Emit};

/// What the run's workers used so far, shared by all of them.
#[derive(Debug, Default)]
pub(super) struct Totals {
    pub attempts: u32,
    pub usage: Usage,
    /// Attempts whose model has no price: their cost is not in `usage`.
    pub unpriced: u32,
}

impl Totals {
    /// Starts from what a resumed run already used.
    pub fn resumed(usage: Usage) -> Totals {
        Totals {
            usage,
            ..Totals::default()
        }
    }

    /// Why the next attempt may not start, if a budget is used up.
    fn exhausted(&self, budget: &Budget) -> Option<String> {
        if let Some(limit) = budget.attempts
            && self.attempts >= limit
        {
            return Some(format!("the run's attempt budget ({limit}) is used up"));
        }
        let tokens = self.usage.input_tokens + self.usage.output_tokens;
        if let Some(limit) = budget.tokens
            && tokens >= limit
        {
            return Some(format!(
                "the run's token budget ({limit}) is used up: {tokens} tokens"
            ));
        }
        let spent = self.usage.cost_usd.unwrap_or(0.0);
        if let Some(limit) = budget.usd
            && spent >= limit
        {
            let unpriced = match self.unpriced {
                0 => String::new(),
                n => format!(", not counting {n} attempt(s) of unknown price"),
            };
            return Some(format!(
                "the run's cost budget (${limit:.2}) is used up: ${spent:.4}{unpriced}"
            ));
        }
        None
    }

    fn add(&mut self, usage: Usage) {
        if usage.calls > 0 && usage.cost_usd.is_none() {
            self.unpriced += 1;
        }
        // Sum what is known: a budget in dollars counts priced attempts.
        let priced = Usage {
            cost_usd: usage.cost_usd.or(Some(0.0)),
            ..usage
        };
        self.usage.add(priced);
    }
}

/// What a resumed run already used, from its recorded attempts.
pub(super) fn used_by_run(
    tx: &impl Queries,
    prd_id: PrdId,
    run_id: RunId,
) -> Result<Usage, StoreError> {
    let used = tx
        .usage_by_run(prd_id)?
        .into_iter()
        .find(|(id, _)| *id == run_id);
    Ok(used.map(|(_, u)| u).unwrap_or_default())
}

/// What every worker of a run shares: prices, limits, totals, and how to
/// stop the run.
pub(super) struct Meter {
    pub prices: PriceTable,
    pub budget: Budget,
    pub totals: Arc<Mutex<Totals>>,
    pub cancel: CancelToken,
    pub stopper: Stopper,
    pub emit: Emit,
}

impl Meter {
    pub fn wrap(&self, inner: Box<dyn Worker>) -> Box<dyn Worker> {
        Box::new(Metered {
            inner,
            prices: self.prices.clone(),
            budget: self.budget,
            totals: self.totals.clone(),
            cancel: self.cancel.clone(),
            stopper: self.stopper.clone(),
            emit: self.emit.clone(),
        })
    }
}

struct Metered {
    inner: Box<dyn Worker>,
    prices: PriceTable,
    budget: Budget,
    totals: Arc<Mutex<Totals>>,
    cancel: CancelToken,
    stopper: Stopper,
    emit: Emit,
}

impl Metered {
    fn totals(&self) -> std::sync::MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Worker for Metered {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn confined_to_worktree(&self) -> bool {
        self.inner.confined_to_worktree()
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let refused = {
            let mut totals = self.totals();
            let refused = totals.exhausted(&self.budget);
            if refused.is_none() {
                totals.attempts += 1;
            }
            refused
        };
        if let Some(why) = refused {
            self.stopper
                .stop(StopReason::Budget(why.clone()), &self.cancel, &self.emit);
            return Err(WorkerError::Failed(why));
        }
        let mut report = self.inner.perform(request)?;
        if let Some(usage) = &mut report.usage {
            if usage.cost_usd.is_none()
                && let Some(model) = &report.model
            {
                usage.cost_usd = self.prices.cost(
                    model,
                    usage.input_tokens,
                    usage.cached_tokens,
                    usage.output_tokens,
                );
            }
            self.totals().add(*usage);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(tokens: u64, cost: Option<f64>) -> Usage {
        Usage {
            calls: 1,
            input_tokens: tokens,
            cost_usd: cost,
            ..Usage::default()
        }
    }

    #[test]
    fn each_budget_refuses_once_reached() {
        let mut totals = Totals::default();
        let budget = Budget {
            tokens: Some(100),
            usd: Some(1.0),
            attempts: Some(3),
            ..Budget::default()
        };
        assert_eq!(totals.exhausted(&budget), None);
        totals.add(usage(60, Some(0.5)));
        assert_eq!(totals.exhausted(&budget), None);
        totals.add(usage(40, None));
        let why = totals.exhausted(&budget).unwrap();
        assert!(why.contains("token budget (100)"), "{why}");

        let money = Budget {
            usd: Some(1.0),
            ..Budget::default()
        };
        assert_eq!(totals.exhausted(&money), None, "unknown prices count as 0");
        totals.add(usage(1, Some(0.5)));
        let why = totals.exhausted(&money).unwrap();
        assert!(
            why.contains("$1.00") && why.contains("1 attempt(s) of unknown price"),
            "{why}"
        );

        totals.attempts = 3;
        let attempts = Budget {
            attempts: Some(3),
            ..Budget::default()
        };
        assert!(
            totals
                .exhausted(&attempts)
                .unwrap()
                .contains("attempt budget (3)")
        );
    }
}
