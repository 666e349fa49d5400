//! The first run's page: the link `portti serve` logs on an empty database
//! creates the first customer-service account, then administration begins
//! at `/admin` (which asks to sign in, and to enrol the authenticator).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{
    browser_id_or_new, csrf_token, error_page, is_form_refusal, origin_of, page, run, see_other, with_new_cookie,
};
use super::error_response::status_of;
use super::extract::CsrfForm;
use super::page::PageTexts;
use crate::AppState;
use crate::domain::first_run::{self, FirstAccount};
use crate::domain::password_policy::MIN_LENGTH;
use crate::error::Error;

/// Where the new account goes on.
const AFTER_SETUP: &str = "/admin";

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    token: String,
    name: String,
    email: String,
    min_length: usize,
}

#[get("/setup/{token}")]
pub async fn show(req: HttpRequest, state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let token = token.into_inner();
    let checked = token.clone();
    let response = match run(&state, move |s, now| first_run::check(&s.store, now, &checked)).await {
        Ok(()) => match csrf_token(&state, &browser) {
            Ok(csrf) => page(
                StatusCode::OK,
                &SetupPage {
                    t,
                    csrf,
                    notice: None,
                    token,
                    name: String::new(),
                    email: String::new(),
                    min_length: MIN_LENGTH,
                },
            ),
            Err(e) => error_page(&e, &t),
        },
        Err(e) => error_page(&e, &t),
    };
    with_new_cookie(response, new_cookie)
}

#[derive(Deserialize)]
pub struct SetupForm {
    name: String,
    email: String,
    new_password: String,
    confirm_password: String,
}

#[post("/setup/{token}")]
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: CsrfForm<SetupForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: SetupForm { name, email, new_password, confirm_password } } = form;
    let t = PageTexts::for_request(&req, None);
    let origin = origin_of(&req, &state);
    let token = token.into_inner();
    let (typed_name, typed_email, link) = (name.clone(), email.clone(), token.clone());
    let account = FirstAccount { name, email, password: new_password, confirmation: confirm_password };
    let created =
        run(&state, move |s, now| first_run::create_support(&s.store, &s.keys, &origin, now, &link, account)).await;
    match created {
        Ok(_) => see_other(AFTER_SETUP).finish(),
        Err(e) if is_form_refusal(&e) || matches!(e, Error::Conflict(_)) => {
            let notice = match &e {
                Error::Refused(refusal) => t.texts.refusal(refusal),
                other => other.to_string(),
            };
            match csrf_token(&state, &browser) {
                Ok(csrf) => page(
                    status_of(&e),
                    &SetupPage {
                        t,
                        csrf,
                        notice: Some(notice),
                        token,
                        name: typed_name,
                        email: typed_email,
                        min_length: MIN_LENGTH,
                    },
                ),
                Err(e) => error_page(&e, &t),
            }
        }
        Err(e) => error_page(&e, &t),
    }
}
