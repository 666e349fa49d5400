//! The token endpoint's grants, one file each, and the issuing they share.
//!
//! A token request is parsed into a [`TokenRequest`] before anything else
//! happens: one variant per grant, carrying its parameters, so a missing
//! parameter fails there. [`exchange`] checks that the client may use the
//! grant and lets the grant answer. A user's grant answers with an RFC 9068
//! access token, an ID token and, with `offline_access`, an opaque refresh
//! token that rotates on every use ([`GrantTokens`]), signed with the
//! client's algorithm.
//!
//! Adding a grant is a new file (its parameters and their [`Grant`] impl), a
//! variant of [`TokenRequest`] and an arm in [`exchange`].

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod jwt_bearer;
pub mod refresh_token;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::value::MapDeserializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use self::authorization_code::AuthorizationCodeRequest;
use self::client_credentials::ClientCredentialsRequest;
use self::device_code::DeviceCodeRequest;
use self::jwt_bearer::JwtBearerRequest;
use self::refresh_token::RefreshRequest;
use super::access_token::{AccessTokenClaims, access_audience};
use super::claims::user_claims;
use super::client::{Client, GrantType, SigningAlg};
use super::ids::UserId;
use crate::clock::UnixSeconds;
use crate::config::TokensConfig;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::crypto::signing::SigningKey;
use crate::error::{Error, Result};
use crate::store::{StoredGrant, Write};

/// What the token endpoint, and every check of the tokens it issued, reads.
#[derive(Clone)]
pub struct TokenContext<'a> {
    pub store: &'a crate::store::Store,
    pub issuer: &'a str,
    /// The access tokens' `aud` beside the client id (`tokens.resource_audience`).
    pub resource_audience: &'a str,
    pub tokens: &'a crate::config::TokensConfig,
    /// The signing keys in use now.
    pub signing: std::sync::Arc<super::signing_keys::KeySet>,
    /// Clients recently read.
    pub clients: &'a super::client_cache::ClientCache,
    pub metrics: &'a crate::metrics::Metrics,
    /// Where the request came from, for the audit trail.
    pub origin: super::audit::Origin,
    /// The mobile app's client (`app.client_id`): the only one the device-key grant is honoured for.
    pub app_client_id: Option<&'a str>,
    /// The terms of service in force: a grant without a browser (the device
    /// key's) is refused to a person who has not accepted them.
    pub terms_version: &'a str,
}

impl TokenContext<'_> {
    /// The same, for a request from `origin`.
    pub fn coming_from(self, origin: super::audit::Origin) -> Self {
        Self { origin, ..self }
    }
}

/// A token request, one variant per grant, each carrying its parameters: a
/// missing parameter fails at parsing. Parameters that a grant does not take
/// (`client_id` and `client_secret`, read by client authentication, among
/// them) are ignored, as RFC 6749 §3.2 asks of unknown ones.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "grant_type")]
pub enum TokenRequest {
    #[serde(rename = "authorization_code")]
    AuthorizationCode(AuthorizationCodeRequest),
    #[serde(rename = "refresh_token")]
    RefreshToken(RefreshRequest),
    #[serde(rename = "client_credentials")]
    ClientCredentials(ClientCredentialsRequest),
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer(JwtBearerRequest),
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode(DeviceCodeRequest),
}

impl TokenRequest {
    /// Parses the parameters of a token request (each given at most once;
    /// the web layer refuses a repeated one). A parameter sent without a
    /// value counts as omitted (RFC 6749 §3.1). The errors are RFC 6749's: no
    /// `grant_type`, or a grant's parameter missing, is `invalid_request`
    /// naming it; a grant Portti does not know is `unsupported_grant_type`.
    pub fn parse(parameters: &HashMap<String, String>) -> Result<Self> {
        let given = parameters
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.as_str(), value.as_str()));
        Self::deserialize(MapDeserializer::<_, ParameterError>::new(given)).map_err(|ParameterError(error)| error)
    }
}

/// Why a token request's parameters did not parse, in OAuth's terms. serde
/// reports a missing tag or field and an unknown variant through the hooks
/// below, so no error text needs to be read back.
#[derive(Debug)]
struct ParameterError(Error);

impl fmt::Display for ParameterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ParameterError {}

impl serde::de::Error for ParameterError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(Error::InvalidRequest(message.to_string()))
    }

    /// `grant_type` (the tag) or one of the grant's parameters.
    fn missing_field(field: &'static str) -> Self {
        Self(Error::InvalidRequest(format!("{field} is required")))
    }

    /// Only the tag is matched against variants: a `grant_type` not in [`TokenRequest`].
    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
        Self(Error::UnsupportedGrantType)
    }
}

/// One grant: the parameters of its request, and how they are answered.
trait Grant {
    /// The grant type as a client's registration lists it; [`exchange`]
    /// refuses a client without it, and counts the tokens issued by it.
    const TYPE: GrantType;

