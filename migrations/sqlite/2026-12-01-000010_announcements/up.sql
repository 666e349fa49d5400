-- Notices that operators (customer service) post for the sign-in pages, for
-- example a login disruption: shown from starts_at until ends_at.
CREATE TABLE announcements (
    id TEXT PRIMARY KEY NOT NULL,
    text TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX announcements_ends_at ON announcements (ends_at);
