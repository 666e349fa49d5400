//! An administrator's work on the users of the companies within reach:
//! list and search, add, read and change basic information, set the
//! communication phone, roles and rights, and the personal identity code.
//! Every write takes the proof of reach and is audited in its transaction.

use super::invitations::{InvitationState, effective_state};
use super::{AdminContext, Authority, CompanyReach, UserReach, forbidden};
use crate::clock::UnixSeconds;
use crate::domain::access::{AccessRight, CompanyRole, Membership};
use crate::domain::audit::{self, Event, Subjects};
use crate::domain::company::parse_name;
use crate::domain::contact::{Email, PhoneNumber};
use crate::domain::ids::{CompanyId, UserId};
use crate::domain::national_id::NationalId;
use crate::domain::refusal::{Refusal, settle};
use crate::domain::user::{MembershipInput, NewUserInput, PreparedUser, User};
use crate::error::{Error, Result};
use crate::store::{Read, Write};

/// The last invitation of a user to a company, in short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationSummary {
    pub id: String,
    pub state: InvitationState,
}

/// A user as a company's list shows them: basic information, and the roles
/// and rights in that company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUser {
    pub user: User,
    pub rights: Vec<AccessRight>,
    pub roles: Vec<CompanyRole>,
    pub invitation: Option<InvitationSummary>,
}

/// A user as the administrator sees them: the roles and rights are those of
/// the companies within the administrator's reach, each and together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetail {
    pub user: User,
    pub rights: Vec<AccessRight>,
    pub roles: Vec<CompanyRole>,
    pub memberships: Vec<Membership>,
}

fn detail_of(reach: &UserReach) -> UserDetail {
    let memberships: Vec<Membership> = reach.memberships_within_reach().into_iter().cloned().collect();
    let mut rights: Vec<AccessRight> = memberships.iter().flat_map(|m| m.rights.iter().cloned()).collect();
    rights.sort();
    rights.dedup();
    let mut roles: Vec<CompanyRole> = memberships.iter().flat_map(|m| m.roles.iter().copied()).collect();
    roles.sort();
    roles.dedup();
    UserDetail { user: reach.user().clone(), rights, roles, memberships }
}

/// The users of a company, by name; with `search`, only those whose name or
/// email contains it.
pub fn list(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    reach: &CompanyReach,
    search: Option<&str>,
) -> Result<Vec<ListedUser>> {
    ctx.store.read(|r| {
        let ids = r.company_member_ids(reach.company(), search)?;
        ids.iter().filter_map(|id| listed(r, now, reach.company(), id).transpose()).collect()
    })
}

fn listed(r: &mut Read<'_>, now: UnixSeconds, company: &CompanyId, id: &UserId) -> Result<Option<ListedUser>> {
    let Some(user) = r.user(id)? else { return Ok(None) };
    let membership = r.memberships(id)?.into_iter().find(|m| &m.company_id == company);
    let (rights, roles) = membership.map(|m| (m.rights, m.roles)).unwrap_or_default();
    let invitation = r
        .last_invitation_of(id, company.as_str())?
        .map(|stored| InvitationSummary { state: effective_state(&stored, now), id: stored.id });
    Ok(Some(ListedUser { user, rights, roles, invitation }))
}

/// What an administrator gives to add a person to a company.
#[derive(Debug, Clone, Default)]
pub struct NewCompanyUser {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub rights: Vec<String>,
}

/// Adds a person to the company, with access rights and no role. The phone
/// is also the communication phone, the email the communication email.
pub fn add(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    reach: &CompanyReach,
    input: NewCompanyUser,
) -> Result<UserDetail> {
    let rights = input.rights.iter().map(|r| AccessRight::parse(r)).collect::<Result<Vec<_>>>()?;
    let prepared = PreparedUser::validate(
        ctx.keys,
        NewUserInput {
            email: input.email,
            name: input.name,
            phone: input.phone,
            memberships: vec![MembershipInput { company_id: reach.company().clone(), roles: Vec::new(), rights }],
            ..Default::default()
        },
    )?;
    ctx.store.write(|tx| {
        let created = prepared.insert(tx, now)?;
        let about = Subjects { user: Some(&created.user.id), client: None, company: Some(reach.company().as_str()) };
        audit::record_by(tx, now, &ctx.origin, reach.actor(), about, Event::UserAdded)?;
        let memberships = created.memberships;
        let detail = UserDetail {
            rights: memberships.iter().flat_map(|m| m.rights.clone()).collect(),
            roles: Vec::new(),
            user: created.user,
            memberships,
        };
        Ok(detail)
    })
}

/// The user as the administrator sees them.
pub fn get(reach: &UserReach) -> UserDetail {
    detail_of(reach)
}