    /// Answers the request of an authenticated client that may use the grant.
    fn issue(self, ctx: &TokenContext<'_>, now: UnixSeconds, client: &Client) -> Result<TokenResponse>;
}

/// Handles a token request from an authenticated client.
pub fn exchange(
    ctx: &TokenContext<'_>,
    now: UnixSeconds,
    client: &Client,
    request: TokenRequest,
) -> Result<TokenResponse> {
    match request {
        TokenRequest::AuthorizationCode(request) => answer(ctx, now, client, request),
        TokenRequest::RefreshToken(request) => answer(ctx, now, client, request),
        TokenRequest::ClientCredentials(request) => answer(ctx, now, client, request),
        TokenRequest::JwtBearer(request) => answer(ctx, now, client, request),
        TokenRequest::DeviceCode(request) => answer(ctx, now, client, request),
    }
}

fn answer<G: Grant>(ctx: &TokenContext<'_>, now: UnixSeconds, client: &Client, request: G) -> Result<TokenResponse> {
    if !client.grants.contains(&G::TYPE) {
        return Err(Error::UnauthorizedClient(format!("the client may not use {}", G::TYPE.as_str())));
    }
    let response = request.issue(ctx, now, client)?;
    ctx.metrics.token_issued(G::TYPE.as_str());
    Ok(response)
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

fn invalid_grant(why: &str) -> Error {
    Error::InvalidGrant(why.to_owned())
}

/// Which tokens a user's grant answers with, besides its access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSet {
    pub id_token: bool,
    pub refresh_token: bool,
}

impl TokenSet {
    /// The tokens of an answer from a grant of `granted` scopes, to a client
    /// that may use `client_grants`: an ID token when the grant holds
    /// `openid`; a new refresh token when the grant holds `offline_access`
    /// and the client may use refresh_token. A refresh that narrows its
    /// scopes (RFC 6749 §6) narrows only the access and ID tokens: it spent
    /// the refresh token it presented, so it must get the next one, or the
    /// client's next refresh would be taken for a replay.
    pub fn of(granted: &[String], client_grants: &[GrantType]) -> Self {
        let holds = |wanted: &str| granted.iter().any(|scope| scope == wanted);
        Self {
            id_token: holds("openid"),
            refresh_token: holds("offline_access") && client_grants.contains(&GrantType::RefreshToken),
        }
    }
}

/// When the tokens of an answer given at `now` expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub access_token: UnixSeconds,
    pub id_token: UnixSeconds,
    /// The access token's lifetime: the answer's `expires_in`.
    pub expires_in: i64,
}

impl Expiry {
    pub fn at(now: UnixSeconds, lifetimes: &TokensConfig) -> Self {
        Self {
            access_token: now + lifetimes.access_token_seconds,
            id_token: now + lifetimes.id_token_seconds,
            expires_in: lifetimes.access_token_seconds,
        }
    }
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
    id_token: bool,
    refresh_token: Option<String>,
}

/// Reads the user's claims and stores a new refresh token, if the answer has
/// one ([`TokenSet::of`]). `narrowed_scopes`: those a refresh asked for;
/// they narrow the access and ID tokens, never whether a refresh token comes.
fn record_grant_tokens(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    client: &Client,
    grant: StoredGrant,
    nonce: Option<String>,
    narrowed_scopes: Option<Vec<String>>,
) -> Result<GrantTokens> {
    let granted: Vec<String> = grant.scopes.split_whitespace().map(str::to_owned).collect();
    let issued = TokenSet::of(&granted, &client.grants);
    let scopes = narrowed_scopes.unwrap_or(granted);
    let user_claims = user_claims(tx, &UserId::from_stored(grant.user_id.clone()), &scopes)?;
    let refresh_token = if issued.refresh_token {
        let token = random_token();
        tx.insert_refresh_token(&sha256_hex(&token), &grant.id, now)?;
        Some(token)
    } else {
        None
    };
    Ok(GrantTokens { grant, nonce, scopes, user_claims, id_token: issued.id_token, refresh_token })
}

/// Signs the access token and the ID token of a grant. The signer is taken
/// before the grant's transaction: once it commits, nothing but the signature
/// itself may fail.
fn sign_grant_tokens(
    ctx: &TokenContext<'_>,
    now: UnixSeconds,
    client: &Client,
    signer: &SigningKey,
    tokens: GrantTokens,
) -> Result<TokenResponse> {
    let GrantTokens { grant, nonce, scopes, user_claims: claims, id_token, refresh_token } = tokens;
    let grant = &grant;
    let amr: Vec<String> = grant.amr.split_whitespace().map(str::to_owned).collect();
    let expiry = Expiry::at(now, ctx.tokens);
    let scope = scopes.join(" ");

    let access_claims = AccessTokenClaims {
        iss: ctx.issuer,
        sub: &grant.user_id,
        aud: access_audience(client.id.as_str(), ctx.resource_audience),
        client_id: client.id.as_str(),
        iat: now,
        exp: expiry.access_token,
        jti: random_token(),
        scope: scope.clone(),
        auth_time: Some(grant.auth_time),
        acr: grant.acr.as_deref(),
        amr: Some(amr.clone()),
        sid: grant.session_public_id.as_deref(),
        gid: Some(&grant.id),
    };
    let access_token = signer.sign("at+jwt", &access_claims)?;

    let id_token = if id_token {
        let mut id_claims = Map::new();
        id_claims.insert("iss".into(), Value::from(ctx.issuer));
        id_claims.insert("sub".into(), Value::from(grant.user_id.as_str()));
        id_claims.insert("aud".into(), Value::from(client.id.as_str()));
        id_claims.insert("azp".into(), Value::from(client.id.as_str()));
        id_claims.insert("iat".into(), Value::from(now));
        id_claims.insert("exp".into(), Value::from(expiry.id_token));
        id_claims.insert("auth_time".into(), Value::from(grant.auth_time));
        if let Some(acr) = &grant.acr {
            id_claims.insert("acr".into(), Value::from(acr.as_str()));
        }
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
        Some(signer.sign("JWT", &id_claims)?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: expiry.expires_in,
        refresh_token,
        id_token,
        scope,
    })
}
