//! The account lockout and the per-address throttle of sign-in attempts.

use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::secret::sha256_hex;
use crate::domain::ids::UserId;
use crate::error::{Error, Result};
use crate::metrics::SignInOutcome;

/// Whose failures are counted: an account, or an address with no account
/// (so that an unknown address locks exactly like a known one).
pub fn account_subject(user_id: Option<&UserId>, email: &str) -> String {
    match user_id {
        Some(id) => format!("user:{id}"),
        None => format!("email:{}", sha256_hex(email)),
    }
}

/// A password or code attempt, counted before it is checked.
#[derive(Debug)]
pub struct Attempt {
    subject: String,
    count: i32,
}

/// Counts an attempt against an account before it is checked, and refuses it
/// when the account is locked or concurrent attempts have passed the limit.
pub fn begin_attempt(state: &AppState, now: UnixSeconds, subject: &str) -> Result<Attempt> {
    let settings = &state.settings.sign_in;
    if let Some(until) = state.store.read(|r| r.locked_until(subject))?
        && until > now
    {
        state.metrics.sign_in(SignInOutcome::Refused);
        return Err(Error::RateLimited);
    }
    let count = state.store.write(|tx| tx.record_sign_in_attempt(subject, now, now - settings.lockout_seconds))?;
    if count > settings.max_failures {
        state.metrics.sign_in(SignInOutcome::Refused);
        return Err(Error::RateLimited);
    }
    Ok(Attempt { subject: subject.to_owned(), count })
}

/// The attempt failed; the one that reaches the limit locks the account.
pub fn attempt_failed(state: &AppState, now: UnixSeconds, attempt: Attempt) -> Result<()> {
    let settings = &state.settings.sign_in;
    if attempt.count >= settings.max_failures {
        state.store.write(|tx| tx.lock_sign_in(&attempt.subject, now + settings.lockout_seconds))?;
        state.metrics.lockout();
        let kind = attempt.subject.split(':').next().unwrap_or("");
        tracing::warn!(subject = kind, "account locked after failed attempts");
    }
    Ok(())
}

/// The attempt was right (a password, with the second factor still to come):
/// it no longer counts, but the failures before it still do.
pub fn attempt_passed(state: &AppState, attempt: Attempt) -> Result<()> {
    state.store.write(|tx| tx.uncount_sign_in_attempt(&attempt.subject))
}

/// Forgets the attempts once the person has fully signed in (both factors):
/// a right password alone must not reset the count of wrong codes.
pub fn signed_in(state: &AppState, subject: &str) -> Result<()> {
    state.store.write(|tx| tx.clear_sign_in_failures(subject))
}

/// Checks a password as one attempt against the account's lockout. Without a
/// stored hash (no account, or no password yet) a decoy hash of the same cost
/// is checked, so the answer takes as long either way.
pub fn check_password(
    state: &AppState,
    now: UnixSeconds,
    subject: &str,
    stored: Option<&str>,
    password: &str,
) -> Result<bool> {
    let attempt = begin_attempt(state, now, subject)?;
    if crate::crypto::password::verify_password_or_decoy(password, stored)? {
        // Earlier failures stay counted (and the metrics count no success)
        // until a second factor is done too.
        attempt_passed(state, attempt)?;
        Ok(true)
    } else {
        state.metrics.sign_in(SignInOutcome::WrongPassword);
        attempt_failed(state, now, attempt)?;
        Ok(false)
    }
}

/// Counts an attempt from a client address; refuses past the per-minute limit.
pub fn check_address(state: &AppState, now: UnixSeconds, address: Option<&str>) -> Result<()> {
    let Some(address) = address else { return Ok(()) };
    let hits = state.store.write(|tx| tx.hit_rate_limit(&format!("sign-in:{address}"), now, 60))?;
    if hits > state.settings.sign_in.attempts_per_minute_per_address {
        state.metrics.sign_in(SignInOutcome::Refused);
        return Err(Error::RateLimited);
    }
    Ok(())
}
