//! The account page: a signed-in person manages their own name, contact
//! details, password, authenticator, recovery codes, applications and sessions.
//!
//! Each change is one write transaction; a change of the password is two,
//! as at sign-in, so that Argon2 never runs inside one.

use super::audit::{self, Event, Subjects};
use super::company::parse_name;
use super::contact::{Email, PhoneNumber};
use super::notices;
use super::password_policy::check_new_password;
use super::recovery_codes;
use super::refusal::{Refusal, minutes, or_refuse, settle};
use super::session::Session;
use super::signin::{self, SignIn};
use super::throttle::Subject;
use super::user::User;
use crate::clock::UnixSeconds;
use crate::crypto::password;
use crate::crypto::secret::six_digit_code;
use crate::error::Result;
use crate::i18n::Texts;
use crate::notify::{Message, enqueue};
use crate::store::{Store, StoredConsent, Write};

/// How long a code for a new email or phone works.
pub const CONTACT_CODE_SECONDS: i64 = 10 * 60;
/// Wrong codes allowed per contact change.
pub const CONTACT_CODE_ATTEMPTS: i32 = 5;
/// Contact-change codes one person may have sent per hour.
const CONTACT_CODES_PER_HOUR: i32 = 5;

/// What the account page's changes need: the sign-in's context (a new
/// authenticator goes through a sign-in step) and the language the
/// messages it sends are written in.
#[derive(Clone)]
pub struct AccountContext<'a> {
    pub sign_in: SignIn<'a>,
    pub texts: Texts,
}

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
    /// The mobile app's device credentials.
    pub devices: Vec<super::devices::Device>,
    /// The person's passkeys.
    pub passkeys: Vec<super::passkeys::PasskeyEntry>,
    /// Whether the person holds an administrative role (the page links `/admin`).
    pub administers: bool,
    /// The upstream identities that signed the person in, or were linked.
    pub upstream_links: Vec<crate::store::StoredUpstreamLink>,
}

/// What the account page shows the person of `session`.
pub fn overview(store: &Store, now: UnixSeconds, session: &Session) -> Result<Overview> {
    store.read(|r| {
        let user = r.user(&session.user_id)?.ok_or(Refusal::SignInExpired)?;
        let sessions = r
            .live_sessions(&session.user_id, now)?
            .into_iter()
            .map(|s| SessionSummary {
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                current: s.public_id == session.public_id,
            })
            .collect();
        let mut pending = |contact: Contact| -> Result<Option<String>> {
            Ok(r.contact_change(&session.user_id, contact.kind())?.filter(|c| c.expires_at > now).map(|c| c.new_value))
        };
        let (pending_email, pending_phone) = (pending(Contact::Email)?, pending(Contact::Phone)?);
        let devices = r.devices_of(&session.user_id)?.into_iter().map(super::devices::Device::from).collect();
        let passkeys = super::passkeys::list(r, &session.user_id)?;
        Ok(Overview {
            administers: super::admin::holds_a_role(r, &session.user_id)?,
            upstream_links: r.upstream_links(&session.user_id)?,
            devices,
            passkeys,
            applications: r.consents_of(&session.user_id)?,
            recovery_codes_left: r.unused_recovery_codes(&session.user_id)?,
            pending_email,
            pending_phone,
            sessions,
            user,
        })
    })
}

pub fn change_name(store: &Store, now: UnixSeconds, session: &Session, name: &str) -> Result<()> {
    let name = parse_name(name)?;
    store.write(|tx| tx.set_user_name(&session.user_id, &name, now))
}

/// The person of a session, read in the caller's transaction.
fn user_of(tx: &mut Write<'_>, session: &Session) -> Result<User> {
    Ok(tx.user(&session.user_id)?.ok_or(Refusal::SignInExpired)?)
}

