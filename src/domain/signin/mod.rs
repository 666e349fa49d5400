//! The hosted sign-in: a flow that starts at `/authorize` and walks a person
//! through email, password and authenticator code (enrolling one on the first
//! sign-in), the terms of service and consent, and ends with an authorization
//! code sent back to the client.
//!
//! A flow is bound to the browser that started it (a cookie) and lives in the
//! database, so any instance can serve any step. Its state is a
//! [`SignInState`]; each step is one write transaction that reads the flow,
//! decides, and saves the next state, refused if another request saved first.

mod passkey;
mod qr;
mod state;
mod steps;
mod upstream;

use std::sync::Arc;

pub use passkey::{PasskeyAnswer, finish_passkey_sign_in, start_passkey_sign_in};
pub use qr::{redeem_qr, show_qr};
pub use state::{AfterAuthentication, SignInState};
pub use steps::{
    accept_terms, acknowledge_recovery_codes, authenticator_code_matches, change_email, confirm_enrolment,
    decide_consent, seal_authenticator, start_reenrolment, submit_code, submit_email, submit_password,
    submit_recovery_code,
};
pub use upstream::{
    CONFIRMATION_SECONDS, CONFIRMATION_TRIES, resend_confirmation_code, start_upstream_sign_in,
    submit_confirmation_code, upstream_identified,
};

use super::audit::{self, Event, Origin, Subjects};
use super::authorization::{self, AuthorizationError, AuthorizationParams, AuthorizationRequest, Prompt};
use super::client::ClientId;
use super::contact::Email;
use super::grants::authorization_code::issue_code;
use super::ids::UserId;
use super::redirect::{code_redirect, error_redirect};
use super::refusal::Refusal;
use super::session::{self, Session};
use super::signing_keys::KeySet;
use super::throttle::Lockout;
use crate::clock::UnixSeconds;
use crate::config::{SessionConfig, Terms, TokensConfig};
use crate::crypto::secret::{random_token, sha256_hex};
use crate::crypto::{Keys, totp};
use crate::error::{Error, Result};
use crate::i18n::{Lang, Texts};
use crate::store::{Read, Store, StoredFlow, Write};

/// How long a person has to finish signing in.
pub const FLOW_SECONDS: i64 = 30 * 60;

/// Where the account pages are.
pub const ACCOUNT_PATH: &str = "/account";
/// The administration pages.
pub const ADMIN_PATH: &str = "/admin";

/// What the sign-in reads and writes.
#[derive(Clone)]
pub struct SignIn<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    pub issuer: &'a str,
    pub terms: &'a Terms,
    pub sessions: &'a SessionConfig,
    pub tokens: &'a TokensConfig,
    pub lockout: Lockout<'a>,
    /// The published signing keys, to read an `id_token_hint`.
    pub signing: Arc<KeySet>,
    /// The person's language where the application did not choose one
    /// (`ui_locales`): for the messages a step sends.
    pub lang: Lang,
    /// Where the request came from, for the audit trail.
    pub origin: Origin,
}

impl SignIn<'_> {
    /// The same, for a request from `origin`.
    pub fn coming_from(self, origin: Origin) -> Self {
        Self { origin, ..self }
    }

    /// Records an event of a flow's person and application, in the step's transaction.
    fn record(
        &self,
        tx: &mut Write<'_>,
        now: UnixSeconds,
        flow: &Flow,
        user: Option<&UserId>,
        event: Event,
    ) -> Result<()> {
        let client = flow.request.as_ref().map(|r| r.client_id.as_str());
        audit::record(tx, now, &self.origin, Subjects { user, client, company: None }, event)
    }

    /// The language of the messages a flow's steps send: the application's
    /// choice, else the person's.
    fn texts(&self, flow: &Flow) -> Texts {
        let chosen = flow.request.as_ref().and_then(|r| r.ui_locales.as_deref()).and_then(Lang::from_ui_locales);
        Texts::new(chosen.unwrap_or(self.lang))
    }
}

