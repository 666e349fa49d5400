//! Administration: who may administer which company. The admin pages and
//! API (`/admin`, `/api/admin/v1`) are built on this.
//!
//! Access is a capability: a [`CompanyReach`] is made only by [`reach`],
//! the role check, from the administrator's roles as they are now; every
//! administrative write takes one, so a write cannot happen without the check.

pub mod invitations;

use super::access::{CompanyRole, Membership};
use super::company::Company;
use super::ids::{CompanyId, UserId};
use crate::error::Result;
use crate::store::Read;

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
