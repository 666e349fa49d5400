//! The users of a company, and one user: list and search, add, read,
//! change basic information, communication phone, rights, identity code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, put, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{Bearer, ErrorBody, as_admin, company_id, user_id};
use crate::AppState;
use crate::domain::access::{AccessRight, CompanyRole, Membership};
use crate::domain::admin::invitations::InvitationState;
use crate::domain::admin::users::{self, BasicInformation, ListedUser, NewCompanyUser, RightsChange, UserDetail};
use crate::domain::admin::{company_reach, user_reach};
use crate::web::api::ApiResult;

/// An invitation's state as the API names it.
pub(super) fn state_name(state: InvitationState) -> String {
    state.as_str().to_owned()
}

fn names_of_rights(rights: &[AccessRight]) -> Vec<String> {
    rights.iter().map(|r| r.as_str().to_owned()).collect()
}

fn names_of_roles(roles: &[CompanyRole]) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

/// The last invitation of a listed user, in short.
#[derive(Serialize, ToSchema)]
pub struct InvitationRef {
    pub id: String,
    /// `sent`, `code_entered`, `verified`, `password_set`, `completed`, `cancelled`, `expired` or `replaced`.
    pub state: String,
}

/// A user in a company's list; `email` and `phone` are the basic information.
#[derive(Serialize, ToSchema)]
pub struct ListedUserBody {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    /// Access rights in this company.
    pub rights: Vec<String>,
    /// Roles in this company: `user_admin`, `office_admin`.
    pub roles: Vec<String>,
    /// The user's last invitation to this company, if any.
    pub invitation: Option<InvitationRef>,
}

impl From<ListedUser> for ListedUserBody {
    fn from(listed: ListedUser) -> Self {
        Self {
            id: listed.user.id.as_str().to_owned(),
            name: listed.user.name,
            email: listed.user.email.as_str().to_owned(),
            phone: listed.user.phone.map(|p| p.as_str().to_owned()),
            rights: names_of_rights(&listed.rights),
            roles: names_of_roles(&listed.roles),
            invitation: listed.invitation.map(|i| InvitationRef { id: i.id, state: state_name(i.state) }),
        }
    }
}

/// Where codes are sent.
#[derive(Serialize, ToSchema)]
pub struct CommunicationBody {
    pub email: String,
    pub phone: Option<String>,
}

/// Roles and rights in one company within reach.
#[derive(Serialize, ToSchema)]
pub struct MembershipBody {
    pub company_id: String,
    pub rights: Vec<String>,
    pub roles: Vec<String>,
}

impl From<&Membership> for MembershipBody {
    fn from(m: &Membership) -> Self {
        Self {
            company_id: m.company_id.as_str().to_owned(),
            rights: names_of_rights(&m.rights),
            roles: names_of_roles(&m.roles),
        }
    }
}

/// A user as the administrator sees them: `rights` and `roles` are those of
/// the companies within the administrator's reach (together; `memberships`
/// per company).
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub communication: CommunicationBody,
    pub rights: Vec<String>,
    pub roles: Vec<String>,
    pub memberships: Vec<MembershipBody>,
}

impl From<UserDetail> for UserBody {
    fn from(detail: UserDetail) -> Self {
        let user = detail.user;
        Self {
            id: user.id.as_str().to_owned(),
            name: user.name,
            email: user.email.as_str().to_owned(),
            phone: user.phone.map(|p| p.as_str().to_owned()),
            communication: CommunicationBody {
                email: user.communication.email.as_str().to_owned(),
                phone: user.communication.phone.map(|p| p.as_str().to_owned()),
            },
            rights: names_of_rights(&detail.rights),
            roles: names_of_roles(&detail.roles),
            memberships: detail.memberships.iter().map(MembershipBody::from).collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct UserSearch {
    /// Only users whose name or email contains this (case ignored).
    q: Option<String>,
}

/// The users of a company, by name.
#[utoipa::path(
    get,
    path = "/companies/{company_id}/users",
    params(("company_id" = String, Path), ("q" = Option<String>, Query, description = "Search on name and email")),
    responses(
        (status = 200, body = [ListedUserBody]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
#[get("/companies/{company_id}/users")]
pub async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    query: web::Query<UserSearch>,
) -> ApiResult<web::Json<Vec<ListedUserBody>>> {
    let segment = path.into_inner();
    let search = query.into_inner().q;
    let listed = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let company = company_id(&segment)?;
        let reach = company_reach(ctx, now, admin, &company)?;
        users::list(ctx, now, &reach, search.as_deref())
    })
    .await?;
    Ok(web::Json(listed.into_iter().map(ListedUserBody::from).collect()))
}

/// A person to add to a company.
#[derive(Deserialize, ToSchema)]
pub struct NewUserBody {
    pub name: String,
    pub email: String,
    /// International form: `+`, the country code, the number without its leading zero (`+358401234567`).
    pub phone: Option<String>,
    #[serde(default)]
    pub rights: Vec<String>,
}

/// Adds a person to the company; the phone is also the communication phone,
/// the email the communication email.
#[utoipa::path(
    post,
    path = "/companies/{company_id}/users",
    params(("company_id" = String, Path)),
    request_body = NewUserBody,
    responses(
        (status = 201, body = UserBody),
        (status = 400, description = "`invalid_phone` (naming the expected form), `invalid_email`, `invalid_name`", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "`email_taken`: the email is another user's", body = ErrorBody)
    )
)]
#[post("/companies/{company_id}/users")]
pub async fn add_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    body: web::Json<NewUserBody>,
) -> ApiResult<HttpResponse> {
    let segment = path.into_inner();
    let NewUserBody { name, email, phone, rights } = body.into_inner();
    let added = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let company = company_id(&segment)?;
        let reach = company_reach(ctx, now, admin, &company)?;
        users::add(ctx, now, &reach, NewCompanyUser { name, email, phone, rights })
    })
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(UserBody::from(added)))
}

