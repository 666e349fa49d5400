//! The token endpoint and the tokens it issues: one type per grant, parsed
//! before anything else happens; ID tokens and RFC 9068 access tokens signed
//! with the client's algorithm; opaque refresh tokens that rotate on every
//! use, where presenting a used one revokes its whole grant.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use super::authorization::{AuthorizationRequest, pkce_matches};
use super::claims::user_claims;
use super::client::{Client, ClientId, GrantType, SigningAlg};
use super::discovery::ACR_MFA;
use super::ids::UserId;
use super::session::Session;
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::crypto::signing::{self, SigningKey};
use crate::error::{Error, Result};
use crate::store::{StoredCode, StoredGrant, Write};

/// How long an authorization code is valid.
pub const CODE_SECONDS: i64 = 60;

/// A token request, one variant per grant: a missing parameter fails here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode { code: String, redirect_uri: String, code_verifier: Option<String> },
    RefreshToken { refresh_token: String, scope: Option<String> },
    ClientCredentials { scope: Option<String> },
}

impl TokenRequest {
    /// Parses the form body of a token request.
    pub fn parse(form: &HashMap<String, String>) -> Result<Self> {
        let required = |name: &str| {
            form.get(name)
                .filter(|value| !value.is_empty())
                .cloned()
                .ok_or_else(|| Error::InvalidRequest(format!("{name} is required")))
        };
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => Ok(Self::AuthorizationCode {
                code: required("code")?,
                redirect_uri: required("redirect_uri")?,
                code_verifier: form.get("code_verifier").cloned(),
            }),
            Some("refresh_token") => {
                Ok(Self::RefreshToken { refresh_token: required("refresh_token")?, scope: form.get("scope").cloned() })
            }
            Some("client_credentials") => Ok(Self::ClientCredentials { scope: form.get("scope").cloned() }),
            Some(_) => Err(Error::UnsupportedGrantType),
            None => Err(Error::InvalidRequest("grant_type is required".to_owned())),
        }
    }
}

/// The credentials a client presented.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// Authenticates a client: a confidential client by its secret (Basic or
/// form), a public client by its id alone.
pub fn authenticate_client(state: &AppState, credentials: &ClientCredentials) -> Result<Client> {
    let id = credentials.client_id.as_deref().ok_or(Error::InvalidClient)?;
    let id = ClientId::parse(id).map_err(|_| Error::InvalidClient)?;
    let client = state.clients.get_or_load(&id, || state.store.read(|r| r.client(&id)))?.ok_or(Error::InvalidClient)?;
    check_credentials(&client, credentials)?;
    Ok(Client::clone(&client))
}

fn check_credentials(client: &Client, credentials: &ClientCredentials) -> Result<()> {
    match (&client.secret_digest, credentials.client_secret.as_deref()) {
        (None, None) => Ok(()),
        (Some(_), Some(secret)) if client.secret_matches(secret) => Ok(()),
        _ => Err(Error::InvalidClient),
    }
}

/// Answers a `client_credentials` request at once, on the caller's thread,
/// when it needs neither the database nor much CPU: its client was read
/// recently and signs with ES256 or EdDSA (an RSA signature takes a quarter
/// of a millisecond). Handing such a request to the blocking pool cost a
/// quarter of its time. `None`: take the usual way.
pub fn answer_at_once(
    state: &AppState,
    now: UnixSeconds,
    credentials: &ClientCredentials,
    request: &TokenRequest,
) -> Option<Result<TokenResponse>> {
    let TokenRequest::ClientCredentials { .. } = request else { return None };
    let id = ClientId::parse(credentials.client_id.as_deref()?).ok()?;
    let client = state.clients.fresh(&id)?;
    if client.alg == SigningAlg::RS256 {
        return None;
    }
    Some(check_credentials(&client, credentials).and_then(|()| exchange(state, now, &client, request.clone())))
}

/// What the token endpoint answers.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

/// Handles a token request from an authenticated client.
pub fn exchange(state: &AppState, now: UnixSeconds, client: &Client, request: TokenRequest) -> Result<TokenResponse> {
    let grant = match &request {
        TokenRequest::AuthorizationCode { .. } => "authorization_code",
        TokenRequest::RefreshToken { .. } => "refresh_token",
        TokenRequest::ClientCredentials { .. } => "client_credentials",
    };
    let response = match request {
        TokenRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
            redeem_code(state, now, client, &code, &redirect_uri, code_verifier.as_deref())
        }
        TokenRequest::RefreshToken { refresh_token, scope } => {
            refresh(state, now, client, &refresh_token, scope.as_deref())
        }
        TokenRequest::ClientCredentials { scope } => client_credentials(state, now, client, scope.as_deref()),
    }?;
    state.metrics.token_issued(grant);
    Ok(response)
}

