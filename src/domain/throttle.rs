//! The account lockout and the per-address throttle of sign-in attempts.

use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::secret::sha256_hex;
use crate::domain::ids::UserId;
use crate::error::{Error, Result};

/// Whose failures are counted: an account, or an address with no account
/// (so that an unknown address locks exactly like a known one).
pub fn account_subject(user_id: Option<&UserId>, email: &str) -> String {
    match user_id {
        Some(id) => format!("user:{id}"),
        None => format!("email:{}", sha256_hex(email)),
    }
}

/// Refuses when the account is locked.
pub fn ensure_not_locked(state: &AppState, now: UnixSeconds, subject: &str) -> Result<()> {
    match state.store.read(|r| r.locked_until(subject))? {
        Some(until) if until > now => Err(Error::RateLimited),
        _ => Ok(()),
    }
}

/// Counts a failed password or code; the attempt that reaches the limit locks the account.
pub fn record_failure(state: &AppState, now: UnixSeconds, subject: &str) -> Result<()> {
    let settings = &state.settings.sign_in;
    let failures = state
        .store
        .write(|tx| tx.record_sign_in_failure(subject, now, settings.max_failures, now + settings.lockout_seconds))?;
    if failures >= settings.max_failures {
        tracing::warn!(subject = %subject.split(':').next().unwrap_or(""), "account locked after failed attempts");
    }
    Ok(())
}

/// Forgets the failures after a success.
pub fn record_success(state: &AppState, subject: &str) -> Result<()> {
    state.store.write(|tx| tx.clear_sign_in_failures(subject))
}

/// Counts an attempt from a client address; refuses past the per-minute limit.
pub fn check_address(state: &AppState, now: UnixSeconds, address: Option<&str>) -> Result<()> {
    let Some(address) = address else { return Ok(()) };
    let hits = state.store.write(|tx| tx.hit_rate_limit(&format!("sign-in:{address}"), now, 60))?;
    if hits > state.settings.sign_in.attempts_per_minute_per_address {
        return Err(Error::RateLimited);
    }
    Ok(())
}
