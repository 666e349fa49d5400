//! `/device`: where a person answers a device that has no browser (the
//! device authorization grant, RFC 8628). They type the user code the
//! device shows (or arrive with it filled in, `verification_uri_complete`),
//! sign in if they are not, see the application's name and what it asks,
//! and allow or deny it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{
    browser_id_or_new, client_address, csrf_token, error_page, is_form_refusal, origin_of, page, run, see_other,
    with_new_cookie,
};
use super::error_response::status_of;
use super::extract::{CsrfForm, SignedIn};
use super::page::PageTexts;
use crate::AppState;
use crate::domain::device_authorization::{self, PendingDevice};
use crate::domain::signin::DEVICE_PATH_PREFIX;
use crate::error::Error;

#[derive(Template)]
#[template(path = "device_code.html")]
struct CodePage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    user_code: String,
}

#[derive(Template)]
#[template(path = "device_approve.html")]
struct ApprovePage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    application: String,
    user_code: String,
    path: String,
    scopes: Vec<String>,
    requested_from: String,
    requested_at: String,
}

#[derive(Template)]
#[template(path = "device_done.html")]
struct DonePage {
    t: PageTexts,
    allowed: bool,
}

#[derive(Deserialize)]
pub struct CodeQuery {
    user_code: Option<String>,
}

/// The form for the user code, filled in when the link carried one.
#[get("/device")]
pub async fn code_page(req: HttpRequest, state: web::Data<AppState>, query: web::Query<CodeQuery>) -> HttpResponse {
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let user_code = query.into_inner().user_code.unwrap_or_default();
    let response = show_code_page(&req, &state, &browser, StatusCode::OK, None, user_code);
    with_new_cookie(response, new_cookie)
}

fn show_code_page(
    req: &HttpRequest,
    state: &AppState,
    browser: &str,
    status: StatusCode,
    notice: Option<String>,
    user_code: String,
) -> HttpResponse {
    let t = PageTexts::for_request(req, None);
    match csrf_token(state, browser) {
        Ok(csrf) => page(status, &CodePage { t, csrf, notice, user_code }),
        Err(e) => error_page(&e, &t),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    user_code: String,
}

/// A typed user code: a known one goes on to its approval page (signing in
/// first if need be); a wrong one is said, and counted.
#[post("/device")]
pub async fn code_submit(req: HttpRequest, state: web::Data<AppState>, form: CsrfForm<CodeForm>) -> HttpResponse {
    let CsrfForm { browser, form: CodeForm { user_code } } = form;
    match find(&req, &state, &browser, user_code.clone()).await {
        Ok(pending) => see_other(&format!("{DEVICE_PATH_PREFIX}{}", pending.user_code.as_str())).finish(),
        Err(e) => refused(&req, &state, &browser, &e, user_code),
    }
}

/// A refused code or answer: the code form again, saying why (with what was
/// typed); anything but a refusal, an error page.
fn refused(req: &HttpRequest, state: &AppState, browser: &str, error: &Error, typed: String) -> HttpResponse {
    let t = PageTexts::for_request(req, None);
    match error {
        Error::Refused(refusal) if is_form_refusal(error) => {
            let notice = Some(t.texts.refusal(refusal));
            show_code_page(req, state, browser, status_of(error), notice, typed)
        }
        _ => error_page(error, &t),
    }
}

async fn find(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    browser: &str,
    typed: String,
) -> crate::error::Result<PendingDevice> {
    let address = client_address(req, state).map(|address| address.throttle_key());
    let browser = browser.to_owned();
    run(state, move |s, now| device_authorization::find(&s.store, &s.keys, now, &typed, &browser, address.as_deref()))
        .await
}

/// The application's name and what it asks, with `Allow` and `Deny`, for
/// the person signed in here (a browser that is not is sent to sign in, and
/// back here).
#[get("/device/{user_code}")]
pub async fn approve_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    _signed_in: SignedIn,
    user_code: web::Path<String>,
) -> HttpResponse {
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let response = match find(&req, &state, &browser, user_code.into_inner()).await {
        Ok(pending) => show_approve_page(&req, &state, &browser, pending),
        Err(e) => refused(&req, &state, &browser, &e, String::new()),
    };
    with_new_cookie(response, new_cookie)
}

fn show_approve_page(req: &HttpRequest, state: &AppState, browser: &str, pending: PendingDevice) -> HttpResponse {
    let t = PageTexts::for_request(req, None);
    let csrf = match csrf_token(state, browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &t),
    };
    let scopes = t.scope_texts(&pending.scopes);
    let body = ApprovePage {
        path: format!("{DEVICE_PATH_PREFIX}{}", pending.user_code.as_str()),
        user_code: pending.user_code.shown(),
        application: pending.application,
        requested_from: pending.requested_from.unwrap_or_default(),
        requested_at: crate::i18n::date_time(pending.requested_at),
        t,
        csrf,
        notice: None,
        scopes,
    };
    page(StatusCode::OK, &body)
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
}

/// The person's answer: the device gets its tokens on its next poll, or `access_denied`.
#[post("/device/{user_code}")]
pub async fn decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    user_code: web::Path<String>,
    form: CsrfForm<DecisionForm>,
) -> HttpResponse {
    let allow = form.form.decision == "allow";
    let origin = origin_of(&req, &state);
    let address = client_address(&req, &state).map(|address| address.throttle_key());
    let (session, typed, browser) = (signed_in.session, user_code.into_inner(), form.browser.clone());
    let decided = run(&state, move |s, now| {
        let answer = device_authorization::DeviceAnswer {
            origin: &origin,
            session: &session,
            typed: &typed,
            browser_id: &browser,
            address: address.as_deref(),
            allow,
        };
        device_authorization::decide(&s.store, &s.keys, now, answer)
    })
    .await;
    match decided {
        Ok(()) => {
            page(StatusCode::OK, &DonePage { t: PageTexts::for_request(&req, None).without_switch(), allowed: allow })
        }
        Err(e) => refused(&req, &state, &form.browser, &e, String::new()),
    }
}
