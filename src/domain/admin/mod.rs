//! Administration: who may administer which company. The admin pages and
//! API (`/admin`, `/api/admin/v1`) are built on this.
//!
//! Access is a capability: a [`CompanyReach`] is made only by [`reach`],
//! the role check, from the administrator's roles as they are now; every
//! administrative write takes one, so a write cannot happen without the check.

pub mod announcements;
pub mod audit_log;
pub mod clients;
pub mod companies;
pub mod invitations;
pub mod users;

use super::access::{CompanyRole, Membership};
use super::audit::{self, Event, Origin, Subjects};
use super::company::Company;
use super::ids::{CompanyId, UserId};
use super::refusal::Refusal;
use super::user::User;
use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::domain::discovery::ADMIN_SCOPE;
use crate::error::{Error, Result};
use crate::store::{Read, Store, StoredInvitation, Write};

/// Why an administrator reaches a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// KH: a user administrator of the company itself.
    UserAdmin,
    /// TPK: a main user of the accounting office, or of the office the
    /// company is a client of.
    OfficeAdmin,
    /// Customer service: every company.
    Support,
}

/// Proof that `actor` may administer `company` now. Its fields are private
/// and it has no public constructor: only [`reach`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyReach {
    actor: UserId,
    company: CompanyId,
    authority: Authority,
}

impl CompanyReach {
    pub fn actor(&self) -> &UserId {
        &self.actor
    }

    pub fn company(&self) -> &CompanyId {
        &self.company
    }

    pub fn authority(&self) -> Authority {
        self.authority
    }
}

/// How `memberships` (an administrator's, with `support` their global role)
/// reach `company`, if they do: its own user or office admin, or the office
/// admin of the office it is a client of. The strongest authority wins.
pub fn authority_over(memberships: &[Membership], support: bool, company: &Company) -> Option<Authority> {
    if support {
        return Some(Authority::Support);
    }
    let holds = |id: &CompanyId, role: CompanyRole| memberships.iter().any(|m| &m.company_id == id && m.holds(role));
    let office_admin = holds(&company.id, CompanyRole::OfficeAdmin)
        || company.office_id.as_ref().is_some_and(|office| holds(office, CompanyRole::OfficeAdmin));
    if office_admin {
        Some(Authority::OfficeAdmin)
    } else if holds(&company.id, CompanyRole::UserAdmin) {
        Some(Authority::UserAdmin)
    } else {
        None
    }
}

/// The role check: whether `actor` may administer `company` now, read from
/// the database in the caller's transaction. `None` when the company does
/// not exist or is out of reach: the two answer alike (404), so an
/// administrator learns nothing of companies beyond their reach.
pub fn reach(r: &mut Read<'_>, actor: &UserId, company: &CompanyId) -> Result<Option<CompanyReach>> {
    let Some(company) = r.company(company)? else { return Ok(None) };
    let Some(user) = r.user(actor)? else { return Ok(None) };
    let memberships = r.memberships(actor)?;
    Ok(authority_over(&memberships, user.support, &company).map(|authority| CompanyReach {
        actor: actor.clone(),
        company: company.id,
        authority,
    }))
}

/// Whether `user` holds an administrative role now: `user_admin` or
/// `office_admin` in some company, or `support`. Only such a person is
/// granted the `admin` scope, and the admin API serves only them.
pub fn holds_a_role(r: &mut Read<'_>, user: &UserId) -> Result<bool> {
    let Some(person) = r.user(user)? else { return Ok(false) };
    Ok(person.support || r.memberships(user)?.iter().any(|m| !m.roles.is_empty()))
}

/// The scopes a grant of `user` gets of those asked: the `admin` scope only
/// for a person holding a role now; one without simply does not get it (as
/// OpenID Connect treats a scope the person may not have). Every grant that
/// starts from a person's sign-in goes through this.
pub fn granted_scopes<'s>(r: &mut Read<'_>, user: &UserId, asked: &'s [String]) -> Result<Vec<&'s str>> {
    let administers = asked.iter().any(|s| s == ADMIN_SCOPE) && holds_a_role(r, user)?;
    Ok(asked.iter().map(String::as_str).filter(|scope| *scope != ADMIN_SCOPE || administers).collect())
}

