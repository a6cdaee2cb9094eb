-- Accounts, browser sessions, personal access tokens, boards with members, and rate-limit windows;
-- the same tables as the SQLite store's migration 0005 (see there for the why).

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash       TEXT   PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at_ms);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE tokens (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    secret_hash     TEXT   NOT NULL UNIQUE,
    created_at_ms   BIGINT NOT NULL,
    last_used_at_ms BIGINT
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE boards (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE members (
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role     TEXT   NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    PRIMARY KEY (board_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE rate_limits (
    key             TEXT   PRIMARY KEY,
    window_start_ms BIGINT NOT NULL,
    window_ms       BIGINT NOT NULL,
    hits            BIGINT NOT NULL
);
