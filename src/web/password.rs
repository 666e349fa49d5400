//! "Forgot your password?": asking for a reset, the SMS code, the new password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{
    browser_id, browser_id_or_new, client_address, csrf_token, error_page, is_form_refusal, origin_of, page, run,
    see_other, with_new_cookie,
};
use super::error_response::status_of;
use super::extract::CsrfForm;
use super::page::PageTexts;
use crate::AppState;
use crate::domain::password_policy::MIN_LENGTH;
use crate::domain::password_reset::{self, CODE_SECONDS, Finished, LINK_SECONDS, Method, Started};
use crate::domain::refusal::{Refusal, minutes};
use crate::domain::signin;
use crate::error::Error;

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    flow: Option<String>,
    email: String,
}

#[derive(Template)]
#[template(path = "password_check_email.html")]
struct CheckEmailPage {
    t: PageTexts,
    link_minutes: i64,
}

#[derive(Template)]
#[template(path = "password_code.html")]
struct CodePage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    reset: String,
    code_minutes: i64,
}

#[derive(Template)]
#[template(path = "password_new.html")]
struct NewPasswordPage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    reset: String,
    min_length: usize,
}

/// A form's refusal shown on its own page; anything else as an error page.
fn form_error(e: Error, t: &PageTexts, render: impl FnOnce(StatusCode, String) -> HttpResponse) -> HttpResponse {
    match &e {
        Error::Refused(refusal) if is_form_refusal(&e) => render(status_of(&e), t.texts.refusal(refusal)),
        _ => error_page(&e, t),
    }
}

#[derive(Deserialize)]
pub struct ForgotQuery {
    flow: Option<String>,
}

#[get("/password/forgot")]
pub async fn forgot_page(req: HttpRequest, state: web::Data<AppState>, query: web::Query<ForgotQuery>) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let flow = query.into_inner().flow;
    let origin = match flow.clone() {
        Some(flow) => {
            let browser = browser.clone();
            run(&state, move |s, now| signin::flow_origin(&s.store, now, &flow, &browser)).await
        }
        None => Ok(None),
    };
    let email = match origin {
        Ok(origin) => origin.and_then(|o| o.email).unwrap_or_default(),
        Err(e) => return error_page(&e, &t),
    };
    let response = match csrf_token(&state, &browser) {
        Ok(csrf) => page(StatusCode::OK, &ForgotPage { t, csrf, notice: None, flow, email }),
        Err(e) => error_page(&e, &t),
    };
    with_new_cookie(response, new_cookie)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
    method: String,
    flow: Option<String>,
}

#[post("/password/forgot")]
pub async fn forgot_submit(req: HttpRequest, state: web::Data<AppState>, form: CsrfForm<ForgotForm>) -> HttpResponse {
    let CsrfForm { browser, form: ForgotForm { email, method, flow } } = form;
    let t = PageTexts::for_request(&req, None);
    let lang = t.lang();
    let origin = origin_of(&req, &state);
    let method = if method == "sms" { Method::SmsCode } else { Method::EmailLink };
    let address = client_address(&req, &state).map(|address| address.throttle_key());
    let (typed, flow_for_page, browser_for_page) = (email.clone(), flow.clone(), browser.clone());
    let started = run(&state, move |s, now| {
        // The sign-in it started from, to return to afterwards (if it is this browser's).
        let started_from = match flow {
            Some(flow) => signin::flow_origin(&s.store, now, &flow, &browser)?,
            None => None,
        };
        let request = started_from.and_then(|o| o.request);
        password_reset::start(
            &s.password_reset(lang).coming_from(origin),
            now,
            &browser,
            &email,
            method,
            request.as_ref(),
            address.as_deref(),
        )
    })
    .await;
    match started {
        Ok(Started::LinkSent) => page(StatusCode::OK, &CheckEmailPage { t, link_minutes: minutes(LINK_SECONDS) }),
        Ok(Started::CodeSent { reset_id }) => see_other(&format!("/password/reset/{reset_id}/code")).finish(),
        Err(e) => form_error(e, &t.clone(), |status, notice| match csrf_token(&state, &browser_for_page) {
            Ok(csrf) => page(
                status,
                &ForgotPage { t: t.clone(), csrf, notice: Some(notice), flow: flow_for_page, email: typed },
            ),
            Err(e) => error_page(&e, &t),
        }),
    }
}