/// What administration reads and writes.
#[derive(Clone)]
pub struct AdminContext<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    /// Portti's address, for the links in what administration sends.
    pub issuer: &'a str,
    /// Where the administrator's request came from, for the audit trail.
    pub origin: Origin,
}

impl<'a> AdminContext<'a> {
    /// The same, for sending and cancelling invitations.
    pub fn invitations(&self) -> invitations::InvitationContext<'a> {
        invitations::InvitationContext {
            store: self.store,
            keys: self.keys,
            issuer: self.issuer,
            origin: self.origin.clone(),
        }
    }
}

/// A person who holds an administrative role now, as checked for this
/// request; made only by [`administrator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Administrator {
    id: UserId,
    support: bool,
}

impl Administrator {
    pub fn id(&self) -> &UserId {
        &self.id
    }

    /// Whether they are customer service.
    pub fn is_support(&self) -> bool {
        self.support
    }
}

/// The role check of every admin request: the person must hold a role now
/// (a role removed a moment ago ends access at once). Refused `forbidden`,
/// and recorded, otherwise.
pub fn administrator(ctx: &AdminContext<'_>, now: UnixSeconds, user: &UserId) -> Result<Administrator> {
    let found = ctx.store.read(|r| {
        let holds = holds_a_role(r, user)?;
        Ok(r.user(user)?.filter(|_| holds))
    })?;
    match found {
        Some(person) => Ok(Administrator { id: person.id, support: person.support }),
        None => {
            ctx.store.write(|tx| {
                let about = Subjects::person(user);
                audit::record_by(tx, now, &ctx.origin, user, about, Event::AdminRefused { reason: "no_role" })
            })?;
            Err(Refusal::Forbidden.into())
        }
    }
}

/// Proof that an administrator is customer service now: what only support
/// does (add companies and applications, post announcements) takes one.
/// Made only by [`customer_service`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerService {
    id: UserId,
}

impl CustomerService {
    pub fn id(&self) -> &UserId {
        &self.id
    }
}

/// The check of what only customer service does: anyone else is refused
/// `forbidden`, and that is recorded.
pub fn customer_service(ctx: &AdminContext<'_>, now: UnixSeconds, admin: &Administrator) -> Result<CustomerService> {
    if admin.support {
        return Ok(CustomerService { id: admin.id.clone() });
    }
    ctx.store.write(|tx| {
        let about = Subjects::person(&admin.id);
        audit::record_by(tx, now, &ctx.origin, &admin.id, about, Event::AdminRefused { reason: "forbidden" })
    })?;
    Err(Refusal::Forbidden.into())
}

/// Records a refusal of an administrator's request in the log of the
/// company it was about.
fn record_refusal(
    tx: &mut Write<'_>,
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    actor: &UserId,
    company: &CompanyId,
    user: Option<&UserId>,
    reason: &'static str,
) -> Result<()> {
    let about = Subjects { user, client: None, company: Some(company.as_str()) };
    audit::record_by(tx, now, &ctx.origin, actor, about, Event::AdminRefused { reason })
}

/// [`reach`] for a request: a company out of reach, or absent, is not found
/// (alike), and the attempt is recorded in the company's log when it exists.
pub fn company_reach(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    admin: &Administrator,
    company: &CompanyId,
) -> Result<CompanyReach> {
    let (reached, exists) = ctx.store.read(|r| Ok((reach(r, &admin.id, company)?, r.company(company)?.is_some())))?;
    if let Some(reached) = reached {
        return Ok(reached);
    }
    if exists {
        ctx.store.write(|tx| record_refusal(tx, ctx, now, &admin.id, company, None, "not_found"))?;
    }
    Err(Error::NotFound("company"))
}