/// Changes the password, given the current one (counted against the lockout).
/// The other sessions end, refresh tokens are revoked, and the person is told.
pub fn change_password(
    ctx: &AccountContext<'_>,
    now: UnixSeconds,
    session: &Session,
    current: &str,
    new_password: &str,
    confirmation: &str,
) -> Result<()> {
    let store = ctx.sign_in.store;
    let lockout = ctx.sign_in.lockout;
    let subject = Subject::person(&session.user_id);
    let (user, stored, attempt) = store
        .write(|tx| {
            let user = user_of(tx, session)?;
            let stored = tx.password_hash_by_email(user.email.as_str())?.and_then(|(_, hash)| hash);
            Ok(lockout.begin_attempt(tx, now, &subject)?.map(|attempt| (user, stored, attempt)))
        })
        .and_then(settle)?;
    if !password::verify_password_or_decoy(current, stored.as_deref())? {
        lockout.metrics.sign_in(crate::metrics::SignInOutcome::WrongPassword);
        store.write(|tx| {
            ctx.record(tx, now, session, Event::SignInFailed { step: "current_password" })?;
            lockout.attempt_failed(tx, now, attempt, ctx.texts, &ctx.sign_in.origin)
        })?;
        return Err(Refusal::WrongCurrentPassword.into());
    }
    let acceptable = if new_password == confirmation {
        check_new_password(new_password, &[user.email.as_str(), &user.name])
    } else {
        Err(Refusal::PasswordsDiffer)
    };
    let hash = match acceptable {
        Ok(()) => Some(password::hash_password(new_password)?),
        Err(_) => None,
    };
    let notice = notices::changed(&ctx.texts, &user.communication.email, now, "message.what_password");
    store.write(|tx| {
        lockout.attempt_passed(tx, attempt)?;
        let Some(hash) = &hash else { return Ok(()) };
        tx.set_password_hash(&user.id, hash, now)?;
        tx.use_user_password_resets(&user.id, now)?;
        tx.delete_user_flows(&user.id)?;
        tx.end_other_sessions(&user.id, &session.public_id, now)?;
        tx.revoke_user_grants(user.id.as_str(), now)?;
        enqueue(tx, ctx.sign_in.keys, now, &notice, None)?;
        ctx.record(tx, now, session, Event::PasswordChanged)?;
        Ok(())
    })?;
    settle(acceptable)
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

    /// The catalogue key that names it in a notice.
    fn what(self) -> &'static str {
        match self {
            Contact::Email => "message.what_email",
            Contact::Phone => "message.what_phone",
        }
    }
}

fn code_context(session: &Session, contact: Contact) -> String {
    format!("contact-change:{}:{}", session.user_id, contact.kind())
}

/// Step-up before a change that could hand the account to someone else
/// (where codes go, new recovery codes; OWASP ASVS 3.7.1): a current
/// authenticator code, right before it, counted against the lockout. A
/// stolen session cookie alone is not enough.
fn step_up(
    ctx: &AccountContext<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    session: &Session,
    code: &str,
) -> Result<Result<(), Refusal>> {
    let SignIn { keys, lockout, origin, .. } = &ctx.sign_in;
    let subject = Subject::person(&session.user_id);
    let attempt = or_refuse!(lockout.begin_attempt(tx, now, &subject)?);
    if !signin::authenticator_code_matches(tx, keys, now, &session.user_id, code)? {
        ctx.record(tx, now, session, Event::SignInFailed { step: "step_up" })?;
        lockout.second_factor_failed(tx, now, &session.user_id, ctx.texts)?;
        lockout.attempt_failed(tx, now, attempt, ctx.texts, origin)?;
        return Ok(Err(Refusal::WrongAuthenticatorCode));
    }
    lockout.attempt_passed(tx, attempt)?;
    Ok(Ok(()))
}

