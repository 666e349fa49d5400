//! `/admin`: the administration pages (DESIGN.md, "Admin API … and the same
//! operations as pages under `/admin`"), over the same domain as the admin
//! API. Every handler takes [`SignedIn`] (a browser without a session is
//! sent to sign in) and every form a [`CsrfForm`]. The person's roles are
//! read anew for each request: no role is `403`, a company, user or
//! invitation out of reach the `404` page, as an absent one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::{csrf_token, error_page, is_form_refusal, origin_of, page, run, see_other};
use super::error_response::status_of;
use super::extract::{CsrfForm, NoFields, SignedIn};
use super::page::PageTexts;
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::domain::access::CompanyRole;
use crate::domain::admin::invitations::{self, InvitationDetail, InvitationState};
use crate::domain::admin::users::{self, BasicInformation, ListedUser, NewCompanyUser, RightsChange, UserDetail};
use crate::domain::admin::{
    self, AdminContext, Administrator, CompanyReach, UserReach, audit_log, company_reach, user_reach,
};
use crate::domain::ids::{CompanyId, UserId};
use crate::domain::refusal::Refusal;
use crate::domain::session::Session;
use crate::error::{Error, Result};
use crate::i18n::date_time;

mod home;

pub use home::{add_client, add_company, post_announcement, show_home};

/// Entries on a page of the log.
const AUDIT_PAGE: i64 = 50;

/// Runs an administrator's request on the blocking pool: the person's roles
/// as they are now, then `work`.
async fn as_admin<T: Send + 'static>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    session: Session,
    work: impl FnOnce(&AdminContext<'_>, UnixSeconds, &Administrator) -> Result<T> + Send + 'static,
) -> Result<T> {
    let origin = origin_of(req, state);
    run(state, move |s, now| {
        let ctx = AdminContext { store: &s.store, keys: &s.keys, issuer: &s.settings.issuer, origin };
        let administrator = admin::administrator(&ctx, now, &session.user_id)?;
        work(&ctx, now, &administrator)
    })
    .await
}

/// An id from the path: anything but an id Portti made is not found.
fn id_of(segment: &str, what: &'static str) -> Result<String> {
    super::api::parse_id(segment).map_err(|_| Error::NotFound(what))
}

fn company_of(segment: &str) -> Result<CompanyId> {
    id_of(segment, "company").map(CompanyId::from_stored)
}

/// The company in the path, and the user in it: a user who is not one of
/// this company's (or out of reach) is not found.
fn user_in_company(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    admin: &Administrator,
    company: &str,
    user: &str,
) -> Result<(CompanyReach, UserReach)> {
    let company = company_reach(ctx, now, admin, &company_of(company)?)?;
    let user = UserId::from_stored(id_of(user, "user")?);
    let reached = user_reach(ctx, now, admin, &user)?;
    if reached.through(company.company()).is_none() {
        return Err(Error::NotFound("user"));
    }
    Ok((company, reached))
}

/// The notice a refused form is shown again with, and its status; `None`
/// for an error that is an error page.
fn form_notice(error: &Error, t: &PageTexts) -> Option<(StatusCode, String)> {
    match error {
        Error::Refused(refusal) if is_form_refusal(error) => Some((status_of(error), t.texts.refusal(refusal))),
        Error::InvalidRequest(message) | Error::Conflict(message) => Some((status_of(error), message.clone())),
        _ => None,
    }
}

/// The page's anti-forgery token, for this browser.
fn csrf_for(state: &AppState, req: &HttpRequest) -> Result<String> {
    let browser = super::browser::browser_id(req, state).ok_or(Error::Refused(Refusal::FormExpired))?;
    csrf_token(state, &browser)
}

/// The text key of an invitation's state.
fn state_key(state: InvitationState) -> &'static str {
    match state {
        InvitationState::Sent => "admin.state_sent",
        InvitationState::CodeEntered => "admin.state_code_entered",
        InvitationState::Verified => "admin.state_verified",
        InvitationState::PasswordSet => "admin.state_password_set",
        InvitationState::Completed => "admin.state_completed",
        InvitationState::Cancelled => "admin.state_cancelled",
        InvitationState::Expired => "admin.state_expired",
        InvitationState::Replaced => "admin.state_replaced",
    }
}

// ---- GET /admin/companies/{id} ----------------------------------------------