/// A sign-in in progress, as one request loaded it.
#[derive(Debug, Clone)]
struct Flow {
    id_digest: String,
    /// The application's request; `None` for signing in to Portti's own pages.
    request: Option<AuthorizationRequest>,
    /// Where a sign-in without an application ends.
    destination: OwnPage,
    state: SignInState,
    /// The version it was loaded at: saving checks that no other request
    /// saved in the meantime.
    version: i32,
}

/// The id of a flow about to be made: the secret its URL carries, and the
/// digest it is stored (and its pending secrets sealed) under.
struct NewFlowId {
    id: String,
    digest: String,
}

impl NewFlowId {
    fn generate() -> Self {
        let id = random_token();
        Self { digest: sha256_hex(&id), id }
    }

    /// The context under which the flow's pending authenticator secret is sealed.
    fn pending_context(&self) -> String {
        pending_context(&self.digest)
    }
}

fn pending_context(id_digest: &str) -> String {
    format!("pending-totp:{id_digest}")
}

impl Flow {
    /// A new flow for this browser; returns it with the row to insert and
    /// the id its URL carries.
    fn new(
        now: UnixSeconds,
        browser_id: &str,
        request: Option<AuthorizationRequest>,
        state: SignInState,
    ) -> Result<(Self, StoredFlow, String)> {
        Self::with_id(NewFlowId::generate(), now, browser_id, request, state)
    }

    /// [`Flow::new`] under an id made beforehand, for a state that holds
    /// secrets sealed under it.
    fn with_id(
        new_id: NewFlowId,
        now: UnixSeconds,
        browser_id: &str,
        request: Option<AuthorizationRequest>,
        state: SignInState,
    ) -> Result<(Self, StoredFlow, String)> {
        let NewFlowId { id: flow_id, digest: id_digest } = new_id;
        let destination = OwnPage::Account;
        let stored = StoredFlow {
            destination: destination.stored(),
            id_digest: id_digest.clone(),
            browser_digest: sha256_hex(browser_id),
            request: serde_json::to_string(&request).map_err(Error::internal)?,
            state: serde_json::to_string(&state).map_err(Error::internal)?,
            version: 0,
            user_id: state.user().map(|u| u.as_str().to_owned()),
            created_at: now,
            expires_at: now + FLOW_SECONDS,
        };
        Ok((Self { id_digest, request, destination, state, version: 0 }, stored, flow_id))
    }

    /// The application's request, for the steps that only an application's sign-in has.
    fn client_request(&self) -> Result<&AuthorizationRequest> {
        self.request.as_ref().ok_or_else(|| Error::internal("the account sign-in has no application"))
    }

    /// The context under which a pending authenticator secret is sealed.
    fn pending_context(&self) -> String {
        pending_context(&self.id_digest)
    }

    /// Moves on to `state` and saves it, provided no other request saved
    /// first. A lost race is an error, so the whole step rolls back: the
    /// winner's work stands, the loser's changes nothing.
    fn advance(&mut self, tx: &mut Write<'_>, state: SignInState) -> Result<()> {
        let json = serde_json::to_string(&state).map_err(Error::internal)?;
        let user = state.user().map(|u| u.as_str().to_owned());
        if !tx.update_flow(&self.id_digest, self.version, &json, user.as_deref())? {
            return Err(Refusal::StepAlreadyDone.into());
        }
        self.version += 1;
        self.state = state;
        Ok(())
    }

    /// Claims the flow for this step before it writes anything else, so that
    /// of two requests racing on one flow the loser stops here, with nothing
    /// written (on PostgreSQL its writes would otherwise clash with the
    /// winner's first).
    fn claim(&mut self, tx: &mut Write<'_>) -> Result<()> {
        if !tx.claim_flow(&self.id_digest, self.version)? {
            return Err(Refusal::StepAlreadyDone.into());
        }
        self.version += 1;
        Ok(())
    }

    /// Ends the flow, provided no other request ended or moved it first.
    fn finish(&self, tx: &mut Write<'_>) -> Result<()> {
        if !tx.delete_flow(&self.id_digest, self.version)? {
            return Err(Refusal::StepAlreadyDone.into());
        }
        Ok(())
    }

