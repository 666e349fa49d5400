//! Introspection (RFC 7662) and revocation (RFC 7009) of tokens.

use serde::Serialize;

use super::access_token::verify_access_token;
use super::client::Client;
use crate::clock::UnixSeconds;
use crate::crypto::secret::sha256_hex;
use crate::domain::grants::TokenContext;
use crate::error::Result;

/// A token that is not a valid access token is simply not one (`None`); any
/// other failure (the database, say) is an error, never "inactive": a
/// revocation that cannot reach the database must not answer that it worked.
fn unless_invalid<T>(verified: Result<T>) -> Result<Option<T>> {
    match verified {
        Ok(value) => Ok(Some(value)),
        Err(crate::error::Error::InvalidToken) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The answer of the introspection endpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// An access token's audiences, which a resource server checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
}

impl Introspection {
    fn inactive() -> Self {
        Self {
            active: false,
            scope: None,
            client_id: None,
            sub: None,
            aud: None,
            exp: None,
            iat: None,
            iss: None,
            token_type: None,
        }
    }
}

/// Says whether a token is active. A client may introspect only the tokens
/// issued to it; anything else is just inactive, so nothing about other
/// clients' tokens or users can be learnt here.
pub fn introspect(ctx: &TokenContext<'_>, now: UnixSeconds, client: &Client, token: &str) -> Result<Introspection> {
    if client.is_public() {
        return Err(crate::error::Error::InvalidClient);
    }
    if let Some(access) = unless_invalid(verify_access_token(ctx, now, token))? {
        if access.client_id != client.id.as_str() {
            return Ok(Introspection::inactive());
        }
        return Ok(Introspection {
            active: true,
            scope: Some(access.scope),
            client_id: Some(access.client_id),
            sub: Some(access.sub),
            aud: Some(access.aud),
            exp: Some(access.exp),
            iat: Some(access.iat),
            iss: Some(access.iss),
            token_type: Some("Bearer"),
        });
    }
    let digest = sha256_hex(token);
    let active = ctx.store.read(|r| {
        let Some(refresh) = r.refresh_token(&digest)? else { return Ok(None) };
        let Some(grant) = r.grant(&refresh.grant_id)? else { return Ok(None) };
        let live = refresh.used_at.is_none()
            && grant.revoked_at.is_none()
            && grant.expires_at > now
            && grant.client_id == client.id.as_str();
        Ok(live.then_some((refresh, grant)))
    })?;
    Ok(match active {
        Some((refresh, grant)) => Introspection {
            active: true,
            scope: Some(grant.scopes),
            client_id: Some(grant.client_id),
            sub: Some(grant.user_id),
            aud: None,
            exp: Some(grant.expires_at),
            iat: Some(refresh.issued_at),
            iss: Some(ctx.issuer.to_owned()),
            token_type: Some("refresh_token"),
        },
        None => Introspection::inactive(),
    })
}

/// Revokes a token the client holds: the whole grant behind a refresh token
/// or an access token ends. Unknown tokens are ignored, as RFC 7009 §2.2
/// asks. Another client's token is ignored too and answered alike (where
/// §2.1 would refuse it), so that revocation tells no client anything of
/// another's tokens.
pub fn revoke(ctx: &TokenContext<'_>, now: UnixSeconds, client: &Client, token: &str) -> Result<()> {
    let digest = sha256_hex(token);
    let grant_id = match ctx.store.read(|r| r.refresh_token(&digest))? {
        Some(refresh) => Some(refresh.grant_id),
        None => unless_invalid(verify_access_token(ctx, now, token))?.and_then(|access| access.gid),
    };
    let Some(grant_id) = grant_id else { return Ok(()) };
    ctx.store.write(|tx| {
        if tx.grant(&grant_id)?.is_some_and(|grant| grant.client_id == client.id.as_str()) {
            tx.revoke_grant(&grant_id, now)?;
        }
        Ok(())
    })
}
