-- An invitation of a foreign user to activate the mobile app: the sign-up
-- code (only its keyed hash), the contact details it was sent with (a
-- re-invite after they change is for customer service), and where the
-- activation stands. The SMS and administrator's codes are keyed hashes too.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    invited_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    code_digest TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT,
    communication_email TEXT NOT NULL,
    communication_phone TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    code_entered_at BIGINT,
    sms_code_digest TEXT,
    sms_code_expires_at BIGINT,
    sms_attempts INTEGER NOT NULL DEFAULT 0,
    resends_used INTEGER NOT NULL DEFAULT 0,
    admin_code_digest TEXT,
    admin_code_expires_at BIGINT,
    ended_at BIGINT
);
CREATE INDEX invitations_user_id ON invitations (user_id);
CREATE INDEX invitations_expires_at ON invitations (expires_at);
