CREATE TABLE notes (
    id      UUID PRIMARY KEY,
    author  TEXT NOT NULL,
    body    TEXT NOT NULL,
    UNIQUE (author, body)
);