/// Creates the grant of a completed sign-in and its authorization code.
/// Returns the code to send to the client.
pub fn issue_code(
    tx: &mut Write<'_>,
    tokens: &crate::config::TokensConfig,
    now: UnixSeconds,
    request: &AuthorizationRequest,
    session: &Session,
) -> Result<String> {
    let grant = StoredGrant {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: session.user_id.as_str().to_owned(),
        client_id: request.client_id.as_str().to_owned(),
        session_public_id: Some(session.public_id.clone()),
        scopes: request.scopes.join(" "),
        auth_time: session.auth_time,
        amr: session.amr.join(" "),
        created_at: now,
        expires_at: now + tokens.refresh_token_seconds,
        revoked_at: None,
    };
    tx.insert_grant(&grant)?;
    let code = random_token();
    tx.insert_authorization_code(&StoredCode {
        code_digest: sha256_hex(&code),
        grant_id: grant.id,
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        expires_at: now + CODE_SECONDS,
        used_at: None,
    })?;
    Ok(code)
}

fn invalid_grant(why: &str) -> Error {
    Error::InvalidGrant(why.to_owned())
}

fn redeem_code(
    state: &AppState,
    now: UnixSeconds,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<TokenResponse> {
    if !client.grants.contains(&GrantType::AuthorizationCode) {
        return Err(Error::UnauthorizedClient("the client may not use authorization_code".to_owned()));
    }
    // The key is taken before the transaction: once it commits, nothing but
    // the signature itself may fail.
    let signer = state.key_set().signer(client.alg)?.clone();
    let digest = sha256_hex(code);
    // The outer result rolls back; the inner one is committed, so a replayed
    // code's revocation is stored even though the request fails.
    state
        .store
        .write(|tx| {
            let Some(stored) = tx.authorization_code(&digest)? else {
                return Ok(Err(invalid_grant("the code is invalid")));
            };
            let Some(grant) = tx.grant(&stored.grant_id)? else {
                return Ok(Err(invalid_grant("the code is invalid")));
            };
            if grant.client_id != client.id.as_str() {
                return Ok(Err(invalid_grant("the code was issued to another client")));
            }
            if stored.used_at.is_some() || !tx.use_authorization_code(&digest, now)? {
                tx.revoke_grant(&grant.id, now)?;
                tracing::warn!(client_id = %client.id.as_str(), "authorization code reused; its grant is revoked");
                return Ok(Err(invalid_grant("the code was already used")));
            }
            if stored.expires_at <= now || grant.revoked_at.is_some() {
                return Ok(Err(invalid_grant("the code has expired")));
            }
            if stored.redirect_uri != redirect_uri {
                return Ok(Err(invalid_grant("redirect_uri does not match the authorization request")));
            }
            match (&stored.code_challenge, verifier) {
                (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
                (Some(_), _) => return Ok(Err(invalid_grant("the code_verifier does not match"))),
                (None, Some(_)) => return Ok(Err(invalid_grant("no code_challenge was sent for this code"))),
                (None, None) if client.is_public() => return Ok(Err(invalid_grant("PKCE is required"))),
                (None, None) => {}
            }
            record_grant_tokens(tx, now, client, grant, stored.nonce, None).map(Ok)
        })
        .and_then(|outcome| outcome)
        .and_then(|tokens| sign_grant_tokens(state, now, client, &signer, tokens))
}

fn refresh(
    state: &AppState,
    now: UnixSeconds,
    client: &Client,
    token: &str,
    scope: Option<&str>,
) -> Result<TokenResponse> {
    if !client.grants.contains(&GrantType::RefreshToken) {
        return Err(Error::UnauthorizedClient("the client may not use refresh_token".to_owned()));
    }
    // The key is taken before the transaction: once it commits, nothing but
    // the signature itself may fail.
    let signer = state.key_set().signer(client.alg)?.clone();
    let digest = sha256_hex(token);
    state
        .store
        .write(|tx| {
            let Some(stored) = tx.refresh_token(&digest)? else {
                return Ok(Err(invalid_grant("the refresh token is invalid")));
            };
            let Some(grant) = tx.grant(&stored.grant_id)? else {
                return Ok(Err(invalid_grant("the refresh token is invalid")));
            };
            if grant.client_id != client.id.as_str() {
                return Ok(Err(invalid_grant("the refresh token was issued to another client")));
            }
            if stored.used_at.is_some() || !tx.use_refresh_token(&digest, now)? {
                tx.revoke_grant(&grant.id, now)?;
                tracing::warn!(client_id = %client.id.as_str(), "refresh token reused; its grant is revoked");
                return Ok(Err(invalid_grant("the refresh token was already used")));
            }
            if grant.revoked_at.is_some() || grant.expires_at <= now {
                return Ok(Err(invalid_grant("the refresh token has expired or was revoked")));
            }
            let granted: Vec<&str> = grant.scopes.split_whitespace().collect();
            let narrowed = match scope {
                Some(scope) if !scope.trim().is_empty() => {
                    let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
                    if asked.iter().any(|s| !granted.contains(&s.as_str())) {
                        return Ok(Err(Error::InvalidScope("a scope was not part of the original grant".to_owned())));
                    }
                    Some(asked)
                }
                _ => None,
            };
            record_grant_tokens(tx, now, client, grant, None, narrowed).map(Ok)
        })
        .and_then(|outcome| outcome)
        .and_then(|tokens| sign_grant_tokens(state, now, client, &signer, tokens))
}

fn client_credentials(
    state: &AppState,
    now: UnixSeconds,
    client: &Client,
    scope: Option<&str>,
) -> Result<TokenResponse> {
    if client.is_public() || !client.grants.contains(&GrantType::ClientCredentials) {
        return Err(Error::UnauthorizedClient("the client may not use client_credentials".to_owned()));
    }
    if scope.is_some_and(|s| !s.trim().is_empty()) {
        return Err(Error::InvalidScope("client_credentials takes no scope".to_owned()));
    }
    let lifetime = state.settings.tokens.access_token_seconds;
    let claims = AccessTokenClaims {
        iss: &state.settings.issuer,
        sub: client.id.as_str(),
        aud: client.id.as_str(),
        client_id: client.id.as_str(),
        iat: now,
        exp: now + lifetime,
        jti: random_token(),
        scope: String::new(),
        auth_time: None,
        acr: None,
        amr: None,
        sid: None,
        gid: None,
    };
    let access_token = state.key_set().signer(client.alg)?.sign("at+jwt", &claims)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetime,
        refresh_token: None,
        id_token: None,
        scope: String::new(),
    })
}

