//! `/authorize` and the hosted sign-in pages. Each form handler takes a
//! [`CsrfForm`] (the browser and its form token, checked), calls one domain
//! function and renders, in the person's language.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue, USER_AGENT};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::api::{ApiError, ApiResult};
use super::browser::{
    browser_id_or_new, client_address, csrf_token, error_page, is_form_refusal, origin_of, page, run, see_other,
    session_cookie, session_cookie_value, with_new_cookie,
};
use super::error_response::status_of;
use super::extract::{BrowserId, CsrfForm, NoFields};
use super::page::{PageTexts, lang_of};
use crate::AppState;
use crate::domain::authorization::AuthorizationParams;
use crate::domain::qr;
use crate::domain::signin::{self, Authorized, FlowPage, Next, Outcome, SignIn, View};
use crate::error::{Error, Result};
use crate::i18n::Lang;

async fn authorize(req: HttpRequest, state: web::Data<AppState>, params: AuthorizationParams) -> HttpResponse {
    let t = PageTexts::for_request(&req, params.ui_locales.as_deref());
    let lang = t.lang();
    let (browser, new_cookie) = browser_id_or_new(&req, &state);
    let session = session_cookie_value(&req, &state);
    let address = client_address(&req, &state).map(|address| address.throttle_key());
    let outcome = run(&state, move |s, now| {
        signin::authorize(&s.sign_in(lang), now, &browser, address.as_deref(), session.as_deref(), &params)
    })
    .await;
    let response = match outcome {
        Ok(Authorized::Redirect(location)) => see_other(&location).finish(),
        Ok(Authorized::Page(refusal)) => error_page(&refusal.into(), &t),
        Err(e) => error_page(&e, &t),
    };
    with_new_cookie(response, new_cookie)
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
            t: PageTexts,
            flow: String,
            csrf: String,
            notice: Option<String>,
            $($field: $ty,)*
        }
    };
}

page_template!(EmailPage, "signin_email.html" {
    email: String,
    qr: Option<QrOnPage>,
    passkeys: bool,
    upstreams: Vec<UpstreamButton>,
});
page_template!(PasswordPage, "signin_password.html" { email: String });
page_template!(CodePage, "signin_code.html" {});
page_template!(ConfirmationPage, "signin_confirmation.html" {});
page_template!(RecoveryPage, "signin_recovery.html" {});
page_template!(EnrolPage, "signin_enrol.html" { qr_svg: String, otpauth_uri: String, secret_text: String });
page_template!(RecoveryCodesPage, "signin_recovery_codes.html" { codes: Vec<String> });
page_template!(TermsPage, "signin_terms.html" { version: String, text: String });
page_template!(ConsentPage, "signin_consent.html" { client_id: String, scopes: Vec<String> });

/// What a flow's page needs besides its view.
struct PageContext {
    t: PageTexts,
    flow: String,
    csrf: String,
    notice: Option<String>,
    status: StatusCode,
    /// The QR code the email step shows, when one could be made.
    qr: Option<QrOnPage>,
    /// Whether the email step offers "Sign in with a passkey".
    passkeys: bool,
    /// The email step's "Sign in with …" buttons, one per upstream provider.
    upstreams: Vec<UpstreamButton>,
}

/// A "Sign in with {name}" button.
pub(super) struct UpstreamButton {
    pub id: String,
    pub label: String,
}

/// A button per upstream provider, labelled from `key` ("Sign in with {name}").
pub(super) fn upstream_buttons(state: &AppState, t: &PageTexts, key: &str) -> Vec<UpstreamButton> {
    state.upstreams.all().map(|u| UpstreamButton { id: u.id.clone(), label: t.fill1(key, "name", &u.name) }).collect()
}

impl PageContext {
    fn new(
        state: &AppState,
        t: PageTexts,
        flow: String,
        csrf: String,
        notice: Option<String>,
        status: StatusCode,
    ) -> Self {
        let upstreams = upstream_buttons(state, &t, "upstream.sign_in_with");
        let passkeys = state.webauthn.is_some();
        Self { t, flow, csrf, notice, status, qr: None, passkeys, upstreams }
    }
}