struct UserRow {
    id: String,
    name: String,
    email: String,
    phone: String,
    rights: String,
    roles: String,
    invitation: String,
}

#[derive(Template)]
#[template(path = "admin_company.html")]
struct CompanyPage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    company_id: String,
    company_name: String,
    q: String,
    users: Vec<UserRow>,
    new_name: String,
    new_email: String,
    new_phone: String,
    new_rights: String,
}

/// What the company page shows.
struct CompanyView {
    id: String,
    name: String,
    users: Vec<ListedUser>,
}

fn company_view(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    admin: &Administrator,
    segment: &str,
    q: Option<&str>,
) -> Result<CompanyView> {
    let reach = company_reach(ctx, now, admin, &company_of(segment)?)?;
    let users = users::list(ctx, now, &reach, q)?;
    let name = ctx.store.read(|r| r.company(reach.company()))?.map(|c| c.name).unwrap_or_default();
    Ok(CompanyView { id: reach.company().as_str().to_owned(), name, users })
}

/// The add-user form as typed, shown again after a refusal.
#[derive(Deserialize, Default, Clone)]
pub struct NewUserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    rights: String,
}

/// What the company page shows around its list.
struct CompanyForms {
    q: String,
    typed: NewUserForm,
    notice: Option<String>,
    done: Option<String>,
}

fn render_company(
    view: CompanyView,
    t: PageTexts,
    csrf: String,
    forms: CompanyForms,
    status: StatusCode,
) -> HttpResponse {
    let CompanyForms { q, typed, notice, done } = forms;
    let users = view
        .users
        .into_iter()
        .map(|listed| UserRow {
            id: listed.user.id.as_str().to_owned(),
            name: listed.user.name,
            email: listed.user.email.as_str().to_owned(),
            phone: listed.user.phone.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            rights: listed.rights.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
            roles: listed.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
            invitation: listed.invitation.map(|i| t.get(state_key(i.state)).to_owned()).unwrap_or_default(),
        })
        .collect();
    let body = CompanyPage {
        csrf,
        notice,
        done,
        company_id: view.id,
        company_name: view.name,
        q,
        users,
        new_name: typed.name,
        new_email: typed.email,
        new_phone: typed.phone,
        new_rights: typed.rights,
        t,
    };
    page(status, &body)
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    done: Option<String>,
}

#[get("/admin/companies/{company_id}")]
pub async fn show_company(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: web::Query<SearchQuery>,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let segment = path.into_inner();
    let SearchQuery { q, done } = query.into_inner();
    let q = q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    let search = q.clone();
    let shown = as_admin(&req, &state, signed_in.session, move |ctx, now, admin| {
        company_view(ctx, now, admin, &segment, search.as_deref())
    })
    .await;
    match (shown, csrf_for(&state, &req)) {
        (Ok(view), Ok(csrf)) => {
            let done = done_text(&t, done.as_deref());
            let forms = CompanyForms { q: q.unwrap_or_default(), typed: NewUserForm::default(), notice: None, done };
            render_company(view, t, csrf, forms, StatusCode::OK)
        }
        (Err(e), _) | (_, Err(e)) => error_page(&e, &t),
    }
}

/// The rights typed as a comma-separated list.
fn rights_of(typed: &str) -> Vec<String> {
    typed.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect()
}

/// A phone field: empty is none.
fn optional(typed: &str) -> Option<String> {
    Some(typed.trim().to_owned()).filter(|p| !p.is_empty())
}

#[post("/admin/companies/{company_id}/users")]
pub async fn add_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<NewUserForm>,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let segment = path.into_inner();
    let typed = form.form;
    let input = NewCompanyUser {
        name: typed.name.clone(),
        email: typed.email.clone(),
        phone: optional(&typed.phone),
        rights: rights_of(&typed.rights),
    };
    let session = signed_in.session;
    let for_page = session.clone();
    let company = segment.clone();
    let added = as_admin(&req, &state, session, move |ctx, now, admin| {
        let reach = company_reach(ctx, now, admin, &company_of(&company)?)?;
        users::add(ctx, now, &reach, input)
    })
    .await;
    match added {
        Ok(detail) => {
            see_other(&format!("/admin/companies/{segment}/users/{}?done=added", detail.user.id.as_str())).finish()
        }
        Err(e) => match form_notice(&e, &t) {
            Some((status, notice)) => {
                let company = segment.clone();
                let view = as_admin(&req, &state, for_page, move |ctx, now, admin| {
                    company_view(ctx, now, admin, &company, None)
                })
                .await;
                match (view, csrf_token(&state, &form.browser)) {
                    (Ok(view), Ok(csrf)) => {
                        let forms = CompanyForms { q: String::new(), typed, notice: Some(notice), done: None };
                        render_company(view, t, csrf, forms, status)
                    }
                    (Err(e), _) | (_, Err(e)) => error_page(&e, &t),
                }
            }
            None => error_page(&e, &t),
        },
    }
}

