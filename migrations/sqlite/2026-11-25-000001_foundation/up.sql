-- Times are seconds since the Unix epoch (BIGINT), ids are UUID text: the
-- same representation on SQLite and PostgreSQL.

CREATE TABLE instance_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE companies (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    office_id TEXT REFERENCES companies (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX companies_office_id ON companies (office_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    phone TEXT,
    password_hash TEXT,
    national_id_digest TEXT UNIQUE,
    support BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The contact details every code is sent to; separate from the basic ones.
CREATE TABLE communication_contacts (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL,
    phone TEXT,
    phone_verified BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, company_id)
);
CREATE INDEX memberships_company_id ON memberships (company_id);

CREATE TABLE membership_roles (
    user_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user_admin', 'office_admin')),
    PRIMARY KEY (user_id, company_id, role),
    FOREIGN KEY (user_id, company_id) REFERENCES memberships (user_id, company_id) ON DELETE CASCADE
);

CREATE TABLE access_rights (
    user_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, company_id, name),
    FOREIGN KEY (user_id, company_id) REFERENCES memberships (user_id, company_id) ON DELETE CASCADE
);

CREATE TABLE clients (
    id TEXT PRIMARY KEY NOT NULL,
    secret_digest TEXT,
    first_party BOOLEAN NOT NULL,
    signing_alg TEXT NOT NULL CHECK (signing_alg IN ('RS256', 'ES256', 'EdDSA')),
    grant_types TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('cli', 'config')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE client_redirect_uris (
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('login', 'post_logout')),
    uri TEXT NOT NULL,
    PRIMARY KEY (client_id, purpose, uri)
);

-- Messages to deliver. Subject and body are sealed with the master key (they
-- carry codes) and erased once the message is delivered or given up.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient TEXT NOT NULL,
    sealed_content TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    next_attempt_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until BIGINT,
    lease_token TEXT,
    sent_at BIGINT,
    failed_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
