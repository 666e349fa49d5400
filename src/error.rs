//! The one error type of Portti and its single mapping to HTTP.
//!
//! Variants say what went wrong *for the caller*. Only `InvalidRequest`,
//! `NotFound` and `Conflict` carry text that is shown; `Internal` and
//! `Unavailable` show a request id and send their detail to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::web::request_id;

/// Everything that can go wrong in Portti.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed or breaks a rule; the message tells a person what to fix.
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
    /// A bearer token is missing, invalid, expired or revoked (RFC 6750 `invalid_token`).
    #[error("the access token is invalid")]
    InvalidToken,
    /// Too many attempts: the account is locked, or the address throttled.
    #[error("Too many attempts. Wait a while and try again.")]
    RateLimited,
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

    /// The OAuth-style error code used in JSON bodies.
    fn code(&self) -> &'static str {
        match self {
            Error::InvalidRequest(_) => "invalid_request",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::RateLimited => "slow_down",
            Error::InvalidClient => "invalid_client",
            Error::InvalidGrant(_) => "invalid_grant",
            Error::UnauthorizedClient(_) => "unauthorized_client",
            Error::UnsupportedGrantType => "unsupported_grant_type",
            Error::InvalidScope(_) => "invalid_scope",
            Error::InvalidToken => "invalid_token",
            Error::Config(_) | Error::Internal(_) => "server_error",
            Error::Unavailable(_) => "temporarily_unavailable",
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Error::internal(format_args!("database: {e}"))
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Unavailable(format!("database pool: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for Error {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Error::internal(format_args!("blocking task: {e}"))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    error_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Error::InvalidClient | Error::InvalidToken => StatusCode::UNAUTHORIZED,
            Error::InvalidGrant(_)
            | Error::UnauthorizedClient(_)
            | Error::UnsupportedGrantType
            | Error::InvalidScope(_) => StatusCode::BAD_REQUEST,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Config(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = request_id::current();
        let description = match self {
            Error::InvalidRequest(_)
            | Error::NotFound(_)
            | Error::Conflict(_)
            | Error::RateLimited
            | Error::InvalidClient
            | Error::InvalidGrant(_)
            | Error::UnauthorizedClient(_)
            | Error::UnsupportedGrantType
            | Error::InvalidScope(_)
            | Error::InvalidToken => self.to_string(),
            Error::Unavailable(_) | Error::Config(_) | Error::Internal(_) => {
                tracing::error!(request_id = request_id.as_deref(), error = %self, "request failed");
                match self {
                    Error::Unavailable(_) => "The service is temporarily unavailable.".to_owned(),
                    _ => "Something went wrong on our side.".to_owned(),
                }
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        // OAuth error responses must not be cached (RFC 6749 5.2).
        response.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
        match self {
            Error::InvalidClient => {
                response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Basic realm=\"portti\""));
            }
            Error::InvalidToken => {
                response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: description,
            request_id: request_id.as_deref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};

    use super::*;

    async fn failing() -> Result<&'static str> {
        Err(Error::internal("connection to postgres://portti:hunter2@db failed"))
    }

    async fn refused() -> Result<&'static str> {
        Err(Error::InvalidRequest("Enter an email address.".to_owned()))
    }

    #[actix_web::test]
    async fn internal_errors_show_the_request_id_and_hide_the_detail() {
        let app =
            test::init_service(App::new().wrap(from_fn(request_id::assign)).route("/fail", web::get().to(failing)))
                .await;
        let response = test::call_service(&app, test::TestRequest::get().uri("/fail").to_request()).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let header = response.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["error"], "server_error");
        assert_eq!(body["request_id"], header.as_str());
        assert!(!body.to_string().contains("hunter2"), "{body}");
        assert!(!body.to_string().contains("postgres"), "{body}");
    }

    #[actix_web::test]
    async fn caller_errors_say_what_to_fix() {
        let app = test::init_service(App::new().route("/refuse", web::get().to(refused))).await;
        let response = test::call_service(&app, test::TestRequest::get().uri("/refuse").to_request()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["error_description"], "Enter an email address.");
    }
}