/// Refuses an action the administrator's role does not allow, recording
/// it in the company's log: `403 forbidden`.
pub fn forbidden(ctx: &AdminContext<'_>, now: UnixSeconds, reach: &CompanyReach, user: Option<&UserId>) -> Error {
    let recorded = ctx.store.write(|tx| record_refusal(tx, ctx, now, &reach.actor, &reach.company, user, "forbidden"));
    match recorded {
        Ok(()) => Refusal::Forbidden.into(),
        Err(e) => e,
    }
}

/// Proof that an administrator reaches a user: through each company of the
/// user's that is within their reach (at least one). Made only by [`user_reach`].
#[derive(Debug, Clone)]
pub struct UserReach {
    user: User,
    /// All the user's memberships, also those out of reach.
    memberships: Vec<Membership>,
    reaches: Vec<CompanyReach>,
}

impl UserReach {
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The companies through which the user is reached, with the authority of each.
    pub fn reaches(&self) -> &[CompanyReach] {
        &self.reaches
    }

    /// The user's memberships in the companies within reach.
    pub fn memberships_within_reach(&self) -> Vec<&Membership> {
        self.memberships.iter().filter(|m| self.reaches.iter().any(|r| r.company == m.company_id)).collect()
    }

    /// Whether the administrator may change where the user's codes go (their
    /// contacts, their identity code): whoever controls those can sign in as
    /// the user everywhere, so the administrator must reach every company
    /// the user belongs to, and outrank them: customer service's details
    /// only customer service changes, and an office main user's only an
    /// office admin or support. A person who belongs to a company beyond
    /// the administrator's reach is customer service's to change.
    pub fn outranks(&self) -> bool {
        let rank = |authority: Authority| match authority {
            Authority::UserAdmin => 0,
            Authority::OfficeAdmin => 1,
            Authority::Support => 2,
        };
        if self.reaches.iter().any(|r| r.authority == Authority::Support) {
            return true;
        }
        // Company by company: each of the user's companies reached, with the
        // authority that the user's place there needs.
        self.memberships.iter().all(|m| {
            let needed = if self.user.support {
                Authority::Support
            } else if m.holds(CompanyRole::OfficeAdmin) {
                Authority::OfficeAdmin
            } else {
                Authority::UserAdmin
            };
            self.through(&m.company_id).is_some_and(|r| rank(r.authority) >= rank(needed))
        })
    }

    /// How the administrator reaches `company`, if it is one of the user's within reach.
    pub fn through(&self, company: &CompanyId) -> Option<&CompanyReach> {
        self.reaches.iter().find(|r| &r.company == company)
    }
}

/// Reads how `admin` reaches `user` now. A user none of whose companies is
/// within reach is not found, as an absent one; the attempt is recorded in
/// the log of each of the user's companies.
pub fn user_reach(ctx: &AdminContext<'_>, now: UnixSeconds, admin: &Administrator, user: &UserId) -> Result<UserReach> {
    let found = ctx.store.read(|r| read_user_reach(r, &admin.id, user))?;
    match found {
        Ok(reached) => Ok(reached),
        Err(companies) => {
            if !companies.is_empty() {
                ctx.store.write(|tx| {
                    companies
                        .iter()
                        .try_for_each(|c| record_refusal(tx, ctx, now, &admin.id, c, Some(user), "not_found"))
                })?;
            }
            Err(Error::NotFound("user"))
        }
    }
}

/// [`user_reach`]'s reading, in the caller's transaction: the reach, or the
/// companies of a user out of reach (none for an absent user).
pub fn read_user_reach(
    r: &mut Read<'_>,
    actor: &UserId,
    user: &UserId,
) -> Result<std::result::Result<UserReach, Vec<CompanyId>>> {
    let Some(person) = r.user(user)? else { return Ok(Err(Vec::new())) };
    let memberships = r.memberships(user)?;
    let mut reaches = Vec::new();
    for membership in &memberships {
        if let Some(reached) = reach(r, actor, &membership.company_id)? {
            reaches.push(reached);
        }
    }
    if reaches.is_empty() {
        return Ok(Err(memberships.into_iter().map(|m| m.company_id).collect()));
    }
    Ok(Ok(UserReach { user: person, memberships, reaches }))
}

