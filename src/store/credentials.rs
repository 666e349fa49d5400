//! What a person signs in with, and what they agreed to: password hashes,
//! authenticator secrets, recovery codes, accepted terms, consents.

use diesel::prelude::*;

use super::schema::{consents, recovery_codes, terms_acceptances, totp_credentials, users};
use super::{Read, Write};
use crate::domain::ids::UserId;
use crate::error::Result;

/// An authenticator as stored.
#[derive(Debug, Clone)]
pub struct StoredTotp {
    pub sealed_secret: String,
    /// The last time step whose code was accepted; a code is accepted once.
    pub last_used_step: i64,
}

impl Read<'_> {
    /// The user id and password hash for a sign-in email.
    pub fn password_hash_by_email(&mut self, email: &str) -> Result<Option<(UserId, Option<String>)>> {
        let row = users::table
            .filter(users::email.eq(email))
            .select((users::id, users::password_hash))
            .get_result::<(String, Option<String>)>(self.conn)
            .optional()?;
        Ok(row.map(|(id, hash)| (UserId::from_stored(id), hash)))
    }

    pub fn totp(&mut self, user_id: &UserId) -> Result<Option<StoredTotp>> {
        let row = totp_credentials::table
            .find(user_id.as_str())
            .select((totp_credentials::sealed_secret, totp_credentials::last_used_step))
            .get_result::<(String, i64)>(self.conn)
            .optional()?;
        Ok(row.map(|(sealed_secret, last_used_step)| StoredTotp { sealed_secret, last_used_step }))
    }

    pub fn has_accepted_terms(&mut self, user_id: &UserId, version: &str) -> Result<bool> {
        let count: i64 = terms_acceptances::table
            .filter(terms_acceptances::user_id.eq(user_id.as_str()))
            .filter(terms_acceptances::version.eq(version))
            .count()
            .get_result(self.conn)?;
        Ok(count > 0)
    }

    /// The scopes the user has consented to for a client.
    pub fn consented_scopes(&mut self, user_id: &UserId, client_id: &str) -> Result<Option<String>> {
        Ok(consents::table
            .find((user_id.as_str(), client_id))
            .select(consents::scopes)
            .get_result::<String>(self.conn)
            .optional()?)
    }

    /// How many unused recovery codes the user has.
    pub fn unused_recovery_codes(&mut self, user_id: &UserId) -> Result<i64> {
        Ok(recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id.as_str()))
            .filter(recovery_codes::used_at.is_null())
            .count()
            .get_result(self.conn)?)
    }
}

impl Write<'_> {
    /// Sets (or replaces) the user's authenticator.
    pub fn set_totp(&mut self, user_id: &UserId, sealed_secret: &str, used_step: i64, now: i64) -> Result<()> {
        diesel::delete(totp_credentials::table.find(user_id.as_str())).execute(self.conn)?;
        diesel::insert_into(totp_credentials::table)
            .values((
                totp_credentials::user_id.eq(user_id.as_str()),
                totp_credentials::sealed_secret.eq(sealed_secret),
                totp_credentials::last_used_step.eq(used_step),
                totp_credentials::created_at.eq(now),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Records that the code of `step` was used, unless a code of that step or
    /// a later one was used already. Returns whether it was recorded: false is
    /// a replay.
    pub fn use_totp_step(&mut self, user_id: &UserId, step: i64) -> Result<bool> {
        let updated = diesel::update(
            totp_credentials::table.find(user_id.as_str()).filter(totp_credentials::last_used_step.lt(step)),
        )
        .set(totp_credentials::last_used_step.eq(step))
        .execute(self.conn)?;
        Ok(updated == 1)
    }

    /// Replaces the user's recovery codes with these digests.
    pub fn replace_recovery_codes(&mut self, user_id: &UserId, digests: &[String]) -> Result<()> {
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id.as_str())))
            .execute(self.conn)?;
        for digest in digests {
            diesel::insert_into(recovery_codes::table)
                .values((recovery_codes::user_id.eq(user_id.as_str()), recovery_codes::code_digest.eq(digest)))
                .execute(self.conn)?;
        }
        Ok(())
    }

    /// Uses a recovery code; false when it does not exist or was used.
    pub fn use_recovery_code(&mut self, user_id: &UserId, digest: &str, now: i64) -> Result<bool> {
        let updated = diesel::update(
            recovery_codes::table.find((user_id.as_str(), digest)).filter(recovery_codes::used_at.is_null()),
        )
        .set(recovery_codes::used_at.eq(now))
        .execute(self.conn)?;
        Ok(updated == 1)
    }

    pub fn accept_terms(&mut self, user_id: &UserId, version: &str, now: i64) -> Result<()> {
        diesel::delete(terms_acceptances::table.find((user_id.as_str(), version))).execute(self.conn)?;
        diesel::insert_into(terms_acceptances::table)
            .values((
                terms_acceptances::user_id.eq(user_id.as_str()),
                terms_acceptances::version.eq(version),
                terms_acceptances::accepted_at.eq(now),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    pub fn set_consent(&mut self, user_id: &UserId, client_id: &str, scopes: &str, now: i64) -> Result<()> {
        diesel::delete(consents::table.find((user_id.as_str(), client_id))).execute(self.conn)?;
        diesel::insert_into(consents::table)
            .values((
                consents::user_id.eq(user_id.as_str()),
                consents::client_id.eq(client_id),
                consents::scopes.eq(scopes),
                consents::granted_at.eq(now),
            ))
            .execute(self.conn)?;
        Ok(())
    }
}
