-- Every column that a sweep or a lookup filters on has an index, so that
-- neither reads a whole table (on SQLite, while holding the write lock). In an
-- AND one index is enough; each side of an OR needs its own. Columns already
-- covered by a primary key, a UNIQUE constraint or an earlier index are left
-- alone. login_flows gets its indexes where a later migration recreates it.

-- The sweeps (src/store/*.rs, `fn sweep`).
CREATE INDEX browser_sessions_expires_at ON browser_sessions (expires_at);
CREATE INDEX browser_sessions_ended_at ON browser_sessions (ended_at);
CREATE INDEX grants_expires_at ON grants (expires_at);
CREATE INDEX grants_revoked_at ON grants (revoked_at);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
CREATE INDEX outbox_sent_at ON outbox (sent_at);
CREATE INDEX outbox_failed_at ON outbox (failed_at);
CREATE INDEX outbox_expires_at ON outbox (expires_at);
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
CREATE INDEX sign_in_failures_updated_at ON sign_in_failures (updated_at);
CREATE INDEX password_resets_expires_at ON password_resets (expires_at);
CREATE INDEX password_resets_used_at ON password_resets (used_at);
CREATE INDEX contact_changes_expires_at ON contact_changes (expires_at);

-- Deleting a grant deletes its codes (ON DELETE CASCADE), found by grant_id.
CREATE INDEX authorization_codes_grant_id ON authorization_codes (grant_id);

-- Lookups.
CREATE INDEX password_resets_user_id ON password_resets (user_id);
CREATE INDEX clients_source ON clients (source);
CREATE INDEX signing_keys_alg ON signing_keys (alg);
CREATE INDEX signing_keys_published_until ON signing_keys (published_until);
