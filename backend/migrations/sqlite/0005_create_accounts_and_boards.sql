-- Accounts, browser sessions, personal access tokens, boards with members, and rate-limit windows.
-- Times are Unix epoch milliseconds (UTC). Secrets (session ids, token secrets) are stored only as
-- their SHA-256 in hex: a copy of the database does not let anyone sign in.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Folded to lower case by the username rule, so uniqueness ignores case.
    username      TEXT    NOT NULL UNIQUE,
    -- Argon2id in PHC string format.
    password_hash TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash       TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at_ms);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    secret_hash     TEXT    NOT NULL UNIQUE,
    created_at_ms   INTEGER NOT NULL,
    last_used_at_ms INTEGER
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE boards (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE members (
    board_id INTEGER NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role     TEXT    NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    PRIMARY KEY (board_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- Fixed windows of counted attempts (sign-in per account and per client address), shared by all
-- instances on the database.
CREATE TABLE rate_limits (
    key             TEXT    PRIMARY KEY,
    window_start_ms INTEGER NOT NULL,
    window_ms       INTEGER NOT NULL,
    hits            INTEGER NOT NULL
);
