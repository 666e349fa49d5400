//! Portti's keys towards its upstream providers, stored sealed under the master key.

use diesel::prelude::*;

use super::schema::upstream_keys;
use super::{Read, Write};
use crate::crypto::jose::KeyUse;
use crate::error::{Error, Result};

/// An upstream key as stored; the private key still sealed.
#[derive(Debug, Clone)]
pub struct StoredUpstreamKey {
    pub kid: String,
    pub key_use: KeyUse,
    pub sealed_private_key: String,
    pub used_from: i64,
    pub used_until: Option<i64>,
}

type KeyRow = (String, String, String, i64, Option<i64>);

fn from_row((kid, key_use, sealed_private_key, used_from, used_until): KeyRow) -> Result<StoredUpstreamKey> {
    let key_use = KeyUse::parse(&key_use).ok_or_else(|| Error::internal("unknown stored upstream key use"))?;
    Ok(StoredUpstreamKey { kid, key_use, sealed_private_key, used_from, used_until })
}

impl Read<'_> {
    /// The keys published at `now`, oldest first.
    pub fn published_upstream_keys(&mut self, now: i64) -> Result<Vec<StoredUpstreamKey>> {
        upstream_keys::table
            .filter(upstream_keys::published_until.is_null().or(upstream_keys::published_until.gt(now)))
            .order((upstream_keys::used_from, upstream_keys::kid))
            .select((
                upstream_keys::kid,
                upstream_keys::key_use,
                upstream_keys::sealed_private_key,
                upstream_keys::used_from,
                upstream_keys::used_until,
            ))
            .load::<KeyRow>(self.conn)?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// Whether `key_use` has a key that is, or will become, the one in use.
    pub fn has_current_upstream_key(&mut self, key_use: KeyUse) -> Result<bool> {
        let count: i64 = upstream_keys::table
            .filter(upstream_keys::key_use.eq(key_use.as_str()))
            .filter(upstream_keys::used_until.is_null())
            .count()
            .get_result(self.conn)?;
        Ok(count > 0)
    }
}

impl Write<'_> {
    pub fn insert_upstream_key(&mut self, key: &StoredUpstreamKey, now: i64) -> Result<()> {
        diesel::insert_into(upstream_keys::table)
            .values((
                upstream_keys::kid.eq(&key.kid),
                upstream_keys::key_use.eq(key.key_use.as_str()),
                upstream_keys::sealed_private_key.eq(&key.sealed_private_key),
                upstream_keys::created_at.eq(now),
                upstream_keys::used_from.eq(key.used_from),
                upstream_keys::used_until.eq(key.used_until),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Ends the current key of `key_use`: used until `used_until`, published
    /// until `published_until`.
    pub fn retire_upstream_keys(&mut self, key_use: KeyUse, used_until: i64, published_until: i64) -> Result<()> {
        diesel::update(
            upstream_keys::table
                .filter(upstream_keys::key_use.eq(key_use.as_str()))
                .filter(upstream_keys::used_until.is_null()),
        )
        .set((upstream_keys::used_until.eq(used_until), upstream_keys::published_until.eq(published_until)))
        .execute(self.conn)?;
        Ok(())
    }

    /// Deletes keys no longer published.
    pub fn delete_unpublished_upstream_keys(&mut self, now: i64) -> Result<usize> {
        Ok(diesel::delete(upstream_keys::table.filter(upstream_keys::published_until.le(now))).execute(self.conn)?)
    }
}