    /// An error sent back to the application; a sign-in to the account pages goes back to them.
    fn error_redirect(&self, issuer: &str, error: &str, description: &str) -> String {
        match &self.request {
            Some(request) => {
                error_redirect(issuer, &request.redirect_uri, error, description, request.state.as_deref())
            }
            None => self.destination.path().to_owned(),
        }
    }
}

/// Loads this browser's flow and claims it for a step that writes.
fn load_claimed(tx: &mut Write<'_>, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<Flow> {
    let mut flow = load(tx, now, flow_id, browser_id)?;
    flow.claim(tx)?;
    Ok(flow)
}

/// Loads this browser's flow, live at `now`.
fn load(r: &mut Read<'_>, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<Flow> {
    let stored = r.flow(&sha256_hex(flow_id))?.ok_or(Refusal::SignInExpired)?;
    if stored.expires_at <= now || stored.browser_digest != sha256_hex(browser_id) {
        return Err(Refusal::SignInExpired.into());
    }
    // A state this instance cannot read (one saved by a newer version, during
    // a rolling deploy) is a sign-in this instance cannot continue: the
    // person starts again, rather than meeting an error page.
    let unreadable = |e: serde_json::Error| {
        tracing::warn!(error = %e, "a sign-in's stored state does not parse");
        Error::Refused(Refusal::SignInExpired)
    };
    Ok(Flow {
        request: serde_json::from_str(&stored.request).map_err(unreadable)?,
        destination: OwnPage::from_stored(stored.destination.as_deref()),
        state: serde_json::from_str(&stored.state).map_err(unreadable)?,
        id_digest: stored.id_digest,
        version: stored.version,
    })
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

    fn next(next: Next) -> Self {
        Self { next, session_cookie: None, recovery_codes: None }
    }
}

/// What `/authorize` leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorized {
    /// An error that cannot be sent to the client: show it.
    Page(Refusal),
    /// Go here: the sign-in pages, or straight back to the client.
    Redirect(String),
}

/// Starts a sign-in for an authorization request. With a usable session
/// (single sign-on) the person goes straight back to the client unless terms
/// or consent are needed; `prompt=none` never shows a page.
pub fn authorize(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    browser_id: &str,
    address: Option<&str>,
    session_cookie: Option<&str>,
    params: &AuthorizationParams,
) -> Result<Authorized> {
    let client = match params.client_id.as_deref().map(ClientId::parse) {
        Some(Ok(id)) => ctx.store.read(|r| r.client(&id))?,
        _ => None,
    };
    let request = match authorization::validate(params, client.as_ref()) {
        Ok(request) => request,
        Err(AuthorizationError::Page(refusal)) => return Ok(Authorized::Page(refusal)),
        Err(AuthorizationError::Redirect { redirect_uri, error, description, state: client_state }) => {
            return Ok(Authorized::Redirect(error_redirect(
                ctx.issuer,
                &redirect_uri,
                error,
                &description,
                client_state.as_deref(),
            )));
        }
    };

    let session = session::current(ctx.store, ctx.sessions, now, session_cookie)?;
    // With an id_token_hint, only a session of the person it names will do.
    let hinted_subject = params.id_token_hint.as_deref().map(|hint| hinted_subject(ctx, hint));
    let hint = match &hinted_subject {
        None => state::Hint::Absent,
        Some(Some(subject)) => state::Hint::Subject(subject),
        Some(None) => state::Hint::Unverifiable,
    };
    let usable = session.filter(|s| state::session_usable(s, &request, hint, now));
    let prompt = request.prompt;
    let login_hint =
        request.login_hint.clone().and_then(|hint| Email::parse(&hint).ok()).map(|e| e.as_str().to_owned());
    let Some(session) = usable else {
        let (flow, stored, flow_id) =
            Flow::new(now, browser_id, Some(request), SignInState::Email { email: login_hint })?;
        if prompt == Prompt::None {
            return Ok(Authorized::Redirect(flow.error_redirect(
                ctx.issuer,
                "login_required",
                "the person is not signed in",
            )));
        }
        // Expired flows are inert (every load checks) and swept periodically.
        ctx.store.write(|tx| {
            count_new_flow(ctx, tx, now, browser_id, address)?;
            tx.insert_flow(&stored)
        })?;
        return Ok(Authorized::Redirect(signin_path(&flow_id)));
    };
    // Signed in already: the flow starts authenticated, at whatever comes next.
    let (mut flow, stored, flow_id) = Flow::new(now, browser_id, Some(request), SignInState::Terms { session })?;
    ctx.store.write(|tx| {
        match count_new_flow(ctx, tx, now, browser_id, address) {
            // A silent renewal is answered at its redirect URI, never with a page.
            Err(Error::Refused(Refusal::TooManySignIns)) if prompt == Prompt::None => {
                let description = "too many sign-ins from here; try again in a few minutes";
                return Ok(Authorized::Redirect(flow.error_redirect(
                    ctx.issuer,
                    "temporarily_unavailable",
                    description,
                )));
            }
            other => other?,
        }
        tx.insert_flow(&stored)?;
        Ok(match after_authentication(ctx, tx, now, &mut flow)? {
            Next::Redirect(url) => Authorized::Redirect(url),
            Next::Show if prompt == Prompt::None => {
                flow.finish(tx)?;
                let error = match flow.state {
                    SignInState::Consent { .. } => "consent_required",
                    _ => "interaction_required",
                };
                Authorized::Redirect(flow.error_redirect(ctx.issuer, error, "the person must see a page first"))
            }
            Next::Show => Authorized::Redirect(signin_path(&flow_id)),
        })
    })
}