// ---- GET /admin/companies/{cid}/users/{uid} ---------------------------------

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    company_id: String,
    user_id: String,
    name: String,
    email: String,
    phone: String,
    communication_email: String,
    communication_phone: String,
    rights: String,
    roles: String,
    /// The rights held in this company, as the form edits them.
    company_rights: String,
    user_admin: bool,
    office_admin: bool,
    has_national_id: bool,
}

/// What a page about one user shows around its content: the texts, the
/// form token, a refused form's notice or what a form did, and the status.
struct Frame {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    status: StatusCode,
}

fn render_user(company: &str, detail: UserDetail, frame: Frame) -> HttpResponse {
    let Frame { t, csrf, notice, done, status } = frame;
    let user = detail.user;
    let here = detail.memberships.iter().find(|m| m.company_id.as_str() == company);
    let holds = |role: CompanyRole| here.is_some_and(|m| m.holds(role));
    let body = UserPage {
        company_rights: here
            .map(|m| m.rights.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        user_admin: holds(CompanyRole::UserAdmin),
        office_admin: holds(CompanyRole::OfficeAdmin),
        has_national_id: user.has_national_id,
        csrf,
        notice,
        done,
        company_id: company.to_owned(),
        user_id: user.id.as_str().to_owned(),
        name: user.name,
        email: user.email.as_str().to_owned(),
        phone: user.phone.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        communication_email: user.communication.email.as_str().to_owned(),
        communication_phone: user.communication.phone.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        rights: detail.rights.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        roles: detail.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        t,
    };
    page(status, &body)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// A refused form's status and notice; without one, `200`.
fn split_notice(notice: Option<(StatusCode, String)>) -> (StatusCode, Option<String>) {
    match notice {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    }
}

/// The text of what a form did, from `?done=`.
fn done_text(t: &PageTexts, done: Option<&str>) -> Option<String> {
    done.map(|what| {
        match what {
            "added" => t.get("admin.user_added"),
            "announcement_posted" => t.get("admin.announcement_posted"),
            "company_added" => t.get("admin.company_added"),
            "rights" => t.get("admin.rights_saved"),
            "national_id" => t.get("admin.national_id_saved"),
            "sent" => t.get("admin.invitation_sent"),
            "cancelled" => t.get("admin.invitation_cancelled"),
            _ => t.get("admin.saved"),
        }
        .to_owned()
    })
}

/// What one of the pages about a user shows.
enum AboutUser {
    User(UserDetail),
    Invitation(InvitationView),
}

/// Shows one of the pages about a user (`kind`), after a form or not.
async fn show_about_user(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    session: Session,
    kind: UserPageKind,
    segments: (String, String),
    notice: Option<(StatusCode, String)>,
    done: Option<String>,
) -> HttpResponse {
    let t = PageTexts::for_request(req, None);
    let (company, user) = segments;
    let shown_company = company.clone();
    let shown = as_admin(req, state, session, move |ctx, now, admin| match kind {
        UserPageKind::User => {
            user_in_company(ctx, now, admin, &company, &user).map(|(_, reached)| AboutUser::User(users::get(&reached)))
        }
        UserPageKind::Invitation => invitation_view(ctx, now, admin, &company, &user).map(AboutUser::Invitation),
    })
    .await;
    let (status, notice) = split_notice(notice);
    let done = done_text(&t, done.as_deref());
    match (shown, csrf_for(state, req)) {
        (Ok(shown), Ok(csrf)) => {
            let frame = Frame { t, csrf, notice, done, status };
            match shown {
                AboutUser::User(detail) => render_user(&shown_company, detail, frame),
                AboutUser::Invitation(view) => render_invitation(&shown_company, view, frame),
            }
        }
        (Err(e), _) | (_, Err(e)) => error_page(&e, &t),
    }
}

#[get("/admin/companies/{company_id}/users/{user_id}")]
pub async fn show_user_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    query: web::Query<DoneQuery>,
) -> HttpResponse {
    let done = query.into_inner().done;
    show_about_user(&req, &state, signed_in.session, UserPageKind::User, path.into_inner(), None, done).await
}

/// The two pages about one user, whose forms [`user_form`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserPageKind {
    User,
    Invitation,
}

