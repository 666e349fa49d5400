//! Users: basic information, the separate communication contact details that
//! every code is sent to, and memberships in companies.

use serde::Serialize;

use super::access::{AccessRight, CompanyRole, Membership};
use super::company::parse_name;
use super::contact::{Email, PhoneNumber};
use super::ids::{CompanyId, UserId};
use super::national_id::NationalId;
use super::password_policy::check_new_password;
use super::refusal::Refusal;
use crate::clock::UnixSeconds;
use crate::crypto::{Keys, password};
use crate::error::{Error, Result};
use crate::store::{Store, Write};

/// A person with an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    /// Basic email: the sign-in name.
    pub email: Email,
    pub name: String,
    /// Basic phone number.
    pub phone: Option<PhoneNumber>,
    pub communication: CommunicationContacts,
    /// Holds the global customer-service role.
    pub support: bool,
    pub has_password: bool,
    pub has_national_id: bool,
    pub created_at: UnixSeconds,
}

/// Where codes go. Set apart from the basic details: a user administrator may
/// set the phone, only the user the email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommunicationContacts {
    pub email: Email,
    pub email_verified: bool,
    pub phone: Option<PhoneNumber>,
    pub phone_verified: bool,
}

/// A membership to create with a new user.
#[derive(Debug, Clone)]
pub struct MembershipInput {
    pub company_id: CompanyId,
    pub roles: Vec<CompanyRole>,
    pub rights: Vec<AccessRight>,
}

/// What an administrator or operator gives to create a user, as typed.
#[derive(Debug, Clone, Default)]
pub struct NewUserInput {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub password: Option<String>,
    pub national_id: Option<String>,
    pub support: bool,
    pub memberships: Vec<MembershipInput>,
}

/// A user as created, with memberships; what `portti user add` prints.
#[derive(Debug, Clone, Serialize)]
pub struct UserWithMemberships {
    #[serde(flatten)]
    pub user: User,
    pub memberships: Vec<Membership>,
}

/// Validates and creates a user. The communication contacts start as the
/// basic email and phone; the personal identity code is stored only as a keyed
/// hash; the password, if given, must meet the policy.
pub fn add_user(store: &Store, keys: &Keys, now: UnixSeconds, input: NewUserInput) -> Result<UserWithMemberships> {
    let prepared = PreparedUser::validate(keys, input)?;
    store.write(|tx| prepared.insert(tx, now))
}

/// A new user's input, validated and its secrets hashed, ready to insert
/// in a transaction of the caller's (an administrator's, which audits it).
pub struct PreparedUser {
    email: Email,
    name: String,
    phone: Option<PhoneNumber>,
    national_id_digest: Option<String>,
    password_hash: Option<String>,
    support: bool,
    memberships: Vec<Membership>,
}

impl PreparedUser {
    /// Validates the input (a refusal names what is wrong) and hashes its secrets.
    pub fn validate(keys: &Keys, input: NewUserInput) -> Result<Self> {
        let email = Email::parse(&input.email)?;
        let name = parse_name(&input.name)?;
        let phone = input.phone.as_deref().map(PhoneNumber::parse).transpose()?;
        let national_id_digest = match input.national_id.as_deref() {
            Some(code) => Some(keys.national_id_digest(NationalId::parse(code)?.canonical())?),
            None => None,
        };
        let password_hash = match input.password.as_deref() {
            Some(password) => {
                check_new_password(password, &[email.as_str(), &name])?;
                Some(password::hash_password(password)?)
            }
            None => None,
        };
        let memberships = merge_memberships(input.memberships);
        Ok(Self { email, name, phone, national_id_digest, password_hash, support: input.support, memberships })
    }

    /// Creates the user and their memberships in `tx`.
    pub fn insert(&self, tx: &mut Write<'_>, now: UnixSeconds) -> Result<UserWithMemberships> {
        let Self { email, name, phone, national_id_digest, password_hash, support, memberships } = self;
        for membership in memberships {
            let company = tx.company(&membership.company_id)?.ok_or(Error::NotFound("company"))?;
            if membership.roles.contains(&CompanyRole::OfficeAdmin) && company.office_id.is_some() {
                return Err(Error::InvalidRequest(format!(
                    "office_admin is a role of an accounting office; {} is a client company",
                    company.name
                )));
            }
        }
        if tx.user_id_by_email(email)?.is_some() {
            return Err(Refusal::EmailTaken.into());
        }
        if let Some(digest) = national_id_digest
            && tx.user_id_by_national_id_digest(digest)?.is_some()
        {
            return Err(Refusal::NationalIdTaken.into());
        }
        let user = User {
            id: UserId::generate(),
            email: email.clone(),
            name: name.clone(),
            phone: phone.clone(),
            communication: CommunicationContacts {
                email: email.clone(),
                email_verified: false,
                phone: phone.clone(),
                phone_verified: false,
            },
            support: *support,
            has_password: password_hash.is_some(),
            has_national_id: national_id_digest.is_some(),
            created_at: now,
        };
        tx.insert_user(&user, password_hash.as_deref(), national_id_digest.as_deref())?;
        for membership in memberships {
            tx.insert_membership(&user.id, membership, now)?;
        }
        Ok(UserWithMemberships { memberships: tx.memberships(&user.id)?, user })
    }
}

/// Folds repeated mentions of one company into one membership, without duplicates.
fn merge_memberships(inputs: Vec<MembershipInput>) -> Vec<Membership> {
    let mut merged: Vec<Membership> = Vec::new();
    for input in inputs {
        let index = match merged.iter().position(|m| m.company_id == input.company_id) {
            Some(index) => index,
            None => {
                merged.push(Membership { company_id: input.company_id, roles: Vec::new(), rights: Vec::new() });
                merged.len() - 1
            }
        };
        let membership = &mut merged[index];
        membership.roles.extend(input.roles);
        membership.rights.extend(input.rights);
        membership.roles.sort();
        membership.roles.dedup();
        membership.rights.sort();
        membership.rights.dedup();
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_merge_per_company() {
        let a = CompanyId::generate();
        let b = CompanyId::generate();
        let ledger = AccessRight::parse("ledger").unwrap();
        let merged = merge_memberships(vec![
            MembershipInput { company_id: a.clone(), roles: vec![CompanyRole::UserAdmin], rights: vec![] },
            MembershipInput { company_id: b.clone(), roles: vec![], rights: vec![ledger.clone()] },
            MembershipInput {
                company_id: a.clone(),
                roles: vec![CompanyRole::UserAdmin],
                rights: vec![ledger.clone(), ledger.clone()],
            },
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].company_id, a);
        assert_eq!(merged[0].roles, vec![CompanyRole::UserAdmin]);
        assert_eq!(merged[0].rights, vec![ledger.clone()]);
        assert_eq!(merged[1].rights, vec![ledger]);
    }
}