/// Counts a new flow against the limits of its client address (per minute)
/// and of its browser (while flows live): a flood of `/authorize` requests
/// must neither fill the database nor hold SQLite's write turn. Over a limit
/// nothing is stored, and the person is told to wait.
fn count_new_flow(
    ctx: &SignIn<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    browser_id: &str,
    address: Option<&str>,
) -> Result<()> {
    let rules = ctx.lockout.rules;
    if let Some(address) = address
        && tx.hit_rate_limit(&format!("authorize:{address}"), now, 60)? > rules.sign_ins_per_minute_per_address
    {
        return Err(Refusal::TooManySignIns.into());
    }
    let browser = format!("authorize-browser:{}", sha256_hex(browser_id));
    if tx.hit_rate_limit(&browser, now, FLOW_SECONDS)? > rules.sign_ins_per_browser {
        return Err(Refusal::TooManySignIns.into());
    }
    Ok(())
}

/// Portti's own pages a sign-in without an application ends on: the page
/// that sent the person to sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnPage {
    Account,
    /// A page of the administration: `/admin` or a path below it.
    Admin(String),
    /// A page where the person approves something: a device's
    /// `/device/<its user code>`, or a QR code's `/qr/<its id>/approve`.
    Approval(String),
}

/// Where a device's approval page is, before its user code.
pub const DEVICE_PATH_PREFIX: &str = "/device/";

/// The longest administration path a sign-in returns to.
const MAX_ADMIN_PATH: usize = 256;

impl OwnPage {
    /// The page for a request's path: an administration path returns there
    /// (when it is one Portti makes: ids, letters and dashes), any other to
    /// the account page.
    pub fn for_path(path: &str) -> Self {
        if let Some(code) = path.strip_prefix(DEVICE_PATH_PREFIX)
            && crate::domain::device_authorization::UserCode::parse(code).is_some_and(|c| c.as_str() == code)
        {
            return OwnPage::Approval(path.to_owned());
        }
        if let Some(qr_id) = path.strip_prefix("/qr/").and_then(|rest| rest.strip_suffix("/approve"))
            && qr_id.len() == 43
            && qr_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return OwnPage::Approval(path.to_owned());
        }
        let below_admin = path == ADMIN_PATH || path.starts_with(&format!("{ADMIN_PATH}/"));
        if !below_admin {
            return OwnPage::Account;
        }
        let plain = path.len() <= MAX_ADMIN_PATH
            && !path.contains("//")
            && path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'));
        OwnPage::Admin(if plain { path.to_owned() } else { ADMIN_PATH.to_owned() })
    }

    pub fn path(&self) -> &str {
        match self {
            OwnPage::Account => ACCOUNT_PATH,
            OwnPage::Admin(path) | OwnPage::Approval(path) => path,
        }
    }

    fn stored(&self) -> Option<String> {
        match self {
            OwnPage::Account => None,
            OwnPage::Admin(path) | OwnPage::Approval(path) => Some(path.clone()),
        }
    }

    /// What a flow row holds, checked again as it is read; anything else
    /// (a newer instance's) is the account page.
    fn from_stored(stored: Option<&str>) -> Self {
        match stored.map(Self::for_path) {
            Some(page @ (OwnPage::Admin(_) | OwnPage::Approval(_))) => page,
            _ => OwnPage::Account,
        }
    }
}

