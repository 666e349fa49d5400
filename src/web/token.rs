//! The token, introspection, revocation and userinfo endpoints.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA};
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::browser::run_in_database_slot;
use crate::AppState;
use crate::domain::access_token::verify_access_token;
use crate::domain::app_version;
use crate::domain::claims::user_claims;
use crate::domain::client_authentication::{ClientCredentials, authenticate_client};
use crate::domain::device_authorization as device_grant;
use crate::domain::grants::client_credentials::answer_at_once;
use crate::domain::grants::{TokenRequest, exchange};
use crate::domain::ids::UserId;
use crate::domain::token_status::{introspect, revoke};
use crate::error::{Error, Result};

/// The parameters of a form-encoded OAuth request (token, introspection,
/// revocation), each given at most once: RFC 6749 §3.1 and §3.2 say a
/// parameter MUST NOT be included more than once, and a map would silently
/// keep one of two values. The body is read as `web::Form` reads it:
/// `application/x-www-form-urlencoded` only (415 otherwise), at most 16 KiB
/// (413 beyond).
struct OAuthParameters(HashMap<String, String>);

impl FromRequest for OAuthParameters {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let pairs = web::Form::<Vec<(String, String)>>::from_request(req, payload);
        Box::pin(async move { Ok(Self(once_each(pairs.await?.into_inner())?)) })
    }
}

/// Collects a request's parameters, refusing one given twice.
fn once_each(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>> {
    let mut parameters = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        match parameters.entry(name) {
            Entry::Occupied(repeated) => {
                return Err(Error::InvalidRequest(format!("{} must not be given more than once", repeated.key())));
            }
            Entry::Vacant(first) => {
                first.insert(value);
            }
        }
    }
    Ok(parameters)
}

/// The client credentials of a request: HTTP Basic (RFC 6749 2.3.1, each part
/// form-encoded) or `client_id` / `client_secret` in the body, not both.
fn client_credentials(req: &HttpRequest, form: &HashMap<String, String>) -> Result<ClientCredentials> {
    let basic = match req.headers().get(AUTHORIZATION).and_then(|h| h.to_str().ok()) {
        Some(header) if header.len() > 6 && header[..6].eq_ignore_ascii_case("basic ") => {
            let decoded = STANDARD.decode(header[6..].trim()).map_err(|_| Error::InvalidClient)?;
            let decoded = String::from_utf8(decoded).map_err(|_| Error::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(Error::InvalidClient)?;
            let decode = |part: &str| {
                url::form_urlencoded::parse(format!("x={part}").as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default()
            };
            Some(ClientCredentials { client_id: Some(decode(id)), client_secret: Some(decode(secret)) })
        }
        _ => None,
    };
    // A parameter sent without a value is treated as omitted (RFC 6749 §3.1):
    // some libraries send an empty client_secret for a public client.
    let given = |name: &str| form.get(name).filter(|value| !value.is_empty()).cloned();
    match basic {
        Some(_) if given("client_secret").is_some() => {
            Err(Error::InvalidRequest("use one client authentication method".to_owned()))
        }
        Some(credentials) => Ok(credentials),
        None => Ok(ClientCredentials { client_id: given("client_id"), client_secret: given("client_secret") }),
    }
}

/// The client credentials and the `token` of an introspection or revocation request.
fn credentials_and_token(req: &HttpRequest, form: HashMap<String, String>) -> Result<(ClientCredentials, String)> {
    let credentials = client_credentials(req, &form)?;
    let token = form.get("token").cloned().ok_or_else(|| Error::InvalidRequest("token is required".to_owned()))?;
    Ok((credentials, token))
}

fn no_store_json(body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).insert_header((PRAGMA, "no-cache")).json(body)
}

#[post("/token")]
pub async fn token_endpoint(
    req: HttpRequest,
    state: web::Data<AppState>,
    OAuthParameters(form): OAuthParameters,
) -> Result<HttpResponse> {
    let credentials = client_credentials(&req, &form)?;
    let app = &state.settings.app;
    let sent = req.headers().get(app_version::HEADER).and_then(|v| v.to_str().ok());
    app_version::check_token_request(
        app.client_id.as_deref(),
        app.min_version.as_ref(),
        credentials.client_id.as_deref(),
        sent,
    )?;
    let request = TokenRequest::parse(&form)?;
    if let Some(answer) = answer_at_once(&state.token_context(), state.clock.now(), &credentials, &request) {
        return Ok(no_store_json(&answer?));
    }
    // Where it came from, for the audit of a replayed code or refresh token.
    let origin = super::browser::origin_of(&req, &state);
    let response = run_in_database_slot(&state, move |s, now| {
        let ctx = s.token_context().coming_from(origin);
        let client = authenticate_client(&ctx, &credentials)?;
        exchange(&ctx, now, &client, request)
    })
    .await?;
    Ok(no_store_json(&response))
}

#[post("/introspect")]
pub async fn introspection(
    req: HttpRequest,
    state: web::Data<AppState>,
    OAuthParameters(form): OAuthParameters,
) -> Result<HttpResponse> {
    let (credentials, token) = credentials_and_token(&req, form)?;
    let answer = run_in_database_slot(&state, move |s, now| {
        let client = authenticate_client(&s.token_context(), &credentials)?;
        introspect(&s.token_context(), now, &client, &token)
    })
    .await?;
    Ok(no_store_json(&answer))
}

#[post("/revoke")]
pub async fn revocation(
    req: HttpRequest,
    state: web::Data<AppState>,
    OAuthParameters(form): OAuthParameters,
) -> Result<HttpResponse> {
    let (credentials, token) = credentials_and_token(&req, form)?;
    run_in_database_slot(&state, move |s, now| {
        let client = authenticate_client(&s.token_context(), &credentials)?;
        revoke(&s.token_context(), now, &client, &token)
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).finish())
}

/// The bearer token of a request (RFC 6750): the header, or a POST form field.
pub(super) fn bearer_token(req: &HttpRequest, form: Option<&HashMap<String, String>>) -> Result<String> {
    if let Some(header) = req.headers().get(AUTHORIZATION).and_then(|h| h.to_str().ok()) {
        return match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                Ok(token.trim().to_owned())
            }
            _ => Err(Error::InvalidToken),
        };
    }
    form.and_then(|f| f.get("access_token")).cloned().ok_or(Error::InvalidToken)
}

