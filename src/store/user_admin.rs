//! What administrators change of a user: basic information, the
//! communication phone, roles and rights in a company, the identity code;
//! and the lists they see (a company's members, every company).

use diesel::prelude::*;

use super::schema::{access_rights, communication_contacts, companies, membership_roles, memberships, users};
use super::{Read, Write, is_unique_violation};
use crate::domain::access::Membership;
use crate::domain::company::Company;
use crate::domain::ids::{CompanyId, UserId};
use crate::error::{Error, Result};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// `%` and `_` of a search typed by a person match themselves.
fn like_pattern(search: &str) -> String {
    let escaped: String = search
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            other => vec![other],
        })
        .collect();
    format!("%{escaped}%")
}

impl Read<'_> {
    /// The members of a company, by name; with `search`, only those whose
    /// name or basic email contains it (case ignored).
    pub fn company_member_ids(&mut self, company: &CompanyId, search: Option<&str>) -> Result<Vec<UserId>> {
        let mut query = memberships::table
            .inner_join(users::table)
            .filter(memberships::company_id.eq(company.as_str()))
            .order((users::name, users::id))
            .select(users::id)
            .into_boxed();
        if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = like_pattern(search);
            query = query.filter(
                lower(users::name).like(pattern.clone()).escape('\\').or(users::email.like(pattern).escape('\\')),
            );
        }
        Ok(query.load::<String>(self.conn)?.into_iter().map(UserId::from_stored).collect())
    }

    /// Every company, by name (what customer service administers).
    pub fn all_companies(&mut self) -> Result<Vec<Company>> {
        let rows = companies::table
            .order((companies::name, companies::id))
            .select((companies::id, companies::name, companies::office_id, companies::created_at))
            .load::<(String, String, Option<String>, i64)>(self.conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, office_id, created_at)| Company {
                id: CompanyId::from_stored(id),
                name,
                office_id: office_id.map(CompanyId::from_stored),
                created_at,
            })
            .collect())
    }
}

impl Write<'_> {
    /// Sets a user's basic information; the communication email follows a
    /// changed basic email while the person has not set one of their own.
    pub fn set_basic_information(
        &mut self,
        user_id: &UserId,
        name: &str,
        email: &str,
        phone: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let previous = users::table.find(user_id.as_str()).select(users::email).get_result::<String>(self.conn)?;
        diesel::update(users::table.find(user_id.as_str()))
            .set((users::name.eq(name), users::email.eq(email), users::phone.eq(phone), users::updated_at.eq(now)))
            .execute(self.conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Refused(crate::domain::refusal::Refusal::EmailTaken)
                } else {
                    e.into()
                }
            })?;
        if previous != email {
            diesel::update(
                communication_contacts::table
                    .find(user_id.as_str())
                    .filter(communication_contacts::email.eq(&previous))
                    .filter(communication_contacts::email_verified.eq(false)),
            )
            .set((communication_contacts::email.eq(email), communication_contacts::updated_at.eq(now)))
            .execute(self.conn)?;
        }
        Ok(())
    }

    /// Sets the communication phone as an administrator typed it: not
    /// proven by a code, so not verified.
    pub fn set_communication_phone_by_admin(&mut self, user_id: &UserId, phone: &str, now: i64) -> Result<()> {
        diesel::update(communication_contacts::table.find(user_id.as_str()))
            .set((
                communication_contacts::phone.eq(phone),
                communication_contacts::phone_verified.eq(false),
                communication_contacts::updated_at.eq(now),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Replaces a user's roles and rights in a company, making them a
    /// member first if they were not.
    pub fn replace_membership(&mut self, user_id: &UserId, membership: &Membership, now: i64) -> Result<()> {
        let (user, company) = (user_id.as_str(), membership.company_id.as_str());
        let exists = memberships::table
            .find((user, company))
            .select(memberships::user_id)
            .get_result::<String>(self.conn)
            .optional()?
            .is_some();
        if !exists {
            return self.insert_membership(user_id, membership, now);
        }
        diesel::delete(
            membership_roles::table
                .filter(membership_roles::user_id.eq(user))
                .filter(membership_roles::company_id.eq(company)),
        )
        .execute(self.conn)?;
        diesel::delete(
            access_rights::table.filter(access_rights::user_id.eq(user)).filter(access_rights::company_id.eq(company)),
        )
        .execute(self.conn)?;
        self.insert_roles_and_rights(user_id, membership)
    }

    /// Links a user to a personal identity code, by its keyed hash.
    pub fn set_national_id_digest(&mut self, user_id: &UserId, digest: &str, now: i64) -> Result<()> {
        diesel::update(users::table.find(user_id.as_str()))
            .set((users::national_id_digest.eq(digest), users::updated_at.eq(now)))
            .execute(self.conn)?;
        Ok(())
    }
}
