-- A sign-in's state is one JSON value (the domain's SignInState: the step and
-- exactly the data it needs) with a version that every save checks and
-- moves on, so a save that lost a race is refused. Flows in progress when
-- this runs are dropped: they live 30 minutes, and people start again.
DROP TABLE login_flows;
CREATE TABLE login_flows (
    id_digest TEXT PRIMARY KEY NOT NULL,
    browser_digest TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- The person the flow has authenticated so far, if any: so a password
    -- change can end their sign-ins in progress.
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_flows_expires_at ON login_flows (expires_at);
CREATE INDEX login_flows_user_id ON login_flows (user_id);
