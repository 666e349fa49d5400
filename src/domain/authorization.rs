//! The authorization request (`/authorize`), validated per OAuth 2.0,
//! OpenID Connect Core and RFC 9700: exact redirect URIs, PKCE with S256
//! only, and errors sent back only to a redirect URI that can be trusted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::client::{Client, ClientId, GrantType};
use super::discovery::{ADMIN_SCOPE, SCOPES};
use super::refusal::Refusal;

/// The parameters of an authorization request, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizationParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub id_token_hint: Option<String>,
}

/// What `prompt` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Sign in only if there is no usable session; ask consent only if needed.
    #[default]
    Default,
    /// No pages at all: succeed silently or fail.
    None,
    /// Sign in again even with a session.
    Login,
    /// Ask for consent even if given before.
    Consent,
}

/// A validated authorization request; kept with the sign-in flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
}

/// An authorization request that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationError {
    /// The client or redirect URI cannot be trusted: tell the person, redirect nowhere.
    Page(Refusal),
    /// Send the error back to the client's redirect URI.
    Redirect { redirect_uri: String, error: &'static str, description: String, state: Option<String> },
}

const MAX_PARAM: usize = 2048;

/// Checks the request against the client it names. `client` is the client
/// looked up by `client_id`, if one exists.
pub fn validate(
    params: &AuthorizationParams,
    client: Option<&Client>,
) -> Result<AuthorizationRequest, AuthorizationError> {
    let Some(client) = client else {
        return Err(AuthorizationError::Page(Refusal::UnknownApplication));
    };
    let Some(redirect_uri) = params.redirect_uri.as_deref() else {
        return Err(AuthorizationError::Page(Refusal::MissingRedirect));
    };
    if !client.redirect_uris.iter().any(|registered| registered == redirect_uri) {
        return Err(AuthorizationError::Page(Refusal::UnregisteredRedirect));
    }
    let state = params.state.clone().filter(|s| !s.is_empty());
    let fail = |error: &'static str, description: &str| AuthorizationError::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        error,
        description: description.to_owned(),
        state: state.clone(),
    };
    let too_long = [&params.state, &params.nonce, &params.login_hint, &params.ui_locales, &params.scope]
        .iter()
        .any(|value| value.as_ref().is_some_and(|v| v.len() > MAX_PARAM));
    if too_long {
        return Err(fail("invalid_request", "a parameter is too long"));
    }
    if params.request.is_some() {
        return Err(fail("request_not_supported", "request objects are not supported"));
    }
    if params.request_uri.is_some() {
        return Err(fail("request_uri_not_supported", "request_uri is not supported"));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(fail("unsupported_response_type", "only response_type=code is supported"));
    }
    if params.response_mode.as_deref().is_some_and(|mode| mode != "query") {
        return Err(fail("invalid_request", "only response_mode=query is supported"));
    }
    if !client.grants.contains(&GrantType::AuthorizationCode) {
        return Err(fail("unauthorized_client", "the client may not use the authorization code grant"));
    }

    let mut scopes: Vec<String> = Vec::new();
    for scope in params.scope.as_deref().unwrap_or("").split_whitespace() {
        if !SCOPES.contains(&scope) {
            return Err(fail("invalid_scope", &format!("unknown scope {scope}")));
        }
        if scope == ADMIN_SCOPE && !client.first_party {
            return Err(fail("invalid_scope", "only first-party clients may ask for the admin scope"));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(fail("invalid_scope", "the openid scope is required"));
    }
    if !client.grants.contains(&GrantType::RefreshToken) {
        // Not an error (OpenID Connect Core 11): the client just gets no refresh token.
        scopes.retain(|s| s != "offline_access");
    }

    let code_challenge = match (params.code_challenge.as_deref(), params.code_challenge_method.as_deref()) {
        (Some(challenge), Some("S256")) => {
            if !is_pkce_value(challenge) || challenge.len() != 43 {
                return Err(fail("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)"));
            }
            Some(challenge.to_owned())
        }
        (Some(_), _) => return Err(fail("invalid_request", "code_challenge_method must be S256")),
        (None, Some(_)) => return Err(fail("invalid_request", "code_challenge_method without code_challenge")),
        (None, None) if client.is_public() => {
            return Err(fail("invalid_request", "PKCE (code_challenge with S256) is required"));
        }
        (None, None) => None,
    };

    let prompt = parse_prompt(params.prompt.as_deref()).map_err(|description| fail("invalid_request", description))?;
    let max_age = match params.max_age.as_deref() {
        None | Some("") => None,
        Some(text) => match text.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => Some(seconds),
            _ => return Err(fail("invalid_request", "max_age must be a non-negative number of seconds")),
        },
    };
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state,
        nonce: params.nonce.clone().filter(|n| !n.is_empty()),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.login_hint.clone().filter(|h| !h.is_empty()),
        ui_locales: params.ui_locales.clone().filter(|l| !l.is_empty()),
    })
}

fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, &'static str> {
    let values: Vec<&str> = prompt.unwrap_or("").split_whitespace().collect();
    if values.contains(&"none") {
        return if values.len() == 1 { Ok(Prompt::None) } else { Err("prompt=none cannot be combined") };
    }
    for value in &values {
        if !matches!(*value, "login" | "consent" | "select_account") {
            return Err("prompt must be none, login or consent");
        }
    }
    Ok(if values.contains(&"login") {
        Prompt::Login
    } else if values.contains(&"consent") {
        Prompt::Consent
    } else {
        Prompt::Default
    })
}

/// RFC 7636 §4.1: 43–128 characters of `A–Z a–z 0–9 - . _ ~`.
fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `verifier` hashes to `challenge` (S256), compared in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    if !is_pkce_value(verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::SigningAlg;

    fn client(public: bool) -> Client {
        Client {
            id: ClientId::parse("app").unwrap(),
            secret_digest: if public { None } else { Some("digest".into()) },
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            first_party: false,
            alg: SigningAlg::RS256,
            name: None,
            created_at: 0,
        }
    }

    fn params() -> AuthorizationParams {
        AuthorizationParams {
            client_id: Some("app".into()),
            redirect_uri: Some("https://app.example/cb".into()),
            response_type: Some("code".into()),
            scope: Some("openid email openid".into()),
            state: Some("xyz".into()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            code_challenge_method: Some("S256".into()),
            ..Default::default()
        }
    }

    fn error(params: &AuthorizationParams, public: bool) -> (&'static str, String) {
        match validate(params, Some(&client(public))) {
            Err(AuthorizationError::Redirect { error, description, state, .. }) => {
                assert_eq!(state.as_deref(), params.state.as_deref().filter(|s| !s.is_empty()));
                (error, description)
            }
            other => panic!("expected a redirect error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_validates() {
        let request = validate(&params(), Some(&client(true))).unwrap();
        assert_eq!(request.scopes, vec!["openid", "email"]);
        assert_eq!(request.prompt, Prompt::Default);
    }

    #[test]
    fn untrusted_redirects_show_a_page() {
        assert!(matches!(validate(&params(), None), Err(AuthorizationError::Page(_))));
        let mut p = params();
        p.redirect_uri = Some("https://app.example/cb/".into());
        assert!(matches!(validate(&p, Some(&client(true))), Err(AuthorizationError::Page(_))), "exact match only");
        p.redirect_uri = None;
        assert!(matches!(validate(&p, Some(&client(true))), Err(AuthorizationError::Page(_))));
    }

    #[test]
    fn pkce_rules() {
        let mut p = params();
        p.code_challenge_method = Some("plain".into());
        assert_eq!(error(&p, false).0, "invalid_request");
        p.code_challenge_method = None;
        assert_eq!(error(&p, false).0, "invalid_request", "absent method means plain");
        p.code_challenge = None;
        assert!(error(&p, true).1.contains("PKCE"), "public clients must use PKCE");
        assert!(validate(&p, Some(&client(false))).is_ok(), "confidential clients may omit it");
    }

    #[test]
    fn scope_and_response_type_rules() {
        let mut p = params();
        p.scope = Some("email".into());
        assert_eq!(error(&p, true).0, "invalid_scope");
        p.scope = Some("openid admin".into());
        assert_eq!(error(&p, true).0, "invalid_scope", "admin is for first-party clients only");
        let mut first_party = client(true);
        first_party.first_party = true;
        assert_eq!(validate(&p, Some(&first_party)).unwrap().scopes, vec!["openid", "admin"]);
        let mut p = params();
        p.response_type = Some("token".into());
        assert_eq!(error(&p, true).0, "unsupported_response_type");
        let mut p = params();
        p.request = Some("eyJ...".into());
        assert_eq!(error(&p, true).0, "request_not_supported");
    }

    #[test]
    fn prompt_and_max_age() {
        let mut p = params();
        p.prompt = Some("none login".into());
        assert_eq!(error(&p, true).0, "invalid_request");
        p.prompt = Some("login consent".into());
        assert_eq!(validate(&p, Some(&client(true))).unwrap().prompt, Prompt::Login);
        p.prompt = Some("none".into());
        assert_eq!(validate(&p, Some(&client(true))).unwrap().prompt, Prompt::None);
        p.max_age = Some("-1".into());
        assert_eq!(error(&p, true).0, "invalid_request");
        p.max_age = Some("0".into());
        assert_eq!(validate(&p, Some(&client(true))).unwrap().max_age, Some(0));
    }

    #[test]
    fn pkce_s256_matches_rfc7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }
}
