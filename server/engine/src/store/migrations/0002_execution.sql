-- Migration 2: execution (runs and stage attempts) and circuit breakers.

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    prd_id      INTEGER NOT NULL REFERENCES prds (id) ON DELETE CASCADE,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    budget      TEXT CHECK (budget IS NULL OR json_valid(budget))
);

CREATE INDEX runs_prd ON runs (prd_id);

CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id      INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    stage        TEXT NOT NULL CHECK (stage IN ('red', 'green', 'verify', 'refactor', 'merge')),
    attempt      INTEGER NOT NULL,
    worker       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    exit_code    INTEGER,
    test_summary TEXT CHECK (test_summary IS NULL OR json_valid(test_summary)),
    failure_kind TEXT CHECK (failure_kind IN ('violation', 'infrastructure', 'provider_outage')),
    diff_stats   TEXT CHECK (diff_stats IS NULL OR json_valid(diff_stats)),
    tokens_in    INTEGER,
    tokens_out   INTEGER,
    cost_usd     REAL,
    -- A summary; the full output lives in .tdd/logs/.
    evidence     TEXT
);

CREATE INDEX attempts_run ON attempts (run_id);
CREATE INDEX attempts_task ON attempts (task_id, stage, attempt);

CREATE TABLE breakers (
    scope     TEXT NOT NULL CHECK (scope IN ('stage', 'worker', 'system')),
    name      TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures  INTEGER NOT NULL DEFAULT 0,
    opened_at TEXT,
    data      TEXT CHECK (data IS NULL OR json_valid(data)),
    PRIMARY KEY (scope, name)
) WITHOUT ROWID;

CREATE TABLE breaker_transitions (
    id         INTEGER PRIMARY KEY,
    scope      TEXT NOT NULL,
    name       TEXT NOT NULL,
    from_state TEXT NOT NULL CHECK (from_state IN ('closed', 'open', 'half_open')),
    to_state   TEXT NOT NULL CHECK (to_state IN ('closed', 'open', 'half_open')),
    at         TEXT NOT NULL,
    reason     TEXT
);

CREATE INDEX breaker_transitions_breaker ON breaker_transitions (scope, name, id);
