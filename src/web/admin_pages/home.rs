//! `/admin` itself: the companies the person administers and, for customer
//! service, the forms only they use — add a company, register an
//! application, post an announcement — so that a newcomer gets from the
//! first account to a working sign-in in the browser alone.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{as_admin, csrf_for, done_text, form_notice, split_notice};
use crate::AppState;
use crate::clock::UnixSeconds;
use crate::domain::admin::announcements::{self, Announcement};
use crate::domain::admin::{self, AdminContext, Administrator, administered_companies, customer_service};
use crate::domain::client::{ClientKind, NewClient};
use crate::domain::company::Company;
use crate::domain::ids::CompanyId;
use crate::domain::refusal::Refusal;
use crate::domain::session::Session;
use crate::error::{Error, Result};
use crate::i18n::date_time;
use crate::web::browser::{error_page, page, see_other};
use crate::web::extract::{CsrfForm, SignedIn};
use crate::web::page::PageTexts;

struct CompanyLink {
    id: String,
    name: String,
}

impl From<&Company> for CompanyLink {
    fn from(company: &Company) -> Self {
        Self { id: company.id.as_str().to_owned(), name: company.name.clone() }
    }
}

struct AnnouncementRow {
    text: String,
    starts: String,
    ends: String,
}

/// The support forms as typed, shown again after a refusal.
#[derive(Default)]
struct Typed {
    company_name: String,
    client_id: String,
    client_name: String,
    redirect_uris: String,
    text: String,
    starts: String,
    ends: String,
}

#[derive(Template)]
#[template(path = "admin_home.html")]
struct HomePage {
    t: PageTexts,
    csrf: String,
    notice: Option<String>,
    done: Option<String>,
    companies: Vec<CompanyLink>,
    support: bool,
    /// The accounting offices a new company may be a client of.
    offices: Vec<CompanyLink>,
    announcements: Vec<AnnouncementRow>,
    typed: Typed,
}

#[derive(Template)]
#[template(path = "admin_no_role.html")]
struct NoRolePage {
    t: PageTexts,
}

/// What the home page shows.
struct HomeView {
    companies: Vec<Company>,
    support: bool,
    announcements: Vec<Announcement>,
}

fn home_view(ctx: &AdminContext<'_>, now: UnixSeconds, admin: &Administrator) -> Result<HomeView> {
    let companies = administered_companies(ctx, admin)?;
    let announcements =
        if admin.is_support() { announcements::current_and_future(ctx.store, now)? } else { Vec::new() };
    Ok(HomeView { companies, support: admin.is_support(), announcements })
}

/// Shows the home page, after a form or not.
async fn home(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    session: Session,
    notice: Option<(StatusCode, String)>,
    done: Option<&str>,
    typed: Typed,
) -> HttpResponse {
    let t = PageTexts::for_request(req, None);
    let shown = as_admin(req, state, session, home_view).await;
    let view = match shown {
        Ok(view) => view,
        Err(Error::Refused(Refusal::Forbidden)) => return page(StatusCode::FORBIDDEN, &NoRolePage { t }),
        Err(e) => return error_page(&e, &t),
    };
    let csrf = match csrf_for(state, req) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(&e, &t),
    };
    let (status, notice) = split_notice(notice);
    let body = HomePage {
        csrf,
        notice,
        done: done_text(&t, done),
        offices: view.companies.iter().filter(|c| c.office_id.is_none()).map(CompanyLink::from).collect(),
        companies: view.companies.iter().map(CompanyLink::from).collect(),
        support: view.support,
        announcements: view
            .announcements
            .into_iter()
            .map(|a| AnnouncementRow { text: a.text, starts: date_time(a.starts_at), ends: date_time(a.ends_at) })
            .collect(),
        typed,
        t,
    };
    page(status, &body)
}

#[derive(Deserialize)]
pub struct HomeQuery {
    done: Option<String>,
}

#[get("/admin")]
pub async fn show_home(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<HomeQuery>,
) -> HttpResponse {
    let done = query.into_inner().done;
    home(&req, &state, signed_in.session, None, done.as_deref(), Typed::default()).await
}

/// A support form's outcome: done, the response; refused, the home page
/// again with the notice and what was typed; anything else the error page.
async fn support_form(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    session: Session,
    done: Result<HttpResponse>,
    typed: Typed,
) -> HttpResponse {
    match done {
        Ok(response) => response,
        Err(e) => {
            let t = PageTexts::for_request(req, None);
            match form_notice(&e, &t) {
                Some(notice) => home(req, state, session, Some(notice), None, typed).await,
                None => error_page(&e, &t),
            }
        }
    }
}

#[derive(Deserialize)]
pub struct CompanyForm {
    #[serde(default)]
    name: String,
    /// The accounting office's id; empty for none.
    #[serde(default)]
    office: String,
}

