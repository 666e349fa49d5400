//! The one error type of Portti. Its mapping to HTTP lives in the web layer
//! (`web/error_response.rs`), once.
//!
//! Variants say what went wrong *for the caller*. A refusal a person acts on
//! is a [`Refusal`], whose text the catalogue holds in every language;
//! `InvalidRequest` and the OAuth variants carry developer-facing English for
//! protocol errors and the command line; `Internal` and `Unavailable` show a
//! request id and send their detail to the log.

pub use crate::domain::refusal::Refusal;

/// Everything that can go wrong in Portti.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Portti says no to a person, for a reason they can act on; shown as
    /// text (in logs, on the command line) in English.
    #[error("{}", crate::i18n::Texts::english().refusal(.0))]
    Refused(Refusal),
    /// A protocol request or a command is malformed; the message says what to
    /// fix, in English, for the developer or operator.
    #[error("{0}")]
    InvalidRequest(String),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request clashes with what is already stored (a duplicate email, say).
    #[error("{0}")]
    Conflict(String),
    /// The client could not be authenticated (OAuth `invalid_client`).
    #[error("client authentication failed")]
    InvalidClient,
    /// A code, refresh token or credential is invalid, expired, revoked or used (OAuth `invalid_grant`).
    #[error("{0}")]
    InvalidGrant(String),
    /// The client may not do this (OAuth `unauthorized_client`).
    #[error("{0}")]
    UnauthorizedClient(String),
    /// The grant type is not one Portti supports (OAuth `unsupported_grant_type`).
    #[error("unsupported grant_type")]
    UnsupportedGrantType,
    /// A requested scope is unknown or not allowed (OAuth `invalid_scope`).
    #[error("{0}")]
    InvalidScope(String),
    /// A device polls before the person has answered (RFC 8628 `authorization_pending`).
    #[error("the person has not answered yet; poll again after the interval")]
    AuthorizationPending,
    /// A device polls faster than its interval, which grows by 5 seconds (RFC 8628 `slow_down`).
    #[error("polling too fast; the interval is now {0} seconds")]
    SlowDown(i32),
    /// The person refused the device (RFC 8628 `access_denied`).
    #[error("the person denied the request")]
    AccessDenied,
    /// The device code expired before the person answered (RFC 8628 `expired_token`).
    #[error("the device code has expired; start again")]
    ExpiredToken,
    /// A bearer token is missing, invalid, expired or revoked (RFC 6750 `invalid_token`).
    #[error("the access token is invalid")]
    InvalidToken,
    /// The configuration or the environment is wrong; reported at start-up.
    #[error("configuration: {0}")]
    Config(String),
    /// A dependency (the database) cannot be reached right now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the detail is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Portti's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An internal error from anything displayable; the text goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    /// The error code used in JSON bodies: a refusal's own, else OAuth's.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Refused(refusal) => refusal.code(),
            Error::InvalidRequest(_) => "invalid_request",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::InvalidClient => "invalid_client",
            Error::InvalidGrant(_) => "invalid_grant",
            Error::UnauthorizedClient(_) => "unauthorized_client",
            Error::UnsupportedGrantType => "unsupported_grant_type",
            Error::InvalidScope(_) => "invalid_scope",
            Error::InvalidToken => "invalid_token",
            Error::AuthorizationPending => "authorization_pending",
            Error::SlowDown(_) => "slow_down",
            Error::AccessDenied => "access_denied",
            Error::ExpiredToken => "expired_token",
            Error::Config(_) | Error::Internal(_) => "server_error",
            Error::Unavailable(_) => "temporarily_unavailable",
        }
    }
}

impl From<diesel::result::Error> for Error {
    /// A database that cannot take the work now (its connection lost, its
    /// disk full, a standby that is read-only, SQLite busy) is unavailable,
    /// which passes: 503, try again. Anything else is a fault of Portti's, 500.
    fn from(e: diesel::result::Error) -> Self {
        if is_passing(&e) {
            Error::Unavailable(format!("database: {e}"))
        } else {
            Error::internal(format_args!("database: {e}"))
        }
    }
}

/// Whether a database error passes once the database has recovered.
fn is_passing(e: &diesel::result::Error) -> bool {
    use diesel::result::DatabaseErrorKind as Kind;
    use diesel::result::Error as Diesel;
    match e {
        Diesel::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand | Kind::ReadOnlyTransaction, _) => {
            true
        }
        // SQLite says these in words only: its messages for SQLITE_FULL,
        // SQLITE_IOERR and SQLITE_BUSY, compared whole, so that no message
        // quoting a client's input can pass for one.
        // PostgreSQL's full disk (SQLSTATE 53100, which diesel does not
        // name): its message begins and ends so, whatever file it names.
        Diesel::DatabaseError(Kind::Unknown, info) => {
            let message = info.message();
            ["database or disk is full", "disk I/O error", "database is locked"].contains(&message)
                || (message.starts_with("could not extend file ") && message.ends_with(": No space left on device"))
        }
        // A commit lost with its connection, whose rollback failed too.
        Diesel::RollbackErrorOnCommit { commit_error, .. } => is_passing(commit_error),
        _ => false,
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Unavailable(format!("database pool: {e}"))
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        Error::Refused(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind as Kind, Error as Diesel};

    fn database_error(kind: Kind, message: &str) -> Error {
        Diesel::DatabaseError(kind, Box::new(message.to_owned())).into()
    }

    #[test]
    fn a_database_that_cannot_take_the_work_now_is_unavailable() {
        for (kind, message) in [
            (Kind::ClosedConnection, "server closed the connection unexpectedly"),
            (Kind::UnableToSendCommand, "no connection to the server"),
            (Kind::ReadOnlyTransaction, "cannot execute INSERT in a read-only transaction"),
            (Kind::Unknown, "database or disk is full"),
            (Kind::Unknown, "database is locked"),
            (Kind::Unknown, "could not extend file \"base/16384/2619\": No space left on device"),
        ] {
            assert_eq!(database_error(kind, message).code(), "temporarily_unavailable", "{message}");
        }
    }

    #[test]
    fn other_database_errors_are_internal_even_when_they_quote_those_words() {
        for message in [
            "invalid input syntax for type integer: \"database is locked\"",
            "value too long: could not extend file x: No space left on device!",
            "relation \"sessions\" does not exist",
        ] {
            assert_eq!(database_error(Kind::Unknown, message).code(), "server_error", "{message}");
        }
        assert_eq!(database_error(Kind::UniqueViolation, "database is locked").code(), "server_error");
    }

    #[test]
    fn a_commit_lost_with_its_connection_is_unavailable() {
        let lost = || Box::new(Diesel::DatabaseError(Kind::ClosedConnection, Box::new("gone".to_owned())));
        let error: Error = Diesel::RollbackErrorOnCommit { rollback_error: lost(), commit_error: lost() }.into();
        assert_eq!(error.code(), "temporarily_unavailable");
    }
}
