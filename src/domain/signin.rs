//! The hosted sign-in: a flow that starts at `/authorize` and walks a person
//! through email, password and authenticator code (enrolling one on the first
//! sign-in), the terms of service and consent, and ends with an authorization
//! code sent back to the client.
//!
//! A flow is bound to the browser that started it (a cookie) and lives in the
//! database, so any instance can serve any step.

use serde::Serialize;

use super::authorization::{self, AuthorizationError, AuthorizationParams, AuthorizationRequest, Prompt};
use super::client::ClientId;
use super::contact::Email;
use super::grants::authorization_code::issue_code;
use super::ids::UserId;
use super::recovery_codes;
use super::redirect::{code_redirect, error_redirect};
use super::session::{self, Session};
use super::throttle::{self, account_subject};
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::crypto::{Keys, totp};
use crate::error::{Error, Result};
use crate::store::{StoredFlow, Write};

/// How long a person has to finish signing in.
const FLOW_SECONDS: i64 = 30 * 60;

/// Where a flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Email,
    Password,
    Code,
    Enrol,
    /// Setting up an authenticator that replaces the current one (after a
    /// recovery code, or from the account page).
    Reenrol,
    RecoveryCodes,
    Terms,
    Consent,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Email => "email",
            Step::Password => "password",
            Step::Code => "code",
            Step::Enrol => "enrol",
            Step::Reenrol => "reenrol",
            Step::RecoveryCodes => "recovery_codes",
            Step::Terms => "terms",
            Step::Consent => "consent",
        }
    }

    fn parse(stored: &str) -> Result<Self> {
        [
            Step::Email,
            Step::Password,
            Step::Code,
            Step::Enrol,
            Step::Reenrol,
            Step::RecoveryCodes,
            Step::Terms,
            Step::Consent,
        ]
        .into_iter()
        .find(|step| step.as_str() == stored)
        .ok_or_else(|| Error::internal("unknown stored sign-in step"))
    }
}

/// A sign-in in progress.
#[derive(Debug, Clone)]
struct Flow {
    stored: StoredFlow,
    /// The application's request; `None` for signing in to the account page.
    request: Option<AuthorizationRequest>,
    step: Step,
    /// The step as stored when this request loaded the flow: saving checks
    /// that no other request moved it on in the meantime.
    loaded_step: String,
}

impl Flow {
    /// A new flow for this browser at `step`; returns it and the id its URL carries.
    fn new(
        now: UnixSeconds,
        browser_id: &str,
        request: Option<AuthorizationRequest>,
        step: Step,
        email: Option<String>,
    ) -> Result<(Self, String)> {
        let flow_id = random_token();
        let stored = StoredFlow {
            id_digest: sha256_hex(&flow_id),
            browser_digest: sha256_hex(browser_id),
            request: serde_json::to_string(&request).map_err(Error::internal)?,
            step: step.as_str().to_owned(),
            email,
            user_id: None,
            amr: String::new(),
            auth_time: None,
            session_public_id: None,
            sealed_pending_secret: None,
            created_at: now,
            expires_at: now + FLOW_SECONDS,
        };
        Ok((Self { stored, request, step, loaded_step: step.as_str().to_owned() }, flow_id))
    }

    /// Carries over how an existing session signed in.
    fn signed_in_as(&mut self, session: &Session) {
        self.stored.user_id = Some(session.user_id.as_str().to_owned());
        self.stored.amr = session.amr.join(" ");
        self.stored.auth_time = Some(session.auth_time);
        self.stored.session_public_id = Some(session.public_id.clone());
    }
}

fn already_done() -> Error {
    Error::InvalidRequest("This step of the sign-in is already done. Go back and reload the page.".to_owned())
}

/// Saves the flow, provided no other request moved it on since it was loaded.
fn save(tx: &mut Write<'_>, flow: &mut Flow) -> Result<()> {
    if !tx.update_flow(&flow.stored, &flow.loaded_step)? {
        return Err(already_done());
    }
    flow.loaded_step = flow.stored.step.clone();
    Ok(())
}

