//! `/account`: the person's own account page and its forms. Every handler
//! takes [`SignedIn`] (a browser without a session is sent to sign in) and
//! every form a [`CsrfForm`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::api::{ApiError, ApiResult};
use super::browser::{
    browser_id_or_new, csrf_token, error_page, is_form_refusal, origin_of, page, run, see_other,
    session_cookie_removal, with_new_cookie,
};
use super::error_response::status_of;
use super::extract::{CsrfForm, NoFields, SignedIn, sign_in_first};
use super::page::PageTexts;
use crate::AppState;
use crate::domain::account::{self, AccountContext, Contact, Overview};
use crate::domain::audit::Origin;
use crate::domain::session::Session;
use crate::error::{Error, Result};
use crate::i18n::date_time;

struct AppRow {
    client_id: String,
    scopes: String,
}

struct SessionRow {
    when: String,
    current: bool,
}

struct DeviceRow {
    id: String,
    name: String,
    platform: String,
    added: String,
    last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    min_length: usize,
    email: String,
    name: String,
    communication_email: String,
    email_verified: bool,
    communication_phone: Option<String>,
    phone_verified: bool,
    pending_email: Option<String>,
    pending_phone: Option<String>,
    recovery_codes_left: i64,
    applications: Vec<AppRow>,
    sessions: Vec<SessionRow>,
    devices: Vec<DeviceRow>,
    administers: bool,
    /// Whether passkeys can be used here (the issuer is a domain name).
    passkeys_enabled: bool,
    passkeys: Vec<PasskeyRow>,
    /// The strong identifications linked, as "{name}: linked …".
    upstream_links: Vec<String>,
    /// A "Link {name}" button per upstream provider.
    upstream_buttons: Vec<super::signin::UpstreamButton>,
}

/// A passkey as the account page lists it.
struct PasskeyRow {
    id: String,
    name: String,
    added: String,
    last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "account_recovery_codes.html")]
struct RecoveryCodesPage {
    t: PageTexts,
    codes: Vec<String>,
}

fn render(
    state: &AppState,
    overview: Overview,
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let user = overview.user;
    let contacts = user.communication;
    let name_of = |id: &str| state.upstreams.get(id).map_or(id.to_owned(), |p| p.config.name.clone());
    let upstream_links = overview
        .upstream_links
        .iter()
        .map(|link| {
            let (when, used) = (date_time(link.linked_at), date_time(link.last_used_at));
            let provider = name_of(&link.upstream_id);
            let (issuer, subject) = (link.issuer.clone(), link.subject.clone());
            let values = [("name", provider), ("when", when), ("used", used), ("issuer", issuer), ("subject", subject)];
            t.texts.fill("upstream.linked", &values)
        })
        .collect();
    let upstream_buttons = super::signin::upstream_buttons(state, &t, "upstream.link");
    let passkeys_enabled = state.webauthn.is_some();
    page(
        status,
        &AccountPage {
            t,
            csrf,
            notice,
            done,
            min_length: crate::domain::password_policy::MIN_LENGTH,
            administers: overview.administers,
            email: user.email.as_str().to_owned(),
            name: user.name,
            communication_email: contacts.email.as_str().to_owned(),
            email_verified: contacts.email_verified,
            communication_phone: contacts.phone.map(|p| p.as_str().to_owned()),
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
                .map(|s| SessionRow { when: date_time(s.created_at), current: s.current })
                .collect(),
            devices: overview
                .devices
                .into_iter()
                .map(|d| DeviceRow {
                    id: d.device_id,
                    name: d.name,
                    platform: d.platform,
                    added: date_time(d.created_at),
                    last_used: d.last_used_at.map(date_time),
                })
                .collect(),
            passkeys_enabled,
            passkeys: overview
                .passkeys
                .into_iter()
                .map(|p| PasskeyRow {
                    id: p.id,
                    name: p.name,
                    added: date_time(p.created_at),
                    last_used: p.last_used_at.map(date_time),
                })
                .collect(),
            upstream_links,
            upstream_buttons,
        },
    )
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
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<AccountQuery>,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &t),
    };
    let done = query.into_inner().done.map(|what| match what.as_str() {
        "sent" => t.get("account.code_sent").to_owned(),
        "passkey_added" => t.get("passkey.added").to_owned(),
        "upstream" => t.get("upstream.linked_notice").to_owned(),
        _ => t.get("account.saved").to_owned(),
    });
    let session = signed_in.session;
    let response = match run(&state, move |s, now| account::overview(&s.store, now, &session)).await {
        Ok(overview) => render(&state, overview, t, csrf, None, done, StatusCode::OK),
        Err(e) => error_page(&e, &t),
    };
    // The forms' tokens belong to this cookie: a browser that lost it gets it back.
    with_new_cookie(response, new_cookie)
}