#[get("/password/reset/{reset}/code")]
pub async fn code_page(req: HttpRequest, state: web::Data<AppState>, reset: web::Path<String>) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let Some(browser) = browser_id(&req, &state) else { return error_page(&Refusal::ResetExpired.into(), &t) };
    let csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &t),
    };
    // The form posts to the reset as looked up, never to the path as typed.
    let asked = reset.into_inner();
    match run(&state, move |s, now| password_reset::awaiting_code(&s.store, now, &asked, &browser)).await {
        Ok(reset) => {
            page(StatusCode::OK, &CodePage { t, csrf, notice: None, reset, code_minutes: minutes(CODE_SECONDS) })
        }
        Err(e) => error_page(&e, &t),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

#[post("/password/reset/{reset}/code")]
pub async fn code_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    reset: web::Path<String>,
    form: CsrfForm<CodeForm>,
) -> HttpResponse {
    let reset = reset.into_inner();
    let CsrfForm { browser, form: CodeForm { code } } = form;
    let t = PageTexts::for_request(&req, None);
    let lang = t.lang();
    let origin = origin_of(&req, &state);
    let page_csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &t),
    };
    let id = reset.clone();
    match run(&state, move |s, now| {
        password_reset::verify_code(&s.password_reset(lang).coming_from(origin), now, &id, &browser, &code)
    })
    .await
    {
        Ok(()) => see_other(&format!("/password/reset/{reset}")).finish(),
        Err(e) => form_error(e, &t.clone(), |status, notice| {
            page(
                status,
                &CodePage { t, csrf: page_csrf, notice: Some(notice), reset, code_minutes: minutes(CODE_SECONDS) },
            )
        }),
    }
}

#[get("/password/reset/{reset}")]
pub async fn new_password_page(req: HttpRequest, state: web::Data<AppState>, reset: web::Path<String>) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    // An emailed link may be opened in a browser that has never been here.
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let reset = reset.into_inner();
    let (id, b) = (reset.clone(), browser.clone());
    let response = match run(&state, move |s, now| password_reset::check(&s.store, now, &id, &b)).await {
        Ok(()) => match csrf_token(&state, &browser) {
            Ok(csrf) => page(StatusCode::OK, &NewPasswordPage { t, csrf, notice: None, reset, min_length: MIN_LENGTH }),
            Err(e) => error_page(&e, &t),
        },
        Err(e) => error_page(&e, &t),
    };
    with_new_cookie(response, new_cookie)
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    new_password: String,
    confirm_password: String,
}

#[post("/password/reset/{reset}")]
pub async fn new_password_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    reset: web::Path<String>,
    form: CsrfForm<NewPasswordForm>,
) -> HttpResponse {
    let reset = reset.into_inner();
    let CsrfForm { browser, form: NewPasswordForm { new_password, confirm_password } } = form;
    let t = PageTexts::for_request(&req, None);
    let lang = t.lang();
    let origin = origin_of(&req, &state);
    let page_csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &t),
    };
    let id = reset.clone();
    let finished = run(&state, move |s, now| {
        password_reset::set_password(
            &s.password_reset(lang).coming_from(origin),
            now,
            &id,
            &browser,
            &new_password,
            &confirm_password,
        )
    })
    .await;
    match finished {
        Ok(Finished::SignIn(path)) => see_other(&path).finish(),
        // Not from an application's sign-in: on to the account pages (which ask to sign in).
        Ok(Finished::Done) => see_other(signin::ACCOUNT_PATH).finish(),
        Err(e) => form_error(e, &t.clone(), |status, notice| {
            page(status, &NewPasswordPage { t, csrf: page_csrf, notice: Some(notice), reset, min_length: MIN_LENGTH })
        }),
    }
}
