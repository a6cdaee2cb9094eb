-- Each board is its own ordered event stream: tasks belong to a board, events are numbered per
-- board (the `streams` counter row of the board, id = board id), so writers on different boards
-- do not wait for each other's counter.
--
-- The tasks and events of before boards belong to board 1, "Tasks". It exists on every database
-- (stream 1 always did); it has no members until an operator gives it some (`tasktick user add`).

ALTER TABLE tasks ADD COLUMN board_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX tasks_board ON tasks (board_id, id);
CREATE INDEX tasks_board_done ON tasks (board_id, done, id);

CREATE TABLE events_per_board (
    board_id INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    task_id  INTEGER NOT NULL,
    -- The task as JSON after the change (NULL for deletions).
    task     TEXT,
    at_ms    INTEGER NOT NULL,
    PRIMARY KEY (board_id, seq)
) WITHOUT ROWID;
INSERT INTO events_per_board (board_id, seq, kind, task_id, task, at_ms)
    SELECT 1, seq, kind, task_id, task, at_ms FROM events;
DROP TABLE events;
ALTER TABLE events_per_board RENAME TO events;

INSERT INTO boards (id, name, created_at_ms)
    VALUES (1, 'Tasks', CAST(strftime('%s', 'now') AS INTEGER) * 1000);
