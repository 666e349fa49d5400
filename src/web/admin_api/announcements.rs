//! Announcements for the sign-in pages: customer service posts them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Bearer, ErrorBody, as_admin, parse_time, time_text};
use crate::AppState;
use crate::domain::admin::announcements::{self, Announcement};
use crate::domain::admin::customer_service;
use crate::web::api::ApiResult;

/// An announcement to post.
#[derive(Deserialize, ToSchema)]
pub struct NewAnnouncementBody {
    /// 1–1000 characters.
    pub text: String,
    pub starts_at: String,
    /// After `starts_at`.
    pub ends_at: String,
}

/// An announcement.
#[derive(Serialize, ToSchema)]
pub struct AnnouncementBody {
    pub id: String,
    pub text: String,
    pub starts_at: String,
    pub ends_at: String,
}

impl From<Announcement> for AnnouncementBody {
    fn from(a: Announcement) -> Self {
        Self { id: a.id, text: a.text, starts_at: time_text(a.starts_at), ends_at: time_text(a.ends_at) }
    }
}

/// Posts an announcement (support only); the sign-in pages show it while in force.
#[utoipa::path(
    post,
    path = "/announcements",
    request_body = NewAnnouncementBody,
    responses(
        (status = 201, body = AnnouncementBody),
        (status = 400, description = "`invalid_announcement`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not support", body = ErrorBody)
    )
)]
#[post("/announcements")]
pub async fn post_announcement(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    body: web::Json<NewAnnouncementBody>,
) -> ApiResult<HttpResponse> {
    let NewAnnouncementBody { text, starts_at, ends_at } = body.into_inner();
    let posted = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let support = customer_service(ctx, now, admin)?;
        let (starts_at, ends_at) = (parse_time("starts_at", &starts_at)?, parse_time("ends_at", &ends_at)?);
        announcements::post(ctx, now, &support, &text, starts_at, ends_at)
    })
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(AnnouncementBody::from(posted)))
}

/// The announcements in force now and those to come, the earliest first.
#[utoipa::path(get, path = "/announcements", responses((status = 200, body = [AnnouncementBody])))]
#[get("/announcements")]
pub async fn list_announcements(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
) -> ApiResult<web::Json<Vec<AnnouncementBody>>> {
    let listed =
        as_admin(&req, &state, bearer, |ctx, now, _admin| announcements::current_and_future(ctx.store, now)).await?;
    Ok(web::Json(listed.into_iter().map(AnnouncementBody::from).collect()))
}
