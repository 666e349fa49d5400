//! The browser's side of QR sign-in outside the sign-in pages: the poll of
//! the computer that shows a code (`/qr/{qr_id}/status`), and the page the
//! code's link opens in a phone's browser.

use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::api::{ApiError, ApiResult};
use super::browser::{
    browser_id, browser_id_or_new, client_address, csrf_token, error_page, origin_of, page, run, run_in_database_slot,
    with_new_cookie,
};
use super::extract::{CsrfForm, NoFields, SignedIn};
use super::page::PageTexts;
use crate::AppState;
use crate::domain::qr;
use crate::domain::user_agent::BrowserSummary;
use crate::error::{Error, Refusal};
use crate::i18n::{Texts, date_time};

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
    /// Where a signed-in phone's browser approves with a passkey, when passkeys work here.
    approve_path: Option<String>,
}

/// What a QR code's link opens in a phone's browser (the app takes the
/// link itself): how to scan it with the app, and, where passkeys work,
/// the way to approve here with one.
#[get("/qr/{qr_id}")]
pub async fn landing(req: HttpRequest, state: web::Data<AppState>, qr_id: web::Path<String>) -> HttpResponse {
    let approve_path = state.webauthn.is_some().then(|| approve_path(&qr_id));
    page(StatusCode::OK, &LandingPage { t: PageTexts::for_request(&req, None), approve_path })
}

fn approve_path(qr_id: &str) -> String {
    format!("/qr/{qr_id}/approve")
}

/// "Chrome on Windows": the asking browser, as a person reads it.
pub fn browser_sentence(summary: BrowserSummary, texts: &Texts) -> String {
    let browser = summary.browser.unwrap_or(texts.get("qr.unknown_browser"));
    match summary.os {
        Some(os) => texts.fill("qr.browser_on_os", &[("browser", browser.to_owned()), ("os", os.to_owned())]),
        None => browser.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "qr_approve.html")]
struct ApprovePage {
    t: PageTexts,
    csrf: String,
    path: String,
    deny_path: String,
    browser: String,
    ip: String,
    requested_at: String,
    application: Option<String>,
    choices: Vec<i32>,
}

#[derive(Template)]
#[template(path = "qr_done.html")]
struct DonePage {
    t: PageTexts,
    approved: bool,
}

/// What asks, and the three numbers to pick from with a passkey, for the
/// person signed in in this (phone's) browser.
#[get("/qr/{qr_id}/approve")]
pub async fn approve_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    _signed_in: SignedIn,
    qr_id: web::Path<String>,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let qr_id = qr_id.into_inner();
    let path = approve_path(&qr_id);
    let deny_path = format!("/qr/{qr_id}/deny");
    let asked = run(&state, move |s, now| qr::describe(&s.store, now, &qr_id)).await;
    let response = match (asked, csrf_token(&state, &browser)) {
        (Ok(asked), Ok(csrf)) => {
            let body = ApprovePage {
                browser: browser_sentence(asked.browser, &t.texts),
                ip: asked.address.unwrap_or_default(),
                requested_at: date_time(asked.requested_at),
                application: asked.application,
                choices: asked.choices,
                csrf,
                deny_path,
                path,
                t,
            };
            page(StatusCode::OK, &body)
        }
        (Err(e), _) | (_, Err(e)) => error_page(&e, &t),
    };
    with_new_cookie(response, new_cookie)
}

/// The first step of a passkey approval (the page's script asks it).
#[post("/qr/{qr_id}/approve/options")]
pub async fn passkey_options(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    qr_id: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> ApiResult<HttpResponse> {
    let webauthn = state.webauthn.clone().ok_or(ApiError(Error::NotFound("passkeys")))?;
    let (browser, user, qr_id) = (form.browser, signed_in.session.user_id, qr_id.into_inner());
    let started =
        run(&state, move |s, now| qr::start_passkey_approval(&s.store, &webauthn, now, &browser, &user, &qr_id))
            .await?;
    Ok(super::account::ceremony_answer(started.ceremony_id, &started.options))
}

#[derive(Deserialize)]
pub struct PasskeyApprovalForm {
    /// The number picked (the script copies the pressed button's).
    #[serde(default)]
    choice: String,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// The passkey's answer with the number picked: the computer's browser is
/// signed in as this person, or (a wrong number) the code ends.
#[post("/qr/{qr_id}/approve")]
pub async fn approve(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    qr_id: web::Path<String>,
    form: CsrfForm<PasskeyApprovalForm>,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let Some(webauthn) = state.webauthn.clone() else { return error_page(&Error::NotFound("passkeys"), &t) };
    let CsrfForm { browser, form: PasskeyApprovalForm { choice, ceremony, credential } } = form;
    let Ok(choice) = choice.trim().parse::<i64>() else { return error_page(&Refusal::WrongNumber.into(), &t) };
    let origin = origin_of(&req, &state);
    let throttle_key = client_address(&req, &state).map(|address| address.throttle_key());
    let (person, qr_id, lang) = (signed_in.session.user_id, qr_id.into_inner(), t.lang());
    let approved = run(&state, move |s, now| {
        let approval = qr::PasskeyApproval {
            person: &person,
            qr_id: &qr_id,
            choice,
            ceremony_id: &ceremony,
            credential: &credential,
            lang,
            throttle_key: throttle_key.as_deref(),
        };
        let lockout = s.sign_in(lang).lockout;
        qr::approve_with_passkey(&s.store, &webauthn, &lockout, now, &origin, &browser, approval)
    })
    .await;
    match approved {
        Ok(()) => page(StatusCode::OK, &DonePage { t: t.without_switch(), approved: true }),
        Err(e) => error_page(&e, &t),
    }
}

/// "It was not me": the code ends, and the computer is told.
#[post("/qr/{qr_id}/deny")]
pub async fn deny(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    qr_id: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let origin = origin_of(&req, &state);
    let (person, qr_id) = (signed_in.session.user_id, qr_id.into_inner());
    let denied = run(&state, move |s, now| qr::deny(&s.store, now, &origin, &person, &qr_id)).await;
    match denied {
        Ok(()) => page(StatusCode::OK, &DonePage { t: t.without_switch(), approved: false }),
        Err(e) => error_page(&e, &t),
    }
}
