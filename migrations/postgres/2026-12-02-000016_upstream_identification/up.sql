-- Strong identification through upstream OpenID providers.

-- Portti's own keys as the upstreams' relying party: an RS256 signing key
-- (`use` 'sig') and an RSA-OAEP encryption key ('enc'), sealed. A key is
-- published from its creation, used from `used_from` (a day later, after a
-- rotation, so brokers that cache the JWKS have it), and published until
-- `published_until` once a newer key replaces it.
CREATE TABLE upstream_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    key_use TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_from BIGINT NOT NULL,
    used_until BIGINT,
    published_until BIGINT
);

-- One trip to an upstream and back: only the digest of its `state`; the
-- browser it is bound to; the digest of its nonce; the PKCE verifier and
-- the sign-in flow's id, sealed; what it is for ('sign_in', or 'link' for a
-- signed-in person adding the identification). Deleted when the answer
-- comes back, so a state is used once.
CREATE TABLE upstream_logins (
    state_digest TEXT PRIMARY KEY NOT NULL,
    upstream_id TEXT NOT NULL,
    browser_digest TEXT NOT NULL,
    nonce_digest TEXT NOT NULL,
    sealed_secrets TEXT NOT NULL,
    purpose TEXT NOT NULL,
    user_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX upstream_logins_expires_at ON upstream_logins (expires_at);

-- Which upstream identity (issuer and subject) signed a person in, shown on
-- their account page.
CREATE TABLE upstream_links (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    upstream_id TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, upstream_id)
);

-- The `acr` a session and its grants were authenticated at: an upstream's
-- own for strong identification, NULL when it sent none. Rows of earlier
-- sign-ins (and of an older instance during a rolling upgrade) have the
-- password-and-second-factor value.
ALTER TABLE browser_sessions ADD COLUMN acr TEXT DEFAULT 'https://refeds.org/profile/mfa';
ALTER TABLE grants ADD COLUMN acr TEXT DEFAULT 'https://refeds.org/profile/mfa';