/// Renders the page of a flow's step; its forms may send the browser on to
/// the application's origin.
fn render(flow_page: FlowPage, ctx: PageContext) -> HttpResponse {
    let origin = flow_page.origin.clone();
    let mut response = render_view(flow_page.view, ctx);
    allow_form_target(&mut response, &origin);
    response
}

fn allow_form_target(response: &mut HttpResponse, origin: &Option<String>) {
    if let Ok(value) = HeaderValue::from_str(&super::content_security_policy(origin.as_deref())) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
    }
}

fn render_view(view: View, ctx: PageContext) -> HttpResponse {
    let PageContext { t, flow, csrf, notice, status, qr, passkeys, upstreams, .. } = ctx;
    match view {
        View::Email { email } => {
            let email = email.unwrap_or_default();
            page(status, &EmailPage { t, flow, csrf, notice, email, qr, passkeys, upstreams })
        }
        View::Confirmation => page(status, &ConfirmationPage { t, flow, csrf, notice }),
        View::Password { email } => page(status, &PasswordPage { t, flow, csrf, notice, email }),
        View::Code => page(status, &CodePage { t, flow, csrf, notice }),
        View::Enrol { otpauth_uri, secret_text, .. } => match qr_svg(&otpauth_uri) {
            Ok(qr_svg) => page(status, &EnrolPage { t, flow, csrf, notice, qr_svg, otpauth_uri, secret_text }),
            Err(e) => error_page(&e, &t),
        },
        View::RecoveryCodes => page(status, &RecoveryCodesPage { t, flow, csrf, notice, codes: Vec::new() }),
        View::Terms { version, text } => page(status, &TermsPage { t, flow, csrf, notice, version, text }),
        View::Consent { client_id, scopes } => {
            let scopes = t.scope_texts(&scopes);
            page(status, &ConsentPage { t, flow, csrf, notice, client_id, scopes })
        }
    }
}

/// The QR code of a URI, as inline SVG drawn here.
pub(super) fn qr_svg(uri: &str) -> Result<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(Error::internal)?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
}

/// Loads the page of a flow for this browser.
async fn flow_page(state: &web::Data<AppState>, flow: &str, browser: &str) -> Result<FlowPage> {
    let (id, browser) = (flow.to_owned(), browser.to_owned());
    // Showing a page sends nothing: the language of messages does not matter here.
    run(state, move |s, now| signin::view(&s.sign_in(Lang::default()), now, &id, &browser)).await
}

/// Which page a flow shows: its step's, or the recovery-code form of the
/// second factor; or, after a QR code's "Continue", the email step with that
/// same code while it still waits for the phone.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum FormPage {
    Step,
    Recovery,
    Qr(String),
}

/// The email step's QR code: the one the person is scanning (`shown`),
/// while it waits, or else a new one; other steps show none. A code that
/// cannot be made leaves the page without one (the person signs in with
/// the password); the reason is logged.
async fn email_qr(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    view: &View,
    flow: &str,
    browser: &str,
    shown: Option<String>,
) -> Option<QrOnPage> {
    if !matches!(view, View::Email { .. }) {
        return None;
    }
    let user_agent = req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let address = client_address(req, state);
    let asker = qr::Asker {
        user_agent,
        address: address.as_ref().map(|a| a.to_string()),
        throttle_key: address.map(|a| a.throttle_key()),
        client_id: None,
    };
    let (flow, browser) = (flow.to_owned(), browser.to_owned());
    let made = run(state, move |s, now| {
        if let Some(qr_id) = shown
            && let Some(again) = qr::still_pending(&s.store, now, &qr_id, &browser)?
        {
            return Ok(Some(again));
        }
        signin::show_qr(&s.sign_in(Lang::default()), now, &flow, &browser, asker)
    })
    .await;
    match made.and_then(|shown| shown.map(|shown| QrOnPage::new(&state.settings.issuer, shown)).transpose()) {
        Ok(qr) => qr,
        Err(e) => {
            tracing::warn!(error = %e, "the sign-in page shows no QR code");
            None
        }
    }
}

