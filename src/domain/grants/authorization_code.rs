//! The authorization code grant (RFC 6749 §4.1, with PKCE of RFC 7636): a
//! completed sign-in creates a grant and a code, which the client redeems
//! once for the grant's tokens. A code presented twice revokes its grant.

use serde::Deserialize;

use super::TokenContext;
use super::{Grant, TokenResponse, invalid_grant, record_grant_tokens, sign_grant_tokens};
use crate::clock::UnixSeconds;
use crate::config::TokensConfig;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::domain::audit::{self, Event, Subjects};
use crate::domain::authorization::{AuthorizationRequest, pkce_matches};
use crate::domain::client::{Client, GrantType};
use crate::domain::session::Session;
use crate::error::Result;
use crate::store::{StoredCode, StoredGrant, Write};

/// How long an authorization code is valid.
pub const CODE_SECONDS: i64 = 60;

/// The parameters of an `authorization_code` request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthorizationCodeRequest {
    pub code: String,
    pub redirect_uri: String,
    /// Required when the authorization request sent a `code_challenge`.
    pub code_verifier: Option<String>,
}

/// When a code issued at `now`, and the grant it starts, expire. The grant,
/// and with it every refresh token of it, lives `refresh_token_seconds` from
/// the sign-in however often it is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeExpiry {
    pub code: UnixSeconds,
    pub grant: UnixSeconds,
}

impl CodeExpiry {
    pub fn at(now: UnixSeconds, lifetimes: &TokensConfig) -> Self {
        Self { code: now + CODE_SECONDS, grant: now + lifetimes.refresh_token_seconds }
    }
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
    let expiry = CodeExpiry::at(now, tokens);
    let scopes = crate::domain::admin::granted_scopes(tx, &session.user_id, &request.scopes)?;
    let grant = StoredGrant {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: session.user_id.as_str().to_owned(),
        client_id: request.client_id.as_str().to_owned(),
        session_public_id: Some(session.public_id.clone()),
        scopes: scopes.join(" "),
        auth_time: session.auth_time,
        amr: session.amr.join(" "),
        created_at: now,
        expires_at: expiry.grant,
        revoked_at: None,
        acr: session.acr.clone(),
    };
    tx.insert_grant(&grant)?;
    let code = random_token();
    tx.insert_authorization_code(&StoredCode {
        code_digest: sha256_hex(&code),
        grant_id: grant.id,
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        expires_at: expiry.code,
        used_at: None,
    })?;
    Ok(code)
}

impl Grant for AuthorizationCodeRequest {
    const TYPE: GrantType = GrantType::AuthorizationCode;

    /// Redeems the code, once: a second use revokes the grant and what the
    /// first issued.
    fn issue(self, ctx: &TokenContext<'_>, now: UnixSeconds, client: &Client) -> Result<TokenResponse> {
        let Self { code, redirect_uri, code_verifier: verifier } = self;
        // The key is taken before the transaction: once it commits, nothing but
        // the signature itself may fail.
        let signer = ctx.signing.signer(client.alg)?.clone();
        let digest = sha256_hex(&code);
        // The outer result rolls back; the inner one is committed, so a replayed
        // code's revocation is stored even though the request fails.
        ctx.store
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
                    let user = crate::domain::ids::UserId::from_stored(grant.user_id.clone());
                    let about = Subjects::person(&user).with_client(client.id.as_str());
                    audit::record(tx, now, &ctx.origin, about, Event::Replayed { token: "authorization_code" })?;
                    tracing::warn!(client_id = %client.id.as_str(), "authorization code reused; its grant is revoked");
                    return Ok(Err(invalid_grant("the code was already used")));
                }
                if stored.expires_at <= now || grant.revoked_at.is_some() {
                    return Ok(Err(invalid_grant("the code has expired")));
                }
                if stored.redirect_uri != redirect_uri {
                    return Ok(Err(invalid_grant("redirect_uri does not match the authorization request")));
                }
                match (&stored.code_challenge, verifier.as_deref()) {
                    (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
                    (Some(_), _) => return Ok(Err(invalid_grant("the code_verifier does not match"))),
                    (None, Some(_)) => return Ok(Err(invalid_grant("no code_challenge was sent for this code"))),
                    (None, None) if client.is_public() => return Ok(Err(invalid_grant("PKCE is required"))),
                    (None, None) => {}
                }
                record_grant_tokens(tx, now, client, grant, stored.nonce, None).map(Ok)
            })
            .and_then(|outcome| outcome)
            .and_then(|tokens| sign_grant_tokens(ctx, now, client, &signer, tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_lives_a_minute_and_its_grant_the_refresh_lifetime() {
        let lifetimes = TokensConfig {
            access_token_seconds: 300,
            id_token_seconds: 900,
            refresh_token_seconds: 86_400,
            ..TokensConfig::default()
        };
        let now = 1_800_000_000;
        assert_eq!(CodeExpiry::at(now, &lifetimes), CodeExpiry { code: now + 60, grant: now + 86_400 });
    }
}
