//! Grants, and the authorization codes and refresh tokens that belong to them.

use diesel::prelude::*;

use super::housekeeping::{KEEP_ENDED_SECONDS, Sweep};
use super::schema::{authorization_codes, grants, refresh_tokens};
use super::{Read, Write};
use crate::error::Result;

/// What a user allowed a client at one sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = grants, treat_none_as_default_value = false)]
pub struct StoredGrant {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub session_public_id: Option<String>,
    pub scopes: String,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// The `acr` of the sign-in; `None` for a strong identification whose
    /// upstream sent none, and for a client's own grant.
    pub acr: Option<String>,
}

/// An authorization code as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
pub struct StoredCode {
    pub code_digest: String,
    pub grant_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A refresh token as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct StoredRefreshToken {
    pub token_digest: String,
    pub grant_id: String,
    pub issued_at: i64,
    pub used_at: Option<i64>,
}

impl Read<'_> {
    pub fn grant(&mut self, id: &str) -> Result<Option<StoredGrant>> {
        Ok(grants::table.find(id).select(StoredGrant::as_select()).get_result(self.conn).optional()?)
    }

    pub fn authorization_code(&mut self, digest: &str) -> Result<Option<StoredCode>> {
        Ok(authorization_codes::table.find(digest).select(StoredCode::as_select()).get_result(self.conn).optional()?)
    }

    pub fn refresh_token(&mut self, digest: &str) -> Result<Option<StoredRefreshToken>> {
        Ok(refresh_tokens::table
            .find(digest)
            .select(StoredRefreshToken::as_select())
            .get_result(self.conn)
            .optional()?)
    }
}

impl Write<'_> {
    pub fn insert_grant(&mut self, grant: &StoredGrant) -> Result<()> {
        diesel::insert_into(grants::table).values(grant).execute(self.conn)?;
        Ok(())
    }

    /// Revokes a grant: its codes, refresh tokens and access tokens stop working.
    pub fn revoke_grant(&mut self, id: &str, now: i64) -> Result<()> {
        diesel::update(grants::table.find(id).filter(grants::revoked_at.is_null()))
            .set(grants::revoked_at.eq(now))
            .execute(self.conn)?;
        Ok(())
    }

    /// Revokes every grant of a user (after a password reset, say).
    pub fn revoke_user_grants(&mut self, user_id: &str, now: i64) -> Result<usize> {
        Ok(diesel::update(grants::table.filter(grants::user_id.eq(user_id)).filter(grants::revoked_at.is_null()))
            .set(grants::revoked_at.eq(now))
            .execute(self.conn)?)
    }

    pub fn insert_authorization_code(&mut self, code: &StoredCode) -> Result<()> {
        diesel::insert_into(authorization_codes::table).values(code).execute(self.conn)?;
        Ok(())
    }

    /// Marks a code used; false when it was used already.
    pub fn use_authorization_code(&mut self, digest: &str, now: i64) -> Result<bool> {
        let updated =
            diesel::update(authorization_codes::table.find(digest).filter(authorization_codes::used_at.is_null()))
                .set(authorization_codes::used_at.eq(now))
                .execute(self.conn)?;
        Ok(updated == 1)
    }

    pub fn insert_refresh_token(&mut self, digest: &str, grant_id: &str, now: i64) -> Result<()> {
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::token_digest.eq(digest),
                refresh_tokens::grant_id.eq(grant_id),
                refresh_tokens::issued_at.eq(now),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Spends an unused refresh token and returns its grant's id: the lookup
    /// and the spending in one statement. `None` when no unused token has
    /// this digest (unknown, or used before: [`Read::refresh_token`] tells).
    pub fn spend_refresh_token(&mut self, digest: &str, now: i64) -> Result<Option<String>> {
        Ok(diesel::update(refresh_tokens::table.find(digest).filter(refresh_tokens::used_at.is_null()))
            .set(refresh_tokens::used_at.eq(now))
            .returning(refresh_tokens::grant_id)
            .get_result(self.conn)
            .optional()?)
    }
}

/// Codes, and grants that expired or were revoked, [`KEEP_ENDED_SECONDS`]
/// ago; a grant's codes and refresh tokens go with it.
pub(super) const SWEEP: Sweep = Sweep { tables: &["grants", "authorization_codes", "refresh_tokens"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let ended = now - KEEP_ENDED_SECONDS;
    let codes = diesel::delete(authorization_codes::table.filter(authorization_codes::expires_at.le(ended)))
        .execute(tx.conn)?;
    let grants = diesel::delete(grants::table.filter(grants::expires_at.le(ended).or(grants::revoked_at.le(ended))))
        .execute(tx.conn)?;
    Ok(codes + grants)
}
