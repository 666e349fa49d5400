//! A request id for every request: in the `X-Request-Id` response header, in
//! every log line of the request, and in the body of an internal error.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The path as logged: the secrets some paths carry (a password-reset link's
/// token, a sign-in flow's id, the first run's link, a QR code's id, a
/// device's user code) are left out.
fn loggable(path: &str) -> String {
    for prefix in ["/password/reset/", "/signin/", "/setup/", "/qr/", "/api/app/v1/qr/", "/device/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.split_once('/').map(|(_, tail)| format!("/{tail}")).unwrap_or_default();
            return format!("{prefix}…{tail}");
        }
    }
    path.to_owned()
}

/// The public documents and the liveness probe: served from memory, asked
/// for by every relying party, load balancer and monitor, and never
/// failing. Their answers are counted, but a log line of each would cost
/// more than the answer itself (BENCHMARKS.md), so only a failure is logged.
pub const QUIET_PATHS: [&str; 6] = [
    "/.well-known/openid-configuration",
    "/jwks",
    "/healthz",
    "/static/portti.css",
    "/static/qr.js",
    "/static/passkey.js",
];

/// A new request id: 128 random bits as 32 hex digits (the form of a UUID
/// v4 without its dashes), from the thread's generator rather than a
/// system call per request.
fn new_id() -> String {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid().simple().to_string()
}

/// Middleware: gives the request an id, a tracing span and a closing log
/// line (for the quiet paths, only when the answer is a failure).
pub async fn assign(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = new_id();
    let quiet: Option<&'static str> = QUIET_PATHS.iter().find(|quiet| **quiet == request.path()).copied();
    let span = if quiet.is_some() {
        tracing::Span::none()
    } else {
        tracing::info_span!("request", id = %id, method = %request.method(), path = %loggable(request.path()))
    };
    let started = Instant::now();
    let metrics = request.app_data::<actix_web::web::Data<crate::AppState>>().map(|state| state.metrics.clone());
    let method = request.method().clone();
    let mut response = REQUEST_ID.scope(id.clone(), next.call(request)).instrument(span.clone()).await?;
    let status = response.status();
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        // The route's pattern (`/signin/{flow}`), never the path with its
        // secrets; a quiet path is its own pattern.
        let route = match quiet {
            Some(quiet) => std::borrow::Cow::Borrowed(quiet),
            None => response.request().match_pattern().map_or("unmatched".into(), std::borrow::Cow::Owned),
        };
        metrics.request(&route, method.as_str(), status.as_str(), elapsed.as_secs_f64());
    }
    let elapsed_ms = elapsed.as_millis() as u64;
    if quiet.is_none() {
        span.in_scope(|| tracing::info!(status = status.as_u16(), elapsed_ms, "request finished"));
    } else if status.is_server_error() || status.is_client_error() {
        let path = response.request().path();
        tracing::info!(id = %id, %method, path, status = status.as_u16(), elapsed_ms, "request finished");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_paths_stay_out_of_the_log() {
        assert_eq!(loggable("/password/reset/SECRET"), "/password/reset/…");
        assert_eq!(loggable("/password/reset/SECRET/code"), "/password/reset/…/code");
        assert_eq!(loggable("/signin/FLOW/password"), "/signin/…/password");
        assert_eq!(loggable("/qr/QRID/status"), "/qr/…/status");
        assert_eq!(loggable("/api/app/v1/qr/QRID/approve"), "/api/app/v1/qr/…/approve");
        assert_eq!(loggable("/device/BCDFGHJK"), "/device/…");
        assert_eq!(loggable("/device"), "/device");
        assert_eq!(loggable("/token"), "/token");
    }
}
