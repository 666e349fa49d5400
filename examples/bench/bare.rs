//! The ceiling for the cheapest answers: actix-web serving discovery's and
//! JWKS's bytes from memory with no middleware at all, in a process of its
//! own with the same number of workers as `portti serve`. What Portti's
//! discovery and JWKS reach of this is what its per-request work costs.

use std::net::SocketAddr;
use std::path::Path;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;

use crate::Fail;

/// Serves until SIGTERM.
pub fn serve(addr: SocketAddr, discovery: &Path, jwks: &Path) -> Result<(), Fail> {
    let discovery = Bytes::from(std::fs::read(discovery)?);
    let jwks = Bytes::from(std::fs::read(jwks)?);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let (discovery, jwks) = (discovery.clone(), jwks.clone());
            App::new()
                .route("/.well-known/openid-configuration", web::get().to(move || json(discovery.clone())))
                .route("/jwks", web::get().to(move || json(jwks.clone())))
        })
        .bind(addr)?
        .run()
        .await
    })?;
    Ok(())
}

async fn json(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "public"))
        .body(body)
}
