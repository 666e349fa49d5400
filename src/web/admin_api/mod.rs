//! The admin JSON API, `/api/admin/v1` (DESIGN.md, "Admin API"): the
//! users of the companies within an administrator's reach, their
//! invitations, the companies' audit logs, announcements, and (customer
//! service) adding companies and applications.
//!
//! Every request carries a Bearer access token with the `admin` scope
//! (invalid → `401 invalid_token`); the person's roles are read anew for
//! each request, and each company, user or invitation in the path goes
//! through the reach check: out of reach or absent is `404 not_found`
//! alike, a role that does not allow the action `403 forbidden`, both
//! recorded in the company's log. The OpenAPI 3.1 document at
//! `/api/admin/v1/openapi.json` is generated from the handlers.

mod announcements;
mod clients;
mod companies;
mod invitations;
mod users;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL};
use actix_web::middleware::DefaultHeaders;
use actix_web::web::ServiceConfig;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api::{ApiError, ApiResult, json_config, openapi_answer, parse_id, path_config, query_config};
use super::browser::{origin_of, run};
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::domain::access_token::verify_access_token;
use crate::domain::admin::{self, AdminContext, Administrator};
use crate::domain::audit::rfc3339;
use crate::domain::discovery::ADMIN_SCOPE;
use crate::domain::ids::{CompanyId, UserId};
use crate::error::{Error, Result};

/// Where the admin API lives.
pub const BASE: &str = "/api/admin/v1";

/// The admin API's OpenAPI document; each handler adds its path here.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portti admin API"),
    servers((url = "/api/admin/v1")),
    modifiers(&BearerToken, &InCatalogue, &TokenRefusedAnywhere),
    security(("bearer" = [])),
    paths(
        openapi_document,
        companies::list_companies,
        companies::add_company,
        companies::company_audit,
        clients::add_client,
        users::list_users,
        users::add_user,
        users::get_user,
        users::patch_user,
        users::put_communication,
        users::put_rights,
        users::put_national_id,
        invitations::send_invitation,
        invitations::get_invitation,
        invitations::cancel_invitation,
        invitations::verification_code,
        announcements::list_announcements,
        announcements::post_announcement,
    ),
    components(schemas(ErrorBody))
)]
pub struct AdminApi;

/// The `bearer` security scheme the document's operations require.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every operation but the document itself needs the token, and so may be
/// answered `401 invalid_token`: documented on each, once, here.
struct TokenRefusedAnywhere;

impl Modify for TokenRefusedAnywhere {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let refused = ResponseBuilder::new()
            .description("`invalid_token`: no access token with the `admin` scope, or not a valid one")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/openapi.json" {
                continue;
            }
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                operation.responses.responses.entry("401".to_owned()).or_insert_with(|| refused.clone().into());
            }
        }
    }
}

/// The document's title and description, from the catalogue (English).
struct InCatalogue;

impl Modify for InCatalogue {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let english = crate::i18n::Texts::english();
        openapi.info.title = english.get("admin_api.title").to_owned();
        let errors = "Bearer access token with the `admin` scope; errors are `{\"error\", \"message\"}`.";
        openapi.info.description = Some(format!("{} {errors}", english.get("admin_api.description")));
    }
}

pub use super::api::ErrorBody;

/// Registers the routes under [`BASE`].
pub fn routes(config: &mut ServiceConfig) {
    // What the API answers is about people: no cache keeps it.
    config.service(
        web::scope(BASE)
            .app_data(json_config())
            .app_data(query_config())
            .app_data(path_config())
            .wrap(DefaultHeaders::new().add((CACHE_CONTROL, "no-store")))
            .wrap(actix_web::middleware::from_fn(super::api::in_request_language))
            .service(openapi_document)
            .service(companies::list_companies)
            .service(companies::add_company)
            .service(companies::company_audit)
            .service(clients::add_client)
            .service(users::list_users)
            .service(users::add_user)
            .service(users::get_user)
            .service(users::patch_user)
            .service(users::put_communication)
            .service(users::put_rights)
            .service(users::put_national_id)
            .service(invitations::send_invitation)
            .service(invitations::get_invitation)
            .service(invitations::cancel_invitation)
            .service(invitations::verification_code)
            .service(announcements::list_announcements)
            .service(announcements::post_announcement),
    );
}

/// The OpenAPI 3.1 document of the admin API.
#[utoipa::path(get, path = "/openapi.json", security(()), responses((status = 200, description = "This document")))]
#[get("/openapi.json")]
async fn openapi_document() -> HttpResponse {
    openapi_answer(AdminApi::openapi())
}

/// The request's Bearer token, as sent; a request without one is refused
/// `401 invalid_token`.
pub struct Bearer(String);

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = std::future::Ready<std::result::Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
            .map(|(_, token)| Bearer(token.trim().to_owned()));
        std::future::ready(token.ok_or(ApiError(Error::InvalidToken)))
    }
}

/// Runs an administrator's request: the token is verified (signature,
/// expiry, a grant not revoked, the `admin` scope), the person's roles are
/// checked as they are now, and `work` runs with them, on the blocking pool.
async fn as_admin<T: Send + 'static>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    Bearer(token): Bearer,
    work: impl FnOnce(&AdminContext<'_>, UnixSeconds, &Administrator) -> Result<T> + Send + 'static,
) -> ApiResult<T> {
    let origin = origin_of(req, state);
    Ok(run(state, move |s, now| {
        let access = verify_access_token(&s.token_context(), now, &token)?;
        if !access.scope.split_whitespace().any(|scope| scope == ADMIN_SCOPE) {
            return Err(Error::InvalidToken);
        }
        // A client's own token (`client:…`) names no person.
        let person = parse_id(&access.sub).map_err(|_| Error::InvalidToken)?;
        let ctx = AdminContext { store: &s.store, keys: &s.keys, issuer: &s.settings.issuer, origin };
        let administrator = admin::administrator(&ctx, now, &UserId::from_stored(person))?;
        work(&ctx, now, &administrator)
    })
    .await?)
}

/// An id from the path or a body: anything but an id Portti made is not
/// found. Read once the token has been checked, so a caller without a valid
/// token learns nothing from the answer.
fn any_id(segment: &str) -> Result<String> {
    parse_id(segment).map_err(|e| e.0)
}

/// A company id from the path or a body.
fn company_id(segment: &str) -> Result<CompanyId> {
    any_id(segment).map(CompanyId::from_stored)
}

/// A user id from the path.
fn user_id(segment: &str) -> Result<UserId> {
    any_id(segment).map(UserId::from_stored)
}

/// A time the API reads: RFC 3339 (`2026-12-01T16:00:00Z`).
fn parse_time(field: &str, text: &str) -> Result<UnixSeconds> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|moment| moment.unix_timestamp())
        .map_err(|_| Error::InvalidRequest(format!("{field} must be an RFC 3339 time such as 2026-12-01T16:00:00Z")))
}

/// A time the API writes.
fn time_text(seconds: UnixSeconds) -> String {
    rfc3339(seconds)
}
