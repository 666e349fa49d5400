//! RFC 9068 access tokens: the claims Portti signs into them, and their
//! verification by the endpoints that accept them (userinfo, introspection,
//! revocation).

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::crypto::signing;
use crate::domain::grants::TokenContext;
use crate::error::{Error, Result};

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
pub fn verify_access_token(ctx: &TokenContext<'_>, now: UnixSeconds, token: &str) -> Result<VerifiedAccessToken> {
    let key_set = &ctx.signing;
    let claims: VerifiedAccessToken =
        signing::verify(token, "at+jwt", key_set.published()).ok_or(Error::InvalidToken)?;
    if claims.iss != ctx.issuer || claims.exp <= now {
        return Err(Error::InvalidToken);
    }
    if let Some(gid) = &claims.gid {
        let grant = ctx.store.read(|r| r.grant(gid))?.ok_or(Error::InvalidToken)?;
        if grant.revoked_at.is_some() {
            return Err(Error::InvalidToken);
        }
    }
    Ok(claims)
}