/// Sends a code to a new communication email or phone; the change is made
/// when the code comes back. Needs a current authenticator code (`proof`).
pub fn start_contact_change(
    ctx: &AccountContext<'_>,
    now: UnixSeconds,
    session: &Session,
    contact: Contact,
    value: &str,
    proof: &str,
) -> Result<()> {
    let code = six_digit_code();
    let texts = &ctx.texts;
    let filled = [("code", code.clone()), ("minutes", minutes(CONTACT_CODE_SECONDS).to_string())];
    let (normalised, message) = match contact {
        Contact::Email => {
            let email = Email::parse(value)?;
            let message = Message::Email {
                to: email.clone(),
                subject: texts.get("message.confirm_email_subject").to_owned(),
                body: texts.fill("message.confirm_email_body", &filled),
            };
            (email.as_str().to_owned(), message)
        }
        Contact::Phone => {
            let phone = PhoneNumber::parse(value)?;
            (phone.as_str().to_owned(), Message::Sms { to: phone, text: texts.fill("message.code_sms", &filled) })
        }
    };
    let keys = ctx.sign_in.keys;
    let digest = keys.code_digest(&code_context(session, contact), &code)?;
    let expires_at = now + CONTACT_CODE_SECONDS;
    ctx.sign_in
        .store
        .write(|tx| {
            or_refuse!(step_up(ctx, tx, now, session, proof)?);
            if tx.hit_rate_limit(&format!("contact:{}", session.user_id), now, 3600)? > CONTACT_CODES_PER_HOUR {
                return Ok(Err(Refusal::TooManyAttempts));
            }
            tx.put_contact_change(&session.user_id, contact.kind(), &normalised, &digest, expires_at)?;
            enqueue(tx, keys, now, &message, Some(expires_at))?;
            Ok(Ok(()))
        })
        .and_then(settle)
}

/// Confirms a contact change with the code sent to the new address, in one
/// transaction: the attempt is counted (and stays counted when the code is
/// wrong), the contact changes, and the old address is told.
pub fn confirm_contact_change(
    ctx: &AccountContext<'_>,
    now: UnixSeconds,
    session: &Session,
    contact: Contact,
    code: &str,
) -> Result<()> {
    let keys = ctx.sign_in.keys;
    let user_id = &session.user_id;
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    let presented = keys.code_digest(&code_context(session, contact), &code)?;
    ctx.sign_in
        .store
        .write(|tx| {
            let Some(pending) = tx.contact_change(user_id, contact.kind())?.filter(|change| change.expires_at > now)
            else {
                return Ok(Err(Refusal::CodeExpired));
            };
            // Counted before the check, so parallel guesses cannot all slip under the limit.
            if tx.count_contact_change_attempt(user_id, contact.kind())? > CONTACT_CODE_ATTEMPTS {
                return Ok(Err(Refusal::TooManyWrongCodes));
            }
            let matches: bool = {
                use subtle::ConstantTimeEq;
                pending.code_digest.as_bytes().ct_eq(presented.as_bytes()).into()
            };
            if !matches {
                return Ok(Err(Refusal::WrongCode));
            }
            let user = user_of(tx, session)?;
            match contact {
                Contact::Email => tx.set_communication_email(user_id, &pending.new_value, now)?,
                Contact::Phone => tx.set_communication_phone(user_id, &pending.new_value, now)?,
            }
            tx.delete_contact_change(user_id, contact.kind())?;
            ctx.record(tx, now, session, Event::ContactChanged { kind: contact.kind() })?;
            // The old address hears of it, in case this was not the person;
            // a new address hears of it too.
            let old = &user.communication.email;
            enqueue(tx, keys, now, &notices::changed(&ctx.texts, old, now, contact.what()), None)?;
            if contact == Contact::Email && pending.new_value != old.as_str() {
                let new = Email::parse(&pending.new_value)?;
                enqueue(tx, keys, now, &notices::changed(&ctx.texts, &new, now, contact.what()), None)?;
            }
            Ok(Ok(()))
        })
        .and_then(settle)
}

/// Starts setting up a new authenticator, given a current code (counted
/// against the lockout). Returns the path of the enrolment page.
pub fn reset_authenticator(
    ctx: &AccountContext<'_>,
    now: UnixSeconds,
    session: &Session,
    browser_id: &str,
    code: &str,
) -> Result<String> {
    let SignIn { store, keys, lockout, .. } = &ctx.sign_in;
    let subject = Subject::person(&session.user_id);
    store
        .write(|tx| {
            let attempt = or_refuse!(lockout.begin_attempt(tx, now, &subject)?);
            if !signin::authenticator_code_matches(tx, keys, now, &session.user_id, code)? {
                lockout.attempt_failed(tx, now, attempt, ctx.texts, &ctx.sign_in.origin)?;
                return Ok(Err(Refusal::WrongAuthenticatorCode));
            }
            lockout.signed_in(tx, &subject)?;
            signin::start_reenrolment(tx, keys, now, browser_id, session).map(Ok)
        })
        .and_then(settle)
}

