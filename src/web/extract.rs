//! Extractors for the checks every page needs, so that a new page cannot
//! forget one: a form's anti-forgery token ([`CsrfForm`]) and a signed-in
//! person ([`SignedIn`]). Each refuses with a page in the person's language.

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::browser::{
    browser_id, browser_id_or_new, error_page, run, see_other, session_cookie_value, with_new_cookie,
};
use super::page::PageTexts;
use crate::AppState;
use crate::domain::session::{self, Session};
use crate::domain::signin::{self, OwnPage};
use crate::error::Refusal;

/// A future an extractor returns.
type Extracting<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, actix_web::Error>>>>;

/// A refusal answered at once, as a page.
fn refused(response: HttpResponse) -> actix_web::Error {
    InternalError::from_response("refused", response).into()
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, actix_web::Error> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| refused(HttpResponse::InternalServerError().finish()))
}

/// The binding id of a browser that has been here before (its cookie). A
/// browser without one cannot own the sign-in it asks for: refused as an
/// expired sign-in.
pub struct BrowserId(pub String);

impl FromRequest for BrowserId {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let found = state_of(req).and_then(|state| {
            browser_id(req, &state)
                .map(BrowserId)
                .ok_or_else(|| refused(error_page(&Refusal::SignInExpired.into(), &PageTexts::for_request(req, None))))
        });
        std::future::ready(found)
    }
}

/// A posted form whose anti-forgery token belongs to this browser, and the
/// browser's binding id. A form without a valid token (or a browser without
/// its cookie) is refused: "this form has expired, reload the page".
pub struct CsrfForm<T> {
    pub browser: String,
    pub form: T,
}

#[derive(Deserialize)]
struct WithCsrf<T> {
    csrf: String,
    #[serde(flatten)]
    form: T,
}

/// A form of no fields but its token.
#[derive(Debug, Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let form = web::Form::<WithCsrf<T>>::from_request(&req, payload);
        Box::pin(async move {
            let expired = |req: &HttpRequest| {
                refused(error_page(&Refusal::FormExpired.into(), &PageTexts::for_request(req, None)))
            };
            let state = state_of(&req)?;
            let WithCsrf { csrf, form } = form.await.map_err(|_| expired(&req))?.into_inner();
            let browser = browser_id(&req, &state).ok_or_else(|| expired(&req))?;
            if !state.keys.csrf_token_matches(&browser, &csrf) {
                return Err(expired(&req));
            }
            Ok(CsrfForm { browser, form })
        })
    }
}

/// The person signed in in this browser. A browser without a live session
/// is sent to sign in to the account pages, and back to them afterwards.
pub struct SignedIn {
    pub session: Session,
}

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            let cookie = session_cookie_value(&req, &state);
            let current =
                run(&state, move |s, now| session::current(&s.store, &s.settings.session, now, cookie.as_deref()))
                    .await;
            match current {
                Ok(Some(session)) => Ok(SignedIn { session }),
                Ok(None) => Err(refused(sign_in_first(&req, &state).await)),
                Err(e) => Err(refused(error_page(&e, &PageTexts::for_request(&req, None)))),
            }
        })
    }
}

/// Sends a browser to sign in, and back to the account pages, or to the
/// administration pages when those sent it.
pub async fn sign_in_first(req: &HttpRequest, state: &web::Data<AppState>) -> HttpResponse {
    let (browser, new_cookie) = browser_id_or_new(req, state);
    let lang = super::page::lang_of(req, None);
    // A form posted after the session ended cannot be posted again: back
    // to the page's section instead, which a GET shows.
    let destination = match OwnPage::for_path(req.path()) {
        OwnPage::Admin(_) if req.method() != actix_web::http::Method::GET => OwnPage::for_path(signin::ADMIN_PATH),
        page => page,
    };
    let response =
        match run(state, move |s, now| signin::start_account_sign_in(&s.sign_in(lang), now, &browser, destination))
            .await
        {
            Ok(path) => see_other(&path).finish(),
            Err(e) => error_page(&e, &PageTexts::for_request(req, None)),
        };
    with_new_cookie(response, new_cookie)
}
