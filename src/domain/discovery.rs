//! The OpenID Provider metadata (`/.well-known/openid-configuration`).

use serde_json::json;

use crate::config::Settings;
use crate::crypto::signing::SigningAlg;
use crate::error::{Error, Result};

/// The scopes Portti knows.
/// `admin` (the admin API) only first-party clients may ask for, and only a
/// person holding a role gets.
pub const SCOPES: [&str; 7] = ["openid", "profile", "email", "phone", "offline_access", "companies", ADMIN_SCOPE];

/// The scope of the admin API (`/api/admin/v1`).
pub const ADMIN_SCOPE: &str = "admin";

/// `acr` of a sign-in with a password and a second factor (REFEDS MFA profile).
pub const ACR_MFA: &str = "https://refeds.org/profile/mfa";

/// The discovery document, serialised once at start.
pub fn document(settings: &Settings) -> Result<bytes::Bytes> {
    let issuer = &settings.issuer;
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|alg| alg.as_str()).collect();
    // Portti's own, and those its upstreams vouch for (passed on as they sent them).
    let mut acr_values = vec![ACR_MFA.to_owned()];
    for accepted in settings.upstreams.iter().flat_map(|u| u.accepted_acr()) {
        if !acr_values.contains(&accepted) {
            acr_values.push(accepted);
        }
    }
    let client_auth = ["client_secret_basic", "client_secret_post"];
    // The device-key grant serves only the mobile app, when there is one.
    let mut grant_types = vec![
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    ];
    if settings.app.client_id.is_some() {
        grant_types.push("urn:ietf:params:oauth:grant-type:jwt-bearer");
    }
    serde_json::to_vec(&json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": acr_values,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp", "at_hash",
            "name", "email", "email_verified", "phone_number", "phone_number_verified", "companies"
        ],
        "ui_locales_supported": ["en"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    }))
    .map(bytes::Bytes::from)
    .map_err(Error::internal)
}
