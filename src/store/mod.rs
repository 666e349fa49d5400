//! Storage: diesel over SQLite or PostgreSQL, chosen at run time from the
//! database URL. The only place SQL lives.
//!
//! Work happens in a [`Read`] or a [`Write`]: a write runs in one transaction
//! (on SQLite `BEGIN IMMEDIATE`, so concurrent writers queue instead of failing
//! to upgrade a read lock), and a function that takes `&mut Write` says in its
//! signature that it changes the database. Everything here is synchronous; the
//! web layer runs it on the blocking pool.
//!
//! Single-row lookups use `get_result`, never `first`: diesel binds `first`'s
//! `LIMIT 1` as a parameter, and SQLite re-prepares a statement whose LIMIT is
//! a parameter each time it is bound, which cost a token request a third of
//! its time (BENCHMARKS.md). Clippy holds the line (`clippy.toml`).

mod account;
mod announcements;
mod audit;
mod clients;
mod companies;
mod connection;
mod credentials;
mod device_authorizations;
mod devices;
mod grants;
mod housekeeping;
mod invitation_admin;
mod invitations;
mod outbox;
mod passkeys;
mod password_resets;
mod qr_logins;
pub mod schema;
mod sessions;
mod setup_links;
mod signing_keys;
mod throttle;
mod upstream_keys;
mod upstream_logins;
mod user_admin;
mod users;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use account::{StoredConsent, StoredContactChange};
pub use announcements::StoredAnnouncement;
pub use audit::StoredAuditEvent;
pub use connection::{DatabaseUrl, DbConnection};
pub use credentials::StoredTotp;
pub use device_authorizations::StoredDeviceAuthorization;
pub use devices::StoredDevice;
pub use grants::{StoredCode, StoredGrant, StoredRefreshToken};
pub use housekeeping::{KEEP_ENDED_SECONDS, KEEP_OUTBOX_SECONDS, swept_tables};
pub use invitations::StoredInvitation;
pub use outbox::{ClaimedMessage, OutboxCounts};
pub use passkeys::{StoredCeremony, StoredPasskey};
pub use password_resets::StoredReset;
pub use qr_logins::StoredQrLogin;
pub use sessions::{StoredFlow, StoredSession};
pub use signing_keys::StoredSigningKey;
pub use throttle::LockoutHistory;
pub use upstream_keys::StoredUpstreamKey;
pub use upstream_logins::{StoredUpstreamLink, StoredUpstreamLogin};

use crate::crypto::Keys;
use crate::error::{Error, Result};
use connection::ConnectionManager;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a request waits for a database connection (libpq's own
/// `connect_timeout`) before it is answered 503.
pub const WAIT_FOR_A_CONNECTION: Duration = Duration::from_secs(connection::POSTGRES_CONNECT_TIMEOUT_SECONDS as u64);

/// Serialises start-up work when several instances start against one PostgreSQL.
const STARTUP_LOCK: i64 = 0x706f_7274_7469;

/// A pool of connections to Portti's database.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<ConnectionManager>,
    url: DatabaseUrl,
    /// SQLite takes one writer at a time. Writers of this process queue here
    /// and are woken the moment it is their turn; left to SQLite's busy
    /// handler they would poll with sleeps of up to 100 ms (a p99 of 60 ms
    /// for refresh tokens under load, BENCHMARKS.md).
    sqlite_writer: Arc<Mutex<()>>,
    /// Notified when a transaction that put a message in the outbox commits,
    /// so the worker delivers it at once; nobody wakes it by hand.
    outbox_queued: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish_non_exhaustive()
    }
}

/// A handle for reading.
pub struct Read<'a> {
    conn: &'a mut DbConnection,
}

/// A handle for reading and writing inside one transaction.
pub struct Write<'a> {
    read: Read<'a>,
    /// Whether this transaction put a message in the outbox.
    enqueued: bool,
}

impl<'a> Write<'a> {
    fn new(conn: &'a mut DbConnection) -> Self {
        Self { read: Read { conn }, enqueued: false }
    }
}

