CREATE TABLE messages (
    id             TEXT PRIMARY KEY,   -- UUID; derived from sender and Idempotency-Key when one is sent
    group_id       TEXT NOT NULL,
    sender_id      TEXT NOT NULL,
    org_id         TEXT NOT NULL,
    content        TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,   -- milliseconds since the epoch, MongoDB's precision
    request_sha256 TEXT                -- what the first request asked, for Idempotency-Key replays
);
CREATE INDEX messages_newest_first ON messages (group_id, created_at_ms DESC, id DESC);