async fn userinfo(state: web::Data<AppState>, token: String) -> Result<HttpResponse> {
    let claims = run_in_database_slot(&state, move |s, now| {
        let access = verify_access_token(&s.token_context(), now, &token)?;
        let scopes: Vec<String> = access.scope.split_whitespace().map(str::to_owned).collect();
        if !scopes.iter().any(|scope| scope == "openid") || access.gid.is_none() {
            return Err(Error::InvalidToken);
        }
        let user_id = UserId::from_stored(access.sub.clone());
        // A token of a user who no longer exists is invalid; a database failure is not the token's fault.
        let mut claims = s.store.read(|r| user_claims(r, &user_id, &scopes)).map_err(|e| match e {
            Error::InvalidGrant(_) => Error::InvalidToken,
            other => other,
        })?;
        claims.insert("sub".into(), Value::from(access.sub));
        Ok(claims)
    })
    .await?;
    Ok(no_store_json(&json!(claims)))
}

#[get("/userinfo")]
pub async fn userinfo_get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let token = bearer_token(&req, None)?;
    userinfo(state, token).await
}

#[post("/userinfo")]
pub async fn userinfo_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> Result<HttpResponse> {
    let token = bearer_token(&req, form.as_deref())?;
    userinfo(state, token).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(given: &[(&str, &str)]) -> Vec<(String, String)> {
        given.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[test]
    fn a_parameter_given_twice_is_refused_by_name() {
        let once = once_each(pairs(&[("grant_type", "client_credentials"), ("scope", "")])).unwrap();
        assert_eq!(once.len(), 2);
        for repeated in [
            pairs(&[("code", "a"), ("redirect_uri", "r"), ("code", "b")]),
            pairs(&[("code", "a"), ("code", "a")]),
            pairs(&[("code", ""), ("code", "a")]),
        ] {
            match once_each(repeated) {
                Err(Error::InvalidRequest(why)) => assert_eq!(why, "code must not be given more than once"),
                other => panic!("{other:?}"),
            }
        }
    }
}

/// The device authorization endpoint (RFC 8628 §3.1): a device without a
/// browser asks for a device code and a user code. The client authenticates
/// as at the token endpoint (a public one by its `client_id`).
#[post("/device_authorization")]
pub async fn device_authorization(
    req: HttpRequest,
    state: web::Data<AppState>,
    OAuthParameters(form): OAuthParameters,
) -> Result<HttpResponse> {
    let credentials = client_credentials(&req, &form)?;
    let scope = form.get("scope").cloned();
    let address = super::browser::client_address(&req, &state);
    let (shown, throttle_key) = (address.as_ref().map(|a| a.to_string()), address.map(|a| a.throttle_key()));
    let answer = run_in_database_slot(&state, move |s, now| {
        let client = authenticate_client(&s.token_context(), &credentials)?;
        let issuer = &s.settings.issuer;
        let requester = device_grant::Requester { address: shown.as_deref(), throttle_key: throttle_key.as_deref() };
        device_grant::start(&s.store, &s.keys, issuer, now, &client, scope.as_deref(), requester)
    })
    .await?;
    Ok(no_store_json(&answer))
}