impl<'a> std::ops::Deref for Write<'a> {
    type Target = Read<'a>;
    fn deref(&self) -> &Read<'a> {
        &self.read
    }
}

impl<'a> std::ops::DerefMut for Write<'a> {
    fn deref_mut(&mut self) -> &mut Read<'a> {
        &mut self.read
    }
}

impl Store {
    /// Connects, failing with the real reason (not a pool time-out) when the
    /// database cannot be reached.
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Self> {
        // One direct connection first, so an unreachable server is reported as such.
        url.establish()
            .map_err(|e| Error::Unavailable(format!("cannot connect to the database at {}: {e}", url.redacted())))?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            // No idle floor: r2d2 would reconnect in the background to keep
            // it, and a libpq connect still running on that thread when the
            // process exits crashes OpenSSL's exit handlers.
            .min_idle(Some(0))
            // A database that is down is answered with 503 within this
            // (it is retried meanwhile: a restart is ridden out), never a hang.
            .connection_timeout(WAIT_FOR_A_CONNECTION)
            .build(ConnectionManager::new(url.clone()))
            .map_err(|e| Error::Unavailable(format!("cannot open the database pool at {}: {e}", url.redacted())))?;
        Ok(Self {
            pool,
            url: url.clone(),
            sqlite_writer: Arc::new(Mutex::new(())),
            outbox_queued: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Connections in the pool, and how many of them are idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Notified whenever a transaction that queued a message has committed.
    pub fn outbox_queued(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_queued.clone()
    }

    /// The URL this store was opened with.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Applies the pending migrations; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>> {
        let mut pooled = self.pool.get()?;
        let applied = match &mut pooled.conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(versions),
            DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(versions),
        };
        applied.map_err(|e| Error::internal(format_args!("migration failed: {e}")))
    }

    /// Runs start-up work (migrations, first-use records) one instance at a
    /// time, so instances starting together do not race. On PostgreSQL an
    /// advisory lock, held on a connection of its own, serialises them; on
    /// SQLite one process owns the file and its writes are serialised anyway.
    pub fn during_startup<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        if let DatabaseUrl::Sqlite(_) = self.url {
            return work();
        }
        let mut lock = self.url.establish().map_err(|e| Error::Unavailable(format!("database: {e}")))?;
        lock.batch_execute(&format!("SELECT pg_advisory_lock({STARTUP_LOCK})"))?;
        let outcome = work();
        lock.batch_execute(&format!("SELECT pg_advisory_unlock({STARTUP_LOCK})"))?;
        outcome
    }

