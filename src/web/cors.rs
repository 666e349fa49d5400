//! CORS for browser applications: a single-page app (a public client) calls
//! `/token`, `/userinfo` and `/revoke` from JavaScript. Those three, and
//! nothing else, answer the origins of registered redirect URIs
//! ([`crate::domain::browser_origins`]): the origin itself (never `*`),
//! without credentials (the endpoints take tokens, not cookies), and
//! `Vary: Origin`. Pages and other APIs never answer CORS, so a browser
//! keeps every other origin out of them.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, HeaderValue, ORIGIN, VARY,
};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::error::Result;

/// The endpoints that answer CORS, and the methods a browser may call them with.
const ENDPOINTS: [(&str, &str); 3] = [("/token", "POST"), ("/userinfo", "GET, POST"), ("/revoke", "POST")];

/// The request headers a browser application may send: a bearer token, and
/// the form's content type.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type";

/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

fn methods_of(path: &str) -> Option<&'static str> {
    ENDPOINTS.iter().find(|(endpoint, _)| *endpoint == path).map(|(_, methods)| *methods)
}

/// Whether `origin` is one of the registered ones: from the kept set, or
/// read again on the blocking pool once that is older than a few seconds.
async fn is_registered(state: &web::Data<AppState>, origin: &str) -> Result<bool> {
    if let Some(allowed) = state.browser_origins.fresh_allows(origin) {
        return Ok(allowed);
    }
    let (state, origin) = (state.clone(), origin.to_owned());
    web::block(move || state.browser_origins.reload(&origin, || state.store.read(|r| r.login_redirect_uris()))).await?
}

/// Middleware: answers a preflight from a registered origin at one of the
/// [`ENDPOINTS`], and adds the CORS headers to their other answers.
pub async fn answer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(methods) = methods_of(req.path()) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let origin = req.headers().get(ORIGIN).cloned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let registered = match (&origin, &state) {
        (Some(origin), Some(state)) => match origin.to_str() {
            Ok(text) => is_registered(state, text).await?,
            Err(_) => false,
        },
        _ => false,
    };
    let allowed = origin.filter(|_| registered);
    if let Some(origin) = &allowed
        && req.method() == Method::OPTIONS
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    {
        let preflight = HttpResponse::NoContent()
            .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((ACCESS_CONTROL_ALLOW_METHODS, methods))
            .insert_header((ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
            .insert_header((ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE))
            .insert_header((VARY, "Origin"))
            .finish();
        return Ok(req.into_response(preflight).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        // So that a script can read why a token was refused.
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("WWW-Authenticate"));
    }
    Ok(response.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_endpoints_answer_cors() {
        assert_eq!(methods_of("/token"), Some("POST"));
        assert_eq!(methods_of("/userinfo"), Some("GET, POST"));
        assert_eq!(methods_of("/revoke"), Some("POST"));
        for other in ["/introspect", "/authorize", "/signin/x", "/account", "/token/", "/metrics", "/"] {
            assert_eq!(methods_of(other), None, "{other}");
        }
    }
}
