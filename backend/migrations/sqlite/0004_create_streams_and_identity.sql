-- The event counter: one row per ordered event stream (today only stream 1, every task's). Each
-- write transaction takes the row first and moves `head` on by the events it records, so `seq` is
-- gap-free and in commit order. Starts from the highest seq AUTOINCREMENT ever issued.
CREATE TABLE streams (
    id   INTEGER PRIMARY KEY,
    head INTEGER NOT NULL CHECK (head >= 0)
);
INSERT INTO streams (id, head)
VALUES (1, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0));

-- Made once with the database, sent to clients so that a client resuming against another
-- database (a restored backup, a new store) reloads instead of applying foreign seqs.
CREATE TABLE store_identity (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    store TEXT    NOT NULL
);
INSERT INTO store_identity (id, store) VALUES (1, lower(hex(randomblob(16))));

