-- Passkeys (WebAuthn credentials) for signing in to the browser: the
-- credential as webauthn-rs keeps it (its public key, counter and flags;
-- no secret), its id for lookup, and the name the person gave it.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- A WebAuthn ceremony between its two steps: the state webauthn-rs needs to
-- check the answer (its challenge), never in a cookie; single use, bound to
-- the browser that started it, and to the person (registration, a QR
-- approval) or the sign-in (a passkey sign-in) it is for.
CREATE TABLE webauthn_ceremonies (
    id_digest TEXT PRIMARY KEY NOT NULL,
    browser_digest TEXT NOT NULL,
    purpose TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);
