//! The browser's side of QR sign-in outside the sign-in pages: the poll of
//! the computer that shows a code (`/qr/{qr_id}/status`), and the page the
//! code's link opens in a phone's browser.

use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Serialize;

use super::api::{ApiError, ApiResult};
use super::browser::{browser_id, page, run_in_database_slot};
use super::page::PageTexts;
use crate::AppState;
use crate::domain::qr;
use crate::error::Error;

#[derive(Serialize)]
struct QrStatusBody {
    state: &'static str,
}

/// Where this browser's QR code stands: `pending`, `approved`, `denied` or
/// `expired`. Only the browser that showed the code is answered; any other
/// (or none) gets `404`. One read by primary key, no write: thousands of
/// waiting browsers poll at no cost to the database's writer.
#[get("/qr/{qr_id}/status")]
pub async fn status(req: HttpRequest, state: web::Data<AppState>, qr_id: web::Path<String>) -> ApiResult<HttpResponse> {
    let browser = browser_id(&req, &state).ok_or(ApiError(Error::NotFound("qr")))?;
    let qr_id = qr_id.into_inner();
    let status = run_in_database_slot(&state, move |s, now| qr::status(&s.store, now, &qr_id, &browser)).await?;
    Ok(HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).json(QrStatusBody { state: status.as_str() }))
}

#[derive(Template)]
#[template(path = "qr_landing.html")]
struct LandingPage {
    t: PageTexts,
}

/// What a QR code's link opens in a phone's browser (the app takes the
/// link itself): how to scan it with the app.
#[get("/qr/{qr_id}")]
pub async fn landing(req: HttpRequest) -> HttpResponse {
    page(StatusCode::OK, &LandingPage { t: PageTexts::for_request(&req, None) })
}
