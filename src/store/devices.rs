//! The mobile app's device credentials, the assertions each has used, and
//! the grants its sign-ins started.

use diesel::prelude::*;

use super::housekeeping::Sweep;
use super::schema::{device_assertions, device_grants, devices, grants};
use super::{Read, Write, is_unique_violation};
use crate::domain::ids::UserId;
use crate::error::Result;

/// A device credential as stored: the P-256 public key's JWK `x` and `y`
/// (base64url of 32 bytes each).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
pub struct StoredDevice {
    pub id: String,
    pub user_id: String,
    pub key_x: String,
    pub key_y: String,
    pub name: String,
    pub platform: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Read<'_> {
    pub fn device(&mut self, id: &str) -> Result<Option<StoredDevice>> {
        Ok(devices::table.find(id).select(StoredDevice::as_select()).get_result(self.conn).optional()?)
    }

    /// A person's devices, the first registered first.
    pub fn devices_of(&mut self, user_id: &UserId) -> Result<Vec<StoredDevice>> {
        Ok(devices::table
            .filter(devices::user_id.eq(user_id.as_str()))
            .order((devices::created_at.asc(), devices::id.asc()))
            .select(StoredDevice::as_select())
            .load(self.conn)?)
    }
}

impl Write<'_> {
    pub fn insert_device(&mut self, device: &StoredDevice) -> Result<()> {
        diesel::insert_into(devices::table).values(device).execute(self.conn)?;
        Ok(())
    }

    /// Removes a device of `user_id`, revoking the grants its sign-ins
    /// started (their refresh and access tokens stop at once); false when the
    /// person has no such device.
    pub fn delete_device(&mut self, id: &str, user_id: &UserId, now: i64) -> Result<bool> {
        // The device's row is locked first: a device-key sign-in in flight
        // (which locks it in `use_device`) either commits before this, and
        // its grant is revoked below, or finds the device gone.
        if !self.lock_device(id, user_id)? {
            return Ok(false);
        }
        let started = device_grants::table.filter(device_grants::device_id.eq(id)).select(device_grants::grant_id);
        diesel::update(grants::table.filter(grants::id.eq_any(started)).filter(grants::revoked_at.is_null()))
            .set(grants::revoked_at.eq(now))
            .execute(self.conn)?;
        let deleted = diesel::delete(devices::table.find(id)).execute(self.conn)?;
        Ok(deleted == 1)
    }

    /// Locks the row of a device of `user_id` until the transaction ends
    /// (an update that changes nothing, as `SELECT … FOR UPDATE` on both
    /// backends); false when the person has no such device.
    pub fn lock_device(&mut self, id: &str, user_id: &UserId) -> Result<bool> {
        let theirs = devices::table.find(id).filter(devices::user_id.eq(user_id.as_str()));
        Ok(diesel::update(theirs).set(devices::last_used_at.eq(devices::last_used_at)).execute(self.conn)? == 1)
    }

    /// Notes that `device` signs in at `now`, locking its row until the
    /// transaction ends; false when it is gone or its key is not this one.
    pub fn use_device(&mut self, device: &StoredDevice, now: i64) -> Result<bool> {
        let same = devices::table
            .find(&device.id)
            .filter(devices::key_x.eq(&device.key_x))
            .filter(devices::key_y.eq(&device.key_y));
        Ok(diesel::update(same).set(devices::last_used_at.eq(now)).execute(self.conn)? == 1)
    }

    /// Records that a device used the assertion whose `jti` hashes to
    /// `jti_digest`, kept until the assertion expires; false when it was
    /// used already. (A concurrent first use that wins the race is a unique
    /// violation: then this transaction fails, and must not commit anyway.)
    pub fn use_device_assertion(&mut self, device_id: &str, jti_digest: &str, expires_at: i64) -> Result<bool> {
        let used = device_assertions::table
            .find((device_id, jti_digest))
            .select(device_assertions::expires_at)
            .get_result::<i64>(self.conn)
            .optional()?;
        if used.is_some() {
            return Ok(false);
        }
        match diesel::insert_into(device_assertions::table)
            .values((
                device_assertions::device_id.eq(device_id),
                device_assertions::jti_digest.eq(jti_digest),
                device_assertions::expires_at.eq(expires_at),
            ))
            .execute(self.conn)
        {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Records that a device's sign-in started `grant_id`.
    pub fn insert_device_grant(&mut self, grant_id: &str, device_id: &str) -> Result<()> {
        diesel::insert_into(device_grants::table)
            .values((device_grants::grant_id.eq(grant_id), device_grants::device_id.eq(device_id)))
            .execute(self.conn)?;
        Ok(())
    }
}

/// Used assertions whose time has run out: an expired assertion is refused
/// anyway, so its `jti` need not be remembered.
pub(super) const SWEEP: Sweep = Sweep { tables: &["device_assertions"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    Ok(diesel::delete(device_assertions::table.filter(device_assertions::expires_at.le(now))).execute(tx.conn)?)
}
