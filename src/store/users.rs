//! Users, their communication contacts and their memberships.

use diesel::prelude::*;

use super::schema::{access_rights, communication_contacts, membership_roles, memberships, users};
use super::{Read, Write, is_unique_violation};
use crate::domain::access::{AccessRight, CompanyRole, Membership};
use crate::domain::contact::{Email, PhoneNumber};
use crate::domain::ids::{CompanyId, UserId};
use crate::domain::user::{CommunicationContacts, User};
use crate::error::{Error, Result};

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    email: String,
    name: String,
    phone: Option<String>,
    password_hash: Option<String>,
    national_id_digest: Option<String>,
    support: bool,
    created_at: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = communication_contacts)]
struct ContactsRow {
    email: String,
    email_verified: bool,
    phone: Option<String>,
    phone_verified: bool,
}

fn user_from_rows(user: UserRow, contacts: ContactsRow) -> User {
    User {
        id: UserId::from_stored(user.id),
        email: Email::from_stored(user.email),
        name: user.name,
        phone: user.phone.map(PhoneNumber::from_stored),
        communication: CommunicationContacts {
            email: Email::from_stored(contacts.email),
            email_verified: contacts.email_verified,
            phone: contacts.phone.map(PhoneNumber::from_stored),
            phone_verified: contacts.phone_verified,
        },
        support: user.support,
        has_password: user.password_hash.is_some(),
        has_national_id: user.national_id_digest.is_some(),
        created_at: user.created_at,
    }
}

impl Read<'_> {
    /// The user with this id, if any.
    pub fn user(&mut self, id: &UserId) -> Result<Option<User>> {
        let row = users::table
            .inner_join(communication_contacts::table)
            .filter(users::id.eq(id.as_str()))
            .select((UserRow::as_select(), ContactsRow::as_select()))
            .get_result::<(UserRow, ContactsRow)>(self.conn)
            .optional()?;
        Ok(row.map(|(user, contacts)| user_from_rows(user, contacts)))
    }

    /// The id of the user whose basic email this is.
    pub fn user_id_by_email(&mut self, email: &Email) -> Result<Option<UserId>> {
        let id = users::table
            .filter(users::email.eq(email.as_str()))
            .select(users::id)
            .get_result::<String>(self.conn)
            .optional()?;
        Ok(id.map(UserId::from_stored))
    }

    /// The id of the user linked to this keyed hash of a personal identity code.
    pub fn user_id_by_national_id_digest(&mut self, digest: &str) -> Result<Option<UserId>> {
        let id = users::table
            .filter(users::national_id_digest.eq(digest))
            .select(users::id)
            .get_result::<String>(self.conn)
            .optional()?;
        Ok(id.map(UserId::from_stored))
    }

    /// The user's memberships, with roles and rights, ordered by company id.
    pub fn memberships(&mut self, user_id: &UserId) -> Result<Vec<Membership>> {
        let companies = memberships::table
            .filter(memberships::user_id.eq(user_id.as_str()))
            .order(memberships::company_id)
            .select(memberships::company_id)
            .load::<String>(self.conn)?;
        let roles = membership_roles::table
            .filter(membership_roles::user_id.eq(user_id.as_str()))
            .order((membership_roles::company_id, membership_roles::role))
            .select((membership_roles::company_id, membership_roles::role))
            .load::<(String, String)>(self.conn)?;
        let rights = access_rights::table
            .filter(access_rights::user_id.eq(user_id.as_str()))
            .order((access_rights::company_id, access_rights::name))
            .select((access_rights::company_id, access_rights::name))
            .load::<(String, String)>(self.conn)?;
        companies
            .into_iter()
            .map(|company| {
                let roles = roles
                    .iter()
                    .filter(|(c, _)| *c == company)
                    .map(|(_, role)| CompanyRole::parse(role).map_err(|_| Error::internal("unknown stored role")))
                    .collect::<Result<Vec<_>>>()?;
                let rights = rights
                    .iter()
                    .filter(|(c, _)| *c == company)
                    .map(|(_, name)| AccessRight::from_stored(name.clone()))
                    .collect();
                Ok(Membership { company_id: CompanyId::from_stored(company), roles, rights })
            })
            .collect()
    }
}

impl Write<'_> {
    /// Inserts a user with their communication contacts.
    pub fn insert_user(
        &mut self,
        user: &User,
        password_hash: Option<&str>,
        national_id_digest: Option<&str>,
    ) -> Result<()> {
        diesel::insert_into(users::table)
            .values((
                users::id.eq(user.id.as_str()),
                users::email.eq(user.email.as_str()),
                users::name.eq(&user.name),
                users::phone.eq(user.phone.as_ref().map(PhoneNumber::as_str)),
                users::password_hash.eq(password_hash),
                users::national_id_digest.eq(national_id_digest),
                users::support.eq(user.support),
                users::created_at.eq(user.created_at),
                users::updated_at.eq(user.created_at),
            ))
            .execute(self.conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict("A user with this email address or identity already exists.".to_owned())
                } else {
                    e.into()
                }
            })?;
        let contacts = &user.communication;
        diesel::insert_into(communication_contacts::table)
            .values((
                communication_contacts::user_id.eq(user.id.as_str()),
                communication_contacts::email.eq(contacts.email.as_str()),
                communication_contacts::email_verified.eq(contacts.email_verified),
                communication_contacts::phone.eq(contacts.phone.as_ref().map(PhoneNumber::as_str)),
                communication_contacts::phone_verified.eq(contacts.phone_verified),
                communication_contacts::updated_at.eq(user.created_at),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Makes the user a member of a company with these roles and rights.
    pub fn insert_membership(&mut self, user_id: &UserId, membership: &Membership, now: i64) -> Result<()> {
        let (user, company) = (user_id.as_str(), membership.company_id.as_str());
        diesel::insert_into(memberships::table)
            .values((
                memberships::user_id.eq(user),
                memberships::company_id.eq(company),
                memberships::created_at.eq(now),
            ))
            .execute(self.conn)?;
        self.insert_roles_and_rights(user_id, membership)
    }

    /// Writes a membership's roles and rights (the membership row exists).
    pub(super) fn insert_roles_and_rights(&mut self, user_id: &UserId, membership: &Membership) -> Result<()> {
        let (user, company) = (user_id.as_str(), membership.company_id.as_str());
        for role in &membership.roles {
            diesel::insert_into(membership_roles::table)
                .values((
                    membership_roles::user_id.eq(user),
                    membership_roles::company_id.eq(company),
                    membership_roles::role.eq(role.as_str()),
                ))
                .execute(self.conn)?;
        }
        for right in &membership.rights {
            diesel::insert_into(access_rights::table)
                .values((
                    access_rights::user_id.eq(user),
                    access_rights::company_id.eq(company),
                    access_rights::name.eq(right.as_str()),
                ))
                .execute(self.conn)?;
        }
        Ok(())
    }
}
