//! The device authorization grant's requests (RFC 8628).

use diesel::prelude::*;

use super::housekeeping::{KEEP_ENDED_SECONDS, Sweep};
use super::schema::device_authorizations;
use super::{Read, Write};
use crate::error::Result;

/// A device's request as stored; `state` is the domain's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = device_authorizations)]
pub struct StoredDeviceAuthorization {
    pub device_code_digest: String,
    pub user_code_digest: String,
    pub client_id: String,
    /// Space-separated.
    pub scopes: String,
    pub state: String,
    pub version: i32,
    pub interval_seconds: i32,
    pub last_polled_at: Option<i64>,
    /// Where the device asked from.
    pub address: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Read<'_> {
    pub fn device_authorization(&mut self, device_code_digest: &str) -> Result<Option<StoredDeviceAuthorization>> {
        Ok(device_authorizations::table
            .find(device_code_digest)
            .select(StoredDeviceAuthorization::as_select())
            .get_result(self.conn)
            .optional()?)
    }

    pub fn device_authorization_by_user_code(
        &mut self,
        user_code_digest: &str,
    ) -> Result<Option<StoredDeviceAuthorization>> {
        Ok(device_authorizations::table
            .filter(device_authorizations::user_code_digest.eq(user_code_digest))
            .select(StoredDeviceAuthorization::as_select())
            .get_result(self.conn)
            .optional()?)
    }
}

impl Write<'_> {
    pub fn insert_device_authorization(&mut self, row: &StoredDeviceAuthorization) -> Result<()> {
        diesel::insert_into(device_authorizations::table).values(row).execute(self.conn)?;
        Ok(())
    }

    /// Saves a request's new state, provided it is still at
    /// `expected_version`; false when another request changed it first.
    pub fn update_device_authorization(
        &mut self,
        device_code_digest: &str,
        expected_version: i32,
        state: &str,
    ) -> Result<bool> {
        let updated = diesel::update(
            device_authorizations::table
                .find(device_code_digest)
                .filter(device_authorizations::version.eq(expected_version)),
        )
        .set((device_authorizations::state.eq(state), device_authorizations::version.eq(expected_version + 1)))
        .execute(self.conn)?;
        Ok(updated == 1)
    }

    /// Notes a device's poll and its interval now; the state, and its
    /// version, stay as they are (a poll never races the person's answer).
    pub fn note_device_poll(&mut self, device_code_digest: &str, interval_seconds: i32, polled_at: i64) -> Result<()> {
        diesel::update(device_authorizations::table.find(device_code_digest))
            .set((
                device_authorizations::interval_seconds.eq(interval_seconds),
                device_authorizations::last_polled_at.eq(polled_at),
            ))
            .execute(self.conn)?;
        Ok(())
    }
}

/// Requests that expired a day ago (kept that long for the record).
pub(super) const SWEEP: Sweep = Sweep { tables: &["device_authorizations"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let expired = device_authorizations::table.filter(device_authorizations::expires_at.le(now - KEEP_ENDED_SECONDS));
    Ok(diesel::delete(expired).execute(tx.conn)?)
}
