//! "Forgot your password?": asking for a reset, the SMS code, the new password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{
    browser_id, browser_id_or_new, check_csrf, client_address, csrf_token, error_page, page, run, see_other,
};
use super::messages::Messages;
use crate::AppState;
use crate::domain::password_reset::{self, Finished, Method, Started};
use crate::domain::signin;
use crate::error::{Error, Result};

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    t: &'static Messages,
    csrf: String,
    notice: Option<String>,
    flow: Option<String>,
    email: String,
}

#[derive(Template)]
#[template(path = "password_check_email.html")]
struct CheckEmailPage {
    t: &'static Messages,
}

#[derive(Template)]
#[template(path = "password_code.html")]
struct CodePage {
    t: &'static Messages,
    csrf: String,
    notice: Option<String>,
    reset: String,
}

#[derive(Template)]
#[template(path = "password_new.html")]
struct NewPasswordPage {
    t: &'static Messages,
    csrf: String,
    notice: Option<String>,
    reset: String,
}

fn t() -> &'static Messages {
    Messages::for_locales(None)
}

/// A form's failure shown on its own page; anything else as an error page.
fn form_error(e: Error, render: impl FnOnce(StatusCode, String) -> HttpResponse) -> HttpResponse {
    match e {
        Error::InvalidRequest(_) | Error::RateLimited => {
            render(actix_web::ResponseError::status_code(&e), e.to_string())
        }
        other => error_page(&other),
    }
}

#[derive(Deserialize)]
pub struct ForgotQuery {
    flow: Option<String>,
}

#[get("/password/forgot")]
pub async fn forgot_page(req: HttpRequest, state: web::Data<AppState>, query: web::Query<ForgotQuery>) -> HttpResponse {
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let flow = query.into_inner().flow;
    let email = match flow.clone() {
        Some(flow) => {
            let browser = browser.clone();
            run(&state, move |s, now| signin::flow_origin(s, now, &flow, &browser)).await.ok().and_then(|(_, e)| e)
        }
        None => None,
    };
    let mut response = match csrf_token(&state, &browser) {
        Ok(csrf) => {
            page(StatusCode::OK, &ForgotPage { t: t(), csrf, notice: None, flow, email: email.unwrap_or_default() })
        }
        Err(e) => error_page(&e),
    };
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

#[derive(Deserialize)]
pub struct ForgotForm {
    csrf: String,
    email: String,
    method: String,
    flow: Option<String>,
}

#[post("/password/forgot")]
pub async fn forgot_submit(req: HttpRequest, state: web::Data<AppState>, form: web::Form<ForgotForm>) -> HttpResponse {
    let ForgotForm { csrf, email, method, flow } = form.into_inner();
    let Some(browser) = browser_id(&req, &state) else { return error_page(&Error::NotFound("password reset")) };
    if let Err(e) = check_csrf(&state, &browser, &csrf) {
        return error_page(&e);
    }
    let method = if method == "sms" { Method::SmsCode } else { Method::EmailLink };
    let address = client_address(&req, &state);
    let (typed, flow_for_page, browser_for_page) = (email.clone(), flow.clone(), browser.clone());
    let started = run(&state, move |s, now| {
        // The sign-in it started from, to return to afterwards (if it is this browser's).
        let request = flow.and_then(|flow| signin::flow_origin(s, now, &flow, &browser).ok()).and_then(|(r, _)| r);
        password_reset::start(s, now, &browser, &email, method, request.as_ref(), address.as_deref())
    })
    .await;
    match started {
        Ok(Started::LinkSent) => page(StatusCode::OK, &CheckEmailPage { t: t() }),
        Ok(Started::CodeSent { reset_id }) => see_other(&format!("/password/reset/{reset_id}/code")).finish(),
        Err(e) => form_error(e, |status, notice| match csrf_token(&state, &browser_for_page) {
            Ok(csrf) => {
                page(status, &ForgotPage { t: t(), csrf, notice: Some(notice), flow: flow_for_page, email: typed })
            }
            Err(e) => error_page(&e),
        }),
    }
}

fn require_browser(req: &HttpRequest, state: &AppState) -> Result<(String, String)> {
    let browser = browser_id(req, state).ok_or(Error::NotFound("password reset"))?;
    let csrf = csrf_token(state, &browser)?;
    Ok((browser, csrf))
}

#[get("/password/reset/{reset}/code")]
pub async fn code_page(req: HttpRequest, state: web::Data<AppState>, reset: web::Path<String>) -> HttpResponse {
    match require_browser(&req, &state) {
        Ok((_, csrf)) => page(StatusCode::OK, &CodePage { t: t(), csrf, notice: None, reset: reset.into_inner() }),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

#[post("/password/reset/{reset}/code")]
pub async fn code_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    reset: web::Path<String>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let reset = reset.into_inner();
    let CodeForm { csrf, code } = form.into_inner();
    let (browser, page_csrf) = match require_browser(&req, &state) {
        Ok(found) => found,
        Err(e) => return error_page(&e),
    };
    if let Err(e) = check_csrf(&state, &browser, &csrf) {
        return error_page(&e);
    }
    let id = reset.clone();
    match run(&state, move |s, now| password_reset::verify_code(s, now, &id, &browser, &code)).await {
        Ok(()) => see_other(&format!("/password/reset/{reset}")).finish(),
        Err(e) => form_error(e, |status, notice| {
            page(status, &CodePage { t: t(), csrf: page_csrf, notice: Some(notice), reset })
        }),
    }
}

#[get("/password/reset/{reset}")]
pub async fn new_password_page(req: HttpRequest, state: web::Data<AppState>, reset: web::Path<String>) -> HttpResponse {
    // An emailed link may be opened in a browser that has never been here.
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let reset = reset.into_inner();
    let (id, b) = (reset.clone(), browser.clone());
    let mut response = match run(&state, move |s, now| password_reset::check(s, now, &id, &b)).await {
        Ok(()) => match csrf_token(&state, &browser) {
            Ok(csrf) => page(StatusCode::OK, &NewPasswordPage { t: t(), csrf, notice: None, reset }),
            Err(e) => error_page(&e),
        },
        Err(e) => error_page(&e),
    };
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf: String,
    new_password: String,
    confirm_password: String,
}

#[post("/password/reset/{reset}")]
pub async fn new_password_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    reset: web::Path<String>,
    form: web::Form<NewPasswordForm>,
) -> HttpResponse {
    let reset = reset.into_inner();
    let NewPasswordForm { csrf, new_password, confirm_password } = form.into_inner();
    let (browser, page_csrf) = match require_browser(&req, &state) {
        Ok(found) => found,
        Err(e) => return error_page(&e),
    };
    if let Err(e) = check_csrf(&state, &browser, &csrf) {
        return error_page(&e);
    }
    let id = reset.clone();
    let finished = run(&state, move |s, now| {
        password_reset::set_password(s, now, &id, &browser, &new_password, &confirm_password)
    })
    .await;
    match finished {
        Ok(Finished::SignIn(path)) => see_other(&path).finish(),
        // Not from an application's sign-in: on to the account pages (which ask to sign in).
        Ok(Finished::Done) => see_other(crate::domain::signin::ACCOUNT_PATH).finish(),
        Err(e) => form_error(e, |status, notice| {
            page(status, &NewPasswordPage { t: t(), csrf: page_csrf, notice: Some(notice), reset })
        }),
    }
}
