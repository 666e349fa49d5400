-- A forgotten-password reset: by an emailed link (the id is the link's
-- secret) or by an SMS code (the id names the page that asks for it, bound to
-- the browser that asked). A reset for an address with no account is stored
-- too, without a user, so both answer alike.
CREATE TABLE password_resets (
    id_digest TEXT PRIMARY KEY NOT NULL,
    browser_digest TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    method TEXT NOT NULL CHECK (method IN ('email', 'sms')),
    code_digest TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    verified_at BIGINT,
    request TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- A change of a communication email or phone waiting for the code sent to
-- the new address; at most one of each kind per person.
CREATE TABLE contact_changes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    new_value TEXT NOT NULL,
    code_digest TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);
