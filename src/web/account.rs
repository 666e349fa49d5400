//! `/account`: the person's own account page and its forms.

use std::time::{Duration, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{
    browser_id, browser_id_or_new, check_csrf, csrf_token, error_page, page, run, see_other, session_cookie_removal,
    session_cookie_value,
};
use super::messages::Messages;
use crate::AppState;
use crate::domain::account::{self, Contact, Overview};
use crate::domain::session::{self, Session};
use crate::domain::signin;
use crate::error::{Error, Result};

struct AppRow {
    client_id: String,
    scopes: String,
}

struct SessionRow {
    when: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    t: &'static Messages,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    email: String,
    name: String,
    communication_email: String,
    email_verified: bool,
    communication_phone: String,
    phone_verified: bool,
    pending_email: Option<String>,
    pending_phone: Option<String>,
    recovery_codes_left: i64,
    applications: Vec<AppRow>,
    sessions: Vec<SessionRow>,
}

#[derive(Template)]
#[template(path = "account_recovery_codes.html")]
struct RecoveryCodesPage {
    t: &'static Messages,
    codes: Vec<String>,
}

fn date(seconds: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
}

fn render(
    overview: Overview,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let user = overview.user;
    let contacts = user.communication;
    page(
        status,
        &AccountPage {
            t: Messages::for_locales(None),
            csrf,
            notice,
            done,
            email: user.email.as_str().to_owned(),
            name: user.name,
            communication_email: contacts.email.as_str().to_owned(),
            email_verified: contacts.email_verified,
            communication_phone: contacts.phone.map(|p| p.as_str().to_owned()).unwrap_or_else(|| "none".to_owned()),
            phone_verified: contacts.phone_verified,
            pending_email: overview.pending_email,
            pending_phone: overview.pending_phone,
            recovery_codes_left: overview.recovery_codes_left,
            applications: overview
                .applications
                .into_iter()
                .map(|app| AppRow { client_id: app.client_id, scopes: app.scopes })
                .collect(),
            sessions: overview
                .sessions
                .into_iter()
                .map(|s| SessionRow { when: date(s.created_at), current: s.current })
                .collect(),
        },
    )
}

/// The signed-in person of this browser, if any.
async fn current(req: &HttpRequest, state: &web::Data<AppState>) -> Result<Option<Session>> {
    let cookie = session_cookie_value(req, state);
    run(state, move |s, now| session::current(s, now, cookie.as_deref())).await
}

/// Sends a browser without a session to sign in, and back here afterwards.
async fn sign_in_first(req: &HttpRequest, state: &web::Data<AppState>) -> HttpResponse {
    let (browser, new_cookie) = browser_id_or_new(req, state);
    let mut response = match run(state, move |s, now| signin::start_account_sign_in(s, now, &browser)).await {
        Ok(path) => see_other(&path).finish(),
        Err(e) => error_page(&e),
    };
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// A fresh sign-in to the account pages, for the changes that need one.
#[get("/account/sign-in-again")]
pub async fn sign_in_again(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    sign_in_first(&req, &state).await
}

#[derive(Deserialize)]
pub struct AccountQuery {
    done: Option<String>,
}

#[get("/account")]
pub async fn show(req: HttpRequest, state: web::Data<AppState>, query: web::Query<AccountQuery>) -> HttpResponse {
    let session = match current(&req, &state).await {
        Ok(Some(session)) => session,
        Ok(None) => return sign_in_first(&req, &state).await,
        Err(e) => return error_page(&e),
    };
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e),
    };
    let done = query.into_inner().done.map(|what| match what.as_str() {
        "sent" => "We sent a code. Enter it below.".to_owned(),
        _ => "Saved.".to_owned(),
    });
    let mut response = match run(&state, move |s, now| account::overview(s, now, &session)).await {
        Ok(overview) => render(overview, csrf, None, done, StatusCode::OK),
        Err(e) => error_page(&e),
    };
    // The forms' tokens belong to this cookie: a browser that lost it gets it back.
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// What a form did.
enum Done {
    /// Back to the page, saying so.
    Saved(&'static str),
    /// Somewhere else (the enrolment of a new authenticator).
    Redirect(String),
    /// New recovery codes, shown once.
    RecoveryCodes(Vec<String>),
    /// Signed out everywhere: to the sign-in.
    SignedOut,
}

/// Runs one form of the account page: the browser must be signed in and the
/// form its own; a refusal shows the page again with what went wrong.
async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    csrf: String,
    action: impl FnOnce(&AppState, i64, &Session, &str) -> Result<Done> + Send + 'static,
) -> HttpResponse {
    let session = match current(&req, &state).await {
        Ok(Some(session)) => session,
        Ok(None) => return sign_in_first(&req, &state).await,
        Err(e) => return error_page(&e),
    };
    let Some(browser) = browser_id(&req, &state) else { return sign_in_first(&req, &state).await };
    if let Err(e) = check_csrf(&state, &browser, &csrf) {
        return error_page(&e);
    }
    let (for_action, for_page) = (session.clone(), session);
    let browser_for_action = browser.clone();
    match run(&state, move |s, now| action(s, now, &for_action, &browser_for_action)).await {
        Ok(Done::Saved(what)) => see_other(&format!("/account?done={what}")).finish(),
        Ok(Done::Redirect(path)) => see_other(&path).finish(),
        Ok(Done::RecoveryCodes(codes)) => {
            page(StatusCode::OK, &RecoveryCodesPage { t: Messages::for_locales(None), codes })
        }
        Ok(Done::SignedOut) => {
            let mut response = see_other("/account").finish();
            let _ = response.add_cookie(&session_cookie_removal(&state));
            response
        }
        Err(e @ (Error::InvalidRequest(_) | Error::RateLimited | Error::NotFound("application"))) => {
            let status = actix_web::ResponseError::status_code(&e);
            match (csrf_token(&state, &browser), run(&state, move |s, now| account::overview(s, now, &for_page)).await)
            {
                (Ok(csrf), Ok(overview)) => render(overview, csrf, Some(e.to_string()), None, status),
                (Err(e), _) | (_, Err(e)) => error_page(&e),
            }
        }
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
pub struct NameForm {
    csrf: String,
    name: String,
}

#[post("/account/name")]
pub async fn name(req: HttpRequest, state: web::Data<AppState>, form: web::Form<NameForm>) -> HttpResponse {
    let NameForm { csrf, name } = form.into_inner();
    act(req, state, csrf, move |s, now, session, _| {
        account::change_name(s, now, session, &name).map(|()| Done::Saved("name"))
    })
    .await
}

#[derive(Deserialize)]
pub struct EmailForm {
    csrf: String,
    email: String,
}

#[post("/account/email")]
pub async fn email(req: HttpRequest, state: web::Data<AppState>, form: web::Form<EmailForm>) -> HttpResponse {
    let EmailForm { csrf, email } = form.into_inner();
    act(req, state, csrf, move |s, now, session, _| {
        account::start_contact_change(s, now, session, Contact::Email, &email).map(|()| Done::Saved("sent"))
    })
    .await
}

#[derive(Deserialize)]
pub struct PhoneForm {
    csrf: String,
    phone: String,
}

#[post("/account/phone")]
pub async fn phone(req: HttpRequest, state: web::Data<AppState>, form: web::Form<PhoneForm>) -> HttpResponse {
    let PhoneForm { csrf, phone } = form.into_inner();
    act(req, state, csrf, move |s, now, session, _| {
        account::start_contact_change(s, now, session, Contact::Phone, &phone).map(|()| Done::Saved("sent"))
    })
    .await
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

#[post("/account/email/verify")]
pub async fn email_verify(req: HttpRequest, state: web::Data<AppState>, form: web::Form<CodeForm>) -> HttpResponse {
    let CodeForm { csrf, code } = form.into_inner();
    act(req, state, csrf, move |s, now, session, _| {
        account::confirm_contact_change(s, now, session, Contact::Email, &code).map(|()| Done::Saved("email"))
    })
    .await
}

#[post("/account/phone/verify")]
pub async fn phone_verify(req: HttpRequest, state: web::Data<AppState>, form: web::Form<CodeForm>) -> HttpResponse {
    let CodeForm { csrf, code } = form.into_inner();
    act(req, state, csrf, move |s, now, session, _| {
        account::confirm_contact_change(s, now, session, Contact::Phone, &code).map(|()| Done::Saved("phone"))
    })
    .await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
    confirm_password: String,
}

#[post("/account/password")]
pub async fn password(req: HttpRequest, state: web::Data<AppState>, form: web::Form<PasswordForm>) -> HttpResponse {
    let PasswordForm { csrf, current_password, new_password, confirm_password } = form.into_inner();
    act(req, state, csrf, move |s, now, session, _| {
        account::change_password(s, now, session, &current_password, &new_password, &confirm_password)
            .map(|()| Done::Saved("password"))
    })
    .await
}

#[post("/account/authenticator")]
pub async fn authenticator(req: HttpRequest, state: web::Data<AppState>, form: web::Form<CodeForm>) -> HttpResponse {
    let CodeForm { csrf, code } = form.into_inner();
    act(req, state, csrf, move |s, now, session, browser| {
        account::reset_authenticator(s, now, session, browser, &code).map(Done::Redirect)
    })
    .await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

#[post("/account/recovery-codes")]
pub async fn recovery_codes(req: HttpRequest, state: web::Data<AppState>, form: web::Form<CsrfForm>) -> HttpResponse {
    act(req, state, form.into_inner().csrf, |s, now, session, _| {
        account::new_recovery_codes(s, now, session).map(Done::RecoveryCodes)
    })
    .await
}

#[post("/account/applications/{client}/revoke")]
pub async fn revoke_application(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let client = client.into_inner();
    act(req, state, form.into_inner().csrf, move |s, now, session, _| {
        account::withdraw_consent(s, now, session, &client).map(|()| Done::Saved("application"))
    })
    .await
}

#[post("/account/sign-out-everywhere")]
pub async fn sign_out_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    act(req, state, form.into_inner().csrf, |s, now, session, _| {
        account::sign_out_everywhere(s, now, session).map(|()| Done::SignedOut)
    })
    .await
}
