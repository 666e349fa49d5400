//! The account lockout and the per-address throttle of sign-in attempts.
//!
//! Every function takes the caller's open transaction, so counting an
//! attempt, checking it and saving what follows are one unit of work. A
//! refusal is an `Ok(Err(_))`: the transaction still commits, so what was
//! counted stays counted.
//!
//! Guessing never goes on for ever (OWASP ASVS 2.2.1, NIST SP 800-63B
//! §5.2.2): every `max_failures` failures lock the account, each lock twice
//! as long as the one before (up to a day), and after `max_consecutive_failures`
//! failures since the last full sign-in the account stays locked until a
//! password reset (or an administrator) lifts it. The person is told by
//! email of every lock.

use crate::clock::UnixSeconds;
use crate::config::SignInConfig;
use crate::crypto::Keys;
use crate::crypto::secret::sha256_hex;
use crate::domain::audit::{self, Event, Origin, Subjects};
use crate::domain::ids::UserId;
use crate::domain::notices;
use crate::domain::refusal::{Refusal, minutes};
use crate::error::Result;
use crate::i18n::{Texts, date_time};
use crate::metrics::{Metrics, SignInOutcome};
use crate::notify::Message;
use crate::store::Write;

/// The longest lock that runs out by itself.
pub const LONGEST_LOCK_SECONDS: i64 = 24 * 3600;

/// The `locked_until` of a lock that only a password reset or an
/// administrator lifts.
pub const UNTIL_LIFTED: UnixSeconds = i64::MAX;

/// Notices of a wrong second factor after a right password, at most this
/// often per person.
const SECOND_FACTOR_NOTICE_SECONDS: i64 = 3600;

/// The lockout's rules, where it reports, and the keys that seal the
/// notices it sends.
#[derive(Clone, Copy)]
pub struct Lockout<'a> {
    pub rules: &'a SignInConfig,
    pub metrics: &'a Metrics,
    pub keys: &'a Keys,
}

/// Whose failures are counted: an account, or an address with no account
/// (so that an unknown address locks exactly like a known one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    key: String,
    user: Option<UserId>,
}

impl Subject {
    /// The subject of a person, or of a typed email with no account.
    pub fn of(user: Option<&UserId>, email: &str) -> Self {
        match user {
            Some(id) => Self::person(id),
            None => Self { key: format!("email:{}", sha256_hex(email)), user: None },
        }
    }

    /// The subject of a person.
    pub fn person(user: &UserId) -> Self {
        Self { key: format!("user:{user}"), user: Some(user.clone()) }
    }

    /// The key its counters are stored under.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A password or code attempt, counted before it is checked.
#[derive(Debug)]
pub struct Attempt {
    subject: Subject,
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

/// How long the lock after `locks_before` earlier ones lasts: the first
/// `base_seconds`, each next one twice as long, up to a day.
pub fn lock_seconds(base_seconds: i64, locks_before: i32) -> i64 {
    let doublings = u32::try_from(locks_before.clamp(0, 16)).unwrap_or(16);
    base_seconds.saturating_mul(1 << doublings).min(LONGEST_LOCK_SECONDS)
}

/// Whether so many consecutive failures lock until a reset lifts the lock.
pub fn failures_block(consecutive: i32, max_consecutive: i32) -> bool {
    consecutive >= max_consecutive
}

/// What a lock refuses with: a lock that runs out, or one only a reset lifts.
fn refusal_for(locked_until: UnixSeconds) -> Refusal {
    if locked_until == UNTIL_LIFTED { Refusal::AccountLocked } else { Refusal::TooManyAttempts }
}

impl Lockout<'_> {
    /// Counts an attempt against an account before it is checked, and refuses
    /// it when the account is locked or concurrent attempts have passed the limit.
    pub fn begin_attempt(
        &self,
        tx: &mut Write<'_>,
        now: UnixSeconds,
        subject: &Subject,
    ) -> Result<Result<Attempt, Refusal>> {
        if let Some(until) = tx.locked_until(subject.key())?
            && is_locked(Some(until), now)
        {
            self.metrics.sign_in(SignInOutcome::Refused);
            return Ok(Err(refusal_for(until)));
        }
        let count = tx.record_sign_in_attempt(subject.key(), now, now - self.rules.lockout_seconds)?;
        if !attempt_allowed(count, self.rules.max_failures) {
            self.metrics.sign_in(SignInOutcome::Refused);
            return Ok(Err(Refusal::TooManyAttempts));
        }
        Ok(Ok(Attempt { subject: subject.clone(), count }))
    }

