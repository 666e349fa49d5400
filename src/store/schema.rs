//! The database schema, one definition for both backends.

diesel::table! {
    instance_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    companies (id) {
        id -> Text,
        name -> Text,
        office_id -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        phone -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        national_id_digest -> Nullable<Text>,
        support -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    communication_contacts (user_id) {
        user_id -> Text,
        email -> Text,
        email_verified -> Bool,
        phone -> Nullable<Text>,
        phone_verified -> Bool,
        updated_at -> BigInt,
    }
}

diesel::table! {
    memberships (user_id, company_id) {
        user_id -> Text,
        company_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    membership_roles (user_id, company_id, role) {
        user_id -> Text,
        company_id -> Text,
        role -> Text,
    }
}

diesel::table! {
    access_rights (user_id, company_id, name) {
        user_id -> Text,
        company_id -> Text,
        name -> Text,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        secret_digest -> Nullable<Text>,
        first_party -> Bool,
        signing_alg -> Text,
        grant_types -> Text,
        source -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        name -> Nullable<Text>,
    }
}

diesel::table! {
    client_redirect_uris (client_id, purpose, uri) {
        client_id -> Text,
        purpose -> Text,
        uri -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        channel -> Text,
        recipient -> Text,
        sealed_content -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        next_attempt_at -> BigInt,
        attempts -> Integer,
        lease_until -> Nullable<BigInt>,
        lease_token -> Nullable<Text>,
        sent_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(communication_contacts -> users (user_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> companies (company_id));
diesel::joinable!(client_redirect_uris -> clients (client_id));

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        sealed_private_key -> Text,
        created_at -> BigInt,
        signs_from -> BigInt,
        signs_until -> Nullable<BigInt>,
        published_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    browser_sessions (id_digest) {
        id_digest -> Text,
        public_id -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        acr -> Nullable<Text>,
    }
}

diesel::table! {
    login_flows (id_digest) {
        id_digest -> Text,
        browser_digest -> Text,
        request -> Text,
        state -> Text,
        version -> Integer,
        user_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        destination -> Nullable<Text>,
    }
}

diesel::table! {
    totp_credentials (user_id) {
        user_id -> Text,
        sealed_secret -> Text,
        last_used_step -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    recovery_codes (user_id, code_digest) {
        user_id -> Text,
        code_digest -> Text,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    terms_acceptances (user_id, version) {
        user_id -> Text,
        version -> Text,
        accepted_at -> BigInt,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scopes -> Text,
        granted_at -> BigInt,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        user_id -> Text,
        client_id -> Text,
        session_public_id -> Nullable<Text>,
        scopes -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        acr -> Nullable<Text>,
    }
}

diesel::table! {
    authorization_codes (code_digest) {
        code_digest -> Text,
        grant_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Nullable<Text>,
        nonce -> Nullable<Text>,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (token_digest) {
        token_digest -> Text,
        grant_id -> Text,
        issued_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sign_in_failures (subject) {
        subject -> Text,
        failures -> Integer,
        locked_until -> Nullable<BigInt>,
        updated_at -> BigInt,
        consecutive -> Integer,
        locks -> Integer,
    }
}

diesel::table! {
    rate_limits (bucket) {
        bucket -> Text,
        window_start -> BigInt,
        hits -> Integer,
    }
}

diesel::table! {
    password_resets (id_digest) {
        id_digest -> Text,
        browser_digest -> Text,
        user_id -> Nullable<Text>,
        method -> Text,
        code_digest -> Nullable<Text>,
        attempts -> Integer,
        verified_at -> Nullable<BigInt>,
        request -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    contact_changes (user_id, kind) {
        user_id -> Text,
        kind -> Text,
        new_value -> Text,
        code_digest -> Text,
        attempts -> Integer,
        expires_at -> BigInt,
    }
}

diesel::joinable!(authorization_codes -> grants (grant_id));
diesel::joinable!(refresh_tokens -> grants (grant_id));

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> BigInt,
        action -> Text,
        user_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        user_id -> Text,
        company_id -> Text,
        invited_by -> Nullable<Text>,
        code_digest -> Text,
        state -> Text,
        email -> Text,
        phone -> Nullable<Text>,
        communication_email -> Text,
        communication_phone -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        code_entered_at -> Nullable<BigInt>,
        sms_code_digest -> Nullable<Text>,
        sms_code_expires_at -> Nullable<BigInt>,
        sms_attempts -> Integer,
        resends_used -> Integer,
        admin_code_digest -> Nullable<Text>,
        admin_code_expires_at -> Nullable<BigInt>,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    setup_links (id_digest) {
        id_digest -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        user_id -> Text,
        key_x -> Text,
        key_y -> Text,
        name -> Text,
        platform -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    device_assertions (device_id, jti_digest) {
        device_id -> Text,
        jti_digest -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    device_grants (grant_id) {
        grant_id -> Text,
        device_id -> Text,
    }
}

diesel::joinable!(device_assertions -> devices (device_id));
diesel::joinable!(device_grants -> devices (device_id));
diesel::joinable!(device_grants -> grants (grant_id));

diesel::table! {
    announcements (id) {
        id -> Text,
        text -> Text,
        starts_at -> BigInt,
        ends_at -> BigInt,
        created_by -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    qr_logins (id_digest) {
        id_digest -> Text,
        browser_digest -> Text,
        flow_digest -> Text,
        number -> Integer,
        choices -> Text,
        user_agent -> Text,
        address -> Nullable<Text>,
        client_id -> Nullable<Text>,
        state -> Text,
        version -> Integer,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    device_authorizations (device_code_digest) {
        device_code_digest -> Text,
        user_code_digest -> Text,
        client_id -> Text,
        scopes -> Text,
        state -> Text,
        version -> Integer,
        interval_seconds -> Integer,
        last_polled_at -> Nullable<BigInt>,
        address -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        name -> Text,
        credential -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_ceremonies (id_digest) {
        id_digest -> Text,
        browser_digest -> Text,
        purpose -> Text,
        subject -> Text,
        state -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(passkeys -> users (user_id));

diesel::table! {
    upstream_keys (kid) {
        kid -> Text,
        key_use -> Text,
        sealed_private_key -> Text,
        created_at -> BigInt,
        used_from -> BigInt,
        used_until -> Nullable<BigInt>,
        published_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    upstream_logins (state_digest) {
        state_digest -> Text,
        upstream_id -> Text,
        browser_digest -> Text,
        nonce_digest -> Text,
        sealed_secrets -> Text,
        purpose -> Text,
        user_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    upstream_links (user_id, upstream_id) {
        user_id -> Text,
        upstream_id -> Text,
        issuer -> Text,
        subject -> Text,
        linked_at -> BigInt,
        last_used_at -> BigInt,
    }
}

diesel::joinable!(upstream_links -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    upstream_keys,
    upstream_logins,
    upstream_links,
    passkeys,
    webauthn_ceremonies,
    device_authorizations,
    qr_logins,
    setup_links,
    announcements,
    invitations,
    audit_events,
    instance_settings,
    companies,
    users,
    communication_contacts,
    memberships,
    membership_roles,
    access_rights,
    clients,
    client_redirect_uris,
    outbox,
    signing_keys,
    browser_sessions,
    login_flows,
    totp_credentials,
    recovery_codes,
    terms_acceptances,
    consents,
    grants,
    authorization_codes,
    refresh_tokens,
    sign_in_failures,
    rate_limits,
    password_resets,
    contact_changes,
    devices,
    device_assertions,
    device_grants,
);