/// Ends the flow, provided no other request ended or moved it first.
fn finish(tx: &mut Write<'_>, flow: &Flow) -> Result<()> {
    if !tx.delete_flow(&flow.stored.id_digest, &flow.loaded_step)? {
        return Err(already_done());
    }
    Ok(())
}

impl Flow {
    /// The application's request, for the steps that only an application's sign-in has.
    fn client_request(&self) -> Result<&AuthorizationRequest> {
        self.request.as_ref().ok_or_else(|| Error::internal("the account sign-in has no application"))
    }

    fn user_id(&self) -> Result<UserId> {
        self.stored.user_id.clone().map(UserId::from_stored).ok_or_else(|| Error::internal("flow has no user"))
    }

    fn amr(&self) -> Vec<String> {
        self.stored.amr.split_whitespace().map(str::to_owned).collect()
    }

    fn add_amr(&mut self, method: &str) {
        let mut amr = self.amr();
        if !amr.iter().any(|m| m == method) {
            amr.push(method.to_owned());
        }
        self.stored.amr = amr.join(" ");
    }

    fn set_step(&mut self, step: Step) {
        self.step = step;
        self.stored.step = step.as_str().to_owned();
    }

    fn session(&self) -> Result<Session> {
        match (&self.stored.session_public_id, self.stored.auth_time) {
            (Some(public_id), Some(auth_time)) => {
                Ok(Session { public_id: public_id.clone(), user_id: self.user_id()?, auth_time, amr: self.amr() })
            }
            _ => Err(Error::internal("flow has no session")),
        }
    }
}

/// What to do after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Show the flow's page (its new step).
    Show,
    /// Leave for this address: the client's redirect URI, with a code or an error.
    Redirect(String),
}

/// The outcome of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub next: Next,
    /// A new session cookie to set, once the person is authenticated.
    pub session_cookie: Option<String>,
    /// Recovery codes to show, once, right after enrolment.
    pub recovery_codes: Option<Vec<String>>,
}

impl Outcome {
    fn show() -> Self {
        Self { next: Next::Show, session_cookie: None, recovery_codes: None }
    }

    fn redirect(url: String) -> Self {
        Self { next: Next::Redirect(url), session_cookie: None, recovery_codes: None }
    }
}

/// What `/authorize` leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorized {
    /// An error that cannot be sent to the client: show it.
    Page(String),
    /// Go here: the sign-in pages, or straight back to the client.
    Redirect(String),
}

/// Starts a sign-in for an authorization request. With a usable session
/// (single sign-on) the person goes straight back to the client unless terms
/// or consent are needed; `prompt=none` never shows a page.
pub fn authorize(
    state: &AppState,
    now: UnixSeconds,
    browser_id: &str,
    session_cookie: Option<&str>,
    params: &AuthorizationParams,
) -> Result<Authorized> {
    let client = match params.client_id.as_deref().map(ClientId::parse) {
        Some(Ok(id)) => state.store.read(|r| r.client(&id))?,
        _ => None,
    };
    let request = match authorization::validate(params, client.as_ref()) {
        Ok(request) => request,
        Err(AuthorizationError::Page(message)) => return Ok(Authorized::Page(message)),
        Err(AuthorizationError::Redirect { redirect_uri, error, description, state: client_state }) => {
            return Ok(Authorized::Redirect(error_redirect(
                state,
                &redirect_uri,
                error,
                &description,
                client_state.as_deref(),
            )));
        }
    };

    let session = session::current(state, now, session_cookie)?;
    // With an id_token_hint, only a session of the person it names will do.
    let hinted_subject = params.id_token_hint.as_deref().and_then(|hint| hinted_subject(state, hint));
    let usable = session.filter(|s| {
        request.prompt != Prompt::Login
            && request.max_age.is_none_or(|max_age| now - s.auth_time <= max_age)
            && hinted_subject.as_deref().is_none_or(|sub| sub == s.user_id.as_str())
    });
    let prompt = request.prompt;
    let login_hint =
        request.login_hint.clone().and_then(|hint| Email::parse(&hint).ok()).map(|e| e.as_str().to_owned());
    let (mut flow, flow_id) = Flow::new(now, browser_id, Some(request), Step::Email, login_hint)?;
    let Some(session) = usable else {
        if prompt == Prompt::None {
            return Ok(Authorized::Redirect(flow_error(state, &flow, "login_required", "the person is not signed in")));
        }
        state.store.write(|tx| {
            tx.delete_expired_flows(now)?;
            tx.insert_flow(&flow.stored)
        })?;
        return Ok(Authorized::Redirect(signin_path(&flow_id)));
    };
    flow.signed_in_as(&session);
    state.store.write(|tx| {
        tx.insert_flow(&flow.stored)?;
        let next = after_authentication(tx, state, now, &mut flow)?;
        Ok(match next {
            Next::Redirect(url) => Authorized::Redirect(url),
            Next::Show if prompt == Prompt::None => {
                finish(tx, &flow)?;
                let error = if flow.step == Step::Consent { "consent_required" } else { "interaction_required" };
                Authorized::Redirect(flow_error(state, &flow, error, "the person must see a page first"))
            }
            Next::Show => Authorized::Redirect(signin_path(&flow_id)),
        })
    })
}