/// A QR code as the email step shows it.
struct QrOnPage {
    qr_id: String,
    link: String,
    number: String,
    svg: String,
}

impl QrOnPage {
    fn new(issuer: &str, shown: qr::ShownQr) -> Result<Self> {
        let link = qr::link(issuer, &shown.qr_id);
        Ok(Self { svg: qr_svg(&link)?, link, number: format!("{:02}", shown.number), qr_id: shown.qr_id })
    }
}

/// Shows a flow's page to this browser, in the language its application asked for.
async fn show_flow(
    req: HttpRequest,
    state: web::Data<AppState>,
    BrowserId(browser): BrowserId,
    flow: String,
    form_page: FormPage,
) -> HttpResponse {
    let csrf = match csrf_token(&state, &browser) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &PageTexts::for_request(&req, None)),
    };
    match flow_page(&state, &flow, &browser).await {
        Ok(loaded) => {
            let t = PageTexts::for_request(&req, loaded.ui_locales.as_deref())
                .with_announcement(loaded.announcement.clone());
            let qr = email_qr(&req, &state, &loaded.view, &flow, &browser, None).await;
            let ctx = PageContext { qr, ..PageContext::new(&state, t, flow, csrf, None, StatusCode::OK) };
            match (form_page, &loaded.view) {
                (FormPage::Recovery, View::Code) => recovery_page(loaded, ctx),
                (FormPage::Recovery, _) => see_other(&signin::signin_path(&ctx.flow)).finish(),
                (FormPage::Step | FormPage::Qr(_), _) => render(loaded, ctx),
            }
        }
        Err(e) => error_page(&e, &PageTexts::for_request(&req, None)),
    }
}

fn recovery_page(loaded: FlowPage, ctx: PageContext) -> HttpResponse {
    let PageContext { t, flow, csrf, notice, status, .. } = ctx;
    let mut response = page(status, &RecoveryPage { t, flow, csrf, notice });
    allow_form_target(&mut response, &loaded.origin);
    response
}

#[get("/signin/{flow}")]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    browser: BrowserId,
    flow: web::Path<String>,
) -> HttpResponse {
    show_flow(req, state, browser, flow.into_inner(), FormPage::Step).await
}

#[get("/signin/{flow}/recovery")]
pub async fn show_recovery(
    req: HttpRequest,
    state: web::Data<AppState>,
    browser: BrowserId,
    flow: web::Path<String>,
) -> HttpResponse {
    show_flow(req, state, browser, flow.into_inner(), FormPage::Recovery).await
}

