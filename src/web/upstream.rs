//! Strong identification through the upstream providers: the email step's
//! "Sign in with …" button sends the browser there, and `/upstream/{id}/callback`
//! takes the answer back into the sign-in. Portti's keys towards them are at
//! `/upstream/jwks` and `/upstream/signed-jwks`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{client_address, error_page, page, run, see_other};
use super::extract::{BrowserId, CsrfForm, NoFields, SignedIn};
use super::page::PageTexts;
use super::signin::{FormPage, step};
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::domain::refusal::{Refusal, settle};
use crate::domain::signin;
use crate::domain::upstream::{self, TakenTrip, Trip, TripPurpose, VerifiedIdentity};
use crate::error::{Error, Result};
use crate::upstream::{Answer, Provider, UpstreamFailure};

/// Where a provider sends the browser back: `{issuer}/upstream/{id}/callback`.
pub fn callback_uri(issuer: &str, upstream_id: &str) -> String {
    format!("{}/upstream/{upstream_id}/callback", issuer.trim_end_matches('/'))
}

/// Sends the browser on to the provider for `trip`, in the language given.
async fn send_to_provider(
    state: &AppState,
    t: PageTexts,
    provider: &Provider,
    trip: &Trip,
    ui_locales: &str,
    now: UnixSeconds,
) -> Result<HttpResponse> {
    let redirect_uri = callback_uri(&state.settings.issuer, &provider.config.id);
    let keys = state.upstream_key_set();
    let url = state
        .upstreams
        .authorization_url(provider, trip, &redirect_uri, Some(ui_locales), &keys, now)
        .await
        .map_err(|failure| failed(provider, failure))?;
    Ok(continue_to(t, provider, url))
}

/// "Sign in with {name}": a trip for this flow, then the provider.
#[post("/signin/{flow}/upstream/{upstream}")]
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    let (flow, upstream_id) = path.into_inner();
    let browser = form.browser;
    let address = client_address(&req, &state).map(|a| a.throttle_key());
    let t = PageTexts::for_request(&req, None);
    let Some(provider) = state.upstreams.get(&upstream_id).cloned() else {
        return error_page(&Refusal::UpstreamUnknown.into(), &t);
    };
    let (flow_id, browser_for_trip) = (flow.clone(), browser.clone());
    let started = run(&state, move |s, now| {
        let ctx = s.sign_in(crate::i18n::Lang::default());
        let address = address.as_deref();
        signin::start_upstream_sign_in(&ctx, now, &flow_id, &browser_for_trip, address, &upstream_id)
            .map(|(trip, ui_locales)| (trip, ui_locales, now))
    })
    .await;
    let sent = match started {
        Ok((trip, ui_locales, now)) => {
            let ui_locales = ui_locales.unwrap_or_else(|| t.code().to_owned());
            send_to_provider(&state, t, &provider, &trip, &ui_locales, now).await
        }
        Err(e) => Err(e),
    };
    match sent {
        Ok(response) => response,
        Err(e) => refused_in_flow(req, state, flow, browser, e).await,
    }
}

#[derive(Template)]
#[template(path = "upstream_continue.html")]
struct ContinuePage {
    t: PageTexts,
    name: String,
    url: String,
}

/// On to the provider, from a page of its own rather than a redirect: the
/// sign-in page's Content-Security-Policy (`form-action`) covers every
/// redirect after its form, and a broker may send the browser on to a bank
/// of another origin. A refresh is a navigation of its own; the link is there
/// for a browser that does not follow it.
fn continue_to(t: PageTexts, provider: &Provider, url: String) -> HttpResponse {
    page(StatusCode::OK, &ContinuePage { t, name: provider.config.name.clone(), url })
}

/// The email step again, saying what went wrong.
async fn refused_in_flow(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: String,
    browser: String,
    error: Error,
) -> HttpResponse {
    step(req, state, flow, browser, FormPage::Step, move |_, _, _, _, _| Err(error)).await
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    /// RFC 9207: the provider that answered, where it says.
    iss: Option<String>,
}

