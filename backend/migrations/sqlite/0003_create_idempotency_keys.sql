-- Responses to POST /api/tasks remembered by Idempotency-Key, so a retried request returns the
-- original answer instead of creating a second task. Rows older than 24 hours no longer count.
CREATE TABLE idempotency_keys (
    key           TEXT    PRIMARY KEY,
    -- What the request asked for; the same key with a different request is refused.
    fingerprint   TEXT    NOT NULL,
    -- The task as first answered (201), replayed as it was even if it changed since.
    response      TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
);