/// Access-token claims (RFC 9068).
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub client_id: &'a str,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    /// The grant the token belongs to, so revoking the grant ends the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<&'a str>,
}

/// A verified access token.
#[derive(Debug, Clone, Deserialize)]
pub struct VerifiedAccessToken {
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub gid: Option<String>,
}

/// Verifies an access token: signature, type, issuer, expiry, and that its
/// grant has not been revoked.
pub fn verify_access_token(state: &AppState, now: UnixSeconds, token: &str) -> Result<VerifiedAccessToken> {
    let key_set = state.key_set();
    let claims: VerifiedAccessToken =
        signing::verify(token, "at+jwt", key_set.published()).ok_or(Error::InvalidToken)?;
    if claims.iss != state.settings.issuer || claims.exp <= now {
        return Err(Error::InvalidToken);
    }
    if let Some(gid) = &claims.gid {
        let grant = state.store.read(|r| r.grant(gid))?.ok_or(Error::InvalidToken)?;
        if grant.revoked_at.is_some() {
            return Err(Error::InvalidToken);
        }
    }
    Ok(claims)
}

/// The `at_hash` of an access token: the left half of its hash, with the hash
/// of the ID token's algorithm (SHA-512 for Ed25519).
fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let digest = match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => Sha256::digest(access_token.as_bytes()).to_vec(),
        SigningAlg::EdDSA => Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// What a grant's tokens are made of (an access token, an ID token and, with
/// `offline_access`, a rotated refresh token), decided inside the grant's
/// transaction. They are signed after it commits ([`sign_grant_tokens`]), so
/// that signing (two RSA signatures take half a millisecond) never holds
/// SQLite's one write turn. Should a signature then fail, the code or refresh
/// token is spent without an answer, and the person signs in again.
struct GrantTokens {
    grant: StoredGrant,
    nonce: Option<String>,
    scopes: Vec<String>,
    user_claims: Map<String, Value>,
    refresh_token: Option<String>,
}