/// Starts a sign-in to the account pages (no application involved).
pub fn start_account_sign_in(state: &AppState, now: UnixSeconds, browser_id: &str) -> Result<String> {
    let (flow, flow_id) = Flow::new(now, browser_id, None, Step::Email, None)?;
    state.store.write(|tx| tx.insert_flow(&flow.stored))?;
    Ok(signin_path(&flow_id))
}

/// Starts a new flow for an authorization request at the password step, with
/// the email filled in: how a person comes back to the sign-in after a
/// password reset, in whichever browser they reset it. Returns its path.
pub fn resume(
    state: &AppState,
    now: UnixSeconds,
    browser_id: &str,
    request: &AuthorizationRequest,
    email: &str,
) -> Result<String> {
    let (flow, flow_id) = Flow::new(now, browser_id, Some(request.clone()), Step::Password, Some(email.to_owned()))?;
    state.store.write(|tx| tx.insert_flow(&flow.stored))?;
    Ok(signin_path(&flow_id))
}

/// The application's request (none for the account pages) and the typed
/// email of a flow, for "forgot your password?".
pub fn flow_origin(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
) -> Result<(Option<AuthorizationRequest>, Option<String>)> {
    let flow = load(state, now, flow_id, browser_id)?;
    Ok((flow.request, flow.stored.email))
}

/// The subject of an ID token this service issued (expired or not).
fn hinted_subject(state: &AppState, id_token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Hint {
        iss: String,
        sub: String,
    }
    crate::crypto::signing::verify::<Hint>(id_token, "JWT", state.key_set().published())
        .filter(|hint| hint.iss == state.settings.issuer)
        .map(|hint| hint.sub)
}

/// The path of a flow's pages.
pub fn signin_path(flow_id: &str) -> String {
    format!("/signin/{flow_id}")
}

/// What the page of a flow shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Email { email: Option<String> },
    Password { email: String },
    Code,
    Enrol { email: String, otpauth_uri: String, secret_text: String },
    RecoveryCodes,
    Terms { version: String, text: String },
    Consent { client_id: String, scopes: Vec<String> },
}