/// Adds a company (support only), and opens its page.
#[post("/admin/companies")]
pub async fn add_company(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<CompanyForm>,
) -> HttpResponse {
    let CompanyForm { name, office } = form.form;
    let typed = Typed { company_name: name.clone(), ..Typed::default() };
    let session = signed_in.session;
    let added = as_admin(&req, &state, session.clone(), move |ctx, now, admin| {
        let support = customer_service(ctx, now, admin)?;
        let office = Some(office.trim()).filter(|o| !o.is_empty()).map(|o| CompanyId::from_stored(o.to_owned()));
        admin::companies::add(ctx, now, &support, &name, office.as_ref())
    })
    .await
    .map(|company| see_other(&format!("/admin/companies/{}?done=company_added", company.id.as_str())).finish());
    support_form(&req, &state, session, added, typed).await
}

#[derive(Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    client_id: String,
    /// The name people are shown; blank shows the id.
    #[serde(default)]
    client_name: String,
    /// One per line.
    #[serde(default)]
    redirect_uris: String,
    /// `public` or `confidential`.
    #[serde(default)]
    kind: String,
    /// The checkbox: present when ticked.
    first_party: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_client.html")]
struct ClientPage {
    t: PageTexts,
    client_id: String,
    secret: Option<String>,
    redirect_uris: Vec<String>,
    issuer: String,
}

/// Registers an application (support only) and shows its details; a
/// confidential one's generated secret is shown this once.
#[post("/admin/clients")]
pub async fn add_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<ClientForm>,
) -> HttpResponse {
    let ClientForm { client_id, client_name, redirect_uris, kind, first_party } = form.form;
    let typed = Typed {
        client_id: client_id.clone(),
        client_name: client_name.clone(),
        redirect_uris: redirect_uris.clone(),
        ..Typed::default()
    };
    let uris: Vec<String> = redirect_uris.lines().map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
    let kind = if kind == "public" { ClientKind::Public } else { ClientKind::Confidential { secret: None } };
    let session = signed_in.session;
    let registered = as_admin(&req, &state, session.clone(), move |ctx, now, admin| {
        let support = customer_service(ctx, now, admin)?;
        let new = NewClient::parse(client_id.trim(), kind, &uris, &[], &[], first_party.is_some(), None)?
            .named(Some(&client_name))?;
        admin::clients::register(ctx, now, &support, new)
    })
    .await;
    let t = PageTexts::for_request(&req, None);
    let shown = registered.map(|registered| {
        // Shown once: no language switch, which could not show it again.
        let body = ClientPage {
            t: t.without_switch(),
            client_id: registered.client.id.as_str().to_owned(),
            secret: registered.client_secret,
            redirect_uris: registered.client.redirect_uris,
            issuer: state.settings.issuer.clone(),
        };
        page(StatusCode::CREATED, &body)
    });
    support_form(&req, &state, session, shown, typed).await
}

#[derive(Deserialize)]
pub struct AnnouncementForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
}

/// A time typed in a `datetime-local` field, read as UTC (as the page says).
fn utc_minute(typed: &str) -> Option<UnixSeconds> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let typed = typed.trim().replacen(' ', "T", 1);
    let minute = typed.get(..16)?;
    time::PrimitiveDateTime::parse(minute, FORMAT).map(|t| t.assume_utc().unix_timestamp()).ok()
}

/// Posts an announcement (support only).
#[post("/admin/announcements")]
pub async fn post_announcement(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: CsrfForm<AnnouncementForm>,
) -> HttpResponse {
    let AnnouncementForm { text, starts_at, ends_at } = form.form;
    let typed = Typed { text: text.clone(), starts: starts_at.clone(), ends: ends_at.clone(), ..Typed::default() };
    let times = utc_minute(&starts_at).zip(utc_minute(&ends_at));
    let session = signed_in.session;
    let posted = as_admin(&req, &state, session.clone(), move |ctx, now, admin| {
        let support = customer_service(ctx, now, admin)?;
        let (starts_at, ends_at) = times.ok_or(Refusal::AnnouncementTimeInvalid)?;
        announcements::post(ctx, now, &support, &text, starts_at, ends_at)
    })
    .await
    .map(|_| see_other("/admin?done=announcement_posted").finish());
    support_form(&req, &state, session, posted, typed).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datetime_local_field_is_read_as_utc() {
        assert_eq!(utc_minute("2026-12-01T16:00"), Some(1_796_140_800));
        assert_eq!(utc_minute("2026-12-01 16:00"), Some(1_796_140_800), "a space for the T");
        assert_eq!(utc_minute("2026-12-01T16:00:30"), Some(1_796_140_800), "seconds are dropped");
        assert_eq!(utc_minute("2026-13-01T16:00"), None);
        assert_eq!(utc_minute("tomorrow"), None);
        assert_eq!(utc_minute(""), None);
        assert_eq!(utc_minute("2026-12-01T16:0ä"), None, "not a char boundary panic");
    }
}
