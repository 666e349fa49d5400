//! "Forgot your password?": a reset by an emailed link (single use, 30
//! minutes) or by a 6-digit SMS code to the communication phone (10 minutes,
//! 5 attempts). The answer is the same whether or not the account exists. A
//! reset changes the password only: the authenticator still guards the next
//! sign-in, and every session and refresh token of the person ends.

use super::audit::{self, Event, Origin, Subjects};
use super::authorization::AuthorizationRequest;
use super::contact::Email;
use super::ids::UserId;
use super::password_policy::check_new_password;
use super::refusal::{Refusal, minutes, or_refuse, settle};
use super::signin;
use super::throttle::{Lockout, Subject};
use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::crypto::password;
use crate::crypto::secret::{random_token, sha256_hex, six_digit_code};
use crate::error::{Error, Result};
use crate::i18n::{Texts, date_time};
use crate::notify::{Message, enqueue};
use crate::store::{Read, Store, StoredReset};

/// How long an emailed reset link works.
pub const LINK_SECONDS: i64 = 30 * 60;
/// How long an SMS reset code works.
pub const CODE_SECONDS: i64 = 10 * 60;
/// Wrong SMS codes allowed per reset.
pub const CODE_ATTEMPTS: i32 = 5;
/// Resets one email address may ask for per hour.
const RESETS_PER_HOUR: i32 = 5;
/// SMS reset codes one person may be sent per day: beyond it the answer stays
/// the same, but no SMS is sent (the codes text the person's phone).
const SMS_CODES_PER_DAY: i32 = 5;
/// Code attempts one person's resets may have per day, across all of them:
/// asking for a new reset does not buy new guesses.
const CODE_ATTEMPTS_PER_DAY: i32 = 10;
const DAY: i64 = 24 * 3600;

/// What a reset reads and writes, and the language of the messages it sends.
#[derive(Clone)]
pub struct ResetContext<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    pub issuer: &'a str,
    pub lockout: Lockout<'a>,
    pub texts: Texts,
    /// Where the request came from, for the audit trail.
    pub origin: Origin,
}

impl ResetContext<'_> {
    /// The same, for a request from `origin`.
    pub fn coming_from(self, origin: Origin) -> Self {
        Self { origin, ..self }
    }
}

/// How the person wants to continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    EmailLink,
    SmsCode,
}

impl Method {
    fn stored(self) -> &'static str {
        match self {
            Method::EmailLink => "email",
            Method::SmsCode => "sms",
        }
    }

    fn lifetime(self) -> i64 {
        match self {
            Method::EmailLink => LINK_SECONDS,
            Method::SmsCode => CODE_SECONDS,
        }
    }
}

/// What a started reset leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// "Check your email" (whether or not a message was sent).
    LinkSent,
    /// The page that asks for the SMS code: `/password/reset/{id}/code`.
    CodeSent { reset_id: String },
}