    /// The attempt failed. The one that reaches the limit locks the account,
    /// for longer each time, and for good past the cap of consecutive
    /// failures; the person is told, in `texts`' language.
    pub fn attempt_failed(
        &self,
        tx: &mut Write<'_>,
        now: UnixSeconds,
        attempt: Attempt,
        texts: Texts,
        origin: &Origin,
    ) -> Result<()> {
        let subject = attempt.subject.key();
        let consecutive = tx.count_consecutive_failure(subject)?;
        let until = if failures_block(consecutive, self.rules.max_consecutive_failures) {
            UNTIL_LIFTED
        } else if failure_locks(attempt.count, self.rules.max_failures) {
            let history = tx.lockout_history(subject)?;
            now + lock_seconds(self.rules.lockout_seconds, history.locks)
        } else {
            return Ok(());
        };
        tx.lock_sign_in(subject, until)?;
        self.metrics.lockout();
        let kind = subject.split(':').next().unwrap_or("");
        tracing::warn!(subject = kind, consecutive, lifted_only_by_a_reset = until == UNTIL_LIFTED, "account locked");
        let about = Subjects { user: attempt.subject.user.as_ref(), client: None, company: None };
        audit::record(tx, now, origin, about, Event::Locked { until_reset: until == UNTIL_LIFTED })?;
        if let Some(user) = &attempt.subject.user {
            let body = if until == UNTIL_LIFTED {
                texts.get("message.locked_until_reset_body").to_owned()
            } else {
                texts.fill(
                    "message.locked_body",
                    &[("minutes", minutes(until - now).to_string()), ("when", date_time(now))],
                )
            };
            let subject_line = texts.get("message.locked_subject").to_owned();
            notices::tell(tx, self.keys, now, user, |to| Message::Email {
                to: to.clone(),
                subject: subject_line,
                body,
            })?;
        }
        Ok(())
    }

    /// A right password, then a wrong authenticator or recovery code: the
    /// person is told (at most once an hour), in case someone else has their
    /// password.
    pub fn second_factor_failed(
        &self,
        tx: &mut Write<'_>,
        now: UnixSeconds,
        user: &UserId,
        texts: Texts,
    ) -> Result<()> {
        let bucket = format!("second-factor-notice:{user}");
        if tx.hit_rate_limit(&bucket, now, SECOND_FACTOR_NOTICE_SECONDS)? > 1 {
            return Ok(());
        }
        notices::tell(tx, self.keys, now, user, |to| {
            notices::about(&texts, to, now, "message.second_factor_subject", "message.second_factor_body")
        })
    }

    /// The attempt was right (a password, with the second factor still to
    /// come): it no longer counts, but the failures before it still do.
    pub fn attempt_passed(&self, tx: &mut Write<'_>, attempt: Attempt) -> Result<()> {
        tx.uncount_sign_in_attempt(attempt.subject.key())
    }

    /// Forgets the attempts, and lifts any lock, once the person has fully
    /// signed in (both factors) or reset their password: a right password
    /// alone must not reset the count of wrong codes.
    pub fn signed_in(&self, tx: &mut Write<'_>, subject: &Subject) -> Result<()> {
        tx.clear_sign_in_failures(subject.key())
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

/// Lifts a person's lock and forgets their failures, as an operator or
/// administrator does for someone who cannot reset their password. Returns
/// whether a lock was in force.
pub fn unlock(store: &crate::store::Store, now: UnixSeconds, user: &UserId) -> Result<bool> {
    let subject = Subject::person(user);
    store.write(|tx| {
        let was_locked = is_locked(tx.locked_until(subject.key())?, now);
        tx.clear_sign_in_failures(subject.key())?;
        audit::record(tx, now, &Origin::default(), Subjects::person(user), Event::Unlocked)?;
        Ok(was_locked)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_holds_until_its_time() {
        assert!(!is_locked(None, 100));
        assert!(is_locked(Some(101), 100));
        assert!(!is_locked(Some(100), 100), "a lock ends at its time");
        assert!(is_locked(Some(UNTIL_LIFTED), i64::MAX - 1));
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
    fn each_lock_lasts_twice_the_one_before_up_to_a_day() {
        let base = 30 * 60;
        let locks: Vec<i64> = (0..8).map(|before| lock_seconds(base, before)).collect();
        assert_eq!(locks, [1800, 3600, 7200, 14_400, 28_800, 57_600, 86_400, 86_400]);
        assert_eq!(lock_seconds(base, i32::MAX), LONGEST_LOCK_SECONDS, "no overflow");
        assert_eq!(lock_seconds(base, -1), base);
    }

    #[test]
    fn past_the_cap_of_consecutive_failures_only_a_reset_lifts_the_lock() {
        assert!(!failures_block(49, 50));
        assert!(failures_block(50, 50));
        assert_eq!(refusal_for(UNTIL_LIFTED), Refusal::AccountLocked);
        assert_eq!(refusal_for(1_000), Refusal::TooManyAttempts);
    }

    #[test]
    fn unknown_addresses_are_counted_by_digest_never_in_clear() {
        let subject = Subject::of(None, "maija@example.com");
        assert!(subject.key().starts_with("email:"));
        assert!(!subject.key().contains("maija"));
        let id = UserId::generate();
        assert_eq!(Subject::of(Some(&id), "ignored").key(), format!("user:{id}"));
        assert_eq!(Subject::person(&id), Subject::of(Some(&id), ""));
    }
}
