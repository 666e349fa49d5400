//! Browser sessions and sign-in flows.

use diesel::prelude::*;

use super::schema::{browser_sessions, login_flows};
use super::{Read, Write};
use crate::domain::ids::UserId;
use crate::error::Result;

/// A browser session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = browser_sessions)]
pub struct StoredSession {
    pub id_digest: String,
    pub public_id: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// `None` for a strong identification whose upstream sent no `acr`.
    pub acr: Option<String>,
}

/// A sign-in flow as stored: the application's request and the flow's
/// state, both JSON, and the version its last save left.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_flows)]
pub struct StoredFlow {
    pub id_digest: String,
    pub browser_digest: String,
    pub request: String,
    pub state: String,
    pub version: i32,
    /// Who the flow has authenticated so far, if anyone.
    pub user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Where a sign-in to Portti's own pages ends (`None`: the account page).
    pub destination: Option<String>,
}

impl Read<'_> {
    pub fn session(&mut self, id_digest: &str) -> Result<Option<StoredSession>> {
        Ok(browser_sessions::table
            .find(id_digest)
            .select(StoredSession::as_select())
            .get_result(self.conn)
            .optional()?)
    }

    pub fn session_by_public_id(&mut self, public_id: &str) -> Result<Option<StoredSession>> {
        Ok(browser_sessions::table
            .filter(browser_sessions::public_id.eq(public_id))
            .select(StoredSession::as_select())
            .get_result(self.conn)
            .optional()?)
    }

    pub fn flow(&mut self, id_digest: &str) -> Result<Option<StoredFlow>> {
        Ok(login_flows::table.find(id_digest).select(StoredFlow::as_select()).get_result(self.conn).optional()?)
    }
}

impl Write<'_> {
    pub fn insert_session(&mut self, session: &StoredSession) -> Result<()> {
        diesel::insert_into(browser_sessions::table)
            .values((
                browser_sessions::id_digest.eq(&session.id_digest),
                browser_sessions::public_id.eq(&session.public_id),
                browser_sessions::user_id.eq(&session.user_id),
                browser_sessions::auth_time.eq(session.auth_time),
                browser_sessions::amr.eq(&session.amr),
                browser_sessions::created_at.eq(session.created_at),
                browser_sessions::last_seen_at.eq(session.last_seen_at),
                browser_sessions::expires_at.eq(session.expires_at),
                browser_sessions::acr.eq(&session.acr),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    pub fn touch_session(&mut self, id_digest: &str, now: i64) -> Result<()> {
        diesel::update(browser_sessions::table.find(id_digest))
            .set(browser_sessions::last_seen_at.eq(now))
            .execute(self.conn)?;
        Ok(())
    }

    pub fn end_session(&mut self, id_digest: &str, now: i64) -> Result<()> {
        diesel::update(browser_sessions::table.find(id_digest).filter(browser_sessions::ended_at.is_null()))
            .set(browser_sessions::ended_at.eq(now))
            .execute(self.conn)?;
        Ok(())
    }

    pub fn end_session_by_public_id(&mut self, public_id: &str, now: i64) -> Result<()> {
        diesel::update(
            browser_sessions::table
                .filter(browser_sessions::public_id.eq(public_id))
                .filter(browser_sessions::ended_at.is_null()),
        )
        .set(browser_sessions::ended_at.eq(now))
        .execute(self.conn)?;
        Ok(())
    }

    /// Deletes every sign-in in progress of a user (after a password change).
    pub fn delete_user_flows(&mut self, user_id: &UserId) -> Result<usize> {
        Ok(diesel::delete(login_flows::table.filter(login_flows::user_id.eq(user_id.as_str()))).execute(self.conn)?)
    }

    /// Ends every session of a user (a password reset, "sign out everywhere").
    pub fn end_user_sessions(&mut self, user_id: &UserId, now: i64) -> Result<usize> {
        Ok(diesel::update(
            browser_sessions::table
                .filter(browser_sessions::user_id.eq(user_id.as_str()))
                .filter(browser_sessions::ended_at.is_null()),
        )
        .set(browser_sessions::ended_at.eq(now))
        .execute(self.conn)?)
    }

    pub fn insert_flow(&mut self, flow: &StoredFlow) -> Result<()> {
        diesel::insert_into(login_flows::table).values(flow).execute(self.conn)?;
        Ok(())
    }

    /// Saves a flow's new state, if it is still at the version it was read
    /// at; moves the version on. False when another request saved first (a
    /// double submit, a second tab).
    pub fn update_flow(
        &mut self,
        id_digest: &str,
        expected_version: i32,
        state: &str,
        user_id: Option<&str>,
    ) -> Result<bool> {
        let updated =
            diesel::update(login_flows::table.find(id_digest).filter(login_flows::version.eq(expected_version)))
                .set((
                    login_flows::state.eq(state),
                    login_flows::user_id.eq(user_id),
                    login_flows::version.eq(expected_version + 1),
                ))
                .execute(self.conn)?;
        Ok(updated == 1)
    }

    /// Claims a flow for one step: moves its version on, if it is still at
    /// `expected_version`. On PostgreSQL a concurrent step's claim waits here
    /// for this transaction and then finds the version gone, before it has
    /// written anything; false when another request claimed or saved first.
    pub fn claim_flow(&mut self, id_digest: &str, expected_version: i32) -> Result<bool> {
        let updated =
            diesel::update(login_flows::table.find(id_digest).filter(login_flows::version.eq(expected_version)))
                .set(login_flows::version.eq(expected_version + 1))
                .execute(self.conn)?;
        Ok(updated == 1)
    }

    /// Ends a flow that is still at `expected_version`; false when it was not.
    pub fn delete_flow(&mut self, id_digest: &str, expected_version: i32) -> Result<bool> {
        let deleted =
            diesel::delete(login_flows::table.find(id_digest).filter(login_flows::version.eq(expected_version)))
                .execute(self.conn)?;
        Ok(deleted == 1)
    }

    /// Removes flows that were abandoned.
    pub fn delete_expired_flows(&mut self, now: i64) -> Result<usize> {
        Ok(diesel::delete(login_flows::table.filter(login_flows::expires_at.le(now))).execute(self.conn)?)
    }
}

/// Sessions that ended or expired [`KEEP_ENDED_SECONDS`] ago, and sign-ins
/// abandoned before they finished.
///
/// [`KEEP_ENDED_SECONDS`]: super::housekeeping::KEEP_ENDED_SECONDS
pub(super) const SWEEP: super::housekeeping::Sweep =
    super::housekeeping::Sweep { tables: &["browser_sessions", "login_flows"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let ended = now - super::housekeeping::KEEP_ENDED_SECONDS;
    let flows = tx.delete_expired_flows(now)?;
    let sessions = diesel::delete(
        browser_sessions::table.filter(browser_sessions::expires_at.le(ended).or(browser_sessions::ended_at.le(ended))),
    )
    .execute(tx.conn)?;
    Ok(flows + sessions)
}
