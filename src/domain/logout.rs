//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use serde::Deserialize;

use super::audit::{self, Event, Subjects};
use super::client::ClientId;
use super::refusal::Refusal;
use super::session;
use super::signin::SignIn;
use crate::clock::UnixSeconds;
use crate::crypto::signing;
use crate::error::{Error, Result};

/// The parameters of a logout request, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

#[derive(Deserialize)]
struct IdTokenHint {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    sid: Option<String>,
}

/// What a logout request leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOut {
    /// Ask the person first: nothing proves the request came from their application.
    Confirm,
    /// Signed out; go back to the application.
    Redirect(String),
    /// Signed out; say so.
    Done,
}

/// Ends the browser's session. Without an ID token of this session as a hint,
/// the person must confirm (`confirmed`) so that a link cannot sign them out.
/// A `post_logout_redirect_uri` is followed only when the client registered it.
pub fn logout(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    session_cookie: Option<&str>,
    params: &LogoutParams,
    confirmed: bool,
) -> Result<LoggedOut> {
    let hint = match params.id_token_hint.as_deref() {
        Some(token) => {
            let hint = signing::verify::<IdTokenHint>(token, "JWT", ctx.signing.published())
                .filter(|hint| hint.iss == ctx.issuer)
                .ok_or(Refusal::InvalidLogoutHint)?;
            Some(hint)
        }
        None => None,
    };
    let hinted_client = hint.as_ref().and_then(|hint| match &hint.aud {
        serde_json::Value::String(aud) => Some(aud.clone()),
        serde_json::Value::Array(auds) => auds.first().and_then(|a| a.as_str()).map(str::to_owned),
        _ => None,
    });
    let client_id = match (params.client_id.as_deref(), hinted_client.as_deref()) {
        (Some(given), Some(hinted)) if given != hinted => {
            return Err(Refusal::LogoutClientMismatch.into());
        }
        (Some(given), _) => Some(given.to_owned()),
        (None, hinted) => hinted.map(str::to_owned),
    };
    let redirect = match params.post_logout_redirect_uri.as_deref() {
        Some(uri) => {
            let client = match client_id.as_deref().map(ClientId::parse) {
                Some(Ok(id)) => ctx.store.read(|r| r.client(&id))?,
                _ => None,
            };
            let registered = client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri));
            if !registered {
                return Err(Refusal::UnregisteredRedirect.into());
            }
            Some(uri.to_owned())
        }
        None => None,
    };
    let current = session::current(ctx.store, ctx.sessions, now, session_cookie)?;
    let hint_matches = match (&hint, &current) {
        (Some(hint), Some(current)) => {
            hint.sub == current.user_id.as_str() && hint.sid.as_deref().is_none_or(|sid| sid == current.public_id)
        }
        (Some(_), None) => true,
        _ => false,
    };
    if current.is_some() && !hint_matches && !confirmed {
        return Ok(LoggedOut::Confirm);
    }
    if let Some(cookie) = session_cookie {
        ctx.store.write(|tx| {
            session::end(tx, now, cookie)?;
            match &current {
                Some(signed_out) => {
                    let about =
                        Subjects { user: Some(&signed_out.user_id), client: client_id.as_deref(), company: None };
                    audit::record(tx, now, &ctx.origin, about, Event::SignedOut)
                }
                None => Ok(()),
            }
        })?;
    }
    Ok(match redirect {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(Error::internal)?;
            if let Some(client_state) = params.state.as_deref() {
                url.query_pairs_mut().append_pair("state", client_state);
            }
            LoggedOut::Redirect(url.to_string())
        }
        None => LoggedOut::Done,
    })
}
