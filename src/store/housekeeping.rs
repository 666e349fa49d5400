//! Deleting what has run its course.

use diesel::prelude::*;

use super::Write;
use super::schema::{
    authorization_codes, browser_sessions, grants, login_flows, outbox, rate_limits, sign_in_failures,
};
use crate::error::Result;

impl Write<'_> {
    /// Deletes flows, codes, sessions and grants that ended before `cutoff`
    /// (a grant's codes and refresh tokens go with it), finished outbox rows
    /// older than `outbox_cutoff`, and stale throttle counters. Returns the rows deleted.
    pub fn delete_finished(&mut self, now: i64, cutoff: i64, outbox_cutoff: i64) -> Result<usize> {
        let mut deleted =
            diesel::delete(login_flows::table.filter(login_flows::expires_at.le(now))).execute(self.conn)?;
        deleted += diesel::delete(authorization_codes::table.filter(authorization_codes::expires_at.le(cutoff)))
            .execute(self.conn)?;
        deleted += diesel::delete(
            browser_sessions::table
                .filter(browser_sessions::expires_at.le(cutoff).or(browser_sessions::ended_at.le(cutoff))),
        )
        .execute(self.conn)?;
        deleted +=
            diesel::delete(grants::table.filter(grants::expires_at.le(cutoff).or(grants::revoked_at.le(cutoff))))
                .execute(self.conn)?;
        deleted += diesel::delete(
            outbox::table.filter(outbox::sent_at.le(outbox_cutoff).or(outbox::failed_at.le(outbox_cutoff))),
        )
        .execute(self.conn)?;
        deleted +=
            diesel::delete(rate_limits::table.filter(rate_limits::window_start.le(cutoff))).execute(self.conn)?;
        deleted += diesel::delete(
            sign_in_failures::table
                .filter(sign_in_failures::updated_at.le(cutoff))
                .filter(sign_in_failures::locked_until.is_null().or(sign_in_failures::locked_until.le(now))),
        )
        .execute(self.conn)?;
        Ok(deleted)
    }
}
