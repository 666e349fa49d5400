//! `/devices`: the app registers its device credential, and the person's
//! devices are listed and removed (DESIGN.md, "App API"). Bearer: an access
//! token of the app's client; registering needs a sign-in at most 10
//! minutes old.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::domain::audit::rfc3339;
use crate::domain::devices::{self, Device, NewDevice, SignInAge, app_person};
use crate::web::api::{ApiResult, parse_id};
use crate::web::browser::{origin_of, run_in_database_slot};
use crate::web::token::bearer_token;

/// A device credential to register.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterDevice {
    /// The device key's public half: a P-256 JWK (`kty` EC, `crv` P-256,
    /// `x` and `y` base64url of 32 bytes).
    #[schema(value_type = Object, example = json!({"kty": "EC", "crv": "P-256", "x": "…", "y": "…"}))]
    pub public_key: Value,
    /// What the person calls the phone ("Maija's iPhone").
    pub name: String,
    /// `ios`, `android`, …
    pub platform: String,
}

/// A registered device's id: the `kid` and `iss` of its assertions.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredDevice {
    pub device_id: String,
}

/// One of the person's devices; times are RFC 3339 UTC.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceEntry {
    pub device_id: String,
    pub name: String,
    pub platform: String,
    #[schema(example = "2026-12-01T16:00:00Z")]
    pub created_at: String,
    /// `null` until the device first signs in.
    pub last_used_at: Option<String>,
}

impl From<Device> for DeviceEntry {
    fn from(device: Device) -> Self {
        Self {
            device_id: device.device_id,
            name: device.name,
            platform: device.platform,
            created_at: rfc3339(device.created_at),
            last_used_at: device.last_used_at.map(rfc3339),
        }
    }
}

/// Registers the app's device credential; this completes the person's invitation.
#[utoipa::path(
    post,
    path = "/devices",
    request_body = RegisterDevice,
    responses(
        (status = 201, description = "Registered", body = RegisteredDevice),
        (status = 400, description = "`invalid_key`, `invalid_name` or `invalid_request`"),
        (status = 401, description = "`invalid_token`: no access token of the app's client"),
        (status = 403, description = "`fresh_sign_in_required`: the sign-in is over 10 minutes old"),
        (status = 426, description = "`app_update_required`"),
    )
)]
#[post("/devices")]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterDevice>,
) -> ApiResult<HttpResponse> {
    let token = bearer_token(&req, None)?;
    let origin = origin_of(&req, &state);
    let body = body.into_inner();
    let device_id = run_in_database_slot(&state, move |s, now| {
        let person = app_person(&s.token_context(), now, &token, SignInAge::Fresh)?;
        let new = NewDevice { public_key: &body.public_key, name: &body.name, platform: &body.platform };
        devices::register(&s.store, now, &origin, &person, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(RegisteredDevice { device_id }))
}

/// The person's devices.
#[utoipa::path(
    get,
    path = "/devices",
    responses(
        (status = 200, description = "The devices, the first registered first", body = [DeviceEntry]),
        (status = 401, description = "`invalid_token`"),
        (status = 426, description = "`app_update_required`"),
    )
)]
#[get("/devices")]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let token = bearer_token(&req, None)?;
    let listed = run_in_database_slot(&state, move |s, now| {
        let person = app_person(&s.token_context(), now, &token, SignInAge::Any)?;
        devices::list(&s.store, &person)
    })
    .await?;
    let entries: Vec<DeviceEntry> = listed.into_iter().map(DeviceEntry::from).collect();
    Ok(HttpResponse::Ok().insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(entries))
}

/// Removes one of the person's devices: it is refused at once.
#[utoipa::path(
    delete,
    path = "/devices/{device_id}",
    params(("device_id" = String, Path, description = "The device's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`invalid_token`"),
        (status = 404, description = "`not_found`: no such device of this person"),
        (status = 426, description = "`app_update_required`"),
    )
)]
#[delete("/devices/{device_id}")]
pub async fn remove(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let token = bearer_token(&req, None)?;
    let device_id = parse_id(&path.into_inner())?;
    let origin = origin_of(&req, &state);
    run_in_database_slot(&state, move |s, now| {
        let person = app_person(&s.token_context(), now, &token, SignInAge::Any)?;
        devices::remove(&s.store, now, &origin, &person, &device_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
