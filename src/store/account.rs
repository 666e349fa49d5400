//! What the account pages read and change: a person's sessions, consents,
//! name and communication contacts, and pending contact changes.

use diesel::prelude::*;

use super::housekeeping::{KEEP_ENDED_SECONDS, Sweep};
use super::schema::{browser_sessions, communication_contacts, consents, contact_changes, grants, users};
use super::{Read, StoredSession, Write};
use crate::domain::ids::UserId;
use crate::error::Result;

/// An application the person has consented to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConsent {
    pub client_id: String,
    pub scopes: String,
    pub granted_at: i64,
}

/// A contact change waiting for its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContactChange {
    pub new_value: String,
    pub code_digest: String,
    pub attempts: i32,
    pub expires_at: i64,
}

impl Read<'_> {
    /// The person's sessions that have not ended or expired, newest first.
    pub fn live_sessions(&mut self, user_id: &UserId, now: i64) -> Result<Vec<StoredSession>> {
        Ok(browser_sessions::table
            .filter(browser_sessions::user_id.eq(user_id.as_str()))
            .filter(browser_sessions::ended_at.is_null())
            .filter(browser_sessions::expires_at.gt(now))
            .order(browser_sessions::created_at.desc())
            .select(StoredSession::as_select())
            .load(self.conn)?)
    }

    pub fn consents_of(&mut self, user_id: &UserId) -> Result<Vec<StoredConsent>> {
        let rows = consents::table
            .filter(consents::user_id.eq(user_id.as_str()))
            .order(consents::client_id)
            .select((consents::client_id, consents::scopes, consents::granted_at))
            .load::<(String, String, i64)>(self.conn)?;
        Ok(rows
            .into_iter()
            .map(|(client_id, scopes, granted_at)| StoredConsent { client_id, scopes, granted_at })
            .collect())
    }

    pub fn contact_change(&mut self, user_id: &UserId, kind: &str) -> Result<Option<StoredContactChange>> {
        let row = contact_changes::table
            .find((user_id.as_str(), kind))
            .select((
                contact_changes::new_value,
                contact_changes::code_digest,
                contact_changes::attempts,
                contact_changes::expires_at,
            ))
            .get_result::<(String, String, i32, i64)>(self.conn)
            .optional()?;
        Ok(row.map(|(new_value, code_digest, attempts, expires_at)| StoredContactChange {
            new_value,
            code_digest,
            attempts,
            expires_at,
        }))
    }
}

impl Write<'_> {
    pub fn set_user_name(&mut self, user_id: &UserId, name: &str, now: i64) -> Result<()> {
        diesel::update(users::table.find(user_id.as_str()))
            .set((users::name.eq(name), users::updated_at.eq(now)))
            .execute(self.conn)?;
        Ok(())
    }

    /// Sets a verified communication email.
    pub fn set_communication_email(&mut self, user_id: &UserId, email: &str, now: i64) -> Result<()> {
        diesel::update(communication_contacts::table.find(user_id.as_str()))
            .set((
                communication_contacts::email.eq(email),
                communication_contacts::email_verified.eq(true),
                communication_contacts::updated_at.eq(now),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Sets a verified communication phone.
    pub fn set_communication_phone(&mut self, user_id: &UserId, phone: &str, now: i64) -> Result<()> {
        diesel::update(communication_contacts::table.find(user_id.as_str()))
            .set((
                communication_contacts::phone.eq(phone),
                communication_contacts::phone_verified.eq(true),
                communication_contacts::updated_at.eq(now),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Forgets a consent and revokes what the application got with it.
    pub fn withdraw_consent(&mut self, user_id: &UserId, client_id: &str, now: i64) -> Result<usize> {
        let removed = diesel::delete(consents::table.find((user_id.as_str(), client_id))).execute(self.conn)?;
        diesel::update(
            grants::table
                .filter(grants::user_id.eq(user_id.as_str()))
                .filter(grants::client_id.eq(client_id))
                .filter(grants::revoked_at.is_null()),
        )
        .set(grants::revoked_at.eq(now))
        .execute(self.conn)?;
        Ok(removed)
    }

    /// Ends the person's sessions except one (after a password change).
    pub fn end_other_sessions(&mut self, user_id: &UserId, keep_public_id: &str, now: i64) -> Result<usize> {
        Ok(diesel::update(
            browser_sessions::table
                .filter(browser_sessions::user_id.eq(user_id.as_str()))
                .filter(browser_sessions::public_id.ne(keep_public_id))
                .filter(browser_sessions::ended_at.is_null()),
        )
        .set(browser_sessions::ended_at.eq(now))
        .execute(self.conn)?)
    }

    /// Starts (or restarts) a contact change. A restart keeps the wrong
    /// attempts counted so far, so asking for a new code does not reset them.
    pub fn put_contact_change(
        &mut self,
        user_id: &UserId,
        kind: &str,
        new_value: &str,
        code_digest: &str,
        expires_at: i64,
    ) -> Result<()> {
        // A new code starts a new count: the hourly limit of codes bounds the
        // guesses, and a person who mistyped five times can try again.
        diesel::delete(contact_changes::table.find((user_id.as_str(), kind))).execute(self.conn)?;
        diesel::insert_into(contact_changes::table)
            .values((
                contact_changes::user_id.eq(user_id.as_str()),
                contact_changes::kind.eq(kind),
                contact_changes::new_value.eq(new_value),
                contact_changes::code_digest.eq(code_digest),
                contact_changes::attempts.eq(0),
                contact_changes::expires_at.eq(expires_at),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Counts a code attempt at a contact change; returns the attempts so far.
    pub fn count_contact_change_attempt(&mut self, user_id: &UserId, kind: &str) -> Result<i32> {
        diesel::update(contact_changes::table.find((user_id.as_str(), kind)))
            .set(contact_changes::attempts.eq(contact_changes::attempts + 1))
            .execute(self.conn)?;
        Ok(contact_changes::table
            .find((user_id.as_str(), kind))
            .select(contact_changes::attempts)
            .get_result(self.conn)?)
    }

    pub fn delete_contact_change(&mut self, user_id: &UserId, kind: &str) -> Result<()> {
        diesel::delete(contact_changes::table.find((user_id.as_str(), kind))).execute(self.conn)?;
        Ok(())
    }
}

/// Contact changes whose code expired [`KEEP_ENDED_SECONDS`] ago. Until
/// then a new code keeps the wrong attempts counted at the old one.
pub(super) const SWEEP: Sweep = Sweep { tables: &["contact_changes"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let ended = now - KEEP_ENDED_SECONDS;
    Ok(diesel::delete(contact_changes::table.filter(contact_changes::expires_at.le(ended))).execute(tx.conn)?)
}