/// A form's address opened as a page (the language switch returns there):
/// the flow's own page.
#[get("/signin/{flow}/{form}")]
pub async fn show_form_address(path: web::Path<(String, String)>) -> HttpResponse {
    see_other(&signin::signin_path(&path.into_inner().0)).finish()
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

#[derive(Deserialize)]
pub struct ConsentForm {
    decision: String,
}

#[derive(Deserialize)]
pub struct QrForm {
    /// The id of the QR code the page showed.
    qr: String,
}

/// Runs one step and answers: onwards (303), the recovery codes (shown once,
/// right here), or the same page with what went wrong.
pub(super) async fn step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: String,
    browser: String,
    form_page: FormPage,
    action: impl FnOnce(&SignIn<'_>, i64, &str, &str, Option<&str>) -> Result<Outcome> + Send + 'static,
) -> HttpResponse {
    let address = client_address(&req, &state).map(|address| address.throttle_key());
    let lang = lang_of(&req, None);
    let origin = origin_of(&req, &state);
    let (id, browser_for_action) = (flow.clone(), browser.clone());
    let result = run(&state, move |s, now| {
        action(&s.sign_in(lang).coming_from(origin), now, &id, &browser_for_action, address.as_deref())
    })
    .await;
    let fallback_texts = || PageTexts::for_request(&req, None);
    match result {
        Ok(outcome) => {
            let mut response = match (&outcome.next, outcome.recovery_codes) {
                (Next::Redirect(location), _) => see_other(location).finish(),
                (Next::Show, Some(codes)) => {
                    match (flow_page(&state, &flow, &browser).await, csrf_token(&state, &browser)) {
                        (Ok(loaded), Ok(csrf)) => {
                            // Shown once: no language switch, which could not show them again.
                            let t = PageTexts::for_request(&req, loaded.ui_locales.as_deref())
                                .with_announcement(loaded.announcement.clone())
                                .without_switch();
                            let mut response =
                                page(StatusCode::OK, &RecoveryCodesPage { t, flow, csrf, notice: None, codes });
                            allow_form_target(&mut response, &loaded.origin);
                            response
                        }
                        (Err(e), _) | (_, Err(e)) => error_page(&e, &fallback_texts()),
                    }
                }
                (Next::Show, None) => see_other(&signin::signin_path(&flow)).finish(),
            };
            if let Some(value) = outcome.session_cookie {
                let _ = response.add_cookie(&session_cookie(&state, value));
            }
            response
        }
        Err(e) if is_form_refusal(&e) => {
            let status = status_of(&e);
            match (flow_page(&state, &flow, &browser).await, csrf_token(&state, &browser)) {
                (Ok(loaded), Ok(csrf)) => {
                    let t = PageTexts::for_request(&req, loaded.ui_locales.as_deref())
                        .with_announcement(loaded.announcement.clone());
                    let notice = match &e {
                        Error::Refused(refusal) => Some(t.texts.refusal(refusal)),
                        _ => None,
                    };
                    let shown = match &form_page {
                        FormPage::Qr(shown) => Some(shown.clone()),
                        _ => None,
                    };
                    let qr = email_qr(&req, &state, &loaded.view, &flow, &browser, shown).await;
                    let ctx = PageContext { qr, ..PageContext::new(&state, t, flow, csrf, notice, status) };
                    match (form_page, &loaded.view) {
                        (FormPage::Recovery, View::Code) => recovery_page(loaded, ctx),
                        _ => render(loaded, ctx),
                    }
                }
                (Err(e), _) | (_, Err(e)) => error_page(&e, &fallback_texts()),
            }
        }
        Err(e) => error_page(&e, &fallback_texts()),
    }
}

#[post("/signin/{flow}/email")]
pub async fn email_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<EmailForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: EmailForm { email } } = form;
    step(req, state, flow.into_inner(), browser, FormPage::Step, move |ctx, now, id, b, _| {
        signin::submit_email(ctx, now, id, b, &email)
    })
    .await
}

#[post("/signin/{flow}/change-email")]
pub async fn change_email_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    step(req, state, flow.into_inner(), form.browser, FormPage::Step, |ctx, now, id, b, _| {
        signin::change_email(ctx, now, id, b)
    })
    .await
}

#[post("/signin/{flow}/password")]
pub async fn password_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<PasswordForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: PasswordForm { password } } = form;
    step(req, state, flow.into_inner(), browser, FormPage::Step, move |ctx, now, id, b, address| {
        signin::submit_password(ctx, now, id, b, &password, address)
    })
    .await
}

#[post("/signin/{flow}/code")]
pub async fn code_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<CodeForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: CodeForm { code } } = form;
    step(req, state, flow.into_inner(), browser, FormPage::Step, move |ctx, now, id, b, address| {
        signin::submit_code(ctx, now, id, b, &code, address)
    })
    .await
}

#[post("/signin/{flow}/recovery")]
pub async fn recovery_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<CodeForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: CodeForm { code } } = form;
    step(req, state, flow.into_inner(), browser, FormPage::Recovery, move |ctx, now, id, b, address| {
        signin::submit_recovery_code(ctx, now, id, b, &code, address)
    })
    .await
}

