//! The account page: a signed-in person manages their own name, contact
//! details, password, authenticator, recovery codes, applications and sessions.

use std::time::{Duration, UNIX_EPOCH};

use super::company::parse_name;
use super::contact::{Email, PhoneNumber};
use super::password_policy::check_new_password;
use super::recovery_codes;
use super::session::Session;
use super::signin;
use super::throttle::{self, account_subject};
use super::user::User;
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::password;
use crate::crypto::secret::random_bytes;
use crate::error::{Error, Result};
use crate::notify::{Message, enqueue};
use crate::store::StoredConsent;

/// How long a code for a new email or phone works.
pub const CONTACT_CODE_SECONDS: i64 = 10 * 60;
/// Wrong codes allowed per contact change.
pub const CONTACT_CODE_ATTEMPTS: i32 = 5;

/// One of the person's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub created_at: UnixSeconds,
    pub last_seen_at: UnixSeconds,
    /// The session of this very browser.
    pub current: bool,
}

/// What the account page shows.
#[derive(Debug, Clone)]
pub struct Overview {
    pub user: User,
    pub sessions: Vec<SessionSummary>,
    pub applications: Vec<StoredConsent>,
    pub recovery_codes_left: i64,
    /// A new email waiting for its code.
    pub pending_email: Option<String>,
    /// A new phone waiting for its code.
    pub pending_phone: Option<String>,
}

pub fn overview(state: &AppState, now: UnixSeconds, session: &Session) -> Result<Overview> {
    state.store.read(|r| {
        let user = r.user(&session.user_id)?.ok_or(Error::NotFound("account"))?;
        let sessions = r
            .live_sessions(&session.user_id, now)?
            .into_iter()
            .map(|s| SessionSummary {
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                current: s.public_id == session.public_id,
            })
            .collect();
        let pending = |kind: &str, r: &mut crate::store::Read<'_>| -> Result<Option<String>> {
            Ok(r.contact_change(&session.user_id, kind)?.filter(|c| c.expires_at > now).map(|c| c.new_value))
        };
        Ok(Overview {
            applications: r.consents_of(&session.user_id)?,
            recovery_codes_left: r.unused_recovery_codes(&session.user_id)?,
            pending_email: pending("email", r)?,
            pending_phone: pending("phone", r)?,
            sessions,
            user,
        })
    })
}

pub fn change_name(state: &AppState, now: UnixSeconds, session: &Session, name: &str) -> Result<()> {
    let name = parse_name(name, "name")?;
    state.store.write(|tx| tx.set_user_name(&session.user_id, &name, now))
}

/// Changes the password, given the current one (counted against the lockout).
/// The other sessions end, refresh tokens are revoked, and the person is told.
pub fn change_password(
    state: &AppState,
    now: UnixSeconds,
    session: &Session,
    current: &str,
    new_password: &str,
    confirmation: &str,
) -> Result<()> {
    let user = state.store.read(|r| r.user(&session.user_id))?.ok_or(Error::NotFound("account"))?;
    let subject = account_subject(Some(&user.id), "");
    let stored = state.store.read(|r| r.password_hash_by_email(user.email.as_str()))?.and_then(|(_, hash)| hash);
    if !throttle::check_password(state, now, &subject, stored.as_deref(), current)? {
        return Err(Error::InvalidRequest("The current password is not right.".to_owned()));
    }
    if new_password != confirmation {
        return Err(Error::InvalidRequest("The new passwords do not match.".to_owned()));
    }
    check_new_password(new_password, &[user.email.as_str(), &user.name])?;
    let hash = password::hash_password(new_password)?;
    let notice = changed_notice(&user, now, "password");
    state.store.write(|tx| {
        tx.set_password_hash(&user.id, &hash, now)?;
        tx.use_user_password_resets(&user.id, now)?;
        tx.delete_user_flows(&user.id)?;
        tx.end_other_sessions(&user.id, &session.public_id, now)?;
        tx.revoke_user_grants(user.id.as_str(), now)?;
        enqueue(tx, &state.keys, now, &notice, None)?;
        Ok(())
    })?;
    state.outbox_wake.notify_one();
    Ok(())
}

