//! Counters for the account lockout and the per-address rate limits, kept in
//! the database so that every instance sees the same numbers.
//!
//! Each count is one atomic upsert (`INSERT … ON CONFLICT DO UPDATE …
//! RETURNING`), so concurrent requests on several instances neither lose a
//! count nor fail on a duplicate key.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use super::housekeeping::{KEEP_ENDED_SECONDS, Sweep};
use super::schema::{rate_limits, sign_in_failures};
use super::{DbConnection, Read, Write};
use crate::error::Result;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    count: i32,
}

/// Counts an attempt. The count starts afresh once a lock has run out, or
/// when the last attempt is older than the window.
const ATTEMPT_SQLITE: &str = "INSERT INTO sign_in_failures (subject, failures, locked_until, updated_at) \
     VALUES (?1, 1, NULL, ?2) ON CONFLICT (subject) DO UPDATE SET \
     failures = CASE WHEN sign_in_failures.updated_at <= ?3 OR sign_in_failures.locked_until <= ?2 \
         THEN 1 ELSE sign_in_failures.failures + 1 END, \
     locked_until = CASE WHEN sign_in_failures.locked_until <= ?2 THEN NULL ELSE sign_in_failures.locked_until END, \
     updated_at = ?2 RETURNING failures AS count";
const ATTEMPT_POSTGRES: &str = "INSERT INTO sign_in_failures (subject, failures, locked_until, updated_at) \
     VALUES ($1, 1, NULL, $2) ON CONFLICT (subject) DO UPDATE SET \
     failures = CASE WHEN sign_in_failures.updated_at <= $3 OR sign_in_failures.locked_until <= $2 \
         THEN 1 ELSE sign_in_failures.failures + 1 END, \
     locked_until = CASE WHEN sign_in_failures.locked_until <= $2 THEN NULL ELSE sign_in_failures.locked_until END, \
     updated_at = $2 RETURNING failures AS count";

/// Counts a hit in the window starting at the second parameter; a stored
/// window that started before the third (the same instant) is stale.
const HIT_SQLITE: &str = "INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?1, ?2, 1) \
     ON CONFLICT (bucket) DO UPDATE SET \
     hits = CASE WHEN rate_limits.window_start >= ?3 THEN rate_limits.hits + 1 ELSE 1 END, \
     window_start = excluded.window_start RETURNING hits AS count";
const HIT_POSTGRES: &str = "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
     ON CONFLICT (bucket) DO UPDATE SET \
     hits = CASE WHEN rate_limits.window_start >= $3 THEN rate_limits.hits + 1 ELSE 1 END, \
     window_start = excluded.window_start RETURNING hits AS count";

/// Runs a counting upsert with a text key and two numbers, on either backend.
fn upsert_count(conn: &mut DbConnection, sqlite: &str, postgres: &str, key: &str, numbers: [i64; 2]) -> Result<i32> {
    let row: Count = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sqlite)
            .bind::<Text, _>(key)
            .bind::<BigInt, _>(numbers[0])
            .bind::<BigInt, _>(numbers[1])
            .get_result(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(postgres)
            .bind::<Text, _>(key)
            .bind::<BigInt, _>(numbers[0])
            .bind::<BigInt, _>(numbers[1])
            .get_result(c)?,
    };
    Ok(row.count)
}

/// What the lockout remembers of a subject since its last full sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockoutHistory {
    pub locked_until: Option<i64>,
    /// Locks so far: each lasts twice the one before.
    pub locks: i32,
    /// Failures so far, never forgotten by the window.
    pub consecutive: i32,
}

impl Read<'_> {
    /// The subject's lockout history; all zero for a subject never refused.
    pub fn lockout_history(&mut self, subject: &str) -> Result<LockoutHistory> {
        use sign_in_failures::dsl as f;
        let row = f::sign_in_failures
            .find(subject)
            .select((f::locked_until, f::locks, f::consecutive))
            .get_result::<(Option<i64>, i32, i32)>(self.conn)
            .optional()?;
        Ok(row
            .map(|(locked_until, locks, consecutive)| LockoutHistory { locked_until, locks, consecutive })
            .unwrap_or_default())
    }

    /// The hits counted in the fixed window of `window_seconds` that holds
    /// `now`, without counting one.
    pub fn rate_limit_hits(&mut self, bucket: &str, now: i64, window_seconds: i64) -> Result<i32> {
        let window_start = now - now.rem_euclid(window_seconds);
        let hits = rate_limits::table
            .find(bucket)
            .filter(rate_limits::window_start.ge(window_start))
            .select(rate_limits::hits)
            .get_result::<i32>(self.conn)
            .optional()?;
        Ok(hits.unwrap_or(0))
    }

    /// Until when the subject is locked, if it is.
    pub fn locked_until(&mut self, subject: &str) -> Result<Option<i64>> {
        Ok(sign_in_failures::table
            .find(subject)
            .select(sign_in_failures::locked_until)
            .get_result::<Option<i64>>(self.conn)
            .optional()?
            .flatten())
    }
}

