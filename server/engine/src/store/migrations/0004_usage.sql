-- Migration 4: the rest of a model-backed attempt's usage. `tokens_in`,
-- `tokens_out` and `cost_usd` exist since migration 2; a NULL `cost_usd`
-- with tokens recorded means the model's price is unknown.

ALTER TABLE attempts ADD COLUMN tokens_cached INTEGER;
ALTER TABLE attempts ADD COLUMN model_calls INTEGER;
ALTER TABLE attempts ADD COLUMN latency_ms INTEGER;
