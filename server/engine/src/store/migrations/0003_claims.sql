-- Migration 3: claims on running tasks, renewed by heartbeats, and run control.

-- A task being worked on, by which process (owner) and worker. A claim lives
-- until its task ends; the owner's heartbeat keeps it fresh however long a
-- stage takes. Claims whose owner is gone are recovered by the next run.
CREATE TABLE claims (
    task_id      INTEGER PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    owner        TEXT NOT NULL,
    worker       TEXT NOT NULL,
    claimed_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

CREATE INDEX claims_owner ON claims (owner);

-- The process running the run, its last heartbeat, and what an operator
-- asked of it (pause or cancel) from another process.
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
ALTER TABLE runs ADD COLUMN control TEXT CHECK (control IS NULL OR control IN ('pause', 'cancel'));
