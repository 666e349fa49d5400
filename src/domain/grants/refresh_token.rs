//! The refresh token grant (RFC 6749 §6): opaque refresh tokens that rotate
//! on every use, where presenting a used one revokes its whole grant.

use serde::Deserialize;

use super::{Grant, TokenResponse, invalid_grant, record_grant_tokens, sign_grant_tokens};
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::secret::sha256_hex;
use crate::domain::client::{Client, GrantType};
use crate::error::{Error, Result};

/// The parameters of a `refresh_token` request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
    /// Fewer scopes than the grant holds, for this answer's tokens.
    pub scope: Option<String>,
}

impl Grant for RefreshRequest {
    const TYPE: GrantType = GrantType::RefreshToken;

    /// Rotates the refresh token: it is spent, and the answer holds a new
    /// one while the scopes hold `offline_access`.
    fn issue(self, state: &AppState, now: UnixSeconds, client: &Client) -> Result<TokenResponse> {
        let Self { refresh_token, scope } = self;
        // The key is taken before the transaction: once it commits, nothing but
        // the signature itself may fail.
        let signer = state.key_set().signer(client.alg)?.clone();
        let digest = sha256_hex(&refresh_token);
        // As for a code: the outer result rolls back, the inner one is committed.
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
                let narrowed = match scope.as_deref() {
                    Some(scope) if !scope.trim().is_empty() => {
                        let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
                        if asked.iter().any(|s| !granted.contains(&s.as_str())) {
                            return Ok(Err(Error::InvalidScope(
                                "a scope was not part of the original grant".to_owned(),
                            )));
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
}
