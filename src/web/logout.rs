//! `/logout`: RP-initiated logout.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{
    browser_id, browser_id_or_new, csrf_token, error_page, origin_of, page, run, see_other, session_cookie_removal,
    session_cookie_value, with_new_cookie,
};
use super::page::PageTexts;
use crate::AppState;
use crate::domain::logout::{LoggedOut, LogoutParams, logout};

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct ConfirmPage {
    t: PageTexts,
    csrf: String,
    post_logout_redirect_uri: Option<String>,
    client_state: Option<String>,
    client_id: Option<String>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage {
    t: PageTexts,
}

async fn respond(req: HttpRequest, state: web::Data<AppState>, params: LogoutParams, confirmed: bool) -> HttpResponse {
    let session = session_cookie_value(&req, &state);
    let for_page = params.clone();
    let t = PageTexts::for_request(&req, None);
    let lang = t.lang();
    let origin = origin_of(&req, &state);
    let outcome = run(&state, move |s, now| {
        logout(&s.sign_in(lang).coming_from(origin), now, session.as_deref(), &params, confirmed)
    })
    .await;
    match outcome {
        Ok(LoggedOut::Confirm) => {
            let (browser, new_cookie) = browser_id_or_new(&req, &state);
            let csrf = match csrf_token(&state, &browser) {
                Ok(csrf) => csrf,
                Err(e) => return error_page(&e, &t),
            };
            let target = for_page
                .post_logout_redirect_uri
                .as_deref()
                .and_then(|uri| url::Url::parse(uri).ok())
                .map(|url| url.origin().ascii_serialization());
            let mut response = page(
                StatusCode::OK,
                &ConfirmPage {
                    t,
                    csrf,
                    post_logout_redirect_uri: for_page.post_logout_redirect_uri,
                    client_state: for_page.state,
                    client_id: for_page.client_id,
                },
            );
            // The confirmation's form ends in a redirect to the application: CSP must allow it.
            if let Ok(value) = HeaderValue::from_str(&super::content_security_policy(target.as_deref())) {
                response.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
            }
            with_new_cookie(response, new_cookie)
        }
        Ok(LoggedOut::Redirect(location)) => {
            let mut response = see_other(&location).finish();
            let _ = response.add_cookie(&session_cookie_removal(&state));
            response
        }
        Ok(LoggedOut::Done) => {
            let mut response = page(StatusCode::OK, &SignedOutPage { t });
            let _ = response.add_cookie(&session_cookie_removal(&state));
            response
        }
        Err(e) => error_page(&e, &t),
    }
}

#[get("/logout")]
pub async fn logout_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<LogoutParams>,
) -> HttpResponse {
    respond(req, state, params.into_inner(), false).await
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(flatten)]
    params: LogoutParams,
    csrf: Option<String>,
    confirm: Option<String>,
}

#[post("/logout")]
pub async fn logout_post(req: HttpRequest, state: web::Data<AppState>, form: web::Form<LogoutForm>) -> HttpResponse {
    let LogoutForm { params, csrf, confirm } = form.into_inner();
    // A confirmation counts only from a form this service showed to this browser.
    let confirmed = confirm.as_deref() == Some("yes")
        && match (browser_id(&req, &state), csrf.as_deref()) {
            (Some(browser), Some(token)) => state.keys.csrf_token_matches(&browser, token),
            _ => false,
        };
    respond(req, state, params, confirmed).await
}