/// A change of basic information; what is absent stays as it is.
#[derive(Debug, Clone, Default)]
pub struct BasicInformation {
    pub name: Option<String>,
    pub email: Option<String>,
    /// `Some(None)`: remove the basic phone.
    pub phone: Option<Option<String>>,
}

/// Records an administrator's change to a user in the log of every company
/// through which they reach the user.
fn record_in_each(
    tx: &mut Write<'_>,
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    reach: &UserReach,
    event: &Event,
) -> Result<()> {
    let user = &reach.user().id;
    for company in reach.reaches() {
        let about = Subjects { user: Some(user), client: None, company: Some(company.company().as_str()) };
        audit::record_by(tx, now, &ctx.origin, company.actor(), about, event.clone())?;
    }
    Ok(())
}

/// Reads the user back after a change, in the transaction.
fn reread(tx: &mut Write<'_>, reach: &UserReach) -> Result<UserDetail> {
    let actor = reach.reaches().first().map(|r| r.actor().clone()).ok_or(Error::NotFound("user"))?;
    match super::read_user_reach(tx, &actor, &reach.user().id)? {
        Ok(fresh) => Ok(detail_of(&fresh)),
        Err(_) => Err(Error::NotFound("user")),
    }
}

/// Changes a user's basic information (name, email, phone). The
/// communication email follows a new basic email while the person has not
/// set their own; the communication phone stays as it is.
pub fn update_basic(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    reach: &UserReach,
    change: BasicInformation,
) -> Result<UserDetail> {
    refuse_unless_outranks(ctx, now, reach)?;
    let current = reach.user();
    let name = change.name.as_deref().map(parse_name).transpose()?.unwrap_or_else(|| current.name.clone());
    let email = change.email.as_deref().map(Email::parse).transpose()?.unwrap_or_else(|| current.email.clone());
    let phone = match change.phone {
        Some(Some(typed)) => Some(PhoneNumber::parse(&typed)?),
        Some(None) => None,
        None => current.phone.clone(),
    };
    ctx.store.write(|tx| {
        if email != current.email && tx.user_id_by_email(&email)?.is_some() {
            return Err(Refusal::EmailTaken.into());
        }
        let phone = phone.as_ref().map(PhoneNumber::as_str);
        tx.set_basic_information(&current.id, &name, email.as_str(), phone, now)?;
        record_in_each(tx, ctx, now, reach, &Event::UserUpdated)?;
        reread(tx, reach)
    })
}

/// A user administrator may not change an office admin's or customer
/// service's details (and so where their codes go): `forbidden`, recorded.
fn refuse_unless_outranks(ctx: &AdminContext<'_>, now: UnixSeconds, reach: &UserReach) -> Result<()> {
    match reach.reaches().first() {
        Some(through) if !reach.outranks() => Err(super::forbidden(ctx, now, through, Some(&reach.user().id))),
        _ => Ok(()),
    }
}

/// Sets the communication phone (where codes are sent). The communication
/// email is the person's own to set, never an administrator's.
pub fn set_communication_phone(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    reach: &UserReach,
    phone: &str,
) -> Result<UserDetail> {
    refuse_unless_outranks(ctx, now, reach)?;
    let phone = PhoneNumber::parse(phone)?;
    ctx.store.write(|tx| {
        tx.set_communication_phone_by_admin(&reach.user().id, phone.as_str(), now)?;
        record_in_each(tx, ctx, now, reach, &Event::CommunicationPhoneSet)?;
        reread(tx, reach)
    })
}

/// The roles and rights to give a user in one company.
#[derive(Debug, Clone)]
pub struct RightsChange {
    pub rights: Vec<String>,
    pub roles: Vec<String>,
}

/// Whether an administrator of `authority` may turn `before` into `after`:
/// a user administrator (KH) holds no `office_admin`, so may neither grant
/// nor take it away; an office's main user and support may.
pub fn may_change_roles(authority: Authority, before: &[CompanyRole], after: &[CompanyRole]) -> bool {
    match authority {
        Authority::Support | Authority::OfficeAdmin => true,
        Authority::UserAdmin => before.contains(&CompanyRole::OfficeAdmin) == after.contains(&CompanyRole::OfficeAdmin),
    }
}

