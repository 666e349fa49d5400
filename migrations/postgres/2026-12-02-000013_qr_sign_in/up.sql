-- QR sign-in to the browser from the phone. The row of one QR code: only
-- the digest of its id (the link in the code) and of the browser that
-- showed it; what the phone is shown about the asker; and its state, one
-- JSON value (pending, approved with the person and how, denied, ended),
-- changed only at the version it was read at.
CREATE TABLE qr_logins (
    id_digest TEXT PRIMARY KEY NOT NULL,
    browser_digest TEXT NOT NULL,
    flow_digest TEXT NOT NULL,
    number INTEGER NOT NULL,
    choices TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    address TEXT,
    client_id TEXT,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX qr_logins_browser ON qr_logins (browser_digest, expires_at);
CREATE INDEX qr_logins_expires_at ON qr_logins (expires_at);

-- The name an application is shown by (the phone's QR request, the device
-- approval page); NULL shows its id.
ALTER TABLE clients ADD COLUMN name TEXT;
