-- Migration 6: each attempt's worker transcript, redacted, bounded and
-- deflated (engine/src/transcript.rs). A table of its own keeps the
-- attempts table's rows small for the queries that scan it.
CREATE TABLE attempt_transcripts (
    attempt_id   INTEGER PRIMARY KEY REFERENCES attempts (id) ON DELETE CASCADE,
    -- `messages`, `json_lines` or `text`.
    format       TEXT NOT NULL,
    -- Bytes of the redacted text before it was bounded.
    original_len INTEGER NOT NULL,
    truncated    INTEGER NOT NULL,
    deflated     BLOB NOT NULL
);