/// Starts a sign-in to Portti's own pages (no application involved), which
/// ends on `destination`.
pub fn start_account_sign_in(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    browser_id: &str,
    destination: OwnPage,
) -> Result<String> {
    let (_, mut stored, flow_id) = Flow::new(now, browser_id, None, SignInState::Email { email: None })?;
    stored.destination = destination.stored();
    ctx.store.write(|tx| tx.insert_flow(&stored))?;
    Ok(signin_path(&flow_id))
}

/// Starts a new flow for an authorization request at the password step, with
/// the email filled in: how a person comes back to the sign-in after a
/// password reset, in whichever browser they reset it. Returns its path.
pub fn resume(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    browser_id: &str,
    request: &AuthorizationRequest,
    email: &str,
) -> Result<String> {
    let state = SignInState::Password { email: email.to_owned() };
    let (_, stored, flow_id) = Flow::new(now, browser_id, Some(request.clone()), state)?;
    tx.insert_flow(&stored)?;
    Ok(signin_path(&flow_id))
}

/// Where a flow came from: the application's request (none for the account
/// pages) and the email typed, for "forgot your password?".
#[derive(Debug, Clone, Default)]
pub struct FlowOrigin {
    pub request: Option<AuthorizationRequest>,
    pub email: Option<String>,
}

/// The origin of this browser's flow; `None` when the flow is not (or no
/// longer) there. A database failure is an error, never "no flow".
pub fn flow_origin(store: &Store, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<Option<FlowOrigin>> {
    match store.read(|r| load(r, now, flow_id, browser_id)) {
        Ok(flow) => Ok(Some(FlowOrigin { email: flow.state.email().map(str::to_owned), request: flow.request })),
        Err(Error::Refused(Refusal::SignInExpired)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The subject of an ID token this service issued (expired or not).
fn hinted_subject(ctx: &SignIn<'_>, id_token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Hint {
        iss: String,
        sub: String,
    }
    crate::crypto::signing::verify::<Hint>(id_token, "JWT", ctx.signing.published())
        .filter(|hint| hint.iss == ctx.issuer)
        .map(|hint| hint.sub)
}

/// The path of a flow's pages.
pub fn signin_path(flow_id: &str) -> String {
    format!("/signin/{flow_id}")
}

/// What the page of a flow shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Email {
        email: Option<String>,
    },
    Password {
        email: String,
    },
    Code,
    /// The confirmation code after strong identification.
    Confirmation,
    Enrol {
        email: String,
        otpauth_uri: String,
        secret_text: String,
    },
    RecoveryCodes,
    Terms {
        version: String,
        text: String,
    },
    Consent {
        client_id: String,
        scopes: Vec<String>,
    },
}

/// A flow's page: what it shows, the origin of the application its forms may
/// return to, and the languages the application asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowPage {
    pub view: View,
    pub origin: Option<String>,
    pub ui_locales: Option<String>,
    /// The announcement in force now (customer service's notice), shown on the page.
    pub announcement: Option<String>,
}

