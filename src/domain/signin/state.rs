//! Where a sign-in stands: one value per step, carrying exactly the data that
//! step needs, and the pure decisions about what comes next.
//!
//! A new way of signing in (a passkey, a QR code, an upstream provider) is a
//! new variant here and the step functions that move into and out of it.

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::domain::authorization::{AuthorizationRequest, Prompt};
use crate::domain::ids::UserId;
use crate::domain::session::Session;

/// The state of one sign-in, stored as JSON with the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum SignInState {
    /// Asking for the email (filled in when known, from `login_hint` say).
    Email { email: Option<String> },
    /// Asking for the password of this email.
    Password { email: String },
    /// The password was right: asking for the authenticator code, or a recovery code.
    SecondFactor { user: UserId, email: String, amr: Vec<String> },
    /// Setting up the first authenticator: its secret waits, sealed, for the first code.
    Enrol { user: UserId, email: String, amr: Vec<String>, sealed_secret: String },
    /// Setting up an authenticator that replaces the current one: after a
    /// recovery code, or from the account page, whose session this replaces.
    Reenrol { user: UserId, email: String, amr: Vec<String>, sealed_secret: String, replaces: Option<String> },
    /// Strongly identified by an upstream: the confirmation code sent to
    /// the person's email and phone waits.
    Confirmation { identified: Identified, code: SentCode },
    /// Authenticated; the recovery codes made at enrolment were just shown.
    RecoveryCodes { session: Session },
    /// Authenticated; the terms in force wait to be accepted.
    Terms { session: Session },
    /// Authenticated; the application's access waits to be allowed.
    Consent { session: Session },
}

impl SignInState {
    /// The person this state has authenticated so far, if any.
    pub fn user(&self) -> Option<&UserId> {
        match self {
            SignInState::Email { .. } | SignInState::Password { .. } => None,
            SignInState::SecondFactor { user, .. }
            | SignInState::Enrol { user, .. }
            | SignInState::Reenrol { user, .. }
            | SignInState::Confirmation { identified: Identified { user, .. }, .. } => Some(user),
            SignInState::RecoveryCodes { session }
            | SignInState::Terms { session }
            | SignInState::Consent { session } => Some(&session.user_id),
        }
    }

    /// The email the person typed, if the state knows it.
    pub fn email(&self) -> Option<&str> {
        match self {
            SignInState::Email { email } => email.as_deref(),
            SignInState::Password { email }
            | SignInState::SecondFactor { email, .. }
            | SignInState::Enrol { email, .. }
            | SignInState::Reenrol { email, .. } => Some(email),
            SignInState::Confirmation { .. }
            | SignInState::RecoveryCodes { .. }
            | SignInState::Terms { .. }
            | SignInState::Consent { .. } => None,
        }
    }
}

/// Whom an upstream identified, and how: what the session will carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identified {
    pub user: UserId,
    /// The upstream identity: recorded as the person's link once signed in.
    pub upstream_id: String,
    pub issuer: String,
    pub subject: String,
    /// `[<upstream id>]`; `otp` joins once the code is right.
    pub amr: Vec<String>,
    /// The upstream's `acr`, if it sent one.
    pub acr: Option<String>,
    /// When the person identified at the upstream.
    pub auth_time: UnixSeconds,
}

/// A confirmation code sent: its keyed digest, its end, the wrong tries left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCode {
    pub digest: String,
    pub expires_at: UnixSeconds,
    pub tries_left: u8,
}

/// Adds an authentication method (RFC 8176) once.
pub fn with_method(mut amr: Vec<String>, method: &str) -> Vec<String> {
    if !amr.iter().any(|m| m == method) {
        amr.push(method.to_owned());
    }
    amr
}

/// What comes once a person is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAuthentication {
    /// The terms in force are not accepted yet.
    Terms,
    /// A sign-in to the account pages: go there.
    AccountPages,
    /// The application's access must be allowed first.
    Consent,
    /// Back to the application with an authorization code.
    Code,
}

/// What the application asked and what is known of the person and the client.
#[derive(Debug, Clone, Copy)]
pub struct AfterAuthenticationFacts<'a> {
    pub terms_accepted: bool,
    /// `None` for a sign-in to the account pages.
    pub request: Option<&'a AuthorizationRequest>,
    /// The client's own apps need no consent.
    pub first_party: bool,
    /// The scopes the person allowed this client before, space-separated.
    pub consented: Option<&'a str>,
}

/// After authentication: the terms, then consent, then the code (or, for a
/// sign-in to the account pages, those pages).
pub fn after_authentication(facts: AfterAuthenticationFacts<'_>) -> AfterAuthentication {
    if !facts.terms_accepted {
        return AfterAuthentication::Terms;
    }
    let Some(request) = facts.request else { return AfterAuthentication::AccountPages };
    let consented = facts
        .consented
        .is_some_and(|given| request.scopes.iter().all(|scope| given.split_whitespace().any(|g| g == scope)));
    // A first-party client needs no consent, unless the request asks for it.
    if request.prompt == Prompt::Consent || (!facts.first_party && !consented) {
        AfterAuthentication::Consent
    } else {
        AfterAuthentication::Code
    }
}

/// What an `id_token_hint` says of the person the application expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint<'a> {
    /// No hint was sent.
    Absent,
    /// A valid ID token of this service, naming this subject.
    Subject(&'a str),
    /// A hint that does not verify (bad signature, another issuer, an
    /// unknown key): it names nobody, so no session matches it.
    Unverifiable,
}

