-- Each board is its own ordered event stream; see the SQLite store's migration 0006.

ALTER TABLE tasks ADD COLUMN board_id BIGINT NOT NULL DEFAULT 1;
CREATE INDEX tasks_board ON tasks (board_id, id);
CREATE INDEX tasks_board_done ON tasks (board_id, done, id);
DROP INDEX tasks_done_id;

ALTER TABLE events ADD COLUMN board_id BIGINT NOT NULL DEFAULT 1;
ALTER TABLE events ALTER COLUMN board_id DROP DEFAULT;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (board_id, seq);

INSERT INTO boards (id, name, created_at_ms)
    VALUES (1, 'Tasks', (extract(epoch FROM now()) * 1000)::bigint);
SELECT setval(pg_get_serial_sequence('boards', 'id'), (SELECT max(id) FROM boards));
