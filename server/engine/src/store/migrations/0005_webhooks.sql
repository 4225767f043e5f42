-- Migration 5: webhook delivery, and the task index of the event log.

-- A receiver is named by `hook`, a hash of its URL: a URL can hold a
-- secret (Slack's do), and secrets never reach the database.

-- Per receiver, the last event handled: delivered, or not one of the kinds
-- it wants. Delivery resumes after it, in any process.
CREATE TABLE webhook_cursors (
    hook      TEXT PRIMARY KEY,
    delivered INTEGER NOT NULL
) WITHOUT ROWID;

-- Every delivery attempt, for `webhooks log`.
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    hook        TEXT NOT NULL,
    -- The URL's scheme, host and port only.
    target      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    -- The receiver's HTTP status; NULL when it did not answer.
    status      INTEGER,
    -- Why it failed; NULL when delivered.
    error       TEXT
);

CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook, id);

-- A task's detail reads its events.
CREATE INDEX events_task ON events (task_key, seq);
