//! The HTTP surface: actix only. Handlers parse, call one domain function and
//! render; the rules live in `domain`.

mod health;
mod home;
pub mod request_id;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web::ServiceConfig;

/// Registers every route.
pub fn routes(config: &mut ServiceConfig) {
    config.service(health::healthz).service(health::readyz).service(home::home).service(home::stylesheet);
}

/// Security headers on every response: no inline script or style, no framing,
/// no referrer leaks, no MIME sniffing; HSTS when served over https.
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"));
    if https {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"))
    } else {
        headers
    }
}