/// A form's address opened as a page (the language switch returns there).
#[get("/account/{form:.+}")]
pub async fn show_form_address() -> HttpResponse {
    see_other(crate::domain::signin::ACCOUNT_PATH).finish()
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

/// The context an account form's action runs with.
struct Action<'a> {
    state: &'a AppState,
    now: i64,
    session: &'a Session,
    browser: &'a str,
    lang: crate::i18n::Lang,
    origin: &'a Origin,
}

impl Action<'_> {
    /// What the account page's changes need, for this request.
    fn account(&self) -> AccountContext<'_> {
        self.state.account(self.lang).coming_from(self.origin.clone())
    }
}

/// Runs one form of the account page; a refusal shows the page again with
/// what went wrong.
async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    browser: String,
    action: impl FnOnce(Action<'_>) -> Result<Done> + Send + 'static,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let lang = t.lang();
    let session = signed_in.session;
    let (for_action, for_page) = (session.clone(), session);
    let browser_for_action = browser.clone();
    let origin = origin_of(&req, &state);
    let outcome = run(&state, move |s, now| {
        action(Action { state: s, now, session: &for_action, browser: &browser_for_action, lang, origin: &origin })
    })
    .await;
    match outcome {
        Ok(Done::Saved(what)) => see_other(&format!("/account?done={what}")).finish(),
        Ok(Done::Redirect(path)) => see_other(&path).finish(),
        // Shown once: no language switch, which could not show them again.
        Ok(Done::RecoveryCodes(codes)) => page(StatusCode::OK, &RecoveryCodesPage { t: t.without_switch(), codes }),
        Ok(Done::SignedOut) => {
            let mut response = see_other("/account").finish();
            let _ = response.add_cookie(&session_cookie_removal(&state));
            response
        }
        Err(e) if is_form_refusal(&e) => {
            let status = status_of(&e);
            let notice = match &e {
                Error::Refused(refusal) => Some(t.texts.refusal(refusal)),
                _ => None,
            };
            match (
                csrf_token(&state, &browser),
                run(&state, move |s, now| account::overview(&s.store, now, &for_page)).await,
            ) {
                (Ok(csrf), Ok(overview)) => render(&state, overview, t, csrf, notice, None, status),
                (Err(e), _) | (_, Err(e)) => error_page(&e, &t),
            }
        }
        Err(e) => error_page(&e, &t),
    }
}

#[derive(Deserialize)]
pub struct NameForm {
    name: String,
}

#[post("/account/name")]
pub async fn name(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<NameForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: NameForm { name } } = form;
    act(req, state, signed_in, browser, move |a| {
        account::change_name(&a.state.store, a.now, a.session, &name).map(|()| Done::Saved("name"))
    })
    .await
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
    /// A current authenticator code: the step-up before where codes go changes.
    proof: String,
}

#[post("/account/email")]
pub async fn email(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<EmailForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: EmailForm { email, proof } } = form;
    act(req, state, signed_in, browser, move |a| {
        account::start_contact_change(&a.account(), a.now, a.session, Contact::Email, &email, &proof)
            .map(|()| Done::Saved("sent"))
    })
    .await
}

#[derive(Deserialize)]
pub struct PhoneForm {
    phone: String,
    proof: String,
}

/// A form whose only field is the step-up's authenticator code.
#[derive(Deserialize)]
pub struct ProofForm {
    proof: String,
}

#[post("/account/phone")]
pub async fn phone(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<PhoneForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: PhoneForm { phone, proof } } = form;
    act(req, state, signed_in, browser, move |a| {
        account::start_contact_change(&a.account(), a.now, a.session, Contact::Phone, &phone, &proof)
            .map(|()| Done::Saved("sent"))
    })
    .await
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

#[post("/account/email/verify")]
pub async fn email_verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<CodeForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: CodeForm { code } } = form;
    act(req, state, signed_in, browser, move |a| {
        account::confirm_contact_change(&a.account(), a.now, a.session, Contact::Email, &code)
            .map(|()| Done::Saved("email"))
    })
    .await
}