/// Reads the user's claims and stores a new refresh token, if the grant has one.
fn record_grant_tokens(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    client: &Client,
    grant: StoredGrant,
    nonce: Option<String>,
    narrowed_scopes: Option<Vec<String>>,
) -> Result<GrantTokens> {
    let scopes: Vec<String> =
        narrowed_scopes.unwrap_or_else(|| grant.scopes.split_whitespace().map(str::to_owned).collect());
    let user_claims = user_claims(tx, &UserId::from_stored(grant.user_id.clone()), &scopes)?;
    let refresh_token =
        if scopes.iter().any(|s| s == "offline_access") && client.grants.contains(&GrantType::RefreshToken) {
            let token = random_token();
            tx.insert_refresh_token(&sha256_hex(&token), &grant.id, now)?;
            Some(token)
        } else {
            None
        };
    Ok(GrantTokens { grant, nonce, scopes, user_claims, refresh_token })
}

/// Signs the access token and the ID token of a grant.
fn sign_grant_tokens(
    state: &AppState,
    now: UnixSeconds,
    client: &Client,
    signer: &SigningKey,
    tokens: GrantTokens,
) -> Result<TokenResponse> {
    let GrantTokens { grant, nonce, scopes, user_claims: claims, refresh_token } = tokens;
    let grant = &grant;
    let amr: Vec<String> = grant.amr.split_whitespace().map(str::to_owned).collect();
    let settings = &state.settings;
    let scope = scopes.join(" ");

    let access_claims = AccessTokenClaims {
        iss: &settings.issuer,
        sub: &grant.user_id,
        aud: client.id.as_str(),
        client_id: client.id.as_str(),
        iat: now,
        exp: now + settings.tokens.access_token_seconds,
        jti: random_token(),
        scope: scope.clone(),
        auth_time: Some(grant.auth_time),
        acr: Some(ACR_MFA),
        amr: Some(amr.clone()),
        sid: grant.session_public_id.as_deref(),
        gid: Some(&grant.id),
    };
    let access_token = signer.sign("at+jwt", &access_claims)?;

    let mut id_claims = Map::new();
    id_claims.insert("iss".into(), Value::from(settings.issuer.as_str()));
    id_claims.insert("sub".into(), Value::from(grant.user_id.as_str()));
    id_claims.insert("aud".into(), Value::from(client.id.as_str()));
    id_claims.insert("azp".into(), Value::from(client.id.as_str()));
    id_claims.insert("iat".into(), Value::from(now));
    id_claims.insert("exp".into(), Value::from(now + settings.tokens.id_token_seconds));
    id_claims.insert("auth_time".into(), Value::from(grant.auth_time));
    id_claims.insert("acr".into(), Value::from(ACR_MFA));
    id_claims.insert("amr".into(), Value::from(amr));
    id_claims.insert("at_hash".into(), Value::from(at_hash(client.alg, &access_token)));
    if let Some(sid) = &grant.session_public_id {
        id_claims.insert("sid".into(), Value::from(sid.as_str()));
    }
    if let Some(nonce) = nonce {
        id_claims.insert("nonce".into(), Value::from(nonce));
    }
    for (name, value) in claims {
        id_claims.insert(name, value);
    }
    let id_token = signer.sign("JWT", &id_claims)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: settings.tokens.access_token_seconds,
        refresh_token,
        id_token: Some(id_token),
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn each_grant_parses_into_its_own_variant() {
        let code = TokenRequest::parse(&form(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", "https://a/cb"),
        ]))
        .unwrap();
        assert!(matches!(code, TokenRequest::AuthorizationCode { code_verifier: None, .. }));
        let missing = TokenRequest::parse(&form(&[("grant_type", "authorization_code"), ("redirect_uri", "x")]));
        assert!(matches!(missing, Err(Error::InvalidRequest(m)) if m.contains("code")));
        assert!(matches!(
            TokenRequest::parse(&form(&[("grant_type", "refresh_token")])),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(TokenRequest::parse(&form(&[("grant_type", "password")])), Err(Error::UnsupportedGrantType)));
        assert!(matches!(TokenRequest::parse(&form(&[])), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn at_hash_follows_the_algorithm() {
        // OpenID Connect Core example: at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNZdwSdQhDWnVa2Xq3Wc"... computed here.
        let token = "dNZX1hEZ9wBCzNL40Upu646bdzQA";
        let sha256 = Sha256::digest(token.as_bytes());
        assert_eq!(at_hash(SigningAlg::RS256, token), URL_SAFE_NO_PAD.encode(&sha256[..16]));
        assert_eq!(at_hash(SigningAlg::EdDSA, token).len(), 43, "half of SHA-512 is 32 bytes");
    }
}