/// Whether a reset id from a URL is one Portti could have made: 32 random
/// bytes, base64url (43 characters of `A–Z a–z 0–9 - _`). Anything else is
/// refused before it is looked up or written into a page.
fn well_formed(reset_id: &str) -> bool {
    reset_id.len() == 43 && reset_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The page that asks for the SMS code of this browser's reset: its id, as
/// looked up, for the form to post to; refused for an id that is malformed,
/// unknown, used, expired, another browser's, or no longer waiting for a code.
pub fn awaiting_code(store: &Store, now: UnixSeconds, reset_id: &str, browser_id: &str) -> Result<String> {
    if !well_formed(reset_id) {
        return Err(Refusal::ResetExpired.into());
    }
    let reset = store.read(|r| load(r, now, &sha256_hex(reset_id)))?;
    if !awaits_code(&reset, browser_id) {
        return Err(Refusal::ResetExpired.into());
    }
    Ok(reset_id.to_owned())
}

fn code_context(id_digest: &str) -> String {
    format!("password-reset:{id_digest}")
}

/// Starts a reset. Known or not, the address gets the same answer; only a
/// known account gets a message. `request` is the sign-in it started from.
pub fn start(
    ctx: &ResetContext<'_>,
    now: UnixSeconds,
    browser_id: &str,
    email: &str,
    method: Method,
    request: Option<&AuthorizationRequest>,
    address: Option<&str>,
) -> Result<Started> {
    let email = Email::parse(email)?;
    let bucket = format!("reset:{}", ctx.keys.code_digest("reset-limit", email.as_str())?);
    let reset_id = random_token();
    let id_digest = sha256_hex(&reset_id);
    let code = match method {
        Method::EmailLink => None,
        Method::SmsCode => Some(six_digit_code()),
    };
    let lifetime = method.lifetime();
    let code_digest = code.as_deref().map(|c| ctx.keys.code_digest(&code_context(&id_digest), c)).transpose()?;
    let request = request.map(serde_json::to_string).transpose().map_err(Error::internal)?;
    ctx.store
        .write(|tx| {
            or_refuse!(ctx.lockout.check_address(tx, now, address)?);
            // Past the hourly limit of an address nothing more is sent, but the
            // answer stays the same: the limit must not lock the person out, nor
            // tell anything about the address.
            let within_limit = tx.hit_rate_limit(&bucket, now, 3600)? <= RESETS_PER_HOUR;
            // Both lookups happen whether or not the address has an account.
            let id = tx.user_id_by_email(&email)?.unwrap_or_else(UserId::generate);
            let mut user = tx.user(&id)?.filter(|_| within_limit);
            if method == Method::SmsCode {
                // Counted for an unknown address too (in a decoy bucket), so both take as long.
                let bucket = match &user {
                    Some(person) => format!("reset-sms:{}", person.id),
                    None => "reset-sms:decoy".to_owned(),
                };
                if tx.hit_rate_limit(&bucket, now, DAY)? > SMS_CODES_PER_DAY {
                    user = None;
                }
            }
            let reset = StoredReset {
                id_digest: id_digest.clone(),
                browser_digest: sha256_hex(browser_id),
                user_id: user.as_ref().map(|u| u.id.as_str().to_owned()),
                method: method.stored().to_owned(),
                code_digest: code_digest.clone(),
                attempts: 0,
                verified_at: None,
                request: request.clone(),
                created_at: now,
                expires_at: now + lifetime,
                used_at: None,
            };
            tx.insert_password_reset(&reset)?;
            let texts = &ctx.texts;
            let message = match (&user, &code) {
                (Some(user), None) => Some(Message::Email {
                    to: user.communication.email.clone(),
                    subject: texts.get("message.reset_subject").to_owned(),
                    body: texts.fill(
                        "message.reset_body",
                        &[
                            ("minutes", minutes(LINK_SECONDS).to_string()),
                            ("link", format!("{}/password/reset/{reset_id}", ctx.issuer)),
                        ],
                    ),
                }),
                (Some(user), Some(code)) => user.communication.phone.clone().map(|to| Message::Sms {
                    to,
                    text: texts.fill(
                        "message.code_sms",
                        &[("code", code.clone()), ("minutes", minutes(CODE_SECONDS).to_string())],
                    ),
                }),
                (None, _) => None,
            };
            match &message {
                Some(message) => {
                    enqueue(tx, ctx.keys, now, message, Some(now + lifetime))?;
                }
                // The same work (sealing a message, a second write) without a
                // message, so the answer takes as long as for a real account.
                None => {
                    ctx.keys.seal("decoy", reset.id_digest.as_bytes())?;
                    tx.hit_rate_limit("reset:decoy", now, 3600)?;
                }
            }
            Ok(Ok(()))
        })
        .and_then(settle)?;
    Ok(match method {
        Method::EmailLink => Started::LinkSent,
        Method::SmsCode => Started::CodeSent { reset_id },
    })
}

/// The reset behind an id, while it is neither used nor expired.
fn load(r: &mut Read<'_>, now: UnixSeconds, id_digest: &str) -> Result<StoredReset> {
    match r.password_reset(id_digest)? {
        Some(reset) if reset.used_at.is_none() && reset.expires_at > now => Ok(reset),
        _ => Err(Refusal::ResetExpired.into()),
    }
}

/// Whether this browser's SMS reset waits for its code.
fn awaits_code(reset: &StoredReset, browser_id: &str) -> bool {
    reset.method == Method::SmsCode.stored()
        && reset.browser_digest == sha256_hex(browser_id)
        && reset.verified_at.is_none()
}

/// Whether a reset may set a password in this browser: an emailed link (from
/// any browser), or an SMS reset whose code was verified here.
fn may_set_password(reset: &StoredReset, browser_id: &str) -> bool {
    match reset.method.as_str() {
        "email" => true,
        _ => reset.verified_at.is_some() && reset.browser_digest == sha256_hex(browser_id),
    }
}

/// Checks the SMS code of a reset in one transaction: the attempt is counted
/// (and stays counted when the code is wrong); five wrong codes end it.
pub fn verify_code(
    ctx: &ResetContext<'_>,
    now: UnixSeconds,
    reset_id: &str,
    browser_id: &str,
    code: &str,
) -> Result<()> {
    if !well_formed(reset_id) {
        return Err(Refusal::ResetExpired.into());
    }
    let id_digest = sha256_hex(reset_id);
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    let presented = ctx.keys.code_digest(&code_context(&id_digest), &code)?;
    ctx.store
        .write(|tx| {
            let reset = load(tx, now, &id_digest)?;
            if !awaits_code(&reset, browser_id) {
                return Err(Refusal::ResetExpired.into());
            }
            if tx.count_reset_attempt(&id_digest)? > CODE_ATTEMPTS {
                return Ok(Err(Refusal::TooManyWrongCodes));
            }
            if let Some(user) = &reset.user_id
                && tx.hit_rate_limit(&format!("reset-attempts:{user}"), now, DAY)? > CODE_ATTEMPTS_PER_DAY
            {
                return Ok(Err(Refusal::TooManyAttempts));
            }
            let matches = reset.code_digest.as_deref().is_some_and(|stored| {
                use subtle::ConstantTimeEq;
                stored.as_bytes().ct_eq(presented.as_bytes()).into()
            });
            // A reset of an unknown address has a code too, which nobody was sent.
            if !matches || reset.user_id.is_none() {
                return Ok(Err(Refusal::WrongCode));
            }
            tx.verify_password_reset(&id_digest, now)?;
            // Ten minutes from the code to choose the new password.
            tx.extend_password_reset(&id_digest, now + CODE_SECONDS)?;
            Ok(Ok(()))
        })
        .and_then(settle)
}

/// The reset that may set a password now, and its person.
fn usable(r: &mut Read<'_>, now: UnixSeconds, reset_id: &str, browser_id: &str) -> Result<(StoredReset, UserId)> {
    if !well_formed(reset_id) {
        return Err(Refusal::ResetExpired.into());
    }
    let reset = load(r, now, &sha256_hex(reset_id))?;
    match (may_set_password(&reset, browser_id), reset.user_id.clone()) {
        (true, Some(user_id)) => Ok((reset, UserId::from_stored(user_id))),
        _ => Err(Refusal::ResetExpired.into()),
    }
}

/// Whether the reset may set a password now (to show its form).
pub fn check(store: &Store, now: UnixSeconds, reset_id: &str, browser_id: &str) -> Result<()> {
    store.read(|r| usable(r, now, reset_id, browser_id)).map(|_| ())
}

/// Where a finished reset leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Back into the sign-in it started from (a new flow in this browser).
    SignIn(String),
    /// It did not start from a sign-in.
    Done,
}

