//! Passkeys and the WebAuthn ceremonies between their two steps.

use diesel::prelude::*;

use super::housekeeping::Sweep;
use super::schema::{passkeys, webauthn_ceremonies};
use super::{Read, Write, is_unique_violation};
use crate::domain::ids::UserId;
use crate::error::Result;

/// A passkey as stored: `credential` is webauthn-rs's JSON of it (public
/// key, counter, flags).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct StoredPasskey {
    pub id: String,
    pub user_id: String,
    /// base64url of the credential id.
    pub credential_id: String,
    pub name: String,
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A ceremony between its steps; `state` is webauthn-rs's JSON of it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_ceremonies)]
pub struct StoredCeremony {
    pub id_digest: String,
    pub browser_digest: String,
    /// `register`, `sign_in` or `qr`.
    pub purpose: String,
    /// What the ceremony is bound to: the person, or the sign-in flow.
    pub subject: String,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Read<'_> {
    /// A person's passkeys, the first registered first.
    pub fn passkeys_of(&mut self, user_id: &UserId) -> Result<Vec<StoredPasskey>> {
        Ok(passkeys::table
            .filter(passkeys::user_id.eq(user_id.as_str()))
            .order((passkeys::created_at.asc(), passkeys::id.asc()))
            .select(StoredPasskey::as_select())
            .load(self.conn)?)
    }

    pub fn passkey_by_credential(&mut self, credential_id: &str) -> Result<Option<StoredPasskey>> {
        Ok(passkeys::table
            .filter(passkeys::credential_id.eq(credential_id))
            .select(StoredPasskey::as_select())
            .get_result(self.conn)
            .optional()?)
    }
}

impl Write<'_> {
    /// Adds a passkey; false when its credential is registered already (to
    /// anyone: a credential belongs to one account).
    pub fn insert_passkey(&mut self, passkey: &StoredPasskey) -> Result<bool> {
        if self.passkey_by_credential(&passkey.credential_id)?.is_some() {
            return Ok(false);
        }
        match diesel::insert_into(passkeys::table).values(passkey).execute(self.conn) {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Saves a passkey's credential after a sign-in (its counter and flags).
    pub fn update_passkey_after_use(&mut self, id: &str, credential: &str, now: i64) -> Result<()> {
        diesel::update(passkeys::table.find(id))
            .set((passkeys::credential.eq(credential), passkeys::last_used_at.eq(now)))
            .execute(self.conn)?;
        Ok(())
    }

    /// Removes a passkey of `user_id`; false when the person has no such passkey.
    pub fn delete_passkey(&mut self, id: &str, user_id: &UserId) -> Result<bool> {
        let deleted = diesel::delete(passkeys::table.find(id).filter(passkeys::user_id.eq(user_id.as_str())))
            .execute(self.conn)?;
        Ok(deleted == 1)
    }

    pub fn insert_ceremony(&mut self, ceremony: &StoredCeremony) -> Result<()> {
        diesel::insert_into(webauthn_ceremonies::table).values(ceremony).execute(self.conn)?;
        Ok(())
    }

    /// Takes a ceremony for its second step: it is deleted, so it is used
    /// once. `None` when it was used, or never made.
    pub fn take_ceremony(&mut self, id_digest: &str) -> Result<Option<StoredCeremony>> {
        let found = webauthn_ceremonies::table
            .find(id_digest)
            .select(StoredCeremony::as_select())
            .get_result(self.conn)
            .optional()?;
        // Of two requests taking it at once, only the one that deletes it has it.
        let deleted = diesel::delete(webauthn_ceremonies::table.find(id_digest)).execute(self.conn)?;
        Ok(found.filter(|_| deleted == 1))
    }
}

/// Ceremonies never finished, once expired: a used one is deleted at once.
pub(super) const SWEEP: Sweep = Sweep { tables: &["webauthn_ceremonies"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    Ok(diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.le(now))).execute(tx.conn)?)
}
