//! Signing keys, stored sealed under the master key.

use diesel::prelude::*;

use super::schema::signing_keys;
use super::{Read, Write};
use crate::crypto::signing::SigningAlg;
use crate::error::{Error, Result};

/// A signing key as stored; the private key still sealed.
#[derive(Debug, Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub sealed_private_key: String,
    pub signs_from: i64,
    pub signs_until: Option<i64>,
}

type KeyRow = (String, String, String, i64, Option<i64>);

fn from_row((kid, alg, sealed_private_key, signs_from, signs_until): KeyRow) -> Result<StoredSigningKey> {
    let alg = SigningAlg::parse(&alg).map_err(|_| Error::internal("unknown stored signing algorithm"))?;
    Ok(StoredSigningKey { kid, alg, sealed_private_key, signs_from, signs_until })
}

impl Read<'_> {
    /// The keys to publish at `now`, oldest first.
    pub fn published_signing_keys(&mut self, now: i64) -> Result<Vec<StoredSigningKey>> {
        signing_keys::table
            .filter(signing_keys::published_until.is_null().or(signing_keys::published_until.gt(now)))
            .order((signing_keys::signs_from, signing_keys::kid))
            .select((
                signing_keys::kid,
                signing_keys::alg,
                signing_keys::sealed_private_key,
                signing_keys::signs_from,
                signing_keys::signs_until,
            ))
            .load::<KeyRow>(self.conn)?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// Whether `alg` has a key that is, or will become, the current signer.
    pub fn has_current_signing_key(&mut self, alg: SigningAlg) -> Result<bool> {
        let count: i64 = signing_keys::table
            .filter(signing_keys::alg.eq(alg.as_str()))
            .filter(signing_keys::signs_until.is_null())
            .count()
            .get_result(self.conn)?;
        Ok(count > 0)
    }
}

impl Write<'_> {
    pub fn insert_signing_key(&mut self, key: &StoredSigningKey, now: i64) -> Result<()> {
        diesel::insert_into(signing_keys::table)
            .values((
                signing_keys::kid.eq(&key.kid),
                signing_keys::alg.eq(key.alg.as_str()),
                signing_keys::sealed_private_key.eq(&key.sealed_private_key),
                signing_keys::created_at.eq(now),
                signing_keys::signs_from.eq(key.signs_from),
                signing_keys::signs_until.eq(key.signs_until),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Ends the current key of `alg`: it signs until `signs_until` and stays
    /// published until `published_until`.
    pub fn retire_signing_keys(&mut self, alg: SigningAlg, signs_until: i64, published_until: i64) -> Result<()> {
        diesel::update(
            signing_keys::table.filter(signing_keys::alg.eq(alg.as_str())).filter(signing_keys::signs_until.is_null()),
        )
        .set((signing_keys::signs_until.eq(signs_until), signing_keys::published_until.eq(published_until)))
        .execute(self.conn)?;
        Ok(())
    }

    /// Ends a key at once: it signs no more and is published no more.
    pub fn retire_signing_key_now(&mut self, kid: &str, now: i64) -> Result<()> {
        diesel::update(signing_keys::table.find(kid))
            .set((signing_keys::published_until.eq(now), signing_keys::signs_until.eq(now)))
            .execute(self.conn)?;
        Ok(())
    }

    /// Deletes keys no longer published.
    pub fn delete_unpublished_signing_keys(&mut self, now: i64) -> Result<usize> {
        Ok(diesel::delete(signing_keys::table.filter(signing_keys::published_until.le(now))).execute(self.conn)?)
    }
}
