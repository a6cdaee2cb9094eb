-- The event log (an outbox): one row per task change, written in the same transaction as the
-- change. seq is strictly increasing and, thanks to AUTOINCREMENT, never reused even after old
-- rows are pruned, so clients can resume from the last seq they applied across restarts.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT    NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    task_id INTEGER NOT NULL,
    -- The task as JSON after the change (NULL for deletions).
    task    TEXT,
    at_ms   INTEGER NOT NULL
);
