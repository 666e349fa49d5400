//! `/authorize` and the hosted sign-in pages. Each handler checks the
//! browser and its form token, calls one domain function and renders.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{
    browser_id, browser_id_or_new, check_csrf, client_address, csrf_token, error_page, page, run, see_other,
    session_cookie, session_cookie_value,
};
use super::messages::Messages;
use crate::AppState;
use crate::domain::authorization::AuthorizationParams;
use crate::domain::signin::{self, Authorized, Next, Outcome, View};
use crate::error::{Error, Result};

async fn authorize(req: HttpRequest, state: web::Data<AppState>, params: AuthorizationParams) -> HttpResponse {
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let session = session_cookie_value(&req, &state);
    let outcome = run(&state, move |s, now| signin::authorize(s, now, &browser, session.as_deref(), &params)).await;
    let mut response = match outcome {
        Ok(Authorized::Redirect(location)) => see_other(&location).finish(),
        Ok(Authorized::Page(message)) => error_page(&Error::InvalidRequest(message)),
        Err(e) => error_page(&e),
    };
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

#[get("/authorize")]
pub async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<AuthorizationParams>,
) -> HttpResponse {
    authorize(req, state, params.into_inner()).await
}

#[post("/authorize")]
pub async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Form<AuthorizationParams>,
) -> HttpResponse {
    authorize(req, state, params.into_inner()).await
}

macro_rules! page_template {
    ($name:ident, $path:literal { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $name {
            t: &'static Messages,
            flow: String,
            csrf: String,
            notice: Option<String>,
            $($field: $ty,)*
        }
    };
}

page_template!(EmailPage, "signin_email.html" { email: String });
page_template!(PasswordPage, "signin_password.html" { email: String });
page_template!(CodePage, "signin_code.html" {});
page_template!(RecoveryPage, "signin_recovery.html" {});
page_template!(EnrolPage, "signin_enrol.html" { qr_svg: String, secret_text: String });
page_template!(RecoveryCodesPage, "signin_recovery_codes.html" { codes: Vec<String> });
page_template!(TermsPage, "signin_terms.html" { version: String, text: String });
page_template!(ConsentPage, "signin_consent.html" { client_id: String, scopes: Vec<String> });

/// Renders the page of a flow's step, with a notice when a form failed; its
/// forms may send the browser on to `origin`, the application's.
fn render(
    (view, origin): (View, Option<String>),
    flow: String,
    csrf: String,
    notice: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let mut response = render_view(view, flow, csrf, notice, status);
    allow_form_target(&mut response, &origin);
    response
}

fn allow_form_target(response: &mut HttpResponse, origin: &Option<String>) {
    if let Ok(value) = HeaderValue::from_str(&super::content_security_policy(origin.as_deref())) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
    }
}

fn render_view(view: View, flow: String, csrf: String, notice: Option<String>, status: StatusCode) -> HttpResponse {
    let t = Messages::for_locales(None);
    match view {
        View::Email { email } => page(status, &EmailPage { t, flow, csrf, notice, email: email.unwrap_or_default() }),
        View::Password { email } => page(status, &PasswordPage { t, flow, csrf, notice, email }),
        View::Code => page(status, &CodePage { t, flow, csrf, notice }),
        View::Enrol { otpauth_uri, secret_text, .. } => match qr_svg(&otpauth_uri) {
            Ok(qr_svg) => page(status, &EnrolPage { t, flow, csrf, notice, qr_svg, secret_text }),
            Err(e) => error_page(&e),
        },
        View::RecoveryCodes => page(status, &RecoveryCodesPage { t, flow, csrf, notice, codes: Vec::new() }),
        View::Terms { version, text } => page(status, &TermsPage { t, flow, csrf, notice, version, text }),
        View::Consent { client_id, scopes } => {
            let scopes = scopes.iter().map(|scope| t.scope(scope).to_owned()).filter(|s| !s.is_empty()).collect();
            page(status, &ConsentPage { t, flow, csrf, notice, client_id, scopes })
        }
    }
}

/// The QR code of an `otpauth://` URI, as inline SVG.
fn qr_svg(uri: &str) -> Result<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(Error::internal)?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
}

/// The browser of a sign-in request; without it the flow cannot be this browser's.
fn require_browser(req: &HttpRequest, state: &AppState) -> Result<String> {
    browser_id(req, state).ok_or(Error::NotFound("sign-in"))
}

#[get("/signin/{flow}")]
pub async fn show(req: HttpRequest, state: web::Data<AppState>, flow: web::Path<String>) -> HttpResponse {
    let flow = flow.into_inner();
    let Ok(browser) = require_browser(&req, &state) else { return error_page(&Error::NotFound("sign-in")) };
    let csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e),
    };
    let id = flow.clone();
    match run(&state, move |s, now| signin::view(s, now, &id, &browser)).await {
        Ok(view) => render(view, flow, csrf, None, StatusCode::OK),
        Err(e) => error_page(&e),
    }
}

