//! Discovery and JWKS, served from precomputed bytes.

use actix_web::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};

use crate::AppState;

fn json_document(body: bytes::Bytes, max_age: u32) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, format!("public, max-age={max_age}")))
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body)
}

#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    json_document(state.discovery.clone(), 3600)
}

#[get("/jwks")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    // Shorter than the activation delay of a rotated key.
    json_document(state.key_set().jwks().clone(), 60)
}
