//! The front page and the stylesheet.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, Responder, get, web};
use askama::Template;
use askama_web::WebTemplate;

use super::page::PageTexts;
use crate::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    t: PageTexts,
    issuer: String,
}

#[get("/")]
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> impl Responder {
    HomePage { t: PageTexts::for_request(&req, None), issuer: state.settings.issuer.clone() }
}

/// A file of `static/`, compiled in, as the pages ask for it: cached an hour.
fn static_file(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

#[get("/static/portti.css")]
pub async fn stylesheet() -> HttpResponse {
    static_file("text/css; charset=utf-8", include_str!("../../static/portti.css"))
}

/// The sign-in page's QR polling, a file of its own, so the pages keep a
/// policy without inline script.
#[get("/static/qr.js")]
pub async fn qr_script() -> HttpResponse {
    static_file("text/javascript; charset=utf-8", include_str!("../../static/qr.js"))
}

/// The passkey forms' script: WebAuthn works only from script.
#[get("/static/passkey.js")]
pub async fn passkey_script() -> HttpResponse {
    static_file("text/javascript; charset=utf-8", include_str!("../../static/passkey.js"))
}