fn changed_notice(user: &User, now: UnixSeconds, what: &str) -> Message {
    let when = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    Message::Email {
        to: user.communication.email.clone(),
        subject: format!("Your {what} changed"),
        body: format!(
            "The {what} of your account changed on {when}.\n\n\
             If you did not do this, contact your administrator at once.\n"
        ),
    }
}

/// Which contact detail is changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    Email,
    Phone,
}

impl Contact {
    fn kind(self) -> &'static str {
        match self {
            Contact::Email => "email",
            Contact::Phone => "phone",
        }
    }
}

fn code_context(session: &Session, contact: Contact) -> String {
    format!("contact-change:{}:{}", session.user_id, contact.kind())
}

/// How recent a sign-in must be for the changes that could hand the account
/// to someone else (where codes go, new recovery codes).
pub const RECENT_SIGN_IN_SECONDS: i64 = 10 * 60;

/// Contact-change codes one person may have sent per hour.
const CONTACT_CODES_PER_HOUR: i32 = 5;

/// Refuses when the session's sign-in is not recent: a stolen session alone
/// must not be enough to take the account over.
fn ensure_recent_sign_in(session: &Session, now: UnixSeconds) -> Result<()> {
    if now - session.auth_time > RECENT_SIGN_IN_SECONDS {
        return Err(Error::InvalidRequest(
            "For your security, sign in again before changing this (your sign-in is over 10 minutes old).".to_owned(),
        ));
    }
    Ok(())
}

/// Sends a code to a new communication email or phone; the change is made
/// when the code comes back. Needs a recent sign-in.
pub fn start_contact_change(
    state: &AppState,
    now: UnixSeconds,
    session: &Session,
    contact: Contact,
    value: &str,
) -> Result<()> {
    ensure_recent_sign_in(session, now)?;
    let sent = state.store.write(|tx| tx.hit_rate_limit(&format!("contact:{}", session.user_id), now, 3600))?;
    if sent > CONTACT_CODES_PER_HOUR {
        return Err(Error::RateLimited);
    }
    let code = format!("{:06}", u32::from_le_bytes(random_bytes::<4>()) % 1_000_000);
    let (normalised, message) = match contact {
        Contact::Email => {
            let email = Email::parse(value)?;
            let message = Message::Email {
                to: email.clone(),
                subject: "Confirm your email address".to_owned(),
                body: format!("Your verification code is {code}. It is valid for 10 minutes.\n"),
            };
            (email.as_str().to_owned(), message)
        }
        Contact::Phone => {
            let phone = PhoneNumber::parse(value)?;
            let message = Message::Sms {
                to: phone.clone(),
                text: format!("Your verification code is {code}. It is valid for 10 minutes."),
            };
            (phone.as_str().to_owned(), message)
        }
    };
    let digest = state.keys.code_digest(&code_context(session, contact), &code)?;
    let expires_at = now + CONTACT_CODE_SECONDS;
    state.store.write(|tx| {
        tx.put_contact_change(&session.user_id, contact.kind(), &normalised, &digest, expires_at)?;
        enqueue(tx, &state.keys, now, &message, Some(expires_at))?;
        Ok(())
    })?;
    state.outbox_wake.notify_one();
    Ok(())
}

