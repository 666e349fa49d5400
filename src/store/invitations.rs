//! Invitations of foreign users, and where their activation stands.

use diesel::prelude::*;

use super::housekeeping::Sweep;
use super::schema::invitations;
use super::{Read, Write};
use crate::domain::ids::UserId;
use crate::error::Result;

/// An invitation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations)]
pub struct StoredInvitation {
    pub id: String,
    pub user_id: String,
    pub company_id: String,
    pub invited_by: Option<String>,
    pub code_digest: String,
    /// An `InvitationState`, snake_case.
    pub state: String,
    pub email: String,
    pub phone: Option<String>,
    pub communication_email: String,
    pub communication_phone: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub code_entered_at: Option<i64>,
    pub sms_code_digest: Option<String>,
    pub sms_code_expires_at: Option<i64>,
    pub sms_attempts: i32,
    pub resends_used: i32,
    pub admin_code_digest: Option<String>,
    pub admin_code_expires_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// The states an invitation can still go on from.
const LIVE: [&str; 4] = ["sent", "code_entered", "verified", "password_set"];

impl Read<'_> {
    pub fn invitation(&mut self, id: &str) -> Result<Option<StoredInvitation>> {
        Ok(invitations::table.find(id).select(StoredInvitation::as_select()).get_result(self.conn).optional()?)
    }

    /// The invitation a sign-up code belongs to, by the code's keyed hash.
    pub fn invitation_by_code(&mut self, code_digest: &str) -> Result<Option<StoredInvitation>> {
        Ok(invitations::table
            .filter(invitations::code_digest.eq(code_digest))
            .select(StoredInvitation::as_select())
            .get_result(self.conn)
            .optional()?)
    }

    /// The last invitation of a person to a company, live or not.
    pub fn last_invitation_of(&mut self, user_id: &UserId, company_id: &str) -> Result<Option<StoredInvitation>> {
        Ok(invitations::table
            .filter(invitations::user_id.eq(user_id.as_str()))
            .filter(invitations::company_id.eq(company_id))
            .order((invitations::created_at.desc(), invitations::id.desc()))
            .select(StoredInvitation::as_select())
            .get_result(self.conn)
            .optional()?)
    }

    /// A person's live invitations (at most one, unless two were sent at once).
    pub fn live_invitations_of(&mut self, user_id: &UserId) -> Result<Vec<StoredInvitation>> {
        Ok(invitations::table
            .filter(invitations::user_id.eq(user_id.as_str()))
            .filter(invitations::state.eq_any(LIVE))
            .order(invitations::created_at.desc())
            .select(StoredInvitation::as_select())
            .load(self.conn)?)
    }
}

impl Write<'_> {
    pub fn insert_invitation(&mut self, invitation: &StoredInvitation) -> Result<()> {
        diesel::insert_into(invitations::table).values(invitation).execute(self.conn)?;
        Ok(())
    }

    /// Ends a live invitation in `state` (`cancelled`, `replaced`, …); false
    /// when it had ended already.
    pub fn end_invitation(&mut self, id: &str, state: &str, now: i64) -> Result<bool> {
        let ended = diesel::update(invitations::table.find(id).filter(invitations::state.eq_any(LIVE)))
            .set((invitations::state.eq(state), invitations::ended_at.eq(now)))
            .execute(self.conn)?;
        Ok(ended == 1)
    }

    /// Completes every live invitation of a person (their device credential
    /// is registered: the activation is done); returns how many.
    pub fn complete_invitations_of(&mut self, user_id: &UserId, now: i64) -> Result<usize> {
        Ok(diesel::update(
            invitations::table
                .filter(invitations::user_id.eq(user_id.as_str()))
                .filter(invitations::state.eq_any(LIVE)),
        )
        .set((invitations::state.eq("completed"), invitations::ended_at.eq(now)))
        .execute(self.conn)?)
    }
}

/// How long an invitation that ended or expired is kept, for the
/// administrator's view and the record.
const KEEP_INVITATIONS_SECONDS: i64 = 30 * 24 * 3600;

/// Invitations that ended or expired 30 days ago.
pub(super) const SWEEP: Sweep = Sweep { tables: &["invitations"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let kept_since = now - KEEP_INVITATIONS_SECONDS;
    let expired = diesel::delete(invitations::table.filter(invitations::expires_at.le(kept_since))).execute(tx.conn)?;
    let ended = diesel::delete(invitations::table.filter(invitations::ended_at.le(kept_since))).execute(tx.conn)?;
    Ok(expired + ended)
}
