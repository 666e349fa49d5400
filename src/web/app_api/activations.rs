//! The activation of an invited person, as the app calls it: the sign-up
//! code, a new SMS code, the verification code. No token: the sign-up code
//! and then the activation id are what the app holds.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::domain::activation::{self, Activation, Next, Verified};
use crate::web::api::{ApiResult, ErrorBody};
use crate::web::browser::{client_address, origin_of, run_in_database_slot};
use crate::web::page::lang_of;

/// `POST /activations`.
#[derive(Deserialize, ToSchema)]
pub struct StartBody {
    /// The 16-character code of the invitation email; case, spaces and dashes do not matter.
    #[schema(example = "ABCD-EFGH-JKMN-PQRS")]
    sign_up_code: String,
}

/// An activation.
#[derive(Serialize, ToSchema)]
pub struct ActivationBody {
    /// What the next calls name the activation by.
    activation_id: String,
    /// The inviting company's name.
    company: String,
    /// The inviting administrator's name.
    invited_by: String,
    /// The number the SMS went to, masked but for its last two digits.
    #[schema(example = "••••••••••67")]
    phone_hint: String,
    /// New SMS codes the person may still order.
    resends_left: i32,
    /// Set once the verification code was right (an app restarted after it):
    /// where the person goes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Next>,
    /// With `next`: the account's email, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

impl From<Activation> for ActivationBody {
    fn from(a: Activation) -> Self {
        Self {
            activation_id: a.id,
            company: a.company,
            invited_by: a.invited_by,
            phone_hint: a.phone_hint,
            resends_left: a.resends_left,
            next: a.verified.as_ref().map(|v| v.next),
            email: a.verified.map(|v| v.email_hint),
        }
    }
}

/// `POST /activations/{id}/resend`'s answer.
#[derive(Serialize, ToSchema)]
pub struct ResendBody {
    resends_left: i32,
}

/// `POST /activations/{id}/verify`.
#[derive(Deserialize, ToSchema)]
pub struct VerifyBody {
    /// The 6-digit code from the SMS, or from the administrator.
    #[schema(example = "123456")]
    code: String,
}

/// `POST /activations/{id}/verify`'s answer.
#[derive(Serialize, ToSchema)]
pub struct VerifiedBody {
    /// `create_password`: a link to create the account password was emailed;
    /// `sign_in`: the person has a password, and signs in in the app.
    next: Next,
    /// The account's email, masked.
    #[schema(example = "j•••@example.com")]
    email: String,
}

impl From<Verified> for VerifiedBody {
    fn from(v: Verified) -> Self {
        Self { next: v.next, email: v.email_hint }
    }
}

/// Enter the sign-up code: an SMS with a 6-digit verification code goes to
/// the invitee's phone. The same code again answers 200 with the same
/// activation and sends nothing.
#[utoipa::path(post, path = "/activations", tag = "activation", request_body = StartBody,
    params(("Portti-App-Version" = String, Header, description = "The app's version (semver)")),
    responses(
        (status = 201, body = ActivationBody, description = "Started; the SMS is on its way"),
        (status = 200, body = ActivationBody, description = "Started before; nothing sent"),
        (status = 400, body = ErrorBody, description = "`invalid_code`, `invitation_expired`, `invitation_cancelled`, `invitation_replaced`"),
        (status = 426, body = ErrorBody, description = "`app_update_required`"),
        (status = 429, body = ErrorBody, description = "`too_many_attempts`"),
    ))]
#[post("/activations")]
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<StartBody>,
) -> ApiResult<HttpResponse> {
    let (lang, origin, address) = (lang_of(&req, None), origin_of(&req, &state), throttle_key(&req, &state));
    let activation = run_in_database_slot(&state, move |s, now| {
        let ctx = activation::ActivationContext { origin, ..s.activation(lang) };
        activation::start(&ctx, now, address.as_deref(), &body.sign_up_code)
    })
    .await?;
    let mut answer = if activation.started_now { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(answer.insert_header(("Cache-Control", "no-store")).json(ActivationBody::from(activation)))
}

/// Order a new SMS code: at most two per invitation.
#[utoipa::path(post, path = "/activations/{activation_id}/resend", tag = "activation",
    params(("activation_id" = String, Path), ("Portti-App-Version" = String, Header)),
    responses(
        (status = 200, body = ResendBody),
        (status = 400, body = ErrorBody, description = "`invitation_expired`, `invitation_cancelled`, `invitation_replaced`, `step_already_done`"),
        (status = 404, body = ErrorBody, description = "`not_found`: no such activation"),
        (status = 429, body = ErrorBody, description = "`resend_limit`: ask the administrator for a code; `too_many_attempts`"),
        (status = 426, body = ErrorBody, description = "`app_update_required`"),
    ))]
#[post("/activations/{activation_id}/resend")]
pub async fn resend(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let (lang, origin, address) = (lang_of(&req, None), origin_of(&req, &state), throttle_key(&req, &state));
    let resends_left = run_in_database_slot(&state, move |s, now| {
        let ctx = activation::ActivationContext { origin, ..s.activation(lang) };
        activation::resend(&ctx, now, address.as_deref(), &path)
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(ResendBody { resends_left }))
}

/// Enter the verification code, from the SMS or from the administrator.
#[utoipa::path(post, path = "/activations/{activation_id}/verify", tag = "activation", request_body = VerifyBody,
    params(("activation_id" = String, Path), ("Portti-App-Version" = String, Header)),
    responses(
        (status = 200, body = VerifiedBody),
        (status = 400, body = ErrorBody, description = "`invalid_code`, `code_expired`, `invitation_expired`, `invitation_cancelled`, `invitation_replaced`, `step_already_done`"),
        (status = 404, body = ErrorBody, description = "`not_found`: no such activation"),
        (status = 429, body = ErrorBody, description = "`too_many_attempts`: five wrong codes end the codes"),
        (status = 426, body = ErrorBody, description = "`app_update_required`"),
    ))]
#[post("/activations/{activation_id}/verify")]
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<VerifyBody>,
) -> ApiResult<HttpResponse> {
    let (lang, origin, address) = (lang_of(&req, None), origin_of(&req, &state), throttle_key(&req, &state));
    let verified = run_in_database_slot(&state, move |s, now| {
        let ctx = activation::ActivationContext { origin, ..s.activation(lang) };
        activation::verify(&ctx, now, address.as_deref(), &path, &body.code)
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(VerifiedBody::from(verified)))
}

fn throttle_key(req: &HttpRequest, state: &AppState) -> Option<String> {
    client_address(req, state).map(|address| address.throttle_key())
}
