-- Migration 1: the plan (PRDs, their tasks and dependencies) and the event log.
-- Times are UTC RFC 3339 text, e.g. 2025-01-31T12:00:00.000Z.

CREATE TABLE prds (
    id              INTEGER PRIMARY KEY,
    path            TEXT NOT NULL UNIQUE,
    content_hash    TEXT NOT NULL,
    format          TEXT NOT NULL,
    decomposed_at   TEXT,
    decomposed_hash TEXT
);

CREATE TABLE tasks (
    id                     INTEGER PRIMARY KEY,
    prd_id                 INTEGER NOT NULL REFERENCES prds (id) ON DELETE CASCADE,
    key                    TEXT NOT NULL,
    kind                   TEXT NOT NULL,
    title                  TEXT NOT NULL,
    requirement            TEXT,
    status                 TEXT NOT NULL CHECK (status IN
        ('pending', 'ready', 'running', 'passed', 'failed', 'blocked', 'cancelled', 'done')),
    content_hash           TEXT NOT NULL,
    -- Everything the planner computed (files, criteria, test specs, complexity, hints ...).
    spec                   TEXT NOT NULL CHECK (json_valid(spec)),
    prd_changed_since_done INTEGER NOT NULL DEFAULT 0 CHECK (prd_changed_since_done IN (0, 1)),
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    UNIQUE (prd_id, key)
);

CREATE TABLE task_deps (
    task_id       INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    depends_on_id INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, depends_on_id),
    CHECK (task_id <> depends_on_id)
) WITHOUT ROWID;

-- Deleting a task looks up the rows that depend on it.
CREATE INDEX task_deps_depends_on ON task_deps (depends_on_id);

-- The event log is append-only: no foreign keys, so deleting a PRD never
-- removes history and the sequence has no holes. AUTOINCREMENT keeps seq
-- monotonic even if rows were ever deleted.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    kind     TEXT NOT NULL,
    prd_id   INTEGER,
    task_key TEXT,
    payload  TEXT NOT NULL CHECK (json_valid(payload))
);
