//! What the JSON APIs (`/api/admin/v1`, `/api/app/v1`) share: every error
//! is `{"error": <stable code>, "message": <a sentence for a person>}`
//! (DESIGN.md, "External interface, part 2"), the sentence in the language
//! the request's `Accept-Language` asks for (English otherwise); and a body
//! is JSON of at most 16 KiB, refused with `invalid_request` otherwise.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use serde::Serialize;

use super::error_response::{is_server_side, status_of, tell_when_to_retry};
use super::limits::BODY_LIMIT;
use super::request_id;
use crate::domain::refusal::Refusal;
use crate::error::Error;
use crate::i18n::{Lang, Texts};

tokio::task_local! {
    /// The language of the request being answered, for its error messages.
    static LANG: Lang;
}

/// Middleware of the API scopes: their errors' messages are in the
/// language the request asks for.
pub async fn in_request_language(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let lang = super::page::lang_of(request.request(), None);
    LANG.scope(lang, next.call(request)).await
}

/// Runs `answer` as though within an API request in `lang`: for an error
/// answered before the request reaches its scope.
pub fn in_language<T>(lang: Lang, answer: impl FnOnce() -> T) -> T {
    LANG.sync_scope(lang, answer)
}

/// The catalogue in the language of the request being answered (English
/// outside an API request).
pub fn request_texts() -> Texts {
    LANG.try_with(|lang| Texts::new(*lang)).unwrap_or_else(|_| Texts::english())
}

/// An error as a JSON API answers it.
#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        Self(Error::Refused(refusal))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Every error of the JSON APIs.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code.
    #[schema(example = "invalid_code")]
    error: &'static str,
    /// A sentence for the person.
    message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((CACHE_CONTROL, "no-store"));
        tell_when_to_retry(&self.0, &mut response);
        if matches!(self.0, Error::InvalidToken) {
            response.insert_header((WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
        }
        let texts = request_texts();
        let body = match &self.0 {
            Error::Refused(refusal) => ErrorBody { error: refusal.code(), message: texts.refusal(refusal) },
            // Whatever it was that is not there, the answer is the same:
            // what lies beyond an administrator's reach is not revealed.
            Error::NotFound(_) => {
                ErrorBody { error: "not_found", message: texts.get("error.api_not_found").to_owned() }
            }
            Error::InvalidToken => {
                ErrorBody { error: "invalid_token", message: texts.get("error.api_invalid_token").to_owned() }
            }
            error if is_server_side(error) => {
                tracing::error!(request_id = request_id::current().as_deref(), error = %error, "request failed");
                let key = if matches!(error, Error::Unavailable(_)) { "error.unavailable" } else { "error.api_server" };
                ErrorBody { error: error.code(), message: texts.get(key).to_owned() }
            }
            error => ErrorBody { error: error.code(), message: error.to_string() },
        };
        response.json(body)
    }
}

/// How the APIs read JSON bodies: at most [`BODY_LIMIT`]; a body that is not
/// the expected JSON is `invalid_request`, saying what is wrong with it.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(BODY_LIMIT).error_handler(|error, _req| {
        ApiError(Error::InvalidRequest(format!("The request body is not what this endpoint reads: {error}"))).into()
    })
}

/// How the APIs read a query: one that is not what the endpoint reads is
/// `invalid_request`, as a JSON error like every other.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        ApiError(Error::InvalidRequest(format!("The query is not what this endpoint reads: {error}"))).into()
    })
}

/// How the APIs read a path's parameters, likewise.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _req| {
        ApiError(Error::InvalidRequest(format!("The path is not what this endpoint reads: {error}"))).into()
    })
}

/// A path segment that is an id Portti made: a UUID. Anything else is not
/// found, before it is looked up.
pub fn parse_id(segment: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(segment).map(|id| id.to_string()).map_err(|_| ApiError(Error::NotFound("id")))
}

/// An API's OpenAPI document, as `openapi.json` serves it.
pub fn openapi_answer(document: utoipa::openapi::OpenApi) -> HttpResponse {
    match document.to_json() {
        Ok(json) => HttpResponse::Ok().content_type("application/json").body(json),
        Err(e) => ApiError(Error::internal(e)).error_response(),
    }
}
