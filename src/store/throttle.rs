//! Counters for the account lockout and the per-address rate limits, kept in
//! the database so that every instance sees the same numbers.
//!
//! Each count is one atomic upsert (`INSERT … ON CONFLICT DO UPDATE …
//! RETURNING`), so concurrent requests on several instances neither lose a
//! count nor fail on a duplicate key.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use super::schema::sign_in_failures;
use super::{DbConnection, Read, Write};
use crate::error::Result;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    count: i32,
}

const FAILURE_SQLITE: &str = "INSERT INTO sign_in_failures (subject, failures, locked_until, updated_at) \
     VALUES (?1, 1, NULL, ?2) ON CONFLICT (subject) DO UPDATE SET \
     failures = sign_in_failures.failures + 1, updated_at = excluded.updated_at RETURNING failures AS count";
const FAILURE_POSTGRES: &str = "INSERT INTO sign_in_failures (subject, failures, locked_until, updated_at) \
     VALUES ($1, 1, NULL, $2) ON CONFLICT (subject) DO UPDATE SET \
     failures = sign_in_failures.failures + 1, updated_at = excluded.updated_at RETURNING failures AS count";

const HIT_SQLITE: &str = "INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?1, ?2, 1) \
     ON CONFLICT (bucket) DO UPDATE SET \
     hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END, \
     window_start = excluded.window_start RETURNING hits AS count";
const HIT_POSTGRES: &str = "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
     ON CONFLICT (bucket) DO UPDATE SET \
     hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END, \
     window_start = excluded.window_start RETURNING hits AS count";

/// Runs a counting upsert with a text key and a number, on either backend.
fn upsert_count(conn: &mut DbConnection, sqlite: &str, postgres: &str, key: &str, number: i64) -> Result<i32> {
    let row: Count = match conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query(sqlite).bind::<Text, _>(key).bind::<BigInt, _>(number).get_result(c)?
        }
        DbConnection::Postgresql(c) => {
            diesel::sql_query(postgres).bind::<Text, _>(key).bind::<BigInt, _>(number).get_result(c)?
        }
    };
    Ok(row.count)
}

impl Read<'_> {
    /// Until when the subject is locked, if it is.
    pub fn locked_until(&mut self, subject: &str) -> Result<Option<i64>> {
        Ok(sign_in_failures::table
            .find(subject)
            .select(sign_in_failures::locked_until)
            .first::<Option<i64>>(self.conn)
            .optional()?
            .flatten())
    }
}

impl Write<'_> {
    /// Counts a failure; at `limit` failures, locks the subject until
    /// `lock_until` and starts counting afresh. Returns the failures counted.
    pub fn record_sign_in_failure(&mut self, subject: &str, now: i64, limit: i32, lock_until: i64) -> Result<i32> {
        let failures = upsert_count(self.conn, FAILURE_SQLITE, FAILURE_POSTGRES, subject, now)?;
        if failures >= limit {
            diesel::update(sign_in_failures::table.find(subject))
                .set((sign_in_failures::failures.eq(0), sign_in_failures::locked_until.eq(lock_until)))
                .execute(self.conn)?;
        }
        Ok(failures)
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
        upsert_count(self.conn, HIT_SQLITE, HIT_POSTGRES, bucket, window_start)
    }
}
