//! The account lockout and the per-address throttle of sign-in attempts.
//!
//! Every function takes the caller's open transaction, so counting an
//! attempt, checking it and saving what follows are one unit of work. A
//! refusal is an `Ok(Err(_))`: the transaction still commits, so what was
//! counted stays counted.

use crate::clock::UnixSeconds;
use crate::config::SignInConfig;
use crate::crypto::secret::sha256_hex;
use crate::domain::ids::UserId;
use crate::domain::refusal::Refusal;
use crate::error::Result;
use crate::metrics::{Metrics, SignInOutcome};
use crate::store::Write;

/// The lockout's rules and where it reports.
#[derive(Clone, Copy)]
pub struct Lockout<'a> {
    pub rules: &'a SignInConfig,
    pub metrics: &'a Metrics,
}

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

/// Whether a lock stored as `locked_until` still holds at `now`.
pub fn is_locked(locked_until: Option<UnixSeconds>, now: UnixSeconds) -> bool {
    locked_until.is_some_and(|until| until > now)
}

/// Whether the attempt numbered `count` (this one included) may be checked.
pub fn attempt_allowed(count: i32, max_failures: i32) -> bool {
    count <= max_failures
}

/// Whether a failed attempt numbered `count` locks the account.
pub fn failure_locks(count: i32, max_failures: i32) -> bool {
    count >= max_failures
}

impl Lockout<'_> {
    /// Counts an attempt against an account before it is checked, and refuses
    /// it when the account is locked or concurrent attempts have passed the limit.
    pub fn begin_attempt(
        &self,
        tx: &mut Write<'_>,
        now: UnixSeconds,
        subject: &str,
    ) -> Result<Result<Attempt, Refusal>> {
        if is_locked(tx.locked_until(subject)?, now) {
            self.metrics.sign_in(SignInOutcome::Refused);
            return Ok(Err(Refusal::TooManyAttempts));
        }
        let count = tx.record_sign_in_attempt(subject, now, now - self.rules.lockout_seconds)?;
        if !attempt_allowed(count, self.rules.max_failures) {
            self.metrics.sign_in(SignInOutcome::Refused);
            return Ok(Err(Refusal::TooManyAttempts));
        }
        Ok(Ok(Attempt { subject: subject.to_owned(), count }))
    }

    /// The attempt failed; the one that reaches the limit locks the account.
    pub fn attempt_failed(&self, tx: &mut Write<'_>, now: UnixSeconds, attempt: Attempt) -> Result<()> {
        if failure_locks(attempt.count, self.rules.max_failures) {
            tx.lock_sign_in(&attempt.subject, now + self.rules.lockout_seconds)?;
            self.metrics.lockout();
            let kind = attempt.subject.split(':').next().unwrap_or("");
            tracing::warn!(subject = kind, "account locked after failed attempts");
        }
        Ok(())
    }

    /// The attempt was right (a password, with the second factor still to
    /// come): it no longer counts, but the failures before it still do.
    pub fn attempt_passed(&self, tx: &mut Write<'_>, attempt: Attempt) -> Result<()> {
        tx.uncount_sign_in_attempt(&attempt.subject)
    }

    /// Forgets the attempts once the person has fully signed in (both
    /// factors): a right password alone must not reset the count of wrong codes.
    pub fn signed_in(&self, tx: &mut Write<'_>, subject: &str) -> Result<()> {
        tx.clear_sign_in_failures(subject)
    }

    /// Counts an attempt from a client address; refuses past the per-minute limit.
    pub fn check_address(
        &self,
        tx: &mut Write<'_>,
        now: UnixSeconds,
        address: Option<&str>,
    ) -> Result<Result<(), Refusal>> {
        let Some(address) = address else { return Ok(Ok(())) };
        let hits = tx.hit_rate_limit(&format!("sign-in:{address}"), now, 60)?;
        if hits > self.rules.attempts_per_minute_per_address {
            self.metrics.sign_in(SignInOutcome::Refused);
            return Ok(Err(Refusal::TooManyAttempts));
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_holds_until_its_time() {
        assert!(!is_locked(None, 100));
        assert!(is_locked(Some(101), 100));
        assert!(!is_locked(Some(100), 100), "a lock ends at its time");
    }

    #[test]
    fn the_attempt_that_reaches_the_limit_locks_and_later_ones_are_refused() {
        let max = 8;
        assert!(attempt_allowed(8, max));
        assert!(!attempt_allowed(9, max), "concurrent attempts past the limit are refused unchecked");
        assert!(!failure_locks(7, max));
        assert!(failure_locks(8, max));
    }

    #[test]
    fn unknown_addresses_are_counted_by_digest_never_in_clear() {
        let subject = account_subject(None, "maija@example.com");
        assert!(subject.starts_with("email:"));
        assert!(!subject.contains("maija"));
        let id = UserId::generate();
        assert_eq!(account_subject(Some(&id), "ignored"), format!("user:{id}"));
    }
}
