//! The first run's links to create the first customer-service account.

use diesel::prelude::*;

use super::housekeeping::{KEEP_ENDED_SECONDS, Sweep};
use super::schema::{setup_links, users};
use super::{Read, Write};
use crate::error::Result;

impl Read<'_> {
    /// Whether the database has any user at all.
    pub fn has_users(&mut self) -> Result<bool> {
        Ok(diesel::select(diesel::dsl::exists(users::table.select(users::id))).get_result(self.conn)?)
    }

    /// Whether a setup link is unused and unexpired at `now`.
    pub fn setup_link_usable(&mut self, id_digest: &str, now: i64) -> Result<bool> {
        let found: Option<(i64, Option<i64>)> = setup_links::table
            .find(id_digest)
            .select((setup_links::expires_at, setup_links::used_at))
            .get_result(self.conn)
            .optional()?;
        Ok(found.is_some_and(|(expires_at, used_at)| used_at.is_none() && expires_at > now))
    }
}

impl Write<'_> {
    pub fn insert_setup_link(&mut self, id_digest: &str, now: i64, expires_at: i64) -> Result<()> {
        diesel::insert_into(setup_links::table)
            .values((
                setup_links::id_digest.eq(id_digest),
                setup_links::created_at.eq(now),
                setup_links::expires_at.eq(expires_at),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Uses a setup link; false when it was used, expired or never made.
    pub fn use_setup_link(&mut self, id_digest: &str, now: i64) -> Result<bool> {
        let used = diesel::update(
            setup_links::table
                .find(id_digest)
                .filter(setup_links::used_at.is_null())
                .filter(setup_links::expires_at.gt(now)),
        )
        .set(setup_links::used_at.eq(now))
        .execute(self.conn)?;
        Ok(used == 1)
    }
}

/// Links that expired a day ago.
pub(super) const SWEEP: Sweep = Sweep { tables: &["setup_links"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let expired = setup_links::table.filter(setup_links::expires_at.le(now - KEEP_ENDED_SECONDS));
    Ok(diesel::delete(expired).execute(tx.conn)?)
}
