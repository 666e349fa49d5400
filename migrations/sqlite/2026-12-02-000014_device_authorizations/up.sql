-- The device authorization grant (RFC 8628). One row per request of a
-- device: the digest of its device code (what it polls with) and the keyed
-- digest of its user code (what the person types); the client and scopes
-- asked; the polling interval, which grows when the device polls too fast;
-- the address it asked from (the approval page shows it);
-- and the state, one JSON value (pending, approved with the person's
-- sign-in, denied, issued), changed only at the version it was read at.
CREATE TABLE device_authorizations (
    device_code_digest TEXT PRIMARY KEY NOT NULL,
    user_code_digest TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    interval_seconds INTEGER NOT NULL,
    last_polled_at BIGINT,
    address TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX device_authorizations_expires_at ON device_authorizations (expires_at);
