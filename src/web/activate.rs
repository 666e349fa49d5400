//! The activation of an invited person as pages, for someone without the
//! app: `/activate` asks for the sign-up code, then the verification code
//! (with a way to order a new one), then says where to go on. The same
//! steps as the app API's `/activations`; the activation id travels in the
//! forms, never in a URL.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{
    browser_id_or_new, client_address, csrf_token, error_page, is_form_refusal, origin_of, page, run, with_new_cookie,
};
use super::error_response::status_of;
use super::extract::CsrfForm;
use super::page::PageTexts;
use crate::AppState;
use crate::domain::activation::{self, Activation, ActivationContext, Next, SMS_CODE_SECONDS, Verified};
use crate::domain::refusal::minutes;
use crate::error::Error;

#[derive(Template)]
#[template(path = "activate_start.html")]
struct StartPage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    typed: String,
}

#[derive(Template)]
#[template(path = "activate_code.html")]
struct CodePage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    activation: String,
    invited_line: String,
    code_line: String,
    resends_line: String,
}

#[derive(Template)]
#[template(path = "activate_done.html")]
struct DonePage {
    t: PageTexts,
    next_line: String,
    sign_in: bool,
}

impl CodePage {
    fn new(t: PageTexts, csrf: String, notice: Option<String>, a: &Activation) -> Self {
        let texts = &t.texts;
        let invited_line =
            texts.fill("activate.invited_by", &[("inviter", a.invited_by.clone()), ("company", a.company.clone())]);
        let code_line = texts.fill(
            "activate.code_lead",
            &[("phone", a.phone_hint.clone()), ("minutes", minutes(SMS_CODE_SECONDS).to_string())],
        );
        let resends_line = texts.fill("activate.resends_left", &[("count", a.resends_left.to_string())]);
        Self { csrf, notice, activation: a.id.clone(), invited_line, code_line, resends_line, t }
    }
}

fn done(t: PageTexts, verified: &Verified) -> HttpResponse {
    let (key, sign_in) = match verified.next {
        Next::CreatePassword => ("activate.check_email", false),
        Next::SignIn => ("activate.sign_in", true),
    };
    let next_line = t.texts.fill(key, &[("email", verified.email_hint.clone())]);
    page(StatusCode::OK, &DonePage { t, next_line, sign_in })
}

/// The activation context of a request: its language and where it came from.
fn context<'a>(s: &'a AppState, t: &PageTexts, origin: crate::domain::audit::Origin) -> ActivationContext<'a> {
    ActivationContext { origin, ..s.activation(t.lang()) }
}

fn throttle_key(req: &HttpRequest, state: &AppState) -> Option<String> {
    client_address(req, state).map(|address| address.throttle_key())
}

#[get("/activate")]
pub async fn start_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let response = match csrf_token(&state, &browser) {
        Ok(csrf) => page(StatusCode::OK, &StartPage { t, csrf, notice: None, typed: String::new() }),
        Err(e) => error_page(&e, &t),
    };
    with_new_cookie(response, new_cookie)
}

#[derive(Deserialize)]
pub struct StartForm {
    sign_up_code: String,
}

#[post("/activate")]
pub async fn start_submit(req: HttpRequest, state: web::Data<AppState>, form: CsrfForm<StartForm>) -> HttpResponse {
    let CsrfForm { browser, form: StartForm { sign_up_code } } = form;
    let t = PageTexts::for_request(&req, None);
    let csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &t),
    };
    let (origin, address, typed, page_t) =
        (origin_of(&req, &state), throttle_key(&req, &state), sign_up_code.clone(), t.clone());
    let started = run(&state, move |s, now| {
        activation::start(&context(s, &page_t, origin), now, address.as_deref(), &sign_up_code)
    })
    .await;
    match started {
        Ok(Activation { verified: Some(verified), .. }) => done(t, &verified),
        Ok(activation) => page(StatusCode::OK, &CodePage::new(t, csrf, None, &activation)),
        Err(e) if is_form_refusal(&e) => {
            let notice = refusal_text(&e, &t);
            page(status_of(&e), &StartPage { t, csrf, notice, typed })
        }
        Err(e) => error_page(&e, &t),
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    activation: String,
    code: String,
}

#[post("/activate/verify")]
pub async fn verify_submit(req: HttpRequest, state: web::Data<AppState>, form: CsrfForm<VerifyForm>) -> HttpResponse {
    let CsrfForm { browser, form: VerifyForm { activation: id, code } } = form;
    let t = PageTexts::for_request(&req, None);
    let (origin, address, page_t) = (origin_of(&req, &state), throttle_key(&req, &state), t.clone());
    let activation_id = id.clone();
    let verified = run(&state, move |s, now| {
        activation::verify(&context(s, &page_t, origin), now, address.as_deref(), &activation_id, &code)
    })
    .await;
    match verified {
        Ok(verified) => done(t, &verified),
        Err(e) => code_page_again(&state, &browser, t, &id, e).await,
    }
}

#[derive(Deserialize)]
pub struct ResendForm {
    activation: String,
}

#[post("/activate/resend")]
pub async fn resend_submit(req: HttpRequest, state: web::Data<AppState>, form: CsrfForm<ResendForm>) -> HttpResponse {
    let CsrfForm { browser, form: ResendForm { activation: id } } = form;
    let t = PageTexts::for_request(&req, None);
    let (origin, address, page_t) = (origin_of(&req, &state), throttle_key(&req, &state), t.clone());
    let activation_id = id.clone();
    let resent = run(&state, move |s, now| {
        activation::resend(&context(s, &page_t, origin), now, address.as_deref(), &activation_id)
    })
    .await;
    match resent {
        Ok(_) => {
            let notice = Some(t.texts.get("activate.resent").to_owned());
            code_page_with(&state, &browser, t, &id, notice).await
        }
        Err(e) => code_page_again(&state, &browser, t, &id, e).await,
    }
}

fn refusal_text(e: &Error, t: &PageTexts) -> Option<String> {
    match e {
        Error::Refused(refusal) => Some(t.texts.refusal(refusal)),
        _ => None,
    }
}

/// The code page again after a refused step: with the refusal above the
/// form, or an error page when the activation itself is gone.
async fn code_page_again(
    state: &web::Data<AppState>,
    browser: &str,
    t: PageTexts,
    activation_id: &str,
    e: Error,
) -> HttpResponse {
    if !is_form_refusal(&e) {
        return error_page(&e, &t);
    }
    let status = status_of(&e);
    let mut response = code_page_with(state, browser, t.clone(), activation_id, refusal_text(&e, &t)).await;
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

/// The code page of an activation, as it stands now.
async fn code_page_with(
    state: &web::Data<AppState>,
    browser: &str,
    t: PageTexts,
    activation_id: &str,
    notice: Option<String>,
) -> HttpResponse {
    let csrf = match csrf_token(state, browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &t),
    };
    let id = activation_id.to_owned();
    match run(state, move |s, now| activation::find(&s.store, &s.keys, now, &id)).await {
        Ok(activation) => page(StatusCode::OK, &CodePage::new(t, csrf, notice, &activation)),
        Err(e) => error_page(&e, &t),
    }
}
