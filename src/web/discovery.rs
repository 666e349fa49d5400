//! Discovery and JWKS, served from precomputed bytes.

use actix_web::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, get, web};

use crate::AppState;

fn json_document(body: bytes::Bytes, cache_control: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .insert_header((CACHE_CONTROL, HeaderValue::from_static(cache_control)))
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")))
        .body(body)
}

#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    json_document(state.discovery.clone(), "public, max-age=3600")
}

#[get("/jwks")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    // Shorter than the activation delay of a rotated key.
    json_document(state.key_set().jwks().clone(), "public, max-age=60")
}
