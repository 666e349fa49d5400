//! What the hosted pages know about the browser: its binding cookie, its
//! session cookie, the anti-forgery token of its forms, its address; and the
//! rendering of pages and their errors.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;

use super::error_response::{is_server_side, status_of};
use super::page::PageTexts;
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::secret::random_token;
use crate::domain::audit::Origin;
use crate::domain::client_address::{ClientAddress, TrustedProxy, client_address as client_address_from};
use crate::error::{Error, Result};

const BROWSER_COOKIE: &str = "portti_browser";
const SESSION_COOKIE: &str = "portti_session";

/// Over https the cookies get the `__Host-` prefix: Secure, host-only, path `/`.
fn cookie_name(base: &str, https: bool) -> String {
    if https { format!("__Host-{base}") } else { base.to_owned() }
}

fn cookie(name: String, value: String, https: bool) -> Cookie<'static> {
    Cookie::build(name, value).path("/").http_only(true).secure(https).same_site(SameSite::Lax).finish()
}

/// The browser's binding id, from its cookie.
pub fn browser_id(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&cookie_name(BROWSER_COOKIE, state.settings.is_https()))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The answer, with the cookie of a browser new here (from
/// [`browser_id_or_new`]) set on it.
pub fn with_new_cookie(mut response: HttpResponse, new_cookie: Option<Cookie<'static>>) -> HttpResponse {
    if let Some(cookie) = new_cookie {
        // Only a cookie Portti built itself: its value is always a valid header.
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The browser's binding id, and a cookie to set when it had none.
pub fn browser_id_or_new(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    match browser_id(req, state) {
        Some(id) => (id, None),
        None => {
            let id = random_token();
            let https = state.settings.is_https();
            let mut c = cookie(cookie_name(BROWSER_COOKIE, https), id.clone(), https);
            c.set_max_age(CookieDuration::days(365));
            (id, Some(c))
        }
    }
}

/// The session cookie's value, if any.
pub fn session_cookie_value(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&cookie_name(SESSION_COOKIE, state.settings.is_https())).map(|c| c.value().to_owned())
}

/// A cookie holding a new session id; it lasts as long as the browser runs,
/// and the server ends the session earlier by its own clock.
pub fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let https = state.settings.is_https();
    cookie(cookie_name(SESSION_COOKIE, https), value, https)
}

/// A cookie that removes the session cookie.
pub fn session_cookie_removal(state: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(state, String::new());
    c.make_removal();
    c
}

/// The form's anti-forgery token for this browser.
pub fn csrf_token(state: &AppState, browser_id: &str) -> Result<String> {
    state.keys.csrf_token(browser_id)
}

/// The client's address, for throttling ([`ClientAddress::throttle_key`]) and
/// logs: the connection's peer, or, behind proxies configured in
/// `sign_in.client_address_header` and `sign_in.trusted_proxies`, the one
/// they pass on ([`crate::domain::client_address::client_address`]).
pub fn client_address(req: &HttpRequest, state: &AppState) -> Option<ClientAddress> {
    let rules = &state.settings.sign_in;
    address_of(req, rules.client_address_header.as_deref(), &rules.trusted_proxies)
}

fn address_of(req: &HttpRequest, header: Option<&str>, trusted: &[TrustedProxy]) -> Option<ClientAddress> {
    let forwarded = header.and_then(|name| forwarded_chain(req, name));
    client_address_from(forwarded.as_deref(), req.peer_addr().map(|addr| addr.ip()), trusted)
}

/// The header's values, in order: a proxy may add a line of its own rather
/// than append to the last one. `None` when absent or not text (then the
/// header is not believed).
fn forwarded_chain(req: &HttpRequest, name: &str) -> Option<String> {
    let mut lines = Vec::new();
    for value in req.headers().get_all(name) {
        lines.push(value.to_str().ok()?);
    }
    (!lines.is_empty()).then(|| lines.join(","))
}

/// Where a request comes from, for the audit trail: the client's address and
/// the request id (read here, on the request's own task).
pub fn origin_of(req: &HttpRequest, state: &AppState) -> Origin {
    Origin {
        address: client_address(req, state).map(|address| address.to_string()),
        request_id: super::request_id::current(),
    }
}

/// Runs domain work on the blocking pool with the current time.
pub async fn run<T: Send + 'static>(
    state: &web::Data<AppState>,
    work: impl FnOnce(&AppState, UnixSeconds) -> Result<T> + Send + 'static,
) -> Result<T> {
    let state = state.get_ref().clone();
    web::block(move || {
        let now = state.clock.now();
        work(&state, now)
    })
    .await?
}

