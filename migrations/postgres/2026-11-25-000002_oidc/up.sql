-- Token signing keys. A key is published in JWKS from its creation and until
-- published_until; it signs from signs_from until signs_until (NULL: current).
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL CHECK (alg IN ('RS256', 'ES256', 'EdDSA')),
    sealed_private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    signs_from BIGINT NOT NULL,
    signs_until BIGINT,
    published_until BIGINT
);

-- A browser's sign-in session. The cookie holds a random id; only its digest
-- is stored. `public_id` is the `sid` claim.
CREATE TABLE browser_sessions (
    id_digest TEXT PRIMARY KEY NOT NULL,
    public_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX browser_sessions_user_id ON browser_sessions (user_id);

-- One sign-in in progress, bound to the browser that started it.
CREATE TABLE login_flows (
    id_digest TEXT PRIMARY KEY NOT NULL,
    browser_digest TEXT NOT NULL,
    request TEXT NOT NULL,
    step TEXT NOT NULL,
    email TEXT,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    amr TEXT NOT NULL,
    auth_time BIGINT,
    session_public_id TEXT,
    sealed_pending_secret TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE totp_credentials (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret TEXT NOT NULL,
    last_used_step BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_digest TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_digest)
);

CREATE TABLE terms_acceptances (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, version)
);

CREATE TABLE consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- What a user allowed a client at one sign-in: the authorization code, the
-- refresh tokens and the access tokens all belong to one grant, and revoking
-- it ends them all.
CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    session_public_id TEXT,
    scopes TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_user_id ON grants (user_id);

CREATE TABLE authorization_codes (
    code_digest TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    nonce TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE refresh_tokens (
    token_digest TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    issued_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);

-- Failed password and code attempts per account, for the lockout. The subject
-- is `user:<id>`, or `email:<digest>` for an address with no account, so an
-- unknown address locks exactly like a known one.
CREATE TABLE sign_in_failures (
    subject TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    locked_until BIGINT,
    updated_at BIGINT NOT NULL
);

-- Fixed-window counters (per client IP and action), shared by every instance.
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL
);
