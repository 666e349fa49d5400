-- What happened to an account, written in the same transaction as the
-- event itself: sign-ins and their failures, locks, replayed codes, changes
-- of credentials and contacts, consents, sign-outs. Never a secret: the
-- detail holds names (the step, the kind of contact), not values.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT,
    client_id TEXT,
    company_id TEXT,
    ip TEXT,
    request_id TEXT,
    detail TEXT
);
CREATE INDEX audit_events_user_id_at ON audit_events (user_id, at);
CREATE INDEX audit_events_company_id_at ON audit_events (company_id, at);
