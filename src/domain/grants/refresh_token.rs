//! The refresh token grant (RFC 6749 §6): opaque refresh tokens that rotate
//! on every use, where presenting a used one revokes its whole grant.

use serde::Deserialize;

use super::TokenContext;
use super::{Grant, TokenResponse, invalid_grant, record_grant_tokens, sign_grant_tokens};
use crate::clock::UnixSeconds;
use crate::crypto::secret::sha256_hex;
use crate::domain::audit::{self, Event, Subjects};
use crate::domain::client::{Client, GrantType};
use crate::error::{Error, Result};

/// The parameters of a `refresh_token` request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
    /// Fewer scopes than the grant holds, for this answer's access and ID
    /// tokens; the grant, and the refresh token that continues it, keep all.
    pub scope: Option<String>,
}

/// The scopes a refresh asks for, when its `scope` names any: each must be
/// one of `granted` (the grant's, space-separated). `None`: the grant's own.
pub fn narrowed_scopes(granted: &str, asked: Option<&str>) -> Result<Option<Vec<String>>> {
    let granted: Vec<&str> = granted.split_whitespace().collect();
    match asked {
        Some(scope) if !scope.trim().is_empty() => {
            let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
            if asked.iter().any(|s| !granted.contains(&s.as_str())) {
                return Err(Error::InvalidScope("a scope was not part of the original grant".to_owned()));
            }
            Ok(Some(asked))
        }
        _ => Ok(None),
    }
}

impl Grant for RefreshRequest {
    const TYPE: GrantType = GrantType::RefreshToken;

    /// Rotates the refresh token: it is spent, and the answer holds a new
    /// one while the grant holds `offline_access`, even when the request's
    /// `scope` leaves it out.
    fn issue(self, ctx: &TokenContext<'_>, now: UnixSeconds, client: &Client) -> Result<TokenResponse> {
        let Self { refresh_token, scope } = self;
        // The key is taken before the transaction: once it commits, nothing but
        // the signature itself may fail.
        let signer = ctx.signing.signer(client.alg)?.clone();
        let digest = sha256_hex(&refresh_token);
        // The token is spent first, in the statement that finds it. A refusal
        // after that is the outer error and rolls the spending back; only a
        // reuse (the inner error) is committed, with the grant it revokes.
        ctx.store
            .write(|tx| {
                let Some(grant_id) = tx.spend_refresh_token(&digest, now)? else {
                    let Some(used) = tx.refresh_token(&digest)? else {
                        return Err(invalid_grant("the refresh token is invalid"));
                    };
                    let Some(grant) = tx.grant(&used.grant_id)? else {
                        return Err(invalid_grant("the refresh token is invalid"));
                    };
                    if grant.client_id != client.id.as_str() {
                        return Err(invalid_grant("the refresh token was issued to another client"));
                    }
                    tx.revoke_grant(&grant.id, now)?;
                    let user = crate::domain::ids::UserId::from_stored(grant.user_id.clone());
                    let about = Subjects::person(&user).with_client(client.id.as_str());
                    audit::record(tx, now, &ctx.origin, about, Event::Replayed { token: "refresh_token" })?;
                    tracing::warn!(client_id = %client.id.as_str(), "refresh token reused; its grant is revoked");
                    return Ok(Err(invalid_grant("the refresh token was already used")));
                };
                let Some(grant) = tx.grant(&grant_id)? else {
                    return Err(invalid_grant("the refresh token is invalid"));
                };
                if grant.client_id != client.id.as_str() {
                    return Err(invalid_grant("the refresh token was issued to another client"));
                }
                if grant.revoked_at.is_some() || grant.expires_at <= now {
                    return Err(invalid_grant("the refresh token has expired or was revoked"));
                }
                let narrowed = narrowed_scopes(&grant.scopes, scope.as_deref())?;
                record_grant_tokens(tx, now, client, grant, None, narrowed).map(Ok)
            })
            .and_then(|outcome| outcome)
            .and_then(|tokens| sign_grant_tokens(ctx, now, client, &signer, tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_keeps_the_grants_scopes_unless_it_names_fewer() {
        let granted = "openid email offline_access";
        assert_eq!(narrowed_scopes(granted, None).unwrap(), None);
        assert_eq!(narrowed_scopes(granted, Some("")).unwrap(), None);
        assert_eq!(narrowed_scopes(granted, Some("  ")).unwrap(), None, "blank is no scope");
        assert_eq!(
            narrowed_scopes(granted, Some("email  offline_access")).unwrap(),
            Some(vec!["email".to_owned(), "offline_access".to_owned()])
        );
        assert_eq!(
            narrowed_scopes(granted, Some(granted)).unwrap(),
            Some(vec!["openid".to_owned(), "email".to_owned(), "offline_access".to_owned()])
        );
        assert!(matches!(narrowed_scopes(granted, Some("email phone")), Err(Error::InvalidScope(_))));
        assert!(matches!(narrowed_scopes(granted, Some("mail")), Err(Error::InvalidScope(_))), "whole names only");
    }
}
