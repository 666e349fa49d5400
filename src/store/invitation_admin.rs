//! The administrator's side of an invitation: the verification code they
//! generate when the invitee's SMS did not arrive.

use diesel::prelude::*;

use super::Write;
use super::schema::invitations;
use crate::error::Result;

impl Write<'_> {
    /// Stores a new administrator's code (its keyed hash), replacing any
    /// earlier one, and the invitation's new end.
    pub fn set_admin_code(&mut self, id: &str, digest: &str, code_expires_at: i64, expires_at: i64) -> Result<()> {
        diesel::update(invitations::table.find(id))
            .set((
                invitations::admin_code_digest.eq(digest),
                invitations::admin_code_expires_at.eq(code_expires_at),
                invitations::expires_at.eq(expires_at),
                // A new code gives new tries.
                invitations::sms_attempts.eq(0),
            ))
            .execute(self.conn)?;
        Ok(())
    }
}