impl UserPageKind {
    fn path(self, (company, user): &(String, String)) -> String {
        match self {
            UserPageKind::User => format!("/admin/companies/{company}/users/{user}"),
            UserPageKind::Invitation => format!("/admin/companies/{company}/users/{user}/invitation"),
        }
    }
}

/// Runs a form of the user or invitation page (`kind`) and, done, shows
/// that page again saying what it did (`?done=`, 303).
async fn user_form_then<T: Send + 'static>(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    segments: (String, String),
    (kind, done): (UserPageKind, &str),
    work: impl FnOnce(&AdminContext<'_>, UnixSeconds, &Administrator, CompanyReach, UserReach) -> Result<T> + Send + 'static,
) -> HttpResponse {
    let then = format!("{}?done={done}", kind.path(&segments));
    match user_form(req, state, signed_in, segments, kind, work).await {
        Ok(_) => see_other(&then).finish(),
        Err(response) => response,
    }
}

/// Runs a form of the user or invitation page: done, its value; a refused
/// form, the page again with the notice; anything else the error page.
async fn user_form<T: Send + 'static>(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    segments: (String, String),
    kind: UserPageKind,
    work: impl FnOnce(&AdminContext<'_>, UnixSeconds, &Administrator, CompanyReach, UserReach) -> Result<T> + Send + 'static,
) -> std::result::Result<T, HttpResponse> {
    let session = signed_in.session;
    let (company, user) = segments.clone();
    let done = as_admin(&req, &state, session.clone(), move |ctx, now, admin| {
        let (company, reached) = user_in_company(ctx, now, admin, &company, &user)?;
        work(ctx, now, admin, company, reached)
    })
    .await;
    match done {
        Ok(value) => Ok(value),
        Err(e) => {
            let t = PageTexts::for_request(&req, None);
            match form_notice(&e, &t) {
                Some(notice) => Err(show_about_user(&req, &state, session, kind, segments, Some(notice), None).await),
                None => Err(error_page(&e, &t)),
            }
        }
    }
}

#[derive(Deserialize)]
pub struct BasicForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

#[post("/admin/companies/{company_id}/users/{user_id}")]
pub async fn update_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: CsrfForm<BasicForm>,
) -> HttpResponse {
    let BasicForm { name, email, phone } = form.form;
    let change = BasicInformation { name: Some(name), email: Some(email), phone: Some(optional(&phone)) };
    user_form_then(req, state, signed_in, path.into_inner(), (UserPageKind::User, "saved"), move |ctx, now, _, _, r| {
        users::update_basic(ctx, now, &r, change)
    })
    .await
}

#[derive(Deserialize)]
pub struct PhoneForm {
    #[serde(default)]
    phone: String,
}

#[post("/admin/companies/{company_id}/users/{user_id}/communication")]
pub async fn communication_phone(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: CsrfForm<PhoneForm>,
) -> HttpResponse {
    let phone = form.form.phone;
    user_form_then(req, state, signed_in, path.into_inner(), (UserPageKind::User, "saved"), move |ctx, now, _, _, r| {
        users::set_communication_phone(ctx, now, &r, phone.trim())
    })
    .await
}

#[derive(Deserialize)]
pub struct RightsForm {
    #[serde(default)]
    rights: String,
    /// The checkboxes: present when ticked.
    user_admin: Option<String>,
    office_admin: Option<String>,
}