/// Confirms a contact change with the code sent to the new address.
pub fn confirm_contact_change(
    state: &AppState,
    now: UnixSeconds,
    session: &Session,
    contact: Contact,
    code: &str,
) -> Result<()> {
    let user_id = &session.user_id;
    let pending = state
        .store
        .read(|r| r.contact_change(user_id, contact.kind()))?
        .filter(|change| change.expires_at > now)
        .ok_or_else(|| Error::InvalidRequest("The code has expired. Ask for a new one.".to_owned()))?;
    // Counted before the check, so parallel guesses cannot all slip under the limit.
    let attempts = state.store.write(|tx| tx.count_contact_change_attempt(user_id, contact.kind()))?;
    if attempts > CONTACT_CODE_ATTEMPTS {
        return Err(Error::InvalidRequest("Too many wrong codes. Ask for a new one.".to_owned()));
    }
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    let presented = state.keys.code_digest(&code_context(session, contact), &code)?;
    let matches: bool = {
        use subtle::ConstantTimeEq;
        pending.code_digest.as_bytes().ct_eq(presented.as_bytes()).into()
    };
    if !matches {
        return Err(Error::InvalidRequest("That code is not right.".to_owned()));
    }
    let user = state.store.read(|r| r.user(user_id))?.ok_or(Error::NotFound("account"))?;
    state.store.write(|tx| {
        match contact {
            Contact::Email => tx.set_communication_email(user_id, &pending.new_value, now)?,
            Contact::Phone => tx.set_communication_phone(user_id, &pending.new_value, now)?,
        }
        tx.delete_contact_change(user_id, contact.kind())?;
        // The old address hears of it, in case this was not the person.
        let what = match contact {
            Contact::Email => "email address for codes",
            Contact::Phone => "phone number for codes",
        };
        enqueue(tx, &state.keys, now, &changed_notice(&user, now, what), None)?;
        Ok(())
    })?;
    state.outbox_wake.notify_one();
    Ok(())
}

/// Starts setting up a new authenticator, given a current code. Returns the
/// path of the enrolment page.
pub fn reset_authenticator(
    state: &AppState,
    now: UnixSeconds,
    session: &Session,
    browser_id: &str,
    code: &str,
) -> Result<String> {
    let subject = account_subject(Some(&session.user_id), "");
    let attempt = throttle::begin_attempt(state, now, &subject)?;
    if !signin::authenticator_code_matches(state, now, &session.user_id, code)? {
        throttle::attempt_failed(state, now, attempt)?;
        return Err(Error::InvalidRequest(
            "That code is not right. Enter the current code from your authenticator app.".to_owned(),
        ));
    }
    throttle::signed_in(state, &subject)?;
    signin::start_reenrolment(state, now, browser_id, session)
}

/// Ten new recovery codes; the old ones stop working. Needs a recent sign-in,
/// and the person is told by email.
pub fn new_recovery_codes(state: &AppState, now: UnixSeconds, session: &Session) -> Result<Vec<String>> {
    ensure_recent_sign_in(session, now)?;
    let user = state.store.read(|r| r.user(&session.user_id))?.ok_or(Error::NotFound("account"))?;
    let (codes, digests) = recovery_codes::generate();
    state.store.write(|tx| {
        tx.replace_recovery_codes(&session.user_id, &digests)?;
        enqueue(tx, &state.keys, now, &changed_notice(&user, now, "recovery codes"), None)?;
        Ok(())
    })?;
    state.outbox_wake.notify_one();
    Ok(codes)
}

/// Withdraws the consent given to an application and revokes its tokens.
pub fn withdraw_consent(state: &AppState, now: UnixSeconds, session: &Session, client_id: &str) -> Result<()> {
    let removed = state.store.write(|tx| tx.withdraw_consent(&session.user_id, client_id, now))?;
    if removed == 0 {
        return Err(Error::NotFound("application"));
    }
    Ok(())
}

/// Ends every session of the person, this one included, and revokes every
/// refresh token.
pub fn sign_out_everywhere(state: &AppState, now: UnixSeconds, session: &Session) -> Result<()> {
    state.store.write(|tx| {
        tx.delete_user_flows(&session.user_id)?;
        tx.end_user_sessions(&session.user_id, now)?;
        tx.revoke_user_grants(session.user_id.as_str(), now)?;
        Ok(())
    })
}