/// The provider's answer: the trip its `state` names is taken (once, and
/// only by the browser that started it), the code redeemed, the ID token
/// checked, and the sign-in goes on as the person it identifies.
#[get("/upstream/{upstream}/callback")]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    upstream_id: web::Path<String>,
    BrowserId(browser): BrowserId,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let upstream_id = upstream_id.into_inner();
    let CallbackQuery { state: trip_state, code, error, iss } = query.into_inner();
    let t = PageTexts::for_request(&req, None);
    let Some(provider) = state.upstreams.get(&upstream_id).cloned() else {
        return error_page(&Refusal::UpstreamUnknown.into(), &t);
    };
    let (id, browser_for_trip) = (upstream_id.clone(), browser.clone());
    let trip_state = trip_state.unwrap_or_default();
    let taken = run(&state, move |s, now| {
        s.store.write(|tx| upstream::take_trip(tx, &s.keys, now, &trip_state, &browser_for_trip, &id)).and_then(settle)
    })
    .await;
    let trip = match taken {
        Ok(trip) => trip,
        Err(e) => {
            tracing::warn!(upstream = %upstream_id, "an upstream answer with an unknown, used or foreign state");
            return error_page(&e, &t);
        }
    };
    let identified = match (error, code) {
        // An answer naming another provider is a mix-up (RFC 9207): not redeemed here.
        _ if iss.as_deref().is_some_and(|iss| !provider.answered_by(iss)) => {
            tracing::warn!(upstream = %upstream_id, "an upstream answer names another issuer");
            Err(Refusal::UpstreamRefused.into())
        }
        (None, Some(code)) => redeem(&state, &provider, &trip, &code).await,
        (Some(error), _) => {
            tracing::info!(upstream = %upstream_id, error = %shown(&error), "the upstream answered with an error");
            Err(Refusal::UpstreamCancelled.into())
        }
        (None, None) => Err(Refusal::UpstreamRefused.into()),
    };
    match trip.purpose {
        TripPurpose::SignIn { flow_id } => {
            step(req, state, flow_id, browser, FormPage::Step, move |ctx, now, flow, b, _| {
                signin::upstream_identified(ctx, now, flow, b, &identified?)
            })
            .await
        }
        TripPurpose::Link { user } => {
            let origin = super::browser::origin_of(&req, &state);
            let lang = t.lang();
            let cookie = super::browser::session_cookie_value(&req, &state);
            let linked = run(&state, move |s, now| {
                let identity = identified?;
                let texts = crate::i18n::Texts::new(lang);
                let session = crate::domain::session::current(&s.store, &s.settings.session, now, cookie.as_deref())?;
                let person = (&user, session.as_ref());
                s.store
                    .write(|tx| upstream::link_to_account(tx, &s.keys, now, &origin, &texts, person, &identity))
                    .and_then(settle)
            })
            .await;
            match linked {
                Ok(()) => see_other("/account?done=upstream").finish(),
                Err(e) => error_page(&e, &t),
            }
        }
    }
}

/// "Link {name}" on the account page: a trip to the provider whose answer
/// links the identification to this account, within minutes of signing in.
#[post("/account/upstream/{upstream}")]
pub async fn link_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    upstream_id: web::Path<String>,
    signed_in: SignedIn,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    let upstream_id = upstream_id.into_inner();
    let t = PageTexts::for_request(&req, None);
    let Some(provider) = state.upstreams.get(&upstream_id).cloned() else {
        return error_page(&Refusal::UpstreamUnknown.into(), &t);
    };
    let address = client_address(&req, &state).map(|a| a.throttle_key());
    let (session, browser, id) = (signed_in.session, form.browser, upstream_id);
    let started = run(&state, move |s, now| {
        s.store
            .write(|tx| upstream::start_link(tx, &s.keys, now, &session, &browser, address.as_deref(), &id))
            .and_then(settle)
            .map(|trip| (trip, now))
    })
    .await;
    let (trip, now) = match started {
        Ok(started) => started,
        Err(Error::Refused(Refusal::FreshSignInRequired { .. })) => {
            return see_other("/account/sign-in-again").finish();
        }
        Err(e) => return error_page(&e, &t),
    };
    let lang = t.code();
    match send_to_provider(&state, t.clone(), &provider, &trip, lang, now).await {
        Ok(response) => response,
        Err(e) => error_page(&e, &t),
    }
}

/// Redeems the code at the provider and checks the ID token it gives.
async fn redeem(state: &AppState, provider: &Provider, trip: &TakenTrip, code: &str) -> Result<VerifiedIdentity> {
    let redirect_uri = callback_uri(&state.settings.issuer, &provider.config.id);
    let keys = state.upstream_key_set();
    let now = state.clock.now();
    let answer = Answer {
        code,
        pkce_verifier: &trip.pkce_verifier,
        nonce_digest: &trip.nonce_digest,
        redirect_uri: &redirect_uri,
    };
    state.upstreams.redeem(provider, answer, &keys, now).await.map_err(|failure| failed(provider, failure))
}

/// A failure with an upstream, logged with its reason; the person is told
/// only that the provider is down, or that its answer was refused.
fn failed(provider: &Provider, failure: UpstreamFailure) -> Error {
    tracing::warn!(upstream = %provider.config.id, error = %failure, "an upstream sign-in failed");
    match failure {
        UpstreamFailure::Unavailable(_) => Refusal::UpstreamUnavailable.into(),
        UpstreamFailure::Refused(_) => Refusal::UpstreamRefused.into(),
    }
}

/// An error code from outside, as the log may show it.
fn shown(error: &str) -> String {
    error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect()
}

/// Portti's public keys towards its upstreams: RS256 `sig`, RSA-OAEP `enc`.
#[get("/upstream/jwks")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.upstream_key_set();
    if keys.is_empty() {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(keys.jwks().clone())
}

/// The same keys as a JWT signed by the signing key, for brokers that want signed JWKS.
#[get("/upstream/signed-jwks")]
pub async fn signed_jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.upstream_key_set();
    match keys.signed_jwks() {
        Some(signed) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/jwk-set+jwt"))
            .insert_header((CACHE_CONTROL, "public, max-age=3600"))
            .body(signed.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}
