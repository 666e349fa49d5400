//! `/healthz` (the process is up), `/readyz` (the database answers) and
//! `/metrics` (Prometheus), which may require a bearer token
//! (`metrics_token`) and be served on an address of its own (`metrics_bind`).

use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::json;

use crate::AppState;
use crate::crypto::secret::matches_digest;
use crate::metrics::Gauge;

#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    match web::block(move || store.ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable" }))
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness check could not run");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable" }))
        }
    }
}

/// Whether a request may read the metrics: always, unless a token is
/// configured; then only with `Authorization: Bearer <that token>`, compared
/// by digest in constant time.
fn may_read_metrics(req: &HttpRequest, token_digest: Option<&str>) -> bool {
    let Some(digest) = token_digest else { return true };
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    presented.is_some_and(|token| matches_digest(token, digest))
}

#[get("/metrics")]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !may_read_metrics(&req, state.settings.metrics.token_digest.as_deref()) {
        return HttpResponse::Unauthorized().insert_header((WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")).finish();
    }
    let shared = state.clone();
    let rendered = web::block(move || {
        let counts = shared.store.read(|r| r.outbox_counts())?;
        let (connections, idle) = shared.store.pool_state();
        let gauge = |name, help, label, value| Gauge { name, help, label, value };
        let (outbox, pool) = ("Messages in the outbox, by state", "Database connections, by state");
        shared.metrics.render(&[
            gauge("outbox_messages", outbox, ("state", "pending"), counts.pending as f64),
            gauge("outbox_messages", outbox, ("state", "sent"), counts.sent as f64),
            gauge("outbox_messages", outbox, ("state", "failed"), counts.failed as f64),
            gauge("db_pool_connections", pool, ("state", "open"), f64::from(connections)),
            gauge("db_pool_connections", pool, ("state", "idle"), f64::from(idle)),
        ])
    })
    .await;
    match rendered {
        Ok(Ok(text)) => HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text),
        Ok(Err(e)) => actix_web::ResponseError::error_response(&e),
        Err(e) => actix_web::ResponseError::error_response(&crate::error::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::crypto::secret::sha256_hex;

    #[test]
    fn with_a_token_only_its_bearer_may_read_the_metrics() {
        let token = "metrics-token-metrics-token-metrics-token";
        let digest = sha256_hex(token);
        let with = |header: Option<&str>| {
            let mut req = TestRequest::default();
            if let Some(header) = header {
                req = req.insert_header((AUTHORIZATION, header));
            }
            may_read_metrics(&req.to_http_request(), Some(&digest))
        };
        assert!(with(Some(&format!("Bearer {token}"))));
        assert!(with(Some(&format!("bearer {token}"))), "the scheme is case-insensitive");
        assert!(!with(None));
        assert!(!with(Some("Bearer ")));
        assert!(!with(Some("Bearer metrics-token")), "a prefix is not the token");
        assert!(!with(Some(&format!("Basic {token}"))));
        assert!(!with(Some(&format!("Bearer {token}x"))));
        assert!(may_read_metrics(&TestRequest::default().to_http_request(), None), "no token configured");
    }
}
