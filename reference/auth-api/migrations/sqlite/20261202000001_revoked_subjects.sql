-- Users and clients deleted by the operator: every token issued to them
-- up to then is refused (contract v1.1, DELETE /admin/users and /admin/clients).
CREATE TABLE revoked_subjects (
    subject    TEXT PRIMARY KEY,
    revoked_at TEXT NOT NULL
);
