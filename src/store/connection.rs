//! The database URL, the two-backend connection and its pool manager.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::error::{Error, Result};

/// One connection to either backend; diesel generates the dispatch.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the database is, chosen by the URL scheme.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file (`sqlite://PATH`).
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://…`), as libpq takes it.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Seconds libpq waits for a server before giving up, unless the URL says
/// otherwise; a request waits no longer for a connection from the pool.
pub(super) const POSTGRES_CONNECT_TIMEOUT_SECONDS: u32 = 5;

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, `postgres://…` or `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(Error::Config("database_url `sqlite://` needs a file path".to_owned()));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed = url::Url::parse(url)
                .map_err(|e| Error::Config(format!("database_url is not a valid PostgreSQL URL: {e}")))?;
            if parsed.query_pairs().any(|(key, _)| key == "connect_timeout") {
                return Ok(Self::Postgres(url.to_owned()));
            }
            let separator = if parsed.query().is_some() { '&' } else { '?' };
            return Ok(Self::Postgres(format!("{url}{separator}connect_timeout={POSTGRES_CONNECT_TIMEOUT_SECONDS}")));
        }
        Err(Error::Config(format!(
            "database_url must start with sqlite:// or postgres:// (got `{}`)",
            Self::redact(url)
        )))
    }

    /// The directory that holds local data: beside the SQLite file, else the working directory.
    pub fn data_dir(&self) -> PathBuf {
        match self {
            Self::Sqlite(path) => match path.parent() {
                Some(parent) if parent != Path::new("") => parent.to_path_buf(),
                _ => PathBuf::from("."),
            },
            Self::Postgres(_) => PathBuf::from("."),
        }
    }

    /// The URL with any password replaced, fit for logs and errors.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => Self::redact(url),
        }
    }

    fn redact(url: &str) -> String {
        match url::Url::parse(url) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(parsed) => parsed.to_string(),
            Err(_) => "<unparseable URL>".to_owned(),
        }
    }

    /// Opens one connection, set up for Portti's use (outside the pool: for
    /// start-up checks and tests).
    pub fn establish(&self) -> Result<DbConnection, ConnectError> {
        match self {
            Self::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // busy_timeout first: switching to WAL itself needs the lock.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )?;
                Ok(DbConnection::Sqlite(conn))
            }
            Self::Postgres(url) => Ok(DbConnection::Postgresql(PgConnection::establish(url)?)),
        }
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Connection(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Setup(#[from] diesel::result::Error),
}

/// An r2d2 manager that picks the backend from the URL scheme. (diesel's own
/// multi-backend `establish` tries each backend in turn and hides the real error.)
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// How many of the pool's connections have been found lost.
    losses: Arc<AtomicU64>,
}

impl ConnectionManager {
    pub(super) fn new(url: DatabaseUrl) -> Self {
        Self { url, losses: Arc::new(AtomicU64::new(0)) }
    }
}

/// A connection that has just done good work is not checked again before its
/// next use (as HikariCP does): checking costs a round trip to PostgreSQL on
/// every request. One that sat idle longer, or whose last work met an error
/// of the database (not a refusal), is;
/// and so is every one once another was found lost, since what ended one
/// (a restart) may have ended them all.
const TRUSTED_AFTER_SUCCESS: Duration = Duration::from_secs(1);

/// A connection in the pool.
pub struct Pooled {
    pub(super) conn: DbConnection,
    /// When it last did work without an error of the database (`None` once
    /// one happened), and how many connections had been found lost by then.
    last_success: Option<(Instant, u64)>,
    /// Set once it is known to be lost, so the pool drops it.
    lost: bool,
    losses: Arc<AtomicU64>,
}

impl Pooled {
    /// Records the outcome of work done on this connection. A refusal
    /// (a wrong code, an unknown token) is work done; only an error of the
    /// database itself makes the connection checked before its next use.
    pub(super) fn record<T>(&mut self, outcome: &crate::error::Result<T>) {
        use crate::error::Error;
        match outcome {
            Err(Error::Unavailable(_) | Error::Internal(_)) => self.last_success = None,
            _ => self.succeeded(),
        }
    }

    /// [`record`](Self::record)s the outcome of work and, when the work
    /// found the database unavailable, whether that is because this
    /// connection is lost; returns whether it is.
    pub(super) fn settle<T>(&mut self, outcome: &crate::error::Result<T>) -> bool {
        self.record(outcome);
        matches!(outcome, Err(crate::error::Error::Unavailable(_))) && self.found_lost()
    }

    fn succeeded(&mut self) {
        self.last_success = Some((Instant::now(), self.losses.load(Ordering::Relaxed)));
    }

    /// Whether work failed because this connection is gone (the server
    /// restarted or ended it), rather than because of the work: it then no
    /// longer answers even `SELECT 1`. A lost connection is dropped when it
    /// is handed back, and the others are checked before their next use.
    fn found_lost(&mut self) -> bool {
        if !self.lost && self.conn.batch_execute("SELECT 1").is_err() {
            self.lost = true;
            self.losses.fetch_add(1, Ordering::Relaxed);
        }
        self.lost
    }

    fn trusted(&self) -> bool {
        self.last_success.is_some_and(|(at, losses)| {
            at.elapsed() < TRUSTED_AFTER_SUCCESS && losses == self.losses.load(Ordering::Relaxed)
        })
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = ConnectError;

    fn connect(&self) -> Result<Pooled, ConnectError> {
        let losses = Arc::clone(&self.losses);
        let last_success = Some((Instant::now(), losses.load(Ordering::Relaxed)));
        Ok(Pooled { conn: self.url.establish()?, last_success, lost: false, losses })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), ConnectError> {
        if pooled.trusted() {
            return Ok(());
        }
        pooled.conn.batch_execute("SELECT 1")?;
        pooled.succeeded();
        Ok(())
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        use diesel::r2d2::R2D2Connection;
        pooled.lost || pooled.conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(DatabaseUrl::parse("sqlite://portti.db").unwrap(), DatabaseUrl::Sqlite("portti.db".into()));
        assert_eq!(DatabaseUrl::parse("sqlite:///var/lib/p.db").unwrap(), DatabaseUrl::Sqlite("/var/lib/p.db".into()));
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres("postgres://u@h/db?connect_timeout=5".into())
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db?sslmode=require&connect_timeout=2").unwrap(),
            DatabaseUrl::Postgres("postgres://u@h/db?sslmode=require&connect_timeout=2".into())
        );
        assert!(DatabaseUrl::parse("mysql://h/db").unwrap_err().to_string().contains("database_url"));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_never_reach_logs() {
        let url = DatabaseUrl::parse("postgres://portti:hunter2@db.internal/portti").unwrap();
        assert!(!url.redacted().contains("hunter2"));
        assert!(!format!("{url:?}").contains("hunter2"));
        let err = DatabaseUrl::parse("mysql://portti:hunter2@h/db").unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn data_dir_is_beside_the_sqlite_file() {
        assert_eq!(DatabaseUrl::parse("sqlite://portti.db").unwrap().data_dir(), PathBuf::from("."));
        assert_eq!(DatabaseUrl::parse("sqlite:///srv/p/portti.db").unwrap().data_dir(), PathBuf::from("/srv/p"));
    }
}
