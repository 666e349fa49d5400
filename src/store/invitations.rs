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

    /// The last invitation of a person to any company, live or not.
    pub fn last_invitation_of_person(&mut self, user_id: &UserId) -> Result<Option<StoredInvitation>> {
        Ok(invitations::table
            .filter(invitations::user_id.eq(user_id.as_str()))
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

    /// The invitee entered the sign-up code: the SMS code (its keyed hash)
    /// is set and its attempts start at zero. False unless the invitation
    /// was waiting for the sign-up code.
    pub fn enter_sign_up_code(&mut self, id: &str, sms_code_digest: &str, expires_at: i64, now: i64) -> Result<bool> {
        let entered = diesel::update(invitations::table.find(id).filter(invitations::state.eq("sent")))
            .set((
                invitations::state.eq("code_entered"),
                invitations::code_entered_at.eq(now),
                invitations::sms_code_digest.eq(sms_code_digest),
                invitations::sms_code_expires_at.eq(expires_at),
                invitations::sms_attempts.eq(0),
            ))
            .execute(self.conn)?;
        Ok(entered == 1)
    }

    /// A new SMS code, counted against the invitation's resends (at most
    /// `limit`); the attempts start again. False, and nothing changed, when
    /// the resends were used (a concurrent request may have used the last).
    pub fn resend_sms_code(&mut self, id: &str, sms_code_digest: &str, expires_at: i64, limit: i32) -> Result<bool> {
        let resent = diesel::update(invitations::table.find(id).filter(invitations::resends_used.lt(limit)))
            .set((
                invitations::sms_code_digest.eq(sms_code_digest),
                invitations::sms_code_expires_at.eq(expires_at),
                invitations::sms_attempts.eq(0),
                invitations::resends_used.eq(invitations::resends_used + 1),
            ))
            .execute(self.conn)?;
        Ok(resent == 1)
    }

    /// Counts a verification code attempt; returns the attempts since the
    /// last code was made, this one included.
    pub fn count_invitation_attempt(&mut self, id: &str) -> Result<i32> {
        diesel::update(invitations::table.find(id))
            .set(invitations::sms_attempts.eq(invitations::sms_attempts + 1))
            .execute(self.conn)?;
        Ok(invitations::table.find(id).select(invitations::sms_attempts).get_result(self.conn)?)
    }

    /// Ends an invitation's verification codes, the SMS one and the
    /// administrator's (used, or too many wrong tries).
    pub fn end_invitation_codes(&mut self, id: &str) -> Result<()> {
        diesel::update(invitations::table.find(id))
            .set((
                invitations::sms_code_digest.eq(None::<String>),
                invitations::sms_code_expires_at.eq(None::<i64>),
                invitations::admin_code_digest.eq(None::<String>),
                invitations::admin_code_expires_at.eq(None::<i64>),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Moves an invitation from state `from` to `to`; false when it was not in `from`.
    pub fn advance_invitation(&mut self, id: &str, from: &str, to: &str) -> Result<bool> {
        let moved = diesel::update(invitations::table.find(id).filter(invitations::state.eq(from)))
            .set(invitations::state.eq(to))
            .execute(self.conn)?;
        Ok(moved == 1)
    }

    /// The person set the account password their verified invitations asked for.
    pub fn invitations_password_set(&mut self, user_id: &UserId) -> Result<usize> {
        Ok(diesel::update(
            invitations::table
                .filter(invitations::user_id.eq(user_id.as_str()))
                .filter(invitations::state.eq("verified")),
        )
        .set(invitations::state.eq("password_set"))
        .execute(self.conn)?)
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

/// Invitations that ended or expired 30 days ago, but for each person's
/// last one: the re-invite rule compares a new invitation's email and phone
/// with the last invitation's, however long ago it was.
pub(super) const SWEEP: Sweep = Sweep { tables: &["invitations"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let kept_since = now - KEEP_INVITATIONS_SECONDS;
    let newer = diesel::alias!(invitations as newer);
    let a_newer_one = newer.filter(newer.field(invitations::user_id).eq(invitations::user_id)).filter(
        newer.field(invitations::created_at).gt(invitations::created_at).or(newer
            .field(invitations::created_at)
            .eq(invitations::created_at)
            .and(newer.field(invitations::id).gt(invitations::id))),
    );
    let old = invitations::expires_at.le(kept_since).or(invitations::ended_at.le(kept_since));
    Ok(diesel::delete(
        invitations::table.filter(old).filter(diesel::dsl::exists(a_newer_one.select(newer.field(invitations::id)))),
    )
    .execute(tx.conn)?)
}
