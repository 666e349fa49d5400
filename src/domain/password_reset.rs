//! "Forgot your password?": a reset by an emailed link (single use, 30
//! minutes) or by a 6-digit SMS code to the communication phone (10 minutes,
//! 5 attempts). The answer is the same whether or not the account exists. A
//! reset changes the password only: the authenticator still guards the next
//! sign-in, and every session and refresh token of the person ends.

use std::time::{Duration, UNIX_EPOCH};

use super::authorization::AuthorizationRequest;
use super::contact::Email;
use super::ids::UserId;
use super::password_policy::check_new_password;
use super::signin;
use super::throttle;
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::password;
use crate::crypto::secret::{random_bytes, random_token, sha256_hex};
use crate::error::{Error, Result};
use crate::notify::{Message, enqueue};
use crate::store::StoredReset;

/// How long an emailed reset link works.
pub const LINK_SECONDS: i64 = 30 * 60;
/// How long an SMS reset code works.
pub const CODE_SECONDS: i64 = 10 * 60;
/// Wrong SMS codes allowed per reset.
pub const CODE_ATTEMPTS: i32 = 5;
/// Resets one email address may ask for per hour.
const RESETS_PER_HOUR: i32 = 5;

/// How the person wants to continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    EmailLink,
    SmsCode,
}

/// What a started reset leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// "Check your email" (whether or not a message was sent).
    LinkSent,
    /// The page that asks for the SMS code: `/password/reset/{id}/code`.
    CodeSent { reset_id: String },
}

fn code_context(id_digest: &str) -> String {
    format!("password-reset:{id_digest}")
}

/// Starts a reset. Known or not, the address gets the same answer; only a
/// known account gets a message. `request` is the sign-in it started from.
pub fn start(
    state: &AppState,
    now: UnixSeconds,
    browser_id: &str,
    email: &str,
    method: Method,
    request: Option<&AuthorizationRequest>,
    address: Option<&str>,
) -> Result<Started> {
    let email = Email::parse(email)?;
    throttle::check_address(state, now, address)?;
    // Past the hourly limit of an address nothing more is sent, but the
    // answer stays the same: the limit must not lock the person out, nor tell
    // anything about the address.
    let bucket = format!("reset:{}", state.keys.code_digest("reset-limit", email.as_str())?);
    let within_limit = state.store.write(|tx| tx.hit_rate_limit(&bucket, now, 3600))? <= RESETS_PER_HOUR;
    // Both lookups happen whether or not the address has an account.
    let id = state.store.read(|r| r.user_id_by_email(&email))?.unwrap_or_else(UserId::generate);
    let user = state.store.read(|r| r.user(&id))?.filter(|_| within_limit);
    let reset_id = random_token();
    let id_digest = sha256_hex(&reset_id);
    let (lifetime, code) = match method {
        Method::EmailLink => (LINK_SECONDS, None),
        Method::SmsCode => (CODE_SECONDS, Some(six_digits())),
    };
    let reset = StoredReset {
        id_digest: id_digest.clone(),
        browser_digest: sha256_hex(browser_id),
        user_id: user.as_ref().map(|u| u.id.as_str().to_owned()),
        method: match method {
            Method::EmailLink => "email",
            Method::SmsCode => "sms",
        }
        .to_owned(),
        code_digest: code.as_deref().map(|c| state.keys.code_digest(&code_context(&id_digest), c)).transpose()?,
        attempts: 0,
        verified_at: None,
        request: request.map(serde_json::to_string).transpose().map_err(Error::internal)?,
        created_at: now,
        expires_at: now + lifetime,
        used_at: None,
    };
    let message = match (&user, method, &code) {
        (Some(user), Method::EmailLink, _) => Some(Message::Email {
            to: user.communication.email.clone(),
            subject: "Reset your password".to_owned(),
            body: format!(
                "Someone asked to reset the password of your account.\n\n\
                 To choose a new password, open this link within 30 minutes:\n{}/password/reset/{reset_id}\n\n\
                 If it was not you, ignore this message: your password stays as it is.\n",
                state.settings.issuer
            ),
        }),
        (Some(user), Method::SmsCode, Some(code)) => user.communication.phone.clone().map(|to| Message::Sms {
            to,
            text: format!("Your verification code is {code}. It is valid for 10 minutes."),
        }),
        _ => None,
    };
    state.store.write(|tx| {
        tx.insert_password_reset(&reset)?;
        match &message {
            Some(message) => {
                enqueue(tx, &state.keys, now, message, Some(now + lifetime))?;
            }
            // The same work (sealing a message, a second write) without a
            // message, so the answer takes as long as for a real account.
            None => {
                state.keys.seal("decoy", reset.id_digest.as_bytes())?;
                tx.hit_rate_limit("reset:decoy", now, 3600)?;
            }
        }
        Ok(())
    })?;
    state.outbox_wake.notify_one();
    Ok(match method {
        Method::EmailLink => Started::LinkSent,
        Method::SmsCode => Started::CodeSent { reset_id },
    })
}

