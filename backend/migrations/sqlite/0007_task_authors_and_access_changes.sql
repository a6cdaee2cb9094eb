-- Who created a task and who changed it last (usernames, which never change; NULL for tasks from
-- before accounts).
ALTER TABLE tasks ADD COLUMN created_by TEXT;
ALTER TABLE tasks ADD COLUMN updated_by TEXT;

-- Changes of who may follow what, for every instance to act on live: a member removed or given
-- another role (user and board), a board deleted (board only), a session ended or a token revoked
-- (user only). Numbered by a counter row taken in the changing transaction, like the event
-- streams: gap-free and in commit order, so "after the last one seen" never skips one.
CREATE TABLE access_changes (
    seq      INTEGER PRIMARY KEY,
    user_id  INTEGER,
    board_id INTEGER,
    at_ms    INTEGER NOT NULL
);
CREATE TABLE access_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    head INTEGER NOT NULL
);
INSERT INTO access_head (id, head) VALUES (1, 0);
