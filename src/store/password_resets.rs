//! Password resets in progress.

use diesel::prelude::*;

use super::housekeeping::{KEEP_ENDED_SECONDS, Sweep};
use super::schema::{password_resets, users};
use super::{Read, Write};
use crate::domain::ids::UserId;
use crate::error::Result;

/// A password reset as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = password_resets)]
pub struct StoredReset {
    pub id_digest: String,
    pub browser_digest: String,
    pub user_id: Option<String>,
    pub method: String,
    pub code_digest: Option<String>,
    pub attempts: i32,
    pub verified_at: Option<i64>,
    pub request: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Read<'_> {
    pub fn password_reset(&mut self, id_digest: &str) -> Result<Option<StoredReset>> {
        Ok(password_resets::table.find(id_digest).select(StoredReset::as_select()).get_result(self.conn).optional()?)
    }
}

impl Write<'_> {
    pub fn insert_password_reset(&mut self, reset: &StoredReset) -> Result<()> {
        diesel::insert_into(password_resets::table).values(reset).execute(self.conn)?;
        Ok(())
    }

    /// Counts a code attempt; returns the attempts so far, this one included.
    pub fn count_reset_attempt(&mut self, id_digest: &str) -> Result<i32> {
        diesel::update(password_resets::table.find(id_digest))
            .set(password_resets::attempts.eq(password_resets::attempts + 1))
            .execute(self.conn)?;
        Ok(password_resets::table.find(id_digest).select(password_resets::attempts).get_result(self.conn)?)
    }

    pub fn verify_password_reset(&mut self, id_digest: &str, now: i64) -> Result<()> {
        diesel::update(password_resets::table.find(id_digest))
            .set(password_resets::verified_at.eq(now))
            .execute(self.conn)?;
        Ok(())
    }

    /// Uses a reset; false when it was used already.
    pub fn use_password_reset(&mut self, id_digest: &str, now: i64) -> Result<bool> {
        let updated = diesel::update(password_resets::table.find(id_digest).filter(password_resets::used_at.is_null()))
            .set(password_resets::used_at.eq(now))
            .execute(self.conn)?;
        Ok(updated == 1)
    }

    /// Ends every open reset of a user (once the password has changed).
    pub fn use_user_password_resets(&mut self, user_id: &UserId, now: i64) -> Result<()> {
        diesel::update(
            password_resets::table
                .filter(password_resets::user_id.eq(user_id.as_str()))
                .filter(password_resets::used_at.is_null()),
        )
        .set(password_resets::used_at.eq(now))
        .execute(self.conn)?;
        Ok(())
    }

    /// Gives a verified SMS reset `until` to set the new password.
    pub fn extend_password_reset(&mut self, id_digest: &str, until: i64) -> Result<()> {
        diesel::update(password_resets::table.find(id_digest))
            .set(password_resets::expires_at.eq(until))
            .execute(self.conn)?;
        Ok(())
    }

    pub fn set_password_hash(&mut self, user_id: &UserId, hash: &str, now: i64) -> Result<()> {
        diesel::update(users::table.find(user_id.as_str()))
            .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
            .execute(self.conn)?;
        Ok(())
    }
}

/// Resets that expired or were used [`KEEP_ENDED_SECONDS`] ago, with or
/// without an account: every request adds a row, even for an unknown email.
pub(super) const SWEEP: Sweep = Sweep { tables: &["password_resets"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let ended = now - KEEP_ENDED_SECONDS;
    Ok(diesel::delete(
        password_resets::table.filter(password_resets::expires_at.le(ended).or(password_resets::used_at.le(ended))),
    )
    .execute(tx.conn)?)
}