    /// Runs `work` with a connection, outside any transaction. Reading
    /// changes nothing, so work that failed because its connection was lost
    /// (PostgreSQL restarted, or ended that one connection) runs once more
    /// on a fresh connection: a lost connection costs no reader an error.
    pub fn read<T>(&self, mut work: impl FnMut(&mut Read<'_>) -> Result<T>) -> Result<T> {
        let mut pooled = self.pool.get()?;
        let outcome = work(&mut Read { conn: &mut pooled.conn });
        if !pooled.settle(&outcome) {
            return outcome;
        }
        drop(pooled);
        let mut pooled = self.pool.get()?;
        let outcome = work(&mut Read { conn: &mut pooled.conn });
        pooled.record(&outcome);
        outcome
    }

    /// Runs `work` in one transaction: all of it is stored, or none of it.
    /// `work` must not call `read` or `write` itself: on SQLite it holds the
    /// one write turn, and a nested write would wait for it forever. Once a
    /// transaction that queued a message commits, the outbox worker is woken.
    pub fn write<T>(&self, work: impl FnOnce(&mut Write<'_>) -> Result<T>) -> Result<T> {
        let mut pooled = self.pool.get()?;
        let conn = &mut pooled.conn;
        let mut enqueued = false;
        let outcome = if matches!(conn, DbConnection::Sqlite(_)) {
            let _turn = self.sqlite_writer.lock().unwrap_or_else(PoisonError::into_inner);
            sqlite_immediate_transaction(conn, &mut enqueued, work)
        } else {
            conn.transaction(|conn| {
                let mut tx = Write::new(conn);
                let outcome = work(&mut tx);
                enqueued = tx.enqueued;
                outcome
            })
        };
        // Not retried when the connection was lost: whether a lost
        // transaction committed is unknown.
        pooled.settle(&outcome);
        if outcome.is_ok() && enqueued {
            self.outbox_queued.notify_one();
        }
        outcome
    }

    /// Copies a SQLite database, consistently and while it serves, to a new
    /// file at `path` (`VACUUM INTO`). A PostgreSQL database is backed up
    /// with its own tools (`pg_dump`), which this says.
    pub fn backup_to(&self, path: &std::path::Path) -> Result<()> {
        if path.exists() {
            return Err(Error::InvalidRequest(format!("{} exists already: give a new file", path.display())));
        }
        let target = path.to_str().ok_or_else(|| Error::InvalidRequest("the backup's path is not UTF-8".into()))?;
        let mut pooled = self.pool.get()?;
        match &mut pooled.conn {
            DbConnection::Sqlite(conn) => {
                diesel::sql_query("VACUUM INTO ?").bind::<diesel::sql_types::Text, _>(target).execute(conn)?;
                Ok(())
            }
            DbConnection::Postgresql(_) => Err(Error::InvalidRequest(
                "a PostgreSQL database is backed up with pg_dump (see the README's \"Back it up\")".into(),
            )),
        }
    }

    /// Whether the database answers, with Portti's tables in place; quickly,
    /// so a load balancer's probe gets an answer rather than a time-out.
    pub fn ping(&self) -> Result<()> {
        let mut pooled = self.pool.get_timeout(Duration::from_secs(2))?;
        let outcome = schema::instance_settings::table
            .select(schema::instance_settings::name)
            .get_result::<String>(&mut pooled.conn)
            .optional()
            .map(|_| ())
            .map_err(|e| Error::Unavailable(format!("database: {e}")));
        pooled.settle(&outcome);
        outcome
    }

    /// Records the master key's check value on first use, and refuses a
    /// different master key afterwards: secrets sealed under one key cannot be
    /// opened with another, and mixing them would corrupt the deployment.
    pub fn verify_master_key(&self, keys: &Keys) -> Result<()> {
        use schema::instance_settings::dsl as s;
        let check = keys.key_check()?;
        self.write(|tx| {
            let stored = s::instance_settings
                .filter(s::name.eq("master_key_check"))
                .select(s::value)
                .get_result::<String>(tx.conn)
                .optional()?;
            match stored {
                None => {
                    diesel::insert_into(s::instance_settings)
                        .values((s::name.eq("master_key_check"), s::value.eq(&check)))
                        .execute(tx.conn)?;
                    Ok(())
                }
                Some(stored) if stored == check => Ok(()),
                Some(_) => Err(Error::Config(
                    "the master key is not the one this database was set up with; \
                     give every instance the deployment's master_key"
                        .to_owned(),
                )),
            }
        })
    }
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}

fn sqlite_immediate_transaction<T>(
    conn: &mut DbConnection,
    enqueued: &mut bool,
    work: impl FnOnce(&mut Write<'_>) -> Result<T>,
) -> Result<T> {
    conn.batch_execute("BEGIN IMMEDIATE")?;
    let mut tx = Write::new(&mut *conn);
    let outcome = work(&mut tx);
    *enqueued = tx.enqueued;
    let finished = match &outcome {
        Ok(_) => conn.batch_execute("COMMIT"),
        Err(_) => conn.batch_execute("ROLLBACK"),
    };
    if let Err(e) = finished {
        let _ = conn.batch_execute("ROLLBACK");
        return Err(e.into());
    }
    outcome
}

/// Whether a database error is a unique-constraint violation.
fn is_unique_violation(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
}
