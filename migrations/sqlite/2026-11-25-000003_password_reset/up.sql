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
