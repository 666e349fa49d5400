//! RFC 9068 access tokens: the claims Portti signs into them, and their
//! verification by the endpoints that accept them (userinfo, introspection,
//! revocation).

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::crypto::signing;
use crate::domain::grants::TokenContext;
use crate::error::{Error, Result};

/// Access-token claims (RFC 9068).
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    /// [`access_audience`]: always an array.
    pub aud: Vec<&'a str>,
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

/// The `aud` of an access token: the client it was issued to (as OAuth
/// clients expect), and `resource_audience`, which the resource servers that
/// accept Portti's tokens check (RFC 9068 §4), so that a token issued to one
/// client is recognisably meant for them rather than merely signed by Portti.
pub fn access_audience<'a>(client_id: &'a str, resource_audience: &'a str) -> Vec<&'a str> {
    if client_id == resource_audience { vec![client_id] } else { vec![client_id, resource_audience] }
}

/// An `aud` claim as read: one string, or an array of them (RFC 7519 §4.1.3).
/// Tokens signed before `aud` became an array carry a string.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(aud) => vec![aud],
        OneOrMany::Many(aud) => aud,
    })
}

/// A verified access token.
#[derive(Debug, Clone, Deserialize)]
pub struct VerifiedAccessToken {
    pub sub: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub gid: Option<String>,
    /// When the person signed in (a user's token carries it; a service's does not).
    #[serde(default)]
    pub auth_time: Option<i64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_token_is_for_its_client_and_the_resource_servers() {
        assert_eq!(access_audience("ledger", "https://login.example"), ["ledger", "https://login.example"]);
        assert_eq!(access_audience("api", "api"), ["api"], "named once");
    }

    #[test]
    fn aud_is_read_as_a_string_or_an_array() {
        let read = |aud: serde_json::Value| -> Vec<String> {
            let claims = serde_json::json!({
                "sub": "u", "aud": aud, "client_id": "ledger", "scope": "", "exp": 2, "iat": 1, "iss": "https://i"
            });
            serde_json::from_value::<VerifiedAccessToken>(claims).unwrap().aud
        };
        assert_eq!(read(serde_json::json!("ledger")), ["ledger"]);
        assert_eq!(read(serde_json::json!(["ledger", "https://i"])), ["ledger", "https://i"]);
    }
}