/// Sets the user's rights and roles in this company.
#[post("/admin/companies/{company_id}/users/{user_id}/rights")]
pub async fn set_rights(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: CsrfForm<RightsForm>,
) -> HttpResponse {
    let RightsForm { rights, user_admin, office_admin } = form.form;
    let roles = [(user_admin, CompanyRole::UserAdmin), (office_admin, CompanyRole::OfficeAdmin)]
        .into_iter()
        .filter_map(|(ticked, role)| ticked.map(|_| role.as_str().to_owned()))
        .collect();
    let change = RightsChange { rights: rights_of(&rights), roles };
    user_form_then(
        req,
        state,
        signed_in,
        path.into_inner(),
        (UserPageKind::User, "rights"),
        move |ctx, now, _, c, r| users::set_rights(ctx, now, &r, &c, change),
    )
    .await
}

#[derive(Deserialize)]
pub struct NationalIdForm {
    #[serde(default)]
    national_id: String,
}

/// Links the user to a personal identity code (stored only as its keyed hash).
#[post("/admin/companies/{company_id}/users/{user_id}/national-id")]
pub async fn set_national_id(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: CsrfForm<NationalIdForm>,
) -> HttpResponse {
    let typed = form.form.national_id;
    user_form_then(
        req,
        state,
        signed_in,
        path.into_inner(),
        (UserPageKind::User, "national_id"),
        move |ctx, now, _, _, r| users::set_national_id(ctx, now, &r, &typed),
    )
    .await
}

// ---- The invitation view ----------------------------------------------------

/// The last invitation as the view shows it.
struct LastInvitation {
    state: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "admin_invitation.html")]
struct InvitationPage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    company_id: String,
    user_id: String,
    name: String,
    email: String,
    phone: String,
    /// The last invitation.
    last: Option<LastInvitation>,
    live: bool,
    code_entered: bool,
    /// Why `Re-invite` is not offered: only customer service may, now.
    support_must_reinvite: Option<String>,
}

/// The user and their last invitation to the company.
struct InvitationView {
    detail: UserDetail,
    last: Option<InvitationDetail>,
    /// Whether this administrator may invite them now (else only customer service).
    may_invite: bool,
}

fn invitation_view(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    admin: &Administrator,
    company: &str,
    user: &str,
) -> Result<InvitationView> {
    let (company, reached) = user_in_company(ctx, now, admin, company, user)?;
    let (stored, may_invite) = ctx.store.read(|r| {
        let last = r.last_invitation_of(&reached.user().id, company.company().as_str())?;
        Ok((last, invitations::may_invite(r, &company, reached.user())?))
    })?;
    let last = stored.map(|s| invitations::detail(&s, now));
    Ok(InvitationView { detail: users::get(&reached), last, may_invite })
}

fn render_invitation(company: &str, view: InvitationView, frame: Frame) -> HttpResponse {
    let Frame { t, csrf, notice, done, status } = frame;
    let user = view.detail.user;
    let live = view.last.as_ref().is_some_and(|l| l.state.is_live());
    let code_entered = view.last.as_ref().is_some_and(|l| l.state == InvitationState::CodeEntered);
    let last = view
        .last
        .map(|l| LastInvitation { state: t.get(state_key(l.state)).to_owned(), expires: date_time(l.expires_at) });
    let body = InvitationPage {
        csrf,
        notice,
        done,
        company_id: company.to_owned(),
        user_id: user.id.as_str().to_owned(),
        name: user.name,
        // Where the codes go: the communication contacts.
        email: user.communication.email.as_str().to_owned(),
        phone: user.communication.phone.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        support_must_reinvite: (!view.may_invite).then(|| t.texts.refusal(&Refusal::SupportMustReinvite)),
        last,
        live,
        code_entered,
        t,
    };
    page(status, &body)
}

#[get("/admin/companies/{company_id}/users/{user_id}/invitation")]
pub async fn show_invitation_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    query: web::Query<DoneQuery>,
) -> HttpResponse {
    let done = query.into_inner().done;
    show_about_user(&req, &state, signed_in.session, UserPageKind::Invitation, path.into_inner(), None, done).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    /// The checkbox: present when ticked.
    identity_verified: Option<String>,
}

/// Sends an invitation, or a new one in place of the live one (re-invite).
#[post("/admin/companies/{company_id}/users/{user_id}/invitation")]
pub async fn send_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: CsrfForm<InviteForm>,
) -> HttpResponse {
    let verified = form.form.identity_verified.is_some();
    user_form_then(
        req,
        state,
        signed_in,
        path.into_inner(),
        (UserPageKind::Invitation, "sent"),
        move |ctx, now, _, company, r| invitations::invite(&ctx.invitations(), now, &company, &r.user().id, verified),
    )
    .await
}

