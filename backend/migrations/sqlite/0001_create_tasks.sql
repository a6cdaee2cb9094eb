-- Tasks. AUTOINCREMENT so an id is never reused after a delete: clients and event logs may still
-- refer to it. created_at is Unix epoch milliseconds (UTC).
CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    title         TEXT    NOT NULL,
    done          INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    created_at_ms INTEGER NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
);
