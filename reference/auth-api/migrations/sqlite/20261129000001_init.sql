-- The same schema as migrations/postgres, in SQLite's types: UUIDs as
-- hyphenated text, timestamps as sqlx's RFC 3339 text. All are UTC with the
-- same "+00:00" suffix, and '+' sorts before '.' and the digits, so text
-- order is time order even when the fraction's length varies.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    secret_sha256 BLOB NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE members (
    group_id  TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX members_in_order ON members (group_id, joined_at, user_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