/// Sets the new password: the policy applies; every session ends, every
/// refresh token is revoked, and an email tells the person when it happened.
/// The hash is made first; using the reset, the change and the way back into
/// the sign-in are then one transaction.
pub fn set_password(
    ctx: &ResetContext<'_>,
    now: UnixSeconds,
    reset_id: &str,
    browser_id: &str,
    new_password: &str,
    confirmation: &str,
) -> Result<Finished> {
    let (reset, user_id) = ctx.store.read(|r| usable(r, now, reset_id, browser_id))?;
    if new_password != confirmation {
        return Err(Refusal::PasswordsDiffer.into());
    }
    let user = ctx.store.read(|r| r.user(&user_id))?.ok_or(Refusal::ResetExpired)?;
    check_new_password(new_password, &[user.email.as_str(), &user.name])?;
    let hash = password::hash_password(new_password)?;
    let notice = Message::Email {
        to: user.communication.email.clone(),
        subject: ctx.texts.get("message.password_reset_subject").to_owned(),
        body: ctx.texts.fill("message.password_reset_body", &[("when", date_time(now))]),
    };
    let request: Option<AuthorizationRequest> =
        reset.request.as_deref().map(serde_json::from_str).transpose().map_err(Error::internal)?;
    let finished = ctx.store.write(|tx| {
        if !tx.use_password_reset(&reset.id_digest, now)? {
            return Err(Refusal::ResetExpired.into());
        }
        tx.set_password_hash(&user_id, &hash, now)?;
        // An invitee who created the password from the activation carries on.
        tx.invitations_password_set(&user_id)?;
        tx.use_user_password_resets(&user_id, now)?;
        // A new password lifts the lockout, also one that only a reset lifts.
        tx.clear_sign_in_failures(Subject::person(&user_id).key())?;
        audit::record(tx, now, &ctx.origin, Subjects::person(&user_id), Event::PasswordReset)?;
        tx.delete_user_flows(&user_id)?;
        tx.end_user_sessions(&user_id, now)?;
        tx.revoke_user_grants(user_id.as_str(), now)?;
        enqueue(tx, ctx.keys, now, &notice, None)?;
        Ok(match &request {
            Some(request) => Finished::SignIn(signin::resume(tx, now, browser_id, request, user.email.as_str())?),
            None => Finished::Done,
        })
    })?;
    tracing::info!(user_id = %user_id, "password reset");
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset(method: Method, browser: &str, verified_at: Option<i64>) -> StoredReset {
        StoredReset {
            id_digest: "d".into(),
            browser_digest: sha256_hex(browser),
            user_id: Some(UserId::generate().as_str().to_owned()),
            method: method.stored().to_owned(),
            code_digest: None,
            attempts: 0,
            verified_at,
            request: None,
            created_at: 0,
            expires_at: 100,
            used_at: None,
        }
    }

    #[test]
    fn an_emailed_link_works_in_any_browser() {
        assert!(may_set_password(&reset(Method::EmailLink, "first", None), "second"));
        assert!(!awaits_code(&reset(Method::EmailLink, "first", None), "first"), "a link has no code");
    }

    #[test]
    fn an_sms_reset_sets_a_password_only_after_its_code_in_its_own_browser() {
        assert!(awaits_code(&reset(Method::SmsCode, "first", None), "first"));
        assert!(!awaits_code(&reset(Method::SmsCode, "first", None), "second"));
        assert!(!may_set_password(&reset(Method::SmsCode, "first", None), "first"), "not before the code");
        assert!(may_set_password(&reset(Method::SmsCode, "first", Some(5)), "first"));
        assert!(!may_set_password(&reset(Method::SmsCode, "first", Some(5)), "second"));
        assert!(!awaits_code(&reset(Method::SmsCode, "first", Some(5)), "first"), "a code is entered once");
    }

    #[test]
    fn only_ids_portti_could_have_made_are_looked_up() {
        assert!(well_formed(&random_token()));
        assert!(!well_formed("..%2F..%2Faccount%2Fsign-out-everywhere%3F"));
        assert!(!well_formed("../../account/sign-out-everywhere?/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(!well_formed(&"a".repeat(44)));
        assert!(!well_formed(""));
    }

    #[test]
    fn a_link_lives_thirty_minutes_and_a_code_ten() {
        assert_eq!(Method::EmailLink.lifetime(), 30 * 60);
        assert_eq!(Method::SmsCode.lifetime(), 10 * 60);
    }
}