impl Write<'_> {
    /// Counts a sign-in attempt before it is checked, so concurrent attempts
    /// cannot all slip under the limit; attempts older than `window_start`
    /// are forgotten. Returns the attempts counted, this one included.
    pub fn record_sign_in_attempt(&mut self, subject: &str, now: i64, window_start: i64) -> Result<i32> {
        upsert_count(self.conn, ATTEMPT_SQLITE, ATTEMPT_POSTGRES, subject, [now, window_start])
    }

    /// Uncounts one attempt that turned out right.
    pub fn uncount_sign_in_attempt(&mut self, subject: &str) -> Result<()> {
        diesel::update(sign_in_failures::table.find(subject).filter(sign_in_failures::failures.gt(0)))
            .set(sign_in_failures::failures.eq(sign_in_failures::failures - 1))
            .execute(self.conn)?;
        Ok(())
    }

    /// Locks the subject until `until`, counting the lock.
    pub fn lock_sign_in(&mut self, subject: &str, until: i64) -> Result<()> {
        diesel::update(sign_in_failures::table.find(subject))
            .set((sign_in_failures::locked_until.eq(until), sign_in_failures::locks.eq(sign_in_failures::locks + 1)))
            .execute(self.conn)?;
        Ok(())
    }

    /// Counts a failure among the subject's consecutive ones (those since its
    /// last full sign-in, whatever the window); returns them, this one included.
    pub fn count_consecutive_failure(&mut self, subject: &str) -> Result<i32> {
        Ok(diesel::update(sign_in_failures::table.find(subject))
            .set(sign_in_failures::consecutive.eq(sign_in_failures::consecutive + 1))
            .returning(sign_in_failures::consecutive)
            .get_result::<i32>(self.conn)
            .optional()?
            .unwrap_or(0))
    }

    /// Forgets the failures of a subject after a success.
    pub fn clear_sign_in_failures(&mut self, subject: &str) -> Result<()> {
        diesel::delete(sign_in_failures::table.find(subject)).execute(self.conn)?;
        Ok(())
    }

    /// Counts a hit in the fixed window of `window_seconds` that holds `now`;
    /// returns the hits in that window, this one included.
    pub fn hit_rate_limit(&mut self, bucket: &str, now: i64, window_seconds: i64) -> Result<i32> {
        let window_start = now - now.rem_euclid(window_seconds);
        upsert_count(self.conn, HIT_SQLITE, HIT_POSTGRES, bucket, [window_start, window_start])
    }
}

/// How long the history of a subject that was locked is kept after its last
/// attempt: long enough that waiting out a lock does not reset the escalation.
const KEEP_LOCK_HISTORY_SECONDS: i64 = 30 * 24 * 3600;

/// Rate-limit windows that started, and failure counts last touched,
/// [`KEEP_ENDED_SECONDS`] ago; a subject with failures since its last full
/// sign-in (locked or not: guessing just under the lock must not be
/// forgotten either), 30 days; a count whose lock still runs is kept.
pub(super) const SWEEP: Sweep = Sweep { tables: &["rate_limits", "sign_in_failures"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    use sign_in_failures::dsl as f;
    let ended = now - KEEP_ENDED_SECONDS;
    let windows = diesel::delete(rate_limits::table.filter(rate_limits::window_start.le(ended))).execute(tx.conn)?;
    let not_locked = f::locked_until.is_null().or(f::locked_until.le(now));
    let without_failures = diesel::delete(
        f::sign_in_failures
            .filter(not_locked)
            .filter(f::locks.eq(0))
            .filter(f::consecutive.eq(0))
            .filter(f::updated_at.le(ended)),
    )
    .execute(tx.conn)?;
    let not_locked = f::locked_until.is_null().or(f::locked_until.le(now));
    let once_locked = diesel::delete(
        f::sign_in_failures.filter(not_locked).filter(f::updated_at.le(now - KEEP_LOCK_HISTORY_SECONDS)),
    )
    .execute(tx.conn)?;
    Ok(windows + without_failures + once_locked)
}
