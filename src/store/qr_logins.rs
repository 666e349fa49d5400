//! QR sign-ins: one row per QR code a sign-in page showed.

use diesel::prelude::*;

use super::housekeeping::{KEEP_ENDED_SECONDS, Sweep};
use super::schema::qr_logins;
use super::{Read, Write};
use crate::error::Result;

/// A QR code as stored; `state` is the domain's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = qr_logins)]
pub struct StoredQrLogin {
    pub id_digest: String,
    pub browser_digest: String,
    pub flow_digest: String,
    pub number: i32,
    /// The three numbers the phone offers, space-separated.
    pub choices: String,
    pub user_agent: String,
    pub address: Option<String>,
    pub client_id: Option<String>,
    pub state: String,
    pub version: i32,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Read<'_> {
    pub fn qr_login(&mut self, id_digest: &str) -> Result<Option<StoredQrLogin>> {
        Ok(qr_logins::table.find(id_digest).select(StoredQrLogin::as_select()).get_result(self.conn).optional()?)
    }

    /// How many QR codes of this browser are live at `now`.
    pub fn live_qr_logins_of_browser(&mut self, browser_digest: &str, now: i64) -> Result<i64> {
        Ok(qr_logins::table
            .filter(qr_logins::browser_digest.eq(browser_digest))
            .filter(qr_logins::expires_at.gt(now))
            .count()
            .get_result(self.conn)?)
    }
}

impl Write<'_> {
    pub fn insert_qr_login(&mut self, qr: &StoredQrLogin) -> Result<()> {
        diesel::insert_into(qr_logins::table).values(qr).execute(self.conn)?;
        Ok(())
    }

    /// Saves a QR code's new state (and when it expires), provided it is
    /// still at `expected_version`; false when another request changed it first.
    pub fn update_qr_login(
        &mut self,
        id_digest: &str,
        expected_version: i32,
        state: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let updated = diesel::update(qr_logins::table.find(id_digest).filter(qr_logins::version.eq(expected_version)))
            .set((
                qr_logins::state.eq(state),
                qr_logins::expires_at.eq(expires_at),
                qr_logins::version.eq(expected_version + 1),
            ))
            .execute(self.conn)?;
        Ok(updated == 1)
    }
}

/// QR codes that expired a day ago (kept that long for the record).
pub(super) const SWEEP: Sweep = Sweep { tables: &["qr_logins"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let expired = qr_logins::table.filter(qr_logins::expires_at.le(now - KEEP_ENDED_SECONDS));
    Ok(diesel::delete(expired).execute(tx.conn)?)
}
