-- See the SQLite store's migration 0007.
ALTER TABLE tasks ADD COLUMN created_by TEXT;
ALTER TABLE tasks ADD COLUMN updated_by TEXT;

CREATE TABLE access_changes (
    seq      BIGINT PRIMARY KEY,
    user_id  BIGINT,
    board_id BIGINT,
    at_ms    BIGINT NOT NULL
);
CREATE TABLE access_head (
    id   INT    PRIMARY KEY CHECK (id = 1),
    head BIGINT NOT NULL
);
INSERT INTO access_head (id, head) VALUES (1, 0);
