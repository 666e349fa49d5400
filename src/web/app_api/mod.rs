//! The mobile app's API, `/api/app/v1` (DESIGN.md, "App API"): the
//! activation of an invited person, the device credential, and QR sign-in
//! from the phone. It exists only when `app.client_id` names the app's
//! client; every request says the app's version (`Portti-App-Version`), and
//! an app older than `app.min_version` is answered `426
//! app_update_required` before anything else. The OpenAPI 3.1 document at
//! `/api/app/v1/openapi.json` is generated from the handlers.

mod activations;
mod devices;
mod qr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::web::ServiceConfig;
use actix_web::{HttpResponse, ResponseError, get, web};
use utoipa::OpenApi;

use super::api::{ApiError, json_config, openapi_answer, path_config, query_config};
use crate::AppState;
use crate::domain::app_version;
use crate::error::Error;

/// Where the app API lives.
pub const BASE: &str = "/api/app/v1";

/// The app API's OpenAPI document; each handler adds its path here.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portti app API", description = "The mobile app's API: activation, devices, QR sign-in."),
    servers((url = "/api/app/v1")),
    paths(
        openapi_document,
        activations::start,
        activations::resend,
        activations::verify,
        devices::register,
        devices::list,
        devices::remove,
        qr::describe,
        qr::approve,
        qr::deny
    ),
    components(schemas(
        devices::RegisterDevice,
        devices::RegisteredDevice,
        devices::DeviceEntry,
        qr::QrRequestBody,
        qr::ApproveBody
    ))
)]
pub struct AppApi;

/// Registers the routes under [`BASE`].
pub fn routes(config: &mut ServiceConfig) {
    config.service(
        web::scope(BASE)
            .app_data(json_config())
            .app_data(query_config())
            .app_data(path_config())
            .wrap(from_fn(gate))
            .wrap(actix_web::middleware::from_fn(super::api::in_request_language))
            .service(openapi_document)
            .service(activations::start)
            .service(activations::resend)
            .service(activations::verify)
            .service(devices::register)
            .service(devices::list)
            .service(devices::remove)
            .service(qr::describe)
            .service(qr::approve)
            .service(qr::deny),
    );
}

/// The OpenAPI 3.1 document of the app API.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "This document")))]
#[get("/openapi.json")]
async fn openapi_document() -> HttpResponse {
    openapi_answer(AppApi::openapi())
}

/// Middleware: no app API without `app.client_id`; no app below
/// `app.min_version`. The OpenAPI document is for the app's developers,
/// and is served to any client.
async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError(Error::internal("no application state")).into());
    };
    let app = &state.settings.app;
    let refusal = if app.client_id.is_none() {
        Some(ApiError(Error::NotFound("app API")))
    } else if req.path() == format!("{BASE}/openapi.json") {
        None
    } else {
        let sent = req.headers().get(app_version::HEADER).and_then(|v| v.to_str().ok());
        app_version::check(app.min_version.as_ref(), sent).err().map(ApiError::from)
    };
    match refusal {
        Some(refusal) => Ok(req.into_response(refusal.error_response()).map_into_right_body()),
        None => next.call(req).await.map(ServiceResponse::map_into_left_body),
    }
}