/// A user within reach.
#[utoipa::path(
    get,
    path = "/users/{user_id}",
    params(("user_id" = String, Path)),
    responses((status = 200, body = UserBody), (status = 404, body = ErrorBody))
)]
#[get("/users/{user_id}")]
pub async fn get_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> ApiResult<web::Json<UserBody>> {
    let segment = path.into_inner();
    let detail = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let user = user_id(&segment)?;
        Ok(users::get(&user_reach(ctx, now, admin, &user)?))
    })
    .await?;
    Ok(web::Json(detail.into()))
}

/// `Some(None)` for a field given as `null`, `None` for one left out.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// A change of basic information: what is left out stays.
#[derive(Deserialize, ToSchema)]
pub struct BasicInformationBody {
    pub name: Option<String>,
    pub email: Option<String>,
    /// `null` removes the basic phone.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
}

/// Changes basic information (`name`, `email`, `phone`).
#[utoipa::path(
    patch,
    path = "/users/{user_id}",
    params(("user_id" = String, Path)),
    request_body = BasicInformationBody,
    responses(
        (status = 200, body = UserBody),
        (status = 400, body = ErrorBody),
        (status = 403, description = "`forbidden`: the user belongs to a company beyond reach, or outranks the administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`email_taken`: the email is another user's", body = ErrorBody)
    )
)]
#[patch("/users/{user_id}")]
pub async fn patch_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    body: web::Json<BasicInformationBody>,
) -> ApiResult<web::Json<UserBody>> {
    let segment = path.into_inner();
    let BasicInformationBody { name, email, phone } = body.into_inner();
    let detail = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let user = user_id(&segment)?;
        let reach = user_reach(ctx, now, admin, &user)?;
        users::update_basic(ctx, now, &reach, BasicInformation { name, email, phone })
    })
    .await?;
    Ok(web::Json(detail.into()))
}

/// The communication phone to set.
#[derive(Deserialize, ToSchema)]
pub struct CommunicationPhoneBody {
    /// International form (`+358401234567`).
    pub phone: String,
}

/// Sets the communication phone; the communication email is the person's own to set.
#[utoipa::path(
    put,
    path = "/users/{user_id}/communication",
    params(("user_id" = String, Path)),
    request_body = CommunicationPhoneBody,
    responses(
        (status = 200, body = UserBody),
        (status = 400, body = ErrorBody),
        (status = 403, description = "`forbidden`: the user belongs to a company beyond reach, or outranks the administrator", body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
#[put("/users/{user_id}/communication")]
pub async fn put_communication(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    body: web::Json<CommunicationPhoneBody>,
) -> ApiResult<web::Json<UserBody>> {
    let segment = path.into_inner();
    let phone = body.into_inner().phone;
    let detail = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let user = user_id(&segment)?;
        let reach = user_reach(ctx, now, admin, &user)?;
        users::set_communication_phone(ctx, now, &reach, &phone)
    })
    .await?;
    Ok(web::Json(detail.into()))
}

/// The roles and rights of a user in one company.
#[derive(Deserialize, ToSchema)]
pub struct RightsBody {
    pub company_id: String,
    #[serde(default)]
    pub rights: Vec<String>,
    /// `user_admin`, `office_admin` (an accounting office's only).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Sets a user's roles and rights in a company within reach, replacing those held there.
#[utoipa::path(
    put,
    path = "/users/{user_id}/rights",
    params(("user_id" = String, Path)),
    request_body = RightsBody,
    responses(
        (status = 200, body = UserBody),
        (status = 400, description = "`invalid_role`: an unknown role, or office_admin in a client company; `invalid_right`: a bad right name", body = ErrorBody),
        (status = 403, description = "`forbidden`: a role beyond the administrator's own", body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
#[put("/users/{user_id}/rights")]
pub async fn put_rights(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    body: web::Json<RightsBody>,
) -> ApiResult<web::Json<UserBody>> {
    let segment = path.into_inner();
    let RightsBody { company_id: company, rights, roles } = body.into_inner();
    let detail = as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let user = user_id(&segment)?;
        let reached = user_reach(ctx, now, admin, &user)?;
        let company = company_reach(ctx, now, admin, &company_id(&company)?)?;
        users::set_rights(ctx, now, &reached, &company, RightsChange { rights, roles })
    })
    .await?;
    Ok(web::Json(detail.into()))
}

/// A personal identity code.
#[derive(Deserialize, ToSchema)]
pub struct NationalIdBody {
    /// For example `131052-308T`; stored only as a keyed hash.
    pub national_id: String,
}

/// Links the user to their personal identity code (stored only as a keyed hash).
#[utoipa::path(
    put,
    path = "/users/{user_id}/national-id",
    params(("user_id" = String, Path)),
    request_body = NationalIdBody,
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "`invalid_national_id`", body = ErrorBody),
        (status = 403, description = "`forbidden`: the user belongs to a company beyond reach, or outranks the administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`national_id_taken`: another user's", body = ErrorBody)
    )
)]
#[put("/users/{user_id}/national-id")]
pub async fn put_national_id(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    body: web::Json<NationalIdBody>,
) -> ApiResult<HttpResponse> {
    let segment = path.into_inner();
    let code = body.into_inner().national_id;
    as_admin(&req, &state, bearer, move |ctx, now, admin| {
        let user = user_id(&segment)?;
        let reach = user_reach(ctx, now, admin, &user)?;
        users::set_national_id(ctx, now, &reach, &code)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
