CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,  -- stored lower-cased: unique regardless of case
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    secret_sha256 BYTEA NOT NULL,
    scopes        TEXT NOT NULL,         -- space-separated
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE groups (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    org_id     UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE members (
    group_id  UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    joined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX members_in_order ON members (group_id, joined_at, user_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