fn six_digits() -> String {
    let n = u32::from_le_bytes(random_bytes::<4>()) % 1_000_000;
    format!("{n:06}")
}

const CODE_NOT_RIGHT: &str = "That code is not right, or it has expired.";

/// Checks the SMS code of a reset; five wrong codes end the reset.
pub fn verify_code(state: &AppState, now: UnixSeconds, reset_id: &str, browser_id: &str, code: &str) -> Result<()> {
    let id_digest = sha256_hex(reset_id);
    let reset = load(state, now, &id_digest)?;
    if reset.method != "sms" || reset.browser_digest != sha256_hex(browser_id) || reset.verified_at.is_some() {
        return Err(Error::NotFound("password reset"));
    }
    let attempts = state.store.write(|tx| tx.count_reset_attempt(&id_digest))?;
    if attempts > CODE_ATTEMPTS {
        return Err(Error::InvalidRequest(
            "Too many wrong codes. Go back to the sign-in and ask for a new code.".to_owned(),
        ));
    }
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    let presented = state.keys.code_digest(&code_context(&id_digest), &code)?;
    let matches = reset.code_digest.as_deref().is_some_and(|stored| {
        use subtle::ConstantTimeEq;
        stored.as_bytes().ct_eq(presented.as_bytes()).into()
    });
    // A reset of an unknown address has a code too, which nobody was sent.
    if !matches || reset.user_id.is_none() {
        return Err(Error::InvalidRequest(CODE_NOT_RIGHT.to_owned()));
    }
    state.store.write(|tx| {
        tx.verify_password_reset(&id_digest, now)?;
        // Ten minutes from the code to choose the new password.
        tx.extend_password_reset(&id_digest, now + CODE_SECONDS)
    })
}

fn load(state: &AppState, now: UnixSeconds, id_digest: &str) -> Result<StoredReset> {
    match state.store.read(|r| r.password_reset(id_digest))? {
        Some(reset) if reset.used_at.is_none() && reset.expires_at > now => Ok(reset),
        _ => Err(Error::NotFound("password reset")),
    }
}

/// The reset that may set a password now: an emailed link (from any
/// browser), or an SMS reset whose code was verified in this browser.
fn usable(state: &AppState, now: UnixSeconds, reset_id: &str, browser_id: &str) -> Result<(StoredReset, UserId)> {
    let reset = load(state, now, &sha256_hex(reset_id))?;
    let allowed = match reset.method.as_str() {
        "email" => true,
        _ => reset.verified_at.is_some() && reset.browser_digest == sha256_hex(browser_id),
    };
    match (allowed, reset.user_id.clone()) {
        (true, Some(user_id)) => Ok((reset, UserId::from_stored(user_id))),
        _ => Err(Error::NotFound("password reset")),
    }
}

/// Whether the reset may set a password now (to show its form).
pub fn check(state: &AppState, now: UnixSeconds, reset_id: &str, browser_id: &str) -> Result<()> {
    usable(state, now, reset_id, browser_id).map(|_| ())
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
pub fn set_password(
    state: &AppState,
    now: UnixSeconds,
    reset_id: &str,
    browser_id: &str,
    new_password: &str,
    confirmation: &str,
) -> Result<Finished> {
    let (reset, user_id) = usable(state, now, reset_id, browser_id)?;
    if new_password != confirmation {
        return Err(Error::InvalidRequest("The passwords do not match.".to_owned()));
    }
    let user = state.store.read(|r| r.user(&user_id))?.ok_or(Error::NotFound("password reset"))?;
    check_new_password(new_password, &[user.email.as_str(), &user.name])?;
    let hash = password::hash_password(new_password)?;
    let changed_at = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    let notice = Message::Email {
        to: user.communication.email.clone(),
        subject: "Your password was changed".to_owned(),
        body: format!(
            "The password of your account was changed on {changed_at}.\n\n\
             If you did not do this, contact your administrator at once.\n"
        ),
    };
    state.store.write(|tx| {
        if !tx.use_password_reset(&reset.id_digest, now)? {
            return Err(Error::NotFound("password reset"));
        }
        tx.set_password_hash(&user_id, &hash, now)?;
        tx.use_user_password_resets(&user_id, now)?;
        tx.delete_user_flows(&user_id)?;
        tx.end_user_sessions(&user_id, now)?;
        tx.revoke_user_grants(user_id.as_str(), now)?;
        enqueue(tx, &state.keys, now, &notice, None)?;
        Ok(())
    })?;
    state.outbox_wake.notify_one();
    tracing::info!(user_id = %user_id, "password reset");
    let request: Option<AuthorizationRequest> =
        reset.request.as_deref().map(serde_json::from_str).transpose().map_err(Error::internal)?;
    match request {
        Some(request) => Ok(Finished::SignIn(signin::resume(state, now, browser_id, &request, user.email.as_str())?)),
        None => Ok(Finished::Done),
    }
}