/// The page a flow is at, and the origin of the application it returns to.
pub fn view(state: &AppState, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<(View, Option<String>)> {
    let flow = load(state, now, flow_id, browser_id)?;
    let origin = match flow.request.as_ref().map(|r| url::Url::parse(&r.redirect_uri)) {
        Some(Ok(url)) if url.has_host() => Some(url.origin().ascii_serialization()),
        Some(Ok(url)) => Some(format!("{}:", url.scheme())),
        _ => None,
    };
    let view = match flow.step {
        Step::Email => View::Email { email: flow.stored.email.clone() },
        Step::Password => View::Password { email: flow.stored.email.clone().unwrap_or_default() },
        Step::Code => View::Code,
        Step::Enrol | Step::Reenrol => {
            let secret = pending_secret(state, &flow)?;
            let email = flow.stored.email.clone().unwrap_or_default();
            View::Enrol {
                otpauth_uri: totp::otpauth_uri(&secret, &email, "Portti")?,
                secret_text: totp::secret_for_typing(&secret),
                email,
            }
        }
        Step::RecoveryCodes => View::RecoveryCodes,
        Step::Terms => {
            View::Terms { version: state.settings.terms.version.clone(), text: state.settings.terms.text.clone() }
        }
        Step::Consent => {
            let request = flow.client_request()?;
            View::Consent { client_id: request.client_id.as_str().to_owned(), scopes: request.scopes.clone() }
        }
    };
    Ok((view, origin))
}

fn load(state: &AppState, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<Flow> {
    let expired = || Error::NotFound("sign-in");
    let stored = state.store.read(|r| r.flow(&sha256_hex(flow_id)))?.ok_or_else(expired)?;
    if stored.expires_at <= now || stored.browser_digest != sha256_hex(browser_id) {
        return Err(expired());
    }
    let request: Option<AuthorizationRequest> = serde_json::from_str(&stored.request).map_err(Error::internal)?;
    let step = Step::parse(&stored.step)?;
    let loaded_step = stored.step.clone();
    Ok(Flow { stored, request, step, loaded_step })
}

fn load_at(state: &AppState, now: UnixSeconds, flow_id: &str, browser_id: &str, step: Step) -> Result<Flow> {
    let flow = load(state, now, flow_id, browser_id)?;
    if flow.step != step {
        return Err(Error::InvalidRequest(
            "This step of the sign-in is already done. Go back and reload the page.".to_owned(),
        ));
    }
    Ok(flow)
}

/// The email step.
pub fn submit_email(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    email: &str,
) -> Result<Outcome> {
    let mut flow = load(state, now, flow_id, browser_id)?;
    if !matches!(flow.step, Step::Email | Step::Password) {
        return Err(Error::InvalidRequest("This step of the sign-in is already done.".to_owned()));
    }
    let email = Email::parse(email)?;
    flow.stored.email = Some(email.as_str().to_owned());
    flow.set_step(Step::Password);
    state.store.write(|tx| save(tx, &mut flow))?;
    Ok(Outcome::show())
}

/// Goes back to the email step ("not you?").
pub fn change_email(state: &AppState, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<Outcome> {
    let mut flow = load_at(state, now, flow_id, browser_id, Step::Password)?;
    flow.set_step(Step::Email);
    state.store.write(|tx| save(tx, &mut flow))?;
    Ok(Outcome::show())
}

/// The message for a wrong password or an unknown email: the same words, so
/// nothing tells which it was.
const WRONG_PASSWORD: &str = "The email or password is not right.";

/// The password step. An unknown email is checked against a decoy hash, so
/// it takes as long and reads the same as a wrong password, and it locks the
/// same way after repeated failures.
pub fn submit_password(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    password: &str,
    address: Option<&str>,
) -> Result<Outcome> {
    let mut flow = load_at(state, now, flow_id, browser_id, Step::Password)?;
    throttle::check_address(state, now, address)?;
    let email = flow.stored.email.clone().unwrap_or_default();
    let account = state.store.read(|r| r.password_hash_by_email(&email))?;
    let user_id = account.as_ref().map(|(id, _)| id.clone());
    let subject = account_subject(user_id.as_ref(), &email);
    let hash = account.and_then(|(_, hash)| hash);
    let (Some(user_id), true) = (user_id, throttle::check_password(state, now, &subject, hash.as_deref(), password)?)
    else {
        return Err(Error::InvalidRequest(WRONG_PASSWORD.to_owned()));
    };
    flow.stored.user_id = Some(user_id.as_str().to_owned());
    flow.add_amr("pwd");
    if state.store.read(|r| r.totp(&user_id))?.is_some() {
        flow.set_step(Step::Code);
    } else {
        let secret = totp::generate_secret();
        flow.stored.sealed_pending_secret = Some(state.keys.seal(&pending_context(&flow), &secret)?);
        flow.set_step(Step::Enrol);
    }
    state.store.write(|tx| save(tx, &mut flow))?;
    Ok(Outcome::show())
}

const WRONG_CODE: &str = "That code is not right. Enter the current code from your authenticator app.";

/// The authenticator step. A code is accepted once: replaying it within its
/// time step fails.
pub fn submit_code(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    code: &str,
    address: Option<&str>,
) -> Result<Outcome> {
    second_factor(state, now, flow_id, browser_id, address, WRONG_CODE, |user_id| {
        authenticator_code_matches(state, now, user_id, code)
    })
}

/// Whether `code` is the person's current authenticator code, not used before
/// (using it now).
pub(super) fn authenticator_code_matches(
    state: &AppState,
    now: UnixSeconds,
    user_id: &UserId,
    code: &str,
) -> Result<bool> {
    let Some(stored) = state.store.read(|r| r.totp(user_id))? else { return Ok(false) };
    let secret = state.keys.open(&totp_context(user_id), &stored.sealed_secret)?;
    match totp::matching_step(&secret, code, now) {
        Some(step) => state.store.write(|tx| tx.use_totp_step(user_id, step)),
        None => Ok(false),
    }
}

/// Starts the setting-up of a new authenticator for a signed-in person (from
/// the account pages, after they proved the current one). Returns its path.
pub fn start_reenrolment(state: &AppState, now: UnixSeconds, browser_id: &str, session: &Session) -> Result<String> {
    let email = state.store.read(|r| r.user(&session.user_id))?.map(|u| u.email.as_str().to_owned());
    let (mut flow, flow_id) = Flow::new(now, browser_id, None, Step::Reenrol, email)?;
    flow.signed_in_as(session);
    flow.stored.sealed_pending_secret = Some(state.keys.seal(&pending_context(&flow), &totp::generate_secret())?);
    state.store.write(|tx| tx.insert_flow(&flow.stored))?;
    Ok(signin_path(&flow_id))
}

/// A recovery code instead of the authenticator code; each works once.
pub fn submit_recovery_code(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    code: &str,
    address: Option<&str>,
) -> Result<Outcome> {
    let wrong = "That recovery code is not right, or it was used already.";
    let digest = recovery_codes::digest(code);
    let mut flow = second_factor_checked(state, now, flow_id, browser_id, address, wrong, |user_id| {
        state.store.write(|tx| tx.use_recovery_code(user_id, &digest, now))
    })?;
    // The authenticator is lost: set up a new one before going on.
    let secret = totp::generate_secret();
    flow.stored.sealed_pending_secret = Some(state.keys.seal(&pending_context(&flow), &secret)?);
    flow.set_step(Step::Reenrol);
    state.store.write(|tx| save(tx, &mut flow))?;
    Ok(Outcome::show())
}

/// The second factor, checked by `check`: counted against the lockout, and on
/// success the end of the authentication.
fn second_factor(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    address: Option<&str>,
    wrong: &str,
    check: impl FnOnce(&UserId) -> Result<bool>,
) -> Result<Outcome> {
    let flow = second_factor_checked(state, now, flow_id, browser_id, address, wrong, check)?;
    finish_authentication(state, now, flow, None)
}

/// Checks a second factor; returns the flow with `otp` added to its methods.
fn second_factor_checked(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    address: Option<&str>,
    wrong: &str,
    check: impl FnOnce(&UserId) -> Result<bool>,
) -> Result<Flow> {
    let mut flow = load_at(state, now, flow_id, browser_id, Step::Code)?;
    throttle::check_address(state, now, address)?;
    let user_id = flow.user_id()?;
    let subject = account_subject(Some(&user_id), "");
    let attempt = throttle::begin_attempt(state, now, &subject)?;
    if !check(&user_id)? {
        state.metrics.sign_in(crate::metrics::SignInOutcome::WrongCode);
        throttle::attempt_failed(state, now, attempt)?;
        return Err(Error::InvalidRequest(wrong.to_owned()));
    }
    throttle::signed_in(state, &subject)?;
    flow.add_amr("otp");
    Ok(flow)
}

/// Confirms the enrolment of an authenticator with its first code; the
/// recovery codes are made then and shown once.
pub fn confirm_enrolment(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    code: &str,
) -> Result<Outcome> {
    let mut flow = load(state, now, flow_id, browser_id)?;
    // Replacing an authenticator is a step of its own; a first enrolment never replaces one.
    let replacing = match flow.step {
        Step::Enrol => false,
        Step::Reenrol => true,
        _ => return Err(already_done()),
    };
    let user_id = flow.user_id()?;
    let secret = pending_secret(state, &flow)?;
    let Some(step) = totp::matching_step(&secret, code, now) else {
        return Err(Error::InvalidRequest(WRONG_CODE.to_owned()));
    };
    let sealed = seal_authenticator(&state.keys, &user_id, &secret)?;
    let (codes, digests) = recovery_codes::generate();
    state.store.write(|tx| {
        // Another flow (a second tab) may have enrolled meanwhile: never replace that.
        if !replacing && tx.totp(&user_id)?.is_some() {
            return Err(Error::InvalidRequest(
                "An authenticator is already set up for this account. Start the sign-in again.".to_owned(),
            ));
        }
        tx.set_totp(&user_id, &sealed, step, now)?;
        tx.replace_recovery_codes(&user_id, &digests)
    })?;
    throttle::signed_in(state, &account_subject(Some(&user_id), ""))?;
    flow.stored.sealed_pending_secret = None;
    flow.add_amr("otp");
    finish_authentication(state, now, flow, Some(codes))
}

/// The person saved their recovery codes.
pub fn acknowledge_recovery_codes(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
) -> Result<Outcome> {
    let mut flow = load_at(state, now, flow_id, browser_id, Step::RecoveryCodes)?;
    state.store.write(|tx| Ok(outcome(after_authentication(tx, state, now, &mut flow)?)))
}

/// Accepts the terms of service in force.
pub fn accept_terms(state: &AppState, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<Outcome> {
    let mut flow = load_at(state, now, flow_id, browser_id, Step::Terms)?;
    let user_id = flow.user_id()?;
    state.store.write(|tx| {
        tx.accept_terms(&user_id, &state.settings.terms.version, now)?;
        Ok(outcome(after_authentication(tx, state, now, &mut flow)?))
    })
}

/// Allows or denies the client what it asked for.
pub fn decide_consent(
    state: &AppState,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    allow: bool,
) -> Result<Outcome> {
    let flow = load_at(state, now, flow_id, browser_id, Step::Consent)?;
    let user_id = flow.user_id()?;
    let request = flow.client_request()?.clone();
    state.store.write(|tx| {
        finish(tx, &flow)?;
        if !allow {
            return Ok(Outcome::redirect(flow_error(state, &flow, "access_denied", "the person denied the request")));
        }
        // Remember what was allowed before too: consent only ever grows here.
        let mut scopes = request.scopes.clone();
        if let Some(earlier) = tx.consented_scopes(&user_id, request.client_id.as_str())? {
            scopes.extend(earlier.split_whitespace().map(str::to_owned));
        }
        scopes.sort();
        scopes.dedup();
        tx.set_consent(&user_id, request.client_id.as_str(), &scopes.join(" "), now)?;
        ensure_session_live(tx, now, &flow)?;
        let code = issue_code(tx, state, now, &request, &flow.session()?)?;
        Ok(Outcome::redirect(code_redirect(state, &request, &code)))
    })
}

fn outcome(next: Next) -> Outcome {
    Outcome { next, session_cookie: None, recovery_codes: None }
}

/// Starts the browser session once both factors are done, then goes on.
fn finish_authentication(
    state: &AppState,
    now: UnixSeconds,
    mut flow: Flow,
    recovery_codes: Option<Vec<String>>,
) -> Result<Outcome> {
    let user_id = flow.user_id()?;
    let amr = flow.amr();
    state.metrics.sign_in(crate::metrics::SignInOutcome::Success);
    state.store.write(|tx| {
        // A session that signed this flow in (re-enrolment from the account
        // page) is replaced by the new one, not kept beside it.
        if let Some(previous) = &flow.stored.session_public_id {
            tx.end_session_by_public_id(previous, now)?;
        }
        let (session, cookie) = session::start(tx, state, now, &user_id, now, &amr)?;
        flow.stored.session_public_id = Some(session.public_id);
        flow.stored.auth_time = Some(now);
        let next = if recovery_codes.is_some() {
            flow.set_step(Step::RecoveryCodes);
            save(tx, &mut flow)?;
            Next::Show
        } else {
            after_authentication(tx, state, now, &mut flow)?
        };
        Ok(Outcome { next, session_cookie: Some(cookie), recovery_codes: recovery_codes.clone() })
    })
}

/// Where the account pages are.
pub const ACCOUNT_PATH: &str = "/account";

/// After authentication: the terms, then consent, then the code (or, for a
/// sign-in to the account pages, those pages).
fn after_authentication(tx: &mut Write<'_>, state: &AppState, now: UnixSeconds, flow: &mut Flow) -> Result<Next> {
    let user_id = flow.user_id()?;
    if !tx.has_accepted_terms(&user_id, &state.settings.terms.version)? {
        flow.set_step(Step::Terms);
        save(tx, flow)?;
        return Ok(Next::Show);
    }
    let Some(request) = flow.request.clone() else {
        finish(tx, flow)?;
        return Ok(Next::Redirect(ACCOUNT_PATH.to_owned()));
    };
    let client = tx
        .client(&request.client_id)?
        .ok_or_else(|| Error::InvalidRequest("The application is no longer registered.".to_owned()))?;
    let consented = match tx.consented_scopes(&user_id, client.id.as_str())? {
        Some(given) => request.scopes.iter().all(|scope| given.split_whitespace().any(|g| g == scope)),
        None => false,
    };
    // A first-party client needs no consent, unless the request asks for it.
    let needs_consent = request.prompt == Prompt::Consent || (!client.first_party && !consented);
    if needs_consent {
        flow.set_step(Step::Consent);
        save(tx, flow)?;
        return Ok(Next::Show);
    }
    finish(tx, flow)?;
    ensure_session_live(tx, now, flow)?;
    let code = issue_code(tx, state, now, &request, &flow.session()?)?;
    Ok(Next::Redirect(code_redirect(state, &request, &code)))
}

/// A code is issued only while the session the flow signed in with lives (the
/// person may have signed out in another tab meanwhile).
fn ensure_session_live(tx: &mut Write<'_>, now: UnixSeconds, flow: &Flow) -> Result<()> {
    let public_id = flow.stored.session_public_id.as_deref().ok_or_else(|| Error::internal("flow has no session"))?;
    match tx.session_by_public_id(public_id)? {
        Some(session) if session.ended_at.is_none() && session.expires_at > now => Ok(()),
        _ => Err(Error::NotFound("sign-in")),
    }
}

fn pending_context(flow: &Flow) -> String {
    format!("pending-totp:{}", flow.stored.id_digest)
}

fn totp_context(user_id: &UserId) -> String {
    format!("totp:{user_id}")
}

/// An authenticator secret sealed for storage with `set_totp`; bound to its user.
pub fn seal_authenticator(keys: &Keys, user_id: &UserId, secret: &[u8]) -> Result<String> {
    keys.seal(&totp_context(user_id), secret)
}

fn pending_secret(state: &AppState, flow: &Flow) -> Result<Vec<u8>> {
    let sealed = flow.stored.sealed_pending_secret.as_deref().ok_or_else(|| Error::internal("no pending secret"))?;
    state.keys.open(&pending_context(flow), sealed)
}

/// An error sent back to the application; a sign-in to the account pages goes back to them.
fn flow_error(state: &AppState, flow: &Flow, error: &str, description: &str) -> String {
    match &flow.request {
        Some(request) => error_redirect(state, &request.redirect_uri, error, description, request.state.as_deref()),
        None => ACCOUNT_PATH.to_owned(),
    }
}
