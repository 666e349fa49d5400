-- The mobile app's device credentials: a P-256 public key per phone (its JWK
-- x and y, base64url), whose private half never leaves the phone. The id is
-- the `device_id`, and the `kid` and `iss` of the device's assertions.
CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_x TEXT NOT NULL,
    key_y TEXT NOT NULL,
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX devices_user_id ON devices (user_id);

-- The assertions a device has used (the SHA-256 of each `jti`), kept until
-- the assertion expires, so that each is used once.
CREATE TABLE device_assertions (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    jti_digest TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, jti_digest)
);
CREATE INDEX device_assertions_expires_at ON device_assertions (expires_at);

-- The grants a device's sign-ins started: removing the device revokes them.
CREATE TABLE device_grants (
    grant_id TEXT PRIMARY KEY NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE
);
CREATE INDEX device_grants_device_id ON device_grants (device_id);
