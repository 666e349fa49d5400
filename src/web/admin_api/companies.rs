//! The companies an administrator administers, their audit logs, and
//! (customer service) adding one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Bearer, ErrorBody, as_admin, company_id, time_text};
use crate::AppState;
use crate::domain::admin::{self, administered_companies, audit_log, company_reach, customer_service};
use crate::domain::company::Company;
use crate::web::api::ApiResult;

/// A company.
#[derive(Serialize, ToSchema)]
pub struct CompanyBody {
    pub id: String,
    pub name: String,
    /// The accounting office whose client company this is, if any.
    pub office_id: Option<String>,
}

/// The companies the caller administers now (support: all), by name.
#[utoipa::path(get, path = "/companies", responses((status = 200, body = [CompanyBody]), (status = 401, body = ErrorBody)))]
#[get("/companies")]
pub async fn list_companies(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
) -> ApiResult<web::Json<Vec<CompanyBody>>> {
    let companies = as_admin(&req, &state, bearer, |ctx, _now, admin| administered_companies(ctx, admin)).await?;
    Ok(web::Json(companies.into_iter().map(CompanyBody::from).collect()))
}

impl From<Company> for CompanyBody {
    fn from(c: Company) -> Self {
        Self { id: c.id.as_str().to_owned(), name: c.name, office_id: c.office_id.map(|o| o.as_str().to_owned()) }
    }
}

/// A company to add.
#[derive(Deserialize, ToSchema)]
pub struct NewCompanyBody {
    /// 1–200 characters.
    pub name: String,
    /// The accounting office it is a client company of, if any (itself no office's client).
    #[serde(default)]
    pub office_id: Option<String>,
}

/// Adds a company (support only); with `office_id`, as a client company of that office.
#[utoipa::path(
    post,
    path = "/companies",
    request_body = NewCompanyBody,
    responses(
        (status = 201, body = CompanyBody),
        (status = 400, description = "`invalid_name`: no name; `invalid_office`: the office is itself a client company", body = ErrorBody),
        (status = 403, description = "`forbidden`: not support", body = ErrorBody),
        (status = 404, description = "`not_found`: no such office", body = ErrorBody)
    )
)]
#[post("/companies")]
pub async fn add_company(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    body: web::Json<NewCompanyBody>,
) -> ApiResult<HttpResponse> {
    let NewCompanyBody { name, office_id } = body.into_inner();
    let added = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let support = customer_service(ctx, now, admin)?;
        let office = office_id.as_deref().map(company_id).transpose()?;
        admin::companies::add(ctx, now, &support, &name, office.as_ref())
    })
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(CompanyBody::from(added)))
}

/// A page of the log.
#[derive(Deserialize, IntoParams)]
pub struct AuditPage {
    /// The `id` of the last entry of the previous page: only older entries follow.
    before: Option<String>,
    /// Entries on the page: 1–200, default 50.
    limit: Option<i64>,
}

/// One entry of a company's log.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryBody {
    /// The entry's id, for `before`.
    pub id: String,
    pub at: String,
    /// The user id of who did it (the administrator, or the person themself).
    pub actor: Option<String>,
    pub action: String,
    /// The user id of whom it was about.
    pub target: Option<String>,
    pub ip: Option<String>,
}

/// The company's audit log, newest first, a page at a time (`before`, `limit`).
#[utoipa::path(
    get,
    path = "/companies/{company_id}/audit",
    params(("company_id" = String, Path), AuditPage),
    responses(
        (status = 200, body = [AuditEntryBody]),
        (status = 400, body = ErrorBody, description = "`invalid_request`: a `limit` that is not a whole number"),
        (status = 404, body = ErrorBody)
    )
)]
#[get("/companies/{company_id}/audit")]
pub async fn company_audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    query: web::Query<AuditPage>,
) -> ApiResult<web::Json<Vec<AuditEntryBody>>> {
    let segment = path.into_inner();
    let AuditPage { before, limit } = query.into_inner();
    let entries = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let company = company_id(&segment)?;
        let reach = company_reach(ctx, now, admin, &company)?;
        audit_log::page(ctx, &reach, before.as_deref(), limit)
    })
    .await?;
    Ok(web::Json(
        entries
            .into_iter()
            .map(|e| AuditEntryBody {
                id: e.id,
                at: time_text(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                ip: e.ip,
            })
            .collect(),
    ))
}
