DROP TABLE login_flows;
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
