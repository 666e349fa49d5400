-- The first run's link to create the first customer-service account: only
-- its digest, single use, valid an hour, while the database has no users.
CREATE TABLE setup_links (
    id_digest TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX setup_links_expires_at ON setup_links (expires_at);