/// The page a flow is at.
pub fn view(ctx: &SignIn<'_>, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<FlowPage> {
    let flow = ctx.store.read(|r| load(r, now, flow_id, browser_id))?;
    let origin = match flow.request.as_ref().map(|r| url::Url::parse(&r.redirect_uri)) {
        Some(Ok(url)) if url.has_host() => Some(url.origin().ascii_serialization()),
        Some(Ok(url)) => Some(format!("{}:", url.scheme())),
        _ => None,
    };
    let view = match &flow.state {
        SignInState::Email { email } => View::Email { email: email.clone() },
        SignInState::Password { email } => View::Password { email: email.clone() },
        SignInState::SecondFactor { .. } => View::Code,
        SignInState::Enrol { email, sealed_secret, .. } | SignInState::Reenrol { email, sealed_secret, .. } => {
            let secret = ctx.keys.open(&flow.pending_context(), sealed_secret)?;
            View::Enrol {
                otpauth_uri: totp::otpauth_uri(&secret, email, "Portti")?,
                secret_text: totp::secret_for_typing(&secret),
                email: email.clone(),
            }
        }
        SignInState::Confirmation { .. } => View::Confirmation,
        SignInState::RecoveryCodes { .. } => View::RecoveryCodes,
        SignInState::Terms { .. } => View::Terms { version: ctx.terms.version.clone(), text: ctx.terms.text.clone() },
        SignInState::Consent { .. } => {
            let request = flow.client_request()?;
            View::Consent { client_id: request.client_id.as_str().to_owned(), scopes: request.scopes.clone() }
        }
    };
    let announcement = crate::domain::admin::announcements::in_force(ctx.store, now)?;
    Ok(FlowPage { view, origin, ui_locales: flow.request.and_then(|r| r.ui_locales), announcement })
}

/// The `acr` of a sign-in by Portti's own methods: a password or a passkey
/// and a second factor.
const OWN_ACR: Option<&str> = Some(super::discovery::ACR_MFA);

/// How a person just authenticated.
struct Authentication<'a> {
    user: &'a UserId,
    amr: &'a [String],
    /// When the person authenticated: now, or when the phone approved a QR
    /// code, or when the upstream identified them.
    auth_time: UnixSeconds,
    /// The authentication context class: [`OWN_ACR`], or an upstream's.
    acr: Option<&'a str>,
    /// The session this one replaces (a re-enrolment from the account page).
    replaces: Option<&'a str>,
    /// The recovery codes made at enrolment, to show once.
    recovery_codes: Option<Vec<String>>,
}

impl<'a> Authentication<'a> {
    /// A sign-in by Portti's own methods, at `auth_time`: nothing replaced,
    /// no recovery codes to show.
    fn own(user: &'a UserId, amr: &'a [String], auth_time: UnixSeconds) -> Self {
        Self { user, amr, auth_time, acr: OWN_ACR, replaces: None, recovery_codes: None }
    }
}

/// Starts the browser session once both factors are done, then goes on:
/// to the recovery codes just made, or to whatever comes after authentication.
fn finish_authentication(
    ctx: &SignIn<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    flow: &mut Flow,
    done: Authentication<'_>,
) -> Result<Outcome> {
    let Authentication { user, amr, auth_time, acr, replaces, recovery_codes } = done;
    ctx.lockout.metrics.sign_in(crate::metrics::SignInOutcome::Success);
    ctx.record(tx, now, flow, Some(user), Event::SignedIn { methods: amr.to_vec() })?;
    // A session that signed this flow in (re-enrolment from the account
    // page) is replaced by the new one, not kept beside it.
    if let Some(previous) = replaces {
        tx.end_session_by_public_id(previous, now)?;
    }
    let (session, cookie) = session::start(tx, ctx.sessions, now, user, auth_time, amr, acr)?;
    let next = if recovery_codes.is_some() {
        flow.advance(tx, SignInState::RecoveryCodes { session })?;
        Next::Show
    } else {
        flow.state = SignInState::Terms { session };
        after_authentication(ctx, tx, now, flow)?
    };
    Ok(Outcome { next, session_cookie: Some(cookie), recovery_codes })
}

/// The session an authenticated flow signed in with.
fn authenticated_session(flow: &Flow) -> Result<Session> {
    match &flow.state {
        SignInState::RecoveryCodes { session } | SignInState::Terms { session } | SignInState::Consent { session } => {
            Ok(session.clone())
        }
        _ => Err(Error::internal("the flow is not authenticated")),
    }
}