/// Ten new recovery codes; the old ones stop working. Needs a current
/// authenticator code (`proof`), and the person is told by email.
pub fn new_recovery_codes(
    ctx: &AccountContext<'_>,
    now: UnixSeconds,
    session: &Session,
    proof: &str,
) -> Result<Vec<String>> {
    let (codes, digests) = recovery_codes::generate(ctx.sign_in.keys, &session.user_id)?;
    ctx.sign_in
        .store
        .write(|tx| {
            or_refuse!(step_up(ctx, tx, now, session, proof)?);
            let user = user_of(tx, session)?;
            tx.replace_recovery_codes(&session.user_id, &digests)?;
            ctx.record(tx, now, session, Event::RecoveryCodesReplaced)?;
            let notice = notices::changed(&ctx.texts, &user.communication.email, now, "message.what_recovery_codes");
            enqueue(tx, ctx.sign_in.keys, now, &notice, None)?;
            Ok(Ok(()))
        })
        .and_then(settle)?;
    Ok(codes)
}

/// Adds the passkey the browser made. A passkey signs the person in on its
/// own, so a current authenticator code must come with it (a stolen session
/// cookie alone adds none), and the person is emailed.
pub fn add_passkey(
    ctx: &AccountContext<'_>,
    webauthn: &webauthn_rs::Webauthn,
    now: UnixSeconds,
    session: &Session,
    browser_id: &str,
    new: super::passkeys::NewPasskey<'_>,
    proof: &str,
) -> Result<()> {
    ctx.sign_in
        .store
        .write(|tx| {
            or_refuse!(step_up(ctx, tx, now, session, proof)?);
            let origin = &ctx.sign_in.origin;
            or_refuse!(super::passkeys::register(tx, webauthn, now, origin, browser_id, &session.user_id, new)?);
            let user = user_of(tx, session)?;
            let notice = notices::changed(&ctx.texts, &user.communication.email, now, "message.what_passkeys");
            enqueue(tx, ctx.sign_in.keys, now, &notice, None)?;
            Ok(Ok(()))
        })
        .and_then(settle)
}

/// Withdraws the consent given to an application and revokes its tokens.
pub fn withdraw_consent(ctx: &AccountContext<'_>, now: UnixSeconds, session: &Session, client_id: &str) -> Result<()> {
    ctx.sign_in.store.write(|tx| {
        if tx.withdraw_consent(&session.user_id, client_id, now)? == 0 {
            return Err(Refusal::ApplicationNotFound.into());
        }
        let about = Subjects::person(&session.user_id).with_client(client_id);
        audit::record(tx, now, &ctx.sign_in.origin, about, Event::ConsentWithdrawn)
    })
}

/// Ends every session of the person, this one included, and revokes every
/// refresh token.
pub fn sign_out_everywhere(ctx: &AccountContext<'_>, now: UnixSeconds, session: &Session) -> Result<()> {
    ctx.sign_in.store.write(|tx| {
        tx.delete_user_flows(&session.user_id)?;
        tx.end_user_sessions(&session.user_id, now)?;
        tx.revoke_user_grants(session.user_id.as_str(), now)?;
        ctx.record(tx, now, session, Event::SessionsEnded)
    })
}

impl AccountContext<'_> {
    /// The same, for a request from `origin`.
    pub fn coming_from(self, origin: crate::domain::audit::Origin) -> Self {
        Self { sign_in: self.sign_in.coming_from(origin), ..self }
    }

    /// Records an event of the signed-in person, in the change's transaction.
    fn record(&self, tx: &mut Write<'_>, now: UnixSeconds, session: &Session, event: Event) -> Result<()> {
        audit::record(tx, now, &self.sign_in.origin, Subjects::person(&session.user_id), event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;

    fn session(auth_time: i64) -> Session {
        Session {
            public_id: "sid".into(),
            user_id: UserId::generate(),
            auth_time,
            amr: vec!["pwd".into(), "otp".into()],
            acr: None,
        }
    }

    #[test]
    fn codes_are_bound_to_the_person_and_the_kind_of_contact() {
        let s = session(0);
        assert_ne!(code_context(&s, Contact::Email), code_context(&s, Contact::Phone));
        assert!(code_context(&s, Contact::Email).contains(s.user_id.as_str()));
    }
}
