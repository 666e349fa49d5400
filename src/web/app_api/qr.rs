//! `/qr/{qr_id}`: the phone's side of QR sign-in (DESIGN.md, "App API").
//! Bearer: an access token of the app's client. The phone reads what asks,
//! the person picks the computer's number, and the approval carries a fresh
//! JWS by the device key, so a stolen access token alone approves nothing.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::domain::audit::rfc3339;
use crate::domain::devices::{SignInAge, app_person};
use crate::domain::qr::{self, Approval, QrRequest};
use crate::i18n::Texts;
use crate::web::api::{ApiResult, request_texts};
use crate::web::browser::{origin_of, run_in_database_slot};
use crate::web::token::bearer_token;

/// What asks to be signed in.
#[derive(Debug, Serialize, ToSchema)]
pub struct QrRequestBody {
    /// The asking browser, as a person reads it.
    #[schema(example = "Chrome on Windows")]
    pub browser: String,
    /// The asking computer's address.
    #[schema(example = "203.0.113.7")]
    pub ip: Option<String>,
    #[schema(example = "2026-12-01T16:00:00Z")]
    pub requested_at: String,
    /// The application the browser signs in to; `null` for Portti's own pages.
    pub application: Option<String>,
    /// Three numbers from 10 to 99; the computer shows one of them.
    pub choices: Vec<i32>,
}

impl QrRequestBody {
    fn new(request: QrRequest, texts: &Texts) -> Self {
        Self {
            browser: crate::web::qr::browser_sentence(request.browser, texts),
            ip: request.address,
            requested_at: rfc3339(request.requested_at),
            application: request.application,
            choices: request.choices,
        }
    }
}

/// The person's approval.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApproveBody {
    /// The number the person picked.
    pub choice: i64,
    /// A JWS (ES256) by the device key; header `kid` = the device id; claims
    /// `{qr_id, choice, iat (within 60 s), jti, amr: ["pin"] | ["fpt"] | ["face"]}`.
    pub proof: String,
}

/// What a QR code asks.
#[utoipa::path(
    get,
    path = "/qr/{qr_id}",
    params(("qr_id" = String, Path, description = "The id in the QR code's link")),
    responses(
        (status = 200, description = "What asks", body = QrRequestBody),
        (status = 400, description = "`qr_expired`: expired, used or answered"),
        (status = 401, description = "`invalid_token`"),
        (status = 404, description = "`not_found`: no such QR code"),
        (status = 426, description = "`app_update_required`"),
    )
)]
#[get("/qr/{qr_id}")]
pub async fn describe(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = bearer_token(&req, None)?;
    let qr_id = path.into_inner();
    let request = run_in_database_slot(&state, move |s, now| {
        app_person(&s.token_context(), now, &token, SignInAge::Any)?;
        qr::describe(&s.store, now, &qr_id)
    })
    .await?;
    let body = QrRequestBody::new(request, &request_texts());
    Ok(HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).json(body))
}

/// Approves: the browser that shows the code is signed in as the device's person.
#[utoipa::path(
    post,
    path = "/qr/{qr_id}/approve",
    params(("qr_id" = String, Path, description = "The id in the QR code's link")),
    request_body = ApproveBody,
    responses(
        (status = 204, description = "Approved"),
        (status = 400, description = "`wrong_number` (the code ends), `invalid_proof` or `qr_expired`"),
        (status = 401, description = "`invalid_token`"),
        (status = 404, description = "`not_found`: no such QR code"),
        (status = 426, description = "`app_update_required`"),
        (status = 429, description = "`account_locked`"),
    )
)]
#[post("/qr/{qr_id}/approve")]
pub async fn approve(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<ApproveBody>,
) -> ApiResult<HttpResponse> {
    let token = bearer_token(&req, None)?;
    let origin = origin_of(&req, &state);
    let qr_id = path.into_inner();
    let ApproveBody { choice, proof } = body.into_inner();
    run_in_database_slot(&state, move |s, now| {
        let person = app_person(&s.token_context(), now, &token, SignInAge::Any)?;
        qr::approve(&s.store, now, &origin, Approval { person: &person, qr_id: &qr_id, choice, proof: &proof })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Declines: not the person's sign-in. The code ends.
#[utoipa::path(
    post,
    path = "/qr/{qr_id}/deny",
    params(("qr_id" = String, Path, description = "The id in the QR code's link")),
    responses(
        (status = 204, description = "Declined"),
        (status = 400, description = "`qr_expired`"),
        (status = 401, description = "`invalid_token`"),
        (status = 404, description = "`not_found`"),
        (status = 426, description = "`app_update_required`"),
    )
)]
#[post("/qr/{qr_id}/deny")]
pub async fn deny(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let token = bearer_token(&req, None)?;
    let origin = origin_of(&req, &state);
    let qr_id = path.into_inner();
    run_in_database_slot(&state, move |s, now| {
        let person = app_person(&s.token_context(), now, &token, SignInAge::Any)?;
        qr::deny(&s.store, now, &origin, &person, &qr_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
