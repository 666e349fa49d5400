//! The one mapping of [`Error`] to an HTTP answer in JSON. Pages show errors
//! with [`super::browser::error_page`] instead, in the person's language.
//!
//! OAuth endpoints answer RFC 6749's `{"error", "error_description"}`; a
//! refusal answers `{"error": <its code>, "message": <a sentence>}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::request_id;
use crate::error::Error;
use crate::i18n::Texts;

/// The HTTP status of an error.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::Refused(refusal) => StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST),
        Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::InvalidClient | Error::InvalidToken => StatusCode::UNAUTHORIZED,
        Error::InvalidGrant(_)
        | Error::UnauthorizedClient(_)
        | Error::UnsupportedGrantType
        | Error::InvalidScope(_)
        | Error::AuthorizationPending
        | Error::SlowDown(_)
        | Error::AccessDenied
        | Error::ExpiredToken => StatusCode::BAD_REQUEST,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Config(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// How long a client is told to wait before it tries again, in seconds,
/// when the service is unavailable for now (`Retry-After`).
pub const RETRY_AFTER_SECONDS: &str = "5";

/// Adds `Retry-After` to an answer that says the service is unavailable
/// for now (503).
pub fn tell_when_to_retry(error: &Error, response: &mut actix_web::HttpResponseBuilder) {
    if status_of(error) == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((RETRY_AFTER, RETRY_AFTER_SECONDS));
    }
}

/// Whether the error is the server's (its detail is logged, never shown).
pub fn is_server_side(error: &Error) -> bool {
    matches!(error, Error::Unavailable(_) | Error::Config(_) | Error::Internal(_))
}

#[derive(Serialize)]
struct OAuthBody<'a> {
    error: &'static str,
    error_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

#[derive(Serialize)]
struct RefusalBody {
    error: &'static str,
    message: String,
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        status_of(self)
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = request_id::current();
        let mut response = HttpResponse::build(self.status_code());
        // OAuth error responses must not be cached (RFC 6749 5.2).
        response.insert_header((CACHE_CONTROL, "no-store"));
        tell_when_to_retry(self, &mut response);
        match self {
            Error::InvalidClient => {
                response.insert_header((WWW_AUTHENTICATE, "Basic realm=\"portti\""));
            }
            Error::InvalidToken => {
                response.insert_header((WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
            }
            _ => {}
        }
        if let Error::Refused(refusal) = self {
            return response.json(RefusalBody { error: refusal.code(), message: Texts::english().refusal(refusal) });
        }
        let description = if is_server_side(self) {
            tracing::error!(request_id = request_id.as_deref(), error = %self, "request failed");
            match self {
                Error::Unavailable(_) => "The service is temporarily unavailable.".to_owned(),
                _ => "Something went wrong on our side.".to_owned(),
            }
        } else {
            self.to_string()
        };
        response.json(OAuthBody {
            error: self.code(),
            error_description: description,
            request_id: request_id.as_deref(),
        })
    }
}

impl From<actix_web::error::BlockingError> for Error {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Error::internal(format_args!("blocking task: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};

    use super::*;
    use crate::error::{Refusal, Result};

    async fn failing() -> Result<&'static str> {
        Err(Error::internal("connection to postgres://portti:hunter2@db failed"))
    }

    async fn protocol_error() -> Result<&'static str> {
        Err(Error::InvalidRequest("grant_type is required".to_owned()))
    }

    async fn refused() -> Result<&'static str> {
        Err(Refusal::PhoneCharacter { input: "040-1234567".to_owned(), character: '-' }.into())
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
    async fn protocol_errors_say_what_to_fix() {
        let app = test::init_service(App::new().route("/refuse", web::get().to(protocol_error))).await;
        let response = test::call_service(&app, test::TestRequest::get().uri("/refuse").to_request()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["error_description"], "grant_type is required");
    }

    #[actix_web::test]
    async fn refusals_answer_their_code_and_a_sentence() {
        let app = test::init_service(App::new().route("/refuse", web::get().to(refused))).await;
        let response = test::call_service(&app, test::TestRequest::get().uri("/refuse").to_request()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["error"], "invalid_phone");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("+358401234567"), "names the expected form: {message}");
    }
}
