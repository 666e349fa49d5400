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

diesel::allow_tables_to_appear_in_same_query!(
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
);
