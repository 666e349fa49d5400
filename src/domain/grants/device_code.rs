//! The device code grant (RFC 8628 §3.4): a device polls with its device
//! code until the person answers at `/device`. It is told to wait
//! (`authorization_pending`), to poll more slowly (`slow_down`, and its
//! interval grows by 5 seconds, remembered), that the person said no
//! (`access_denied`) or that the code ran out (`expired_token`); once
//! allowed, it gets the tokens of the person's sign-in, once.

use serde::Deserialize;

use super::TokenContext;
use super::{Grant, TokenResponse, invalid_grant, record_grant_tokens, sign_grant_tokens};
use crate::clock::UnixSeconds;
use crate::domain::audit::{self, Event, Subjects};
use crate::domain::client::{Client, GrantType};
use crate::domain::device_authorization::{DeviceAuthorization, DeviceState};
use crate::domain::throttle::{Subject, is_locked};
use crate::error::{Error, Result};
use crate::store::StoredGrant;

/// The parameters of a `urn:ietf:params:oauth:grant-type:device_code` request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceCodeRequest {
    pub device_code: String,
}

impl Grant for DeviceCodeRequest {
    const TYPE: GrantType = GrantType::DeviceCode;

    /// One poll. What it learns is committed even when it answers an error:
    /// the poll's time, and a grown interval after a poll too soon.
    fn issue(self, ctx: &TokenContext<'_>, now: UnixSeconds, client: &Client) -> Result<TokenResponse> {
        let signer = ctx.signing.signer(client.alg)?.clone();
        ctx.store
            .write(|tx| {
                let request = DeviceAuthorization::by_device_code(tx, &self.device_code)?;
                let Some(mut request) = request.filter(|r| r.stored.client_id == client.id.as_str()) else {
                    return Ok(Err(invalid_grant("the device code is invalid")));
                };
                if request.state == DeviceState::Issued {
                    return Ok(Err(invalid_grant("the device code was already used")));
                }
                if request.stored.expires_at <= now {
                    return Ok(Err(Error::ExpiredToken));
                }
                if request.note_poll(tx, now)? {
                    return Ok(Err(Error::SlowDown(request.stored.interval_seconds)));
                }
                let (user, amr, auth_time, acr) = match request.state.clone() {
                    DeviceState::Pending => return Ok(Err(Error::AuthorizationPending)),
                    DeviceState::Denied => return Ok(Err(Error::AccessDenied)),
                    DeviceState::Issued => return Ok(Err(invalid_grant("the device code was already used"))),
                    DeviceState::Approved { user, amr, auth_time, acr } => (user, amr, auth_time, acr),
                };
                // Two polls at once: one takes the tokens, the other waits.
                if !request.advance(tx, DeviceState::Issued)? {
                    return Ok(Err(Error::AuthorizationPending));
                }
                if is_locked(tx.locked_until(Subject::person(&user).key())?, now) {
                    return Ok(Err(invalid_grant("the account is locked")));
                }
                let scopes: Vec<String> = request.stored.scopes.split_whitespace().map(str::to_owned).collect();
                let scopes = crate::domain::admin::granted_scopes(tx, &user, &scopes)?;
                let grant = StoredGrant {
                    id: uuid::Uuid::now_v7().to_string(),
                    user_id: user.as_str().to_owned(),
                    client_id: client.id.as_str().to_owned(),
                    // The device's tokens outlive the browser session that allowed them.
                    session_public_id: None,
                    scopes: scopes.join(" "),
                    auth_time,
                    amr: amr.join(" "),
                    created_at: now,
                    expires_at: now + ctx.tokens.refresh_token_seconds,
                    revoked_at: None,
                    acr,
                };
                tx.insert_grant(&grant)?;
                let about = Subjects::person(&user).with_client(client.id.as_str());
                audit::record(tx, now, &ctx.origin, about, Event::DeviceAuthorizationIssued)?;
                record_grant_tokens(tx, now, client, grant, None, None).map(Ok)
            })
            .and_then(|outcome| outcome)
            .and_then(|tokens| sign_grant_tokens(ctx, now, client, &signer, tokens))
    }
}
