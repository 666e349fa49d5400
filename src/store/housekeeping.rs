//! Deleting what has run its course. Each store module sweeps the tables it
//! owns (its `SWEEP`); [`Store::sweep_expired`] runs every sweep, from this
//! one list, so a new table is swept by adding its module's sweep here.

use super::{
    Store, Write, account, device_authorizations, devices, grants, invitations, outbox, passkeys, password_resets,
    qr_logins, sessions, setup_links, throttle, upstream_logins,
};
use crate::error::Result;

/// How long rows that ended (sessions, grants, codes, resets, contact
/// changes, counters) are kept for the record before a sweep deletes them.
pub const KEEP_ENDED_SECONDS: i64 = 24 * 3600;

/// How long delivered or given-up outbox messages are kept.
pub const KEEP_OUTBOX_SECONDS: i64 = 30 * 24 * 3600;

/// One store module's sweep: the tables it clears, and how.
pub(super) struct Sweep {
    /// Every table whose expired rows `run` deletes, by its SQL name.
    pub tables: &'static [&'static str],
    /// Deletes what has run its course by `now`; returns the rows deleted.
    pub run: fn(&mut Write<'_>, i64) -> Result<usize>,
}

/// Every sweep. A table with an `expires_at` column must be cleared by one of
/// them: tests/it/store/sweeps.rs reads the migrated schema and fails otherwise.
const SWEEPS: [&Sweep; 13] = [
    &sessions::SWEEP,
    &grants::SWEEP,
    &outbox::SWEEP,
    &throttle::SWEEP,
    &password_resets::SWEEP,
    &account::SWEEP,
    &invitations::SWEEP,
    &setup_links::SWEEP,
    &devices::SWEEP,
    &qr_logins::SWEEP,
    &device_authorizations::SWEEP,
    &passkeys::SWEEP,
    &upstream_logins::SWEEP,
];

/// The tables that [`Store::sweep_expired`] clears.
pub fn swept_tables() -> Vec<&'static str> {
    SWEEPS.iter().flat_map(|sweep| sweep.tables.iter().copied()).collect()
}

impl Store {
    /// Runs every sweep, each in a transaction of its own so that none holds
    /// SQLite's write lock for the others. A failed sweep does not stop the
    /// rest; the first error is returned after all have run. Returns the rows
    /// deleted (not counting those a deleted grant takes with it).
    pub fn sweep_expired(&self, now: i64) -> Result<usize> {
        let mut deleted = 0;
        let mut first_error = None;
        for sweep in SWEEPS {
            match self.write(|tx| (sweep.run)(tx, now)) {
                Ok(rows) => deleted += rows,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(deleted),
        }
    }
}