#[get("/signin/{flow}/recovery")]
pub async fn show_recovery(req: HttpRequest, state: web::Data<AppState>, flow: web::Path<String>) -> HttpResponse {
    let flow = flow.into_inner();
    let Ok(browser) = require_browser(&req, &state) else { return error_page(&Error::NotFound("sign-in")) };
    let csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e),
    };
    let id = flow.clone();
    match run(&state, move |s, now| signin::view(s, now, &id, &browser)).await {
        Ok((View::Code, origin)) => {
            let mut response =
                page(StatusCode::OK, &RecoveryPage { t: Messages::for_locales(None), flow, csrf, notice: None });
            allow_form_target(&mut response, &origin);
            response
        }
        Ok(_) => see_other(&signin::signin_path(&flow)).finish(),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
pub struct EmailForm {
    csrf: String,
    email: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    password: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf: String,
    decision: String,
}

/// Which page shows a failed form again.
#[derive(Clone, Copy)]
enum FormPage {
    Step,
    Recovery,
}

/// Checks the browser and form token, runs one step, and answers: onwards
/// (303), the recovery codes (shown once, right here), or the same page with
/// what went wrong.
async fn step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: String,
    csrf: String,
    form_page: FormPage,
    action: impl FnOnce(&AppState, i64, &str, &str, Option<&str>) -> Result<Outcome> + Send + 'static,
) -> HttpResponse {
    let Ok(browser) = require_browser(&req, &state) else { return error_page(&Error::NotFound("sign-in")) };
    if let Err(e) = check_csrf(&state, &browser, &csrf) {
        return error_page(&e);
    }
    let address = client_address(&req, &state);
    let (id, browser_for_action) = (flow.clone(), browser.clone());
    let result = run(&state, move |s, now| action(s, now, &id, &browser_for_action, address.as_deref())).await;
    match result {
        Ok(outcome) => {
            let mut response = match (&outcome.next, outcome.recovery_codes) {
                (Next::Redirect(location), _) => see_other(location).finish(),
                (Next::Show, Some(codes)) => {
                    let (id, browser) = (flow.clone(), browser.clone());
                    let origin = run(&state, move |s, now| signin::view(s, now, &id, &browser)).await;
                    let mut response = page(
                        StatusCode::OK,
                        &RecoveryCodesPage { t: Messages::for_locales(None), flow, csrf, notice: None, codes },
                    );
                    if let Ok((_, origin)) = origin {
                        allow_form_target(&mut response, &origin);
                    }
                    response
                }
                (Next::Show, None) => see_other(&signin::signin_path(&flow)).finish(),
            };
            if let Some(value) = outcome.session_cookie {
                let _ = response.add_cookie(&session_cookie(&state, value));
            }
            response
        }
        Err(e @ (Error::InvalidRequest(_) | Error::RateLimited)) => {
            let status = actix_web::ResponseError::status_code(&e);
            let notice = Some(e.to_string());
            let id = flow.clone();
            match (form_page, run(&state, move |s, now| signin::view(s, now, &id, &browser)).await) {
                (FormPage::Recovery, Ok((View::Code, origin))) => {
                    let mut response =
                        page(status, &RecoveryPage { t: Messages::for_locales(None), flow, csrf, notice });
                    allow_form_target(&mut response, &origin);
                    response
                }
                (_, Ok(view)) => render(view, flow, csrf, notice, status),
                (_, Err(e)) => error_page(&e),
            }
        }
        Err(e) => error_page(&e),
    }
}

#[post("/signin/{flow}/email")]
pub async fn email_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<EmailForm>,
) -> HttpResponse {
    let EmailForm { csrf, email } = form.into_inner();
    step(req, state, flow.into_inner(), csrf, FormPage::Step, move |s, now, id, b, _| {
        signin::submit_email(s, now, id, b, &email)
    })
    .await
}

#[post("/signin/{flow}/change-email")]
pub async fn change_email_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    step(req, state, flow.into_inner(), form.into_inner().csrf, FormPage::Step, |s, now, id, b, _| {
        signin::change_email(s, now, id, b)
    })
    .await
}

#[post("/signin/{flow}/password")]
pub async fn password_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    let PasswordForm { csrf, password } = form.into_inner();
    step(req, state, flow.into_inner(), csrf, FormPage::Step, move |s, now, id, b, address| {
        signin::submit_password(s, now, id, b, &password, address)
    })
    .await
}

#[post("/signin/{flow}/code")]
pub async fn code_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let CodeForm { csrf, code } = form.into_inner();
    step(req, state, flow.into_inner(), csrf, FormPage::Step, move |s, now, id, b, address| {
        signin::submit_code(s, now, id, b, &code, address)
    })
    .await
}

#[post("/signin/{flow}/recovery")]
pub async fn recovery_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let CodeForm { csrf, code } = form.into_inner();
    step(req, state, flow.into_inner(), csrf, FormPage::Recovery, move |s, now, id, b, address| {
        signin::submit_recovery_code(s, now, id, b, &code, address)
    })
    .await
}

#[post("/signin/{flow}/enrol")]
pub async fn enrol_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let CodeForm { csrf, code } = form.into_inner();
    step(req, state, flow.into_inner(), csrf, FormPage::Step, move |s, now, id, b, _| {
        signin::confirm_enrolment(s, now, id, b, &code)
    })
    .await
}

#[post("/signin/{flow}/recovery-codes")]
pub async fn recovery_codes_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    step(req, state, flow.into_inner(), form.into_inner().csrf, FormPage::Step, |s, now, id, b, _| {
        signin::acknowledge_recovery_codes(s, now, id, b)
    })
    .await
}

#[post("/signin/{flow}/terms")]
pub async fn terms_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    step(req, state, flow.into_inner(), form.into_inner().csrf, FormPage::Step, |s, now, id, b, _| {
        signin::accept_terms(s, now, id, b)
    })
    .await
}

#[post("/signin/{flow}/consent")]
pub async fn consent_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: web::Form<ConsentForm>,
) -> HttpResponse {
    let ConsentForm { csrf, decision } = form.into_inner();
    step(req, state, flow.into_inner(), csrf, FormPage::Step, move |s, now, id, b, _| {
        signin::decide_consent(s, now, id, b, decision == "allow")
    })
    .await
}
