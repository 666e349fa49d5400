//! Invitations over the API: send, read, cancel, and the administrator's
//! verification code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::state_name;
use super::{Bearer, ErrorBody, any_id, as_admin, company_id, time_text, user_id};
use crate::AppState;
use crate::domain::admin::invitations::{self, InvitationDetail};
use crate::domain::admin::{company_reach, invitation_reach, user_reach};
use crate::web::api::ApiResult;

/// An invitation to send.
#[derive(Deserialize, ToSchema)]
pub struct InvitationRequest {
    pub company_id: String,
    /// Must be `true`: the administrator checked the invitee's identity.
    #[serde(default)]
    pub identity_verified: bool,
}

/// An invitation as sent.
#[derive(Serialize, ToSchema)]
pub struct InvitationSent {
    pub id: String,
    pub state: String,
    pub expires_at: String,
}

/// Sends the user an invitation (a sign-up code by email, valid 24 hours);
/// a live one before is replaced.
#[utoipa::path(
    post,
    path = "/users/{user_id}/invitations",
    params(("user_id" = String, Path)),
    request_body = InvitationRequest,
    responses(
        (status = 201, body = InvitationSent),
        (status = 400, description = "`identity_not_verified`, `invalid_phone` (no phone for codes)", body = ErrorBody),
        (status = 403, description = "`support_must_reinvite`: the contact details changed", body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
#[post("/users/{user_id}/invitations")]
pub async fn send_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    body: web::Json<InvitationRequest>,
) -> ApiResult<HttpResponse> {
    let segment = path.into_inner();
    let InvitationRequest { company_id: company, identity_verified } = body.into_inner();
    let sent = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let user = user_id(&segment)?;
        user_reach(ctx, now, admin, &user)?;
        let company = company_reach(ctx, now, admin, &company_id(&company)?)?;
        invitations::invite(&ctx.invitations(), now, &company, &user, identity_verified)
    })
    .await?;
    let body = InvitationSent { id: sent.id, state: state_name(sent.state), expires_at: time_text(sent.expires_at) };
    Ok(HttpResponse::build(StatusCode::CREATED).json(body))
}

/// An invitation as the administrator's view shows it.
#[derive(Serialize, ToSchema)]
pub struct InvitationBody {
    pub id: String,
    pub user_id: String,
    pub company_id: String,
    /// `sent`, `code_entered`, `verified`, `password_set`, `completed`, `cancelled`, `expired` or `replaced`.
    pub state: String,
    pub expires_at: String,
    /// New SMS codes the invitee may still order.
    pub resends_left: i32,
    pub code_entered_at: Option<String>,
}

impl From<InvitationDetail> for InvitationBody {
    fn from(d: InvitationDetail) -> Self {
        Self {
            id: d.id,
            user_id: d.user_id,
            company_id: d.company_id,
            state: state_name(d.state),
            expires_at: time_text(d.expires_at),
            resends_left: d.resends_left,
            code_entered_at: d.code_entered_at.map(time_text),
        }
    }
}

/// An invitation of a company within reach.
#[utoipa::path(
    get,
    path = "/invitations/{id}",
    params(("id" = String, Path)),
    responses((status = 200, body = InvitationBody), (status = 404, body = ErrorBody))
)]
#[get("/invitations/{id}")]
pub async fn get_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> ApiResult<web::Json<InvitationBody>> {
    let segment = path.into_inner();
    let detail = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let id = any_id(&segment)?;
        let (_, stored) = invitation_reach(ctx, now, admin, &id)?;
        Ok(invitations::detail(&stored, now))
    })
    .await?;
    Ok(web::Json(detail.into()))
}

/// Cancels an invitation; one that has ended stays as it was.
#[utoipa::path(
    delete,
    path = "/invitations/{id}",
    params(("id" = String, Path)),
    responses((status = 204, description = "Cancelled"), (status = 404, body = ErrorBody))
)]
#[delete("/invitations/{id}")]
pub async fn cancel_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let segment = path.into_inner();
    as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let id = any_id(&segment)?;
        let (reach, _) = invitation_reach(ctx, now, admin, &id)?;
        invitations::cancel(&ctx.invitations(), now, &reach, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An administrator's verification code, shown once.
#[derive(Serialize, ToSchema)]
pub struct AdminCodeBody {
    /// Six digits.
    pub code: String,
    pub expires_at: String,
}

/// Generates a verification code for an invitee whose SMS did not arrive:
/// valid 12 hours, it extends the invitation to at least that long and
/// replaces the previous administrator's code.
#[utoipa::path(
    post,
    path = "/invitations/{id}/verification-code",
    params(("id" = String, Path)),
    responses(
        (status = 201, body = AdminCodeBody),
        (status = 400, description = "`invitation_expired`, `invitation_cancelled`, `invitation_replaced`", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`code_not_entered`: the sign-up code was not entered yet", body = ErrorBody)
    )
)]
#[post("/invitations/{id}/verification-code")]
pub async fn verification_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let segment = path.into_inner();
    let code = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let id = any_id(&segment)?;
        let (reach, _) = invitation_reach(ctx, now, admin, &id)?;
        invitations::generate_admin_code(&ctx.invitations(), now, &reach, &id)
    })
    .await?;
    let body = AdminCodeBody { code: code.code, expires_at: time_text(code.expires_at) };
    Ok(HttpResponse::build(StatusCode::CREATED).json(body))
}
