//! Trips to upstream providers and the identities they linked.

use diesel::prelude::*;

use super::housekeeping::Sweep;
use super::schema::{upstream_links, upstream_logins};
use super::{Read, Write};
use crate::domain::ids::UserId;
use crate::error::Result;

/// One trip to an upstream, from the redirect there to the answer back.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = upstream_logins)]
pub struct StoredUpstreamLogin {
    pub state_digest: String,
    pub upstream_id: String,
    pub browser_digest: String,
    pub nonce_digest: String,
    /// The PKCE verifier and the sign-in flow's id, sealed under the state.
    pub sealed_secrets: String,
    /// `sign_in`, or `link` for a signed-in person adding the identification.
    pub purpose: String,
    /// The signed-in person, for `link`.
    pub user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An upstream identity that signed a person in.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = upstream_links)]
pub struct StoredUpstreamLink {
    pub user_id: String,
    pub upstream_id: String,
    pub issuer: String,
    pub subject: String,
    pub linked_at: i64,
    pub last_used_at: i64,
}

impl Read<'_> {
    /// The upstream identities linked to a person, oldest first.
    pub fn upstream_links(&mut self, user: &UserId) -> Result<Vec<StoredUpstreamLink>> {
        Ok(upstream_links::table
            .filter(upstream_links::user_id.eq(user.as_str()))
            .order(upstream_links::linked_at)
            .select(StoredUpstreamLink::as_select())
            .load(self.conn)?)
    }
}

impl Write<'_> {
    pub fn insert_upstream_login(&mut self, login: &StoredUpstreamLogin) -> Result<()> {
        diesel::insert_into(upstream_logins::table).values(login).execute(self.conn)?;
        Ok(())
    }

    /// Takes a trip by the digest of its state: read and deleted at once, so
    /// of two answers with one state only one gets it.
    pub fn take_upstream_login(&mut self, state_digest: &str) -> Result<Option<StoredUpstreamLogin>> {
        let Some(login) = upstream_logins::table
            .find(state_digest)
            .select(StoredUpstreamLogin::as_select())
            .get_result(self.conn)
            .optional()?
        else {
            return Ok(None);
        };
        let deleted = diesel::delete(upstream_logins::table.find(state_digest)).execute(self.conn)?;
        Ok((deleted == 1).then_some(login))
    }

    /// Records that an upstream identity signed a person in: a new link, or
    /// the same one used again (its subject as the upstream sent it now).
    pub fn record_upstream_link(&mut self, link: &StoredUpstreamLink) -> Result<()> {
        let updated = diesel::update(
            upstream_links::table
                .filter(upstream_links::user_id.eq(&link.user_id))
                .filter(upstream_links::upstream_id.eq(&link.upstream_id)),
        )
        .set((
            upstream_links::issuer.eq(&link.issuer),
            upstream_links::subject.eq(&link.subject),
            upstream_links::last_used_at.eq(link.last_used_at),
        ))
        .execute(self.conn)?;
        if updated == 0 {
            diesel::insert_into(upstream_links::table)
                .values((
                    upstream_links::user_id.eq(&link.user_id),
                    upstream_links::upstream_id.eq(&link.upstream_id),
                    upstream_links::issuer.eq(&link.issuer),
                    upstream_links::subject.eq(&link.subject),
                    upstream_links::linked_at.eq(link.linked_at),
                    upstream_links::last_used_at.eq(link.last_used_at),
                ))
                .execute(self.conn)?;
        }
        Ok(())
    }
}

/// Trips that were never answered, once they expire.
pub(super) const SWEEP: Sweep = Sweep { tables: &["upstream_logins"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    Ok(diesel::delete(upstream_logins::table.filter(upstream_logins::expires_at.le(now))).execute(tx.conn)?)
}
