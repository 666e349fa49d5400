//! `/healthz` (the process is up), `/readyz` (the database answers) and
//! `/metrics` (Prometheus).

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::AppState;
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

#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
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