/// An invitation and how the administrator reaches its company; one of a
/// company out of reach is not found, and the attempt recorded there.
pub fn invitation_reach(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    admin: &Administrator,
    invitation_id: &str,
) -> Result<(CompanyReach, StoredInvitation)> {
    let found = ctx.store.read(|r| {
        let Some(invitation) = r.invitation(invitation_id)? else { return Ok(None) };
        let company = CompanyId::from_stored(invitation.company_id.clone());
        Ok(Some((reach(r, &admin.id, &company)?, company, invitation)))
    })?;
    match found {
        None => Err(Error::NotFound("invitation")),
        Some((Some(reached), _, invitation)) => Ok((reached, invitation)),
        Some((None, company, invitation)) => {
            let user = UserId::from_stored(invitation.user_id);
            ctx.store.write(|tx| record_refusal(tx, ctx, now, &admin.id, &company, Some(&user), "not_found"))?;
            Err(Error::NotFound("invitation"))
        }
    }
}

/// The companies `admin` administers now, by name (support: all).
pub fn administered_companies(ctx: &AdminContext<'_>, admin: &Administrator) -> Result<Vec<Company>> {
    ctx.store.read(|r| {
        let memberships = r.memberships(&admin.id)?;
        let all = r.all_companies()?;
        Ok(all.into_iter().filter(|c| authority_over(&memberships, admin.support, c).is_some()).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn company(office: Option<&CompanyId>) -> Company {
        Company { id: CompanyId::generate(), name: "Tilitoimisto Oy".into(), office_id: office.cloned(), created_at: 0 }
    }

    fn member(company: &CompanyId, roles: &[CompanyRole]) -> Membership {
        Membership { company_id: company.clone(), roles: roles.to_vec(), rights: Vec::new() }
    }

    #[test]
    fn a_user_admin_reaches_only_their_own_company() {
        let own = company(None);
        let other = company(None);
        let memberships = [member(&own.id, &[CompanyRole::UserAdmin])];
        assert_eq!(authority_over(&memberships, false, &own), Some(Authority::UserAdmin));
        assert_eq!(authority_over(&memberships, false, &other), None);
    }

    #[test]
    fn an_office_admin_reaches_the_office_and_its_clients_but_no_one_else() {
        let office = company(None);
        let client = company(Some(&office.id));
        let stranger = company(Some(&CompanyId::generate()));
        let memberships = [member(&office.id, &[CompanyRole::OfficeAdmin])];
        assert_eq!(authority_over(&memberships, false, &office), Some(Authority::OfficeAdmin));
        assert_eq!(authority_over(&memberships, false, &client), Some(Authority::OfficeAdmin));
        assert_eq!(authority_over(&memberships, false, &stranger), None);
    }

    #[test]
    fn a_user_admin_of_the_office_does_not_reach_its_clients() {
        let office = company(None);
        let client = company(Some(&office.id));
        let other_office = company(None);
        let memberships = [member(&office.id, &[CompanyRole::UserAdmin])];
        assert_eq!(authority_over(&memberships, false, &office), Some(Authority::UserAdmin));
        assert_eq!(authority_over(&memberships, false, &client), None);
        let tpk = [member(&office.id, &[CompanyRole::OfficeAdmin])];
        assert_eq!(authority_over(&tpk, false, &other_office), None, "another office is out of reach");
    }

    #[test]
    fn a_member_without_a_role_reaches_nothing_and_support_reaches_all() {
        let own = company(None);
        assert_eq!(authority_over(&[member(&own.id, &[])], false, &own), None);
        assert_eq!(authority_over(&[], true, &own), Some(Authority::Support));
    }
}