#[post("/signin/{flow}/enrol")]
pub async fn enrol_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<CodeForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: CodeForm { code } } = form;
    step(req, state, flow.into_inner(), browser, FormPage::Step, move |ctx, now, id, b, _| {
        signin::confirm_enrolment(ctx, now, id, b, &code)
    })
    .await
}

#[post("/signin/{flow}/recovery-codes")]
pub async fn recovery_codes_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    step(req, state, flow.into_inner(), form.browser, FormPage::Step, |ctx, now, id, b, _| {
        signin::acknowledge_recovery_codes(ctx, now, id, b)
    })
    .await
}

#[post("/signin/{flow}/terms")]
pub async fn terms_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    step(req, state, flow.into_inner(), form.browser, FormPage::Step, |ctx, now, id, b, _| {
        signin::accept_terms(ctx, now, id, b)
    })
    .await
}

#[post("/signin/{flow}/consent")]
pub async fn consent_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<ConsentForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: ConsentForm { decision } } = form;
    step(req, state, flow.into_inner(), browser, FormPage::Step, move |ctx, now, id, b, _| {
        signin::decide_consent(ctx, now, id, b, decision == "allow")
    })
    .await
}

/// The confirmation code after strong identification.
#[post("/signin/{flow}/confirmation")]
pub async fn confirmation_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<CodeForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: CodeForm { code } } = form;
    step(req, state, flow.into_inner(), browser, FormPage::Step, move |ctx, now, id, b, address| {
        signin::submit_confirmation_code(ctx, now, id, b, &code, address)
    })
    .await
}

/// "Send a new code", once the confirmation code has expired.
#[post("/signin/{flow}/confirmation/new")]
pub async fn confirmation_new_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> HttpResponse {
    step(req, state, flow.into_inner(), form.browser, FormPage::Step, |ctx, now, id, b, _| {
        signin::resend_confirmation_code(ctx, now, id, b)
    })
    .await
}

/// "Continue" after the phone approved the QR code (the page's script
/// presses it by itself): the sign-in goes on as the phone's person.
#[post("/signin/{flow}/qr")]
pub async fn qr_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<QrForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: QrForm { qr } } = form;
    let shown = FormPage::Qr(qr.clone());
    step(req, state, flow.into_inner(), browser, shown, move |ctx, now, id, b, _| {
        signin::redeem_qr(ctx, now, id, b, &qr)
    })
    .await
}

/// The first step of a passkey sign-in (the page's script asks it): the
/// options for `navigator.credentials.get`, and the ceremony's id.
#[post("/signin/{flow}/passkey/options")]
pub async fn passkey_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<NoFields>,
) -> ApiResult<HttpResponse> {
    let webauthn = state.webauthn.clone().ok_or(ApiError(Error::NotFound("passkeys")))?;
    let (flow, browser) = (flow.into_inner(), form.browser);
    let address = client_address(&req, &state).map(|address| address.throttle_key());
    let started = run(&state, move |s, now| {
        let ctx = s.sign_in(Lang::default());
        signin::start_passkey_sign_in(&ctx, &webauthn, now, &flow, &browser, address.as_deref())
    })
    .await?;
    Ok(super::account::ceremony_answer(started.ceremony_id, &started.options))
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    ceremony: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, as JSON.
    #[serde(default)]
    credential: String,
}

/// The passkey's answer: the sign-in goes on as the passkey's person.
#[post("/signin/{flow}/passkey")]
pub async fn passkey_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    flow: web::Path<String>,
    form: CsrfForm<PasskeyForm>,
) -> HttpResponse {
    let CsrfForm { browser, form: PasskeyForm { ceremony, credential } } = form;
    let Some(webauthn) = state.webauthn.clone() else {
        return see_other(&signin::signin_path(&flow.into_inner())).finish();
    };
    step(req, state, flow.into_inner(), browser, FormPage::Step, move |ctx, now, id, b, address| {
        let answer = signin::PasskeyAnswer { ceremony_id: &ceremony, credential: &credential };
        signin::finish_passkey_sign_in(ctx, &webauthn, now, id, b, answer, address)
    })
    .await
}