/// After authentication: the terms, then consent, then the code (or, for a
/// sign-in to the account pages, those pages). `flow.state` holds the
/// session; the flow is saved at its next step, or ended.
fn after_authentication(ctx: &SignIn<'_>, tx: &mut Write<'_>, now: UnixSeconds, flow: &mut Flow) -> Result<Next> {
    let session = authenticated_session(flow)?;
    let terms_accepted = tx.has_accepted_terms(&session.user_id, &ctx.terms.version)?;
    let client = match &flow.request {
        Some(request) => Some(tx.client(&request.client_id)?.ok_or(Refusal::ApplicationGone)?),
        None => None,
    };
    let consented = match &client {
        Some(client) => tx.consented_scopes(&session.user_id, client.id.as_str())?,
        None => None,
    };
    let facts = state::AfterAuthenticationFacts {
        terms_accepted,
        request: flow.request.as_ref(),
        first_party: client.as_ref().is_some_and(|c| c.first_party),
        consented: consented.as_deref(),
    };
    let (state, next) = match state::after_authentication(facts) {
        AfterAuthentication::Terms => (SignInState::Terms { session }, Next::Show),
        AfterAuthentication::Consent => (SignInState::Consent { session }, Next::Show),
        AfterAuthentication::AccountPages => {
            flow.finish(tx)?;
            return Ok(Next::Redirect(flow.destination.path().to_owned()));
        }
        AfterAuthentication::Code => return issue_code_and_leave(ctx, tx, now, flow, &session),
    };
    flow.advance(tx, state)?;
    Ok(next)
}

/// Ends the flow and sends the browser back to the application with a code,
/// issued only while the session lives (the person may have signed out in
/// another tab meanwhile).
fn issue_code_and_leave(
    ctx: &SignIn<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    flow: &Flow,
    session: &Session,
) -> Result<Next> {
    flow.finish(tx)?;
    if !session::is_live(tx, ctx.sessions, now, &session.public_id)? {
        return Err(Refusal::SignInExpired.into());
    }
    let request = flow.client_request()?;
    let code = issue_code(tx, ctx.tokens, now, request, session)?;
    Ok(Next::Redirect(code_redirect(ctx.issuer, request, &code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_returns_to_the_administration_page_that_sent_it_and_nowhere_else() {
        let admin = |path: &str| OwnPage::Admin(path.to_owned());
        assert_eq!(OwnPage::for_path("/admin"), admin("/admin"));
        assert_eq!(
            OwnPage::for_path("/admin/companies/0193-ab/users/x_1"),
            admin("/admin/companies/0193-ab/users/x_1")
        );
        assert_eq!(OwnPage::for_path("/account"), OwnPage::Account);
        assert_eq!(OwnPage::for_path("/administrator"), OwnPage::Account);
        assert_eq!(OwnPage::for_path("//evil.example/admin"), OwnPage::Account);
        for odd in ["/admin//evil.example", "/admin/%2F%2Fevil", "/admin/a.b", "/admin/ä"] {
            assert_eq!(OwnPage::for_path(odd), admin("/admin"), "{odd}");
        }
        assert_eq!(OwnPage::for_path(&format!("/admin/{}", "a".repeat(300))), admin("/admin"));
        assert_eq!(OwnPage::from_stored(Some("/admin/companies/x")), admin("/admin/companies/x"));
        assert_eq!(OwnPage::from_stored(Some("https://evil.example/")), OwnPage::Account);
        assert_eq!(OwnPage::from_stored(None), OwnPage::Account);
        assert_eq!(OwnPage::for_path("/device/BCDFGHJK"), OwnPage::Approval("/device/BCDFGHJK".to_owned()));
        assert_eq!(OwnPage::from_stored(Some("/device/BCDFGHJK")), OwnPage::Approval("/device/BCDFGHJK".to_owned()));
        let qr = format!("/qr/{}/approve", "a".repeat(43));
        assert_eq!(OwnPage::for_path(&qr), OwnPage::Approval(qr.clone()));
        assert_eq!(OwnPage::for_path(&qr.replace("/approve", "/status")), OwnPage::Account);
        assert_eq!(OwnPage::for_path("/qr/x.y/approve"), OwnPage::Account);
        for odd in ["/device/bcdfghjk", "/device/BCDF-GHJK", "/device/AEIOUAEI", "/device/", "/device"] {
            assert_eq!(OwnPage::for_path(odd), OwnPage::Account, "{odd}");
        }
    }
}