/// The user's last invitation to the company, if it is live.
fn live_invitation(ctx: &AdminContext<'_>, now: UnixSeconds, company: &CompanyReach, user: &UserId) -> Result<String> {
    ctx.store
        .read(|r| r.last_invitation_of(user, company.company().as_str()))?
        .filter(|stored| invitations::effective_state(stored, now).is_live())
        .map(|stored| stored.id)
        .ok_or(Error::NotFound("invitation"))
}

#[post("/admin/companies/{company_id}/users/{user_id}/invitation/cancel")]
pub async fn cancel_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    _form: CsrfForm<NoFields>,
) -> HttpResponse {
    user_form_then(
        req,
        state,
        signed_in,
        path.into_inner(),
        (UserPageKind::Invitation, "cancelled"),
        move |ctx, now, _, company, r| {
            let id = live_invitation(ctx, now, &company, &r.user().id)?;
            invitations::cancel(&ctx.invitations(), now, &company, &id)
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "admin_code.html")]
struct AdminCodePage {
    t: PageTexts,
    company_id: String,
    user_id: String,
    code: String,
    expires: String,
}

/// "Didn't the invitee receive the verification code?": a code shown once.
#[post("/admin/companies/{company_id}/users/{user_id}/invitation/code")]
pub async fn generate_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    _form: CsrfForm<NoFields>,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let (company, user) = path.into_inner();
    let segments = (company.clone(), user.clone());
    let done = user_form(req, state, signed_in, segments, UserPageKind::Invitation, move |ctx, now, _, company, r| {
        let id = live_invitation(ctx, now, &company, &r.user().id)?;
        invitations::generate_admin_code(&ctx.invitations(), now, &company, &id)
    })
    .await;
    match done {
        // Shown once: no language switch, which could not show it again.
        Ok(code) => page(
            StatusCode::OK,
            &AdminCodePage {
                t: t.without_switch(),
                company_id: company,
                user_id: user,
                code: code.code,
                expires: date_time(code.expires_at),
            },
        ),
        Err(response) => response,
    }
}

// ---- GET /admin/companies/{id}/audit ----------------------------------------

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    t: PageTexts,
    company_id: String,
    company_name: String,
    entries: Vec<AuditRow>,
    /// The `before` of the next (older) page, when there may be one.
    older: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<String>,
}

#[get("/admin/companies/{company_id}/audit")]
pub async fn show_audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> HttpResponse {
    let t = PageTexts::for_request(&req, None);
    let segment = path.into_inner();
    let before = query.into_inner().before.filter(|b| !b.is_empty());
    let shown = as_admin(&req, &state, signed_in.session, move |ctx, now, admin| {
        let reach = company_reach(ctx, now, admin, &company_of(&segment)?)?;
        let entries = audit_log::page(ctx, &reach, before.as_deref(), Some(AUDIT_PAGE))?;
        let name = ctx.store.read(|r| r.company(reach.company()))?.map(|c| c.name).unwrap_or_default();
        Ok((reach.company().as_str().to_owned(), name, entries))
    })
    .await;
    match shown {
        Ok((company_id, company_name, entries)) => {
            let older = if i64::try_from(entries.len()).unwrap_or(i64::MAX) >= AUDIT_PAGE {
                entries.last().map(|e| e.id.clone())
            } else {
                None
            };
            let entries = entries
                .into_iter()
                .map(|e| AuditRow {
                    at: date_time(e.at),
                    actor: e.actor.unwrap_or_default(),
                    action: e.action,
                    target: e.target.unwrap_or_default(),
                    ip: e.ip.unwrap_or_default(),
                })
                .collect();
            page(StatusCode::OK, &AuditPage { t, company_id, company_name, entries, older })
        }
        Err(e) => error_page(&e, &t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_are_read_from_a_comma_separated_list() {
        assert_eq!(rights_of(" ledger, payroll ,,"), vec!["ledger".to_owned(), "payroll".to_owned()]);
        assert!(rights_of("  ").is_empty());
    }

    #[test]
    fn an_empty_phone_is_none() {
        assert_eq!(optional("  "), None);
        assert_eq!(optional(" +358401234567 "), Some("+358401234567".to_owned()));
    }
}