/// Sets a user's roles and rights in a company within the administrator's
/// reach (`company`), replacing those held there. `office_admin` belongs to
/// an accounting office only; roles beyond the administrator's own are
/// forbidden. An administrator may remove their own last role: their next
/// request is refused.
pub fn set_rights(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    user: &UserReach,
    company: &CompanyReach,
    change: RightsChange,
) -> Result<UserDetail> {
    // Only in a company the user belongs to: adding someone to another
    // company is customer service's (and would move them beyond the reach
    // of their own administrators).
    if user.through(company.company()).is_none() && company.authority() != Authority::Support {
        return Err(Error::NotFound("user"));
    }
    let mut rights = change.rights.iter().map(|r| AccessRight::parse(r)).collect::<Result<Vec<_>>>()?;
    let mut roles = change.roles.iter().map(|r| CompanyRole::parse(r)).collect::<Result<Vec<_>>>()?;
    rights.sort();
    rights.dedup();
    roles.sort();
    roles.dedup();
    let user_id = &user.user().id;
    let decided = ctx.store.write(|tx| {
        let before = tx
            .memberships(user_id)?
            .into_iter()
            .find(|m| &m.company_id == company.company())
            .map(|m| m.roles)
            .unwrap_or_default();
        if !may_change_roles(company.authority(), &before, &roles) {
            return Ok(Err(Refusal::Forbidden));
        }
        let target = tx.company(company.company())?.ok_or(Error::NotFound("company"))?;
        if roles.contains(&CompanyRole::OfficeAdmin) && target.office_id.is_some() {
            return Ok(Err(Refusal::OfficeAdminOnClientCompany));
        }
        let membership =
            Membership { company_id: company.company().clone(), roles: roles.clone(), rights: rights.clone() };
        tx.replace_membership(user_id, &membership, now)?;
        let about = Subjects { user: Some(user_id), client: None, company: Some(company.company().as_str()) };
        let event = Event::RightsChanged {
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            rights: rights.iter().map(|r| r.as_str().to_owned()).collect(),
        };
        audit::record_by(tx, now, &ctx.origin, company.actor(), about, event)?;
        Ok(Ok(()))
    })?;
    match decided {
        Err(Refusal::Forbidden) => return Err(forbidden(ctx, now, company, Some(user_id))),
        other => settle(other)?,
    }
    // Read back as the administrator now reaches the user (through this company too).
    ctx.store.read(|r| match super::read_user_reach(r, company.actor(), user_id)? {
        Ok(fresh) => Ok(detail_of(&fresh)),
        // The administrator removed their own reach over the user: show what was set.
        Err(_) => Ok(UserDetail {
            user: user.user().clone(),
            rights: rights.clone(),
            roles: roles.clone(),
            memberships: vec![Membership {
                company_id: company.company().clone(),
                roles: roles.clone(),
                rights: rights.clone(),
            }],
        }),
    })
}

/// Links the user to their personal identity code, stored only as its keyed
/// hash. A malformed code, or one that is another user's, is refused; so is
/// a user administrator linking an office admin's or customer service's.
pub fn set_national_id(ctx: &AdminContext<'_>, now: UnixSeconds, reach: &UserReach, typed: &str) -> Result<()> {
    // Whoever holds the code signs in as the user through a bank: only an
    // administrator who outranks the user may link it.
    refuse_unless_outranks(ctx, now, reach)?;
    let code = NationalId::parse(typed).map_err(|_| Refusal::NationalIdInvalid)?;
    let digest = ctx.keys.national_id_digest(code.canonical())?;
    let user_id = &reach.user().id;
    let linked = ctx.store.write(|tx| {
        if tx.user_id_by_national_id_digest(&digest)?.is_some_and(|owner| &owner != user_id) {
            return Ok(Err(Refusal::NationalIdTaken));
        }
        tx.set_national_id_digest(user_id, &digest, now)?;
        record_in_each(tx, ctx, now, reach, &Event::NationalIdSet).map(Ok)
    })?;
    // Another person's code: refused, and recorded, so that probing for
    // whose codes are registered shows in the log.
    if let Err(refusal) = linked {
        let event = Event::AdminRefused { reason: refusal.code() };
        ctx.store.write(|tx| record_in_each(tx, ctx, now, reach, &event))?;
        return Err(refusal.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_admin_neither_grants_nor_removes_office_admin() {
        use CompanyRole::{OfficeAdmin, UserAdmin};
        assert!(may_change_roles(Authority::UserAdmin, &[], &[UserAdmin]));
        assert!(may_change_roles(Authority::UserAdmin, &[UserAdmin], &[]));
        assert!(!may_change_roles(Authority::UserAdmin, &[], &[OfficeAdmin]));
        assert!(!may_change_roles(Authority::UserAdmin, &[OfficeAdmin], &[UserAdmin]));
        assert!(may_change_roles(Authority::UserAdmin, &[OfficeAdmin], &[OfficeAdmin, UserAdmin]));
        assert!(may_change_roles(Authority::OfficeAdmin, &[], &[OfficeAdmin]));
        assert!(may_change_roles(Authority::Support, &[OfficeAdmin], &[]));
    }
}