/// Whether an existing session may sign this request in without a new
/// authentication: not with `prompt=login`, not older than `max_age`
/// (`max_age=0` always asks again, OpenID Connect Core 3.1.2.1), and only
/// the person a verified `id_token_hint` names.
pub fn session_usable(session: &Session, request: &AuthorizationRequest, hint: Hint<'_>, now: UnixSeconds) -> bool {
    let fresh_enough = request.max_age.is_none_or(|max_age| max_age > 0 && now - session.auth_time <= max_age);
    let hinted = match hint {
        Hint::Absent => true,
        Hint::Subject(sub) => sub == session.user_id.as_str(),
        Hint::Unverifiable => false,
    };
    request.prompt != Prompt::Login && fresh_enough && hinted
}

/// Consent only ever grows: what was allowed before, and what is allowed now.
pub fn grown_consent(earlier: Option<&str>, asked: &[String]) -> String {
    let mut scopes: Vec<String> = asked.to_vec();
    scopes.extend(earlier.unwrap_or_default().split_whitespace().map(str::to_owned));
    scopes.sort();
    scopes.dedup();
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::ClientId;

    fn request(scopes: &[&str], prompt: Prompt, max_age: Option<i64>) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: ClientId::parse("ledger").unwrap(),
            redirect_uri: "https://ledger.example/cb".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt,
            max_age,
            login_hint: None,
            ui_locales: None,
        }
    }

    fn session(auth_time: i64) -> Session {
        Session { public_id: "sid".into(), user_id: UserId::generate(), auth_time, amr: vec!["pwd".into()], acr: None }
    }

    fn facts<'a>(
        request: Option<&'a AuthorizationRequest>,
        first_party: bool,
        consented: Option<&'a str>,
    ) -> AfterAuthenticationFacts<'a> {
        AfterAuthenticationFacts { terms_accepted: true, request, first_party, consented }
    }

    #[test]
    fn terms_come_first_then_the_account_pages_or_consent_or_the_code() {
        let asked = request(&["openid", "email"], Prompt::Default, None);
        let unaccepted = AfterAuthenticationFacts { terms_accepted: false, ..facts(Some(&asked), true, None) };
        assert_eq!(after_authentication(unaccepted), AfterAuthentication::Terms);
        assert_eq!(after_authentication(facts(None, false, None)), AfterAuthentication::AccountPages);
        assert_eq!(after_authentication(facts(Some(&asked), false, None)), AfterAuthentication::Consent);
        assert_eq!(after_authentication(facts(Some(&asked), true, None)), AfterAuthentication::Code, "first party");
        assert_eq!(after_authentication(facts(Some(&asked), false, Some("email openid"))), AfterAuthentication::Code);
        assert_eq!(
            after_authentication(facts(Some(&asked), false, Some("openid"))),
            AfterAuthentication::Consent,
            "a scope not allowed before"
        );
        let forced = request(&["openid"], Prompt::Consent, None);
        assert_eq!(after_authentication(facts(Some(&forced), true, Some("openid"))), AfterAuthentication::Consent);
    }

    #[test]
    fn a_session_serves_a_request_unless_login_max_age_or_the_hint_say_otherwise() {
        let now = 1_000_000;
        let s = session(now - 600);
        let plain = request(&["openid"], Prompt::Default, None);
        assert!(session_usable(&s, &plain, Hint::Absent, now));
        assert!(!session_usable(&s, &request(&["openid"], Prompt::Login, None), Hint::Absent, now));
        assert!(session_usable(&s, &request(&["openid"], Prompt::Default, Some(600)), Hint::Absent, now));
        assert!(!session_usable(&s, &request(&["openid"], Prompt::Default, Some(599)), Hint::Absent, now));
        let none = request(&["openid"], Prompt::None, None);
        assert!(session_usable(&s, &none, Hint::Subject(s.user_id.as_str()), now));
        assert!(!session_usable(&s, &none, Hint::Subject("someone-else"), now));
        assert!(!session_usable(&s, &none, Hint::Unverifiable, now), "a hint that does not verify names nobody");
    }

    #[test]
    fn max_age_zero_always_asks_again_even_within_the_same_second() {
        let now = 1_000_000;
        assert!(!session_usable(&session(now), &request(&["openid"], Prompt::Default, Some(0)), Hint::Absent, now));
        assert!(session_usable(&session(now), &request(&["openid"], Prompt::Default, Some(1)), Hint::Absent, now));
    }

    #[test]
    fn consent_grows_and_methods_are_added_once() {
        assert_eq!(grown_consent(Some("openid email"), &["profile".into(), "openid".into()]), "email openid profile");
        assert_eq!(grown_consent(None, &["openid".into()]), "openid");
        assert_eq!(with_method(vec!["pwd".into()], "otp"), vec!["pwd", "otp"]);
        assert_eq!(with_method(vec!["pwd".into(), "otp".into()], "otp"), vec!["pwd", "otp"]);
    }

    #[test]
    fn states_round_trip_through_json_with_their_step() {
        let state = SignInState::SecondFactor {
            user: UserId::generate(),
            email: "m@example.com".into(),
            amr: vec!["pwd".into()],
        };
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.contains("\"step\":\"second_factor\""), "{json}");
        assert_eq!(serde_json::from_str::<SignInState>(&json).unwrap(), state);
        assert!(state.user().is_some());
        assert_eq!(SignInState::Email { email: None }.user(), None);
    }
}