/// [`run`] for the token, userinfo, introspection and revocation endpoints,
/// once one of the database slots is free: under load their requests wait
/// here, on the async workers, rather than as parked blocking threads. Work
/// that checks a password must not come here: it would hold a slot while it
/// waits for a hashing thread.
pub async fn run_in_database_slot<T: Send + 'static>(
    state: &web::Data<AppState>,
    work: impl FnOnce(&AppState, UnixSeconds) -> Result<T> + Send + 'static,
) -> Result<T> {
    // No longer than the pool itself waits for a connection: with the
    // database away, every slot is held by a request waiting for one.
    let _slot = tokio::time::timeout(crate::store::WAIT_FOR_A_CONNECTION, state.database_slots.acquire())
        .await
        .map_err(|_| Error::Unavailable("every database slot is busy".to_owned()))?
        .map_err(Error::internal)?;
    run(state, work).await
}

/// A rendered page with the given status; pages are never cached.
pub fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(html) => HttpResponseBuilder::new(status)
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// A 303 to `location` (after a form, or to leave for the client).
pub fn see_other(location: &str) -> HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((LOCATION, location)).insert_header((CACHE_CONTROL, "no-store"));
    response
}

#[derive(Template)]
#[template(path = "error_page.html")]
struct ErrorPage<'a> {
    t: &'a PageTexts,
    message: String,
    request_id: Option<&'a str>,
}

/// An error as a page in the person's language: what a person can act on is
/// said; an internal error shows only a reference, and its detail goes to the log.
pub fn error_page(error: &Error, t: &PageTexts) -> HttpResponse {
    let request_id = super::request_id::current();
    let message = match error {
        Error::Refused(refusal) => t.texts.refusal(refusal),
        Error::Unavailable(_) => t.get("error.unavailable").to_owned(),
        e if is_server_side(e) => t.get("error.internal").to_owned(),
        // Protocol errors and the like: developer English, as the OAuth answer would be.
        other => other.to_string(),
    };
    if is_server_side(error) {
        tracing::error!(request_id = request_id.as_deref(), error = %error, "page failed");
    }
    let body = ErrorPage { t, message, request_id: request_id.as_deref() }.render().unwrap_or_default();
    let mut response = HttpResponseBuilder::new(status_of(error));
    response.insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).insert_header((CACHE_CONTROL, "no-store"));
    super::error_response::tell_when_to_retry(error, &mut response);
    response.body(body)
}

/// Whether a failed form is shown again with its notice (a refusal), rather
/// than as an error page.
pub fn is_form_refusal(error: &Error) -> bool {
    matches!(error, Error::Refused(refusal) if refusal.is_about_the_form_input())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(address: Option<ClientAddress>) -> Option<String> {
        address.map(|address| address.to_string())
    }

    #[test]
    fn the_address_comes_from_the_proxy_header_only_when_configured() {
        let peer: std::net::SocketAddr = "10.0.0.5:4000".parse().unwrap();
        let req = actix_web::test::TestRequest::default()
            .peer_addr(peer)
            .insert_header(("X-Real-IP", "203.0.113.7"))
            .to_http_request();
        assert_eq!(shown(address_of(&req, None, &[])).as_deref(), Some("10.0.0.5"), "not trusted by default");
        assert_eq!(shown(address_of(&req, Some("X-Real-IP"), &[])).as_deref(), Some("203.0.113.7"));
        let direct = actix_web::test::TestRequest::default().peer_addr(peer).to_http_request();
        assert_eq!(shown(address_of(&direct, Some("X-Real-IP"), &[])).as_deref(), Some("10.0.0.5"), "the peer");
    }

    #[test]
    fn every_line_of_the_header_is_read_in_order() {
        let peer: std::net::SocketAddr = "10.0.0.5:4000".parse().unwrap();
        let trusted: Vec<TrustedProxy> = vec!["10.0.0.0/8".parse().unwrap()];
        let req = actix_web::test::TestRequest::default()
            .peer_addr(peer)
            .append_header(("X-Forwarded-For", "203.0.113.66, 198.51.100.7"))
            .append_header(("X-Forwarded-For", "10.1.1.1"))
            .to_http_request();
        assert_eq!(shown(address_of(&req, Some("X-Forwarded-For"), &trusted)).as_deref(), Some("198.51.100.7"));
        let garbage = actix_web::test::TestRequest::default()
            .peer_addr(peer)
            .append_header(("X-Forwarded-For", "198.51.100.7"))
            .append_header(("X-Forwarded-For", "not an address"))
            .to_http_request();
        assert_eq!(shown(address_of(&garbage, Some("X-Forwarded-For"), &trusted)).as_deref(), Some("10.0.0.5"));
    }

    #[test]
    fn session_cookies_are_http_only_same_site_and_host_bound_over_https() {
        let plain = cookie(cookie_name(SESSION_COOKIE, false), "v".into(), false).to_string();
        assert_eq!(plain, "portti_session=v; HttpOnly; SameSite=Lax; Path=/");
        let https = cookie(cookie_name(SESSION_COOKIE, true), "v".into(), true).to_string();
        assert_eq!(https, "__Host-portti_session=v; HttpOnly; SameSite=Lax; Secure; Path=/");
    }
}