#[post("/account/phone/verify")]
pub async fn phone_verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<CodeForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: CodeForm { code } } = form;
    act(req, state, signed_in, browser, move |a| {
        account::confirm_contact_change(&a.account(), a.now, a.session, Contact::Phone, &code)
            .map(|()| Done::Saved("phone"))
    })
    .await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

#[post("/account/password")]
pub async fn password(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<PasswordForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: PasswordForm { current_password, new_password, confirm_password } } = form;
    act(req, state, signed_in, browser, move |a| {
        let ctx = a.account();
        account::change_password(&ctx, a.now, a.session, &current_password, &new_password, &confirm_password)
            .map(|()| Done::Saved("password"))
    })
    .await
}

#[post("/account/authenticator")]
pub async fn authenticator(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<CodeForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: CodeForm { code } } = form;
    act(req, state, signed_in, browser, move |a| {
        account::reset_authenticator(&a.account(), a.now, a.session, a.browser, &code).map(Done::Redirect)
    })
    .await
}

#[post("/account/recovery-codes")]
pub async fn recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<ProofForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: ProofForm { proof } } = form;
    act(req, state, signed_in, browser, move |a| {
        account::new_recovery_codes(&a.account(), a.now, a.session, &proof).map(Done::RecoveryCodes)
    })
    .await
}

#[post("/account/applications/{client}/revoke")]
pub async fn revoke_application(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    client: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    let client = client.into_inner();
    act(req, state, signed_in, form.browser, move |a| {
        account::withdraw_consent(&a.account(), a.now, a.session, &client).map(|()| Done::Saved("application"))
    })
    .await
}

#[post("/account/sign-out-everywhere")]
pub async fn sign_out_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    act(req, state, signed_in, form.browser, |a| {
        account::sign_out_everywhere(&a.account(), a.now, a.session).map(|()| Done::SignedOut)
    })
    .await
}

#[post("/account/devices/{device_id}/remove")]
pub async fn remove_device(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    device_id: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    let device_id = device_id.into_inner();
    act(req, state, signed_in, form.browser, move |a| {
        crate::domain::devices::remove(&a.state.store, a.now, a.origin, &a.session.user_id, &device_id)
            .map(|()| Done::Saved("device"))
    })
    .await
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ceremony: String,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, as JSON.
    #[serde(default)]
    credential: String,
    /// A current authenticator code: a passkey signs in on its own.
    #[serde(default)]
    proof: String,
}

/// The first step of adding a passkey (the page's script asks it): the
/// options for `navigator.credentials.create`, and the ceremony's id.
#[post("/account/passkeys/options")]
pub async fn passkey_options(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<NoFields>,
) -> ApiResult<HttpResponse> {
    let webauthn = state.webauthn.clone().ok_or(ApiError(Error::NotFound("passkeys")))?;
    let (browser, user) = (form.browser, signed_in.session.user_id);
    let started = run(&state, move |s, now| {
        crate::domain::passkeys::start_registration(&s.store, &webauthn, now, &browser, &user)
    })
    .await?;
    Ok(ceremony_answer(started.ceremony_id, &started.options))
}

/// The first step's answer: the ceremony's id and the options, never cached.
pub fn ceremony_answer(ceremony: String, options: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "ceremony": ceremony, "options": options }))
}

/// Adds the passkey the browser made, under the name the person gave it.
#[post("/account/passkeys")]
pub async fn add_passkey(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<PasskeyForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: PasskeyForm { name: passkey_name, ceremony, credential, proof } } = form;
    let Some(webauthn) = state.webauthn.clone() else { return see_other("/account").finish() };
    act(req, state, signed_in, browser, move |a| {
        let new = crate::domain::passkeys::NewPasskey {
            ceremony_id: &ceremony,
            name: &passkey_name,
            credential: &credential,
        };
        account::add_passkey(&a.account(), &webauthn, a.now, a.session, a.browser, new, &proof)
            .map(|()| Done::Saved("passkey_added"))
    })
    .await
}

#[post("/account/passkeys/{id}/remove")]
pub async fn remove_passkey(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    let id = id.into_inner();
    act(req, state, signed_in, form.browser, move |a| {
        crate::domain::passkeys::remove(&a.state.store, a.now, a.origin, &a.session.user_id, &id)
            .map(|()| Done::Saved("passkey_removed"))
    })
    .await
}
