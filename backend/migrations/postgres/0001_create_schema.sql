-- tasktick on PostgreSQL: the same tables as the SQLite store, one migration.

-- Tasks. Ids are never reused after a delete: clients and the event log may still refer to them.
-- created_at is Unix epoch milliseconds (UTC).
CREATE TABLE tasks (
    id            BIGSERIAL PRIMARY KEY,
    title         TEXT    NOT NULL,
    done          BOOLEAN NOT NULL DEFAULT false,
    created_at_ms BIGINT  NOT NULL,
    version       BIGINT  NOT NULL DEFAULT 1 CHECK (version >= 1)
);
CREATE INDEX tasks_done_id ON tasks (done, id);

-- The event counter: one row per ordered event stream (today only stream 1). Every write
-- transaction locks its row first (UPDATE ... RETURNING) and moves head on by the events it
-- records: seq is gap-free (a rollback rolls it back) and in commit order across all instances
-- (the next writer waits for the row until this one commits). A bare sequence gives neither.
CREATE TABLE streams (
    id   BIGINT PRIMARY KEY,
    head BIGINT NOT NULL CHECK (head >= 0)
);
INSERT INTO streams (id, head) VALUES (1, 0);

-- The event log (an outbox): one row per task change, written in the same transaction.
CREATE TABLE events (
    seq     BIGINT PRIMARY KEY,
    kind    TEXT   NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    task_id BIGINT NOT NULL,
    -- The task as JSON after the change (NULL for deletions).
    task    TEXT,
    at_ms   BIGINT NOT NULL
);

-- Responses to POST /api/tasks remembered by Idempotency-Key (24 hours).
CREATE TABLE idempotency_keys (
    key           TEXT   PRIMARY KEY,
    fingerprint   TEXT   NOT NULL,
    response      TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms);

-- Made once with the database; see the SQLite store's migration 0004.
CREATE TABLE store_identity (
    id    INT  PRIMARY KEY CHECK (id = 1),
    store TEXT NOT NULL
);
INSERT INTO store_identity (id, store) VALUES (1, replace(gen_random_uuid()::text, '-', ''));
