//! Roles, access rights, and who may administer whom.

use serde::Serialize;

use super::ids::CompanyId;
use super::refusal::Refusal;
use crate::error::Result;

/// What a refusal repeats of a name typed: its first 64 characters.
fn shown(input: &str) -> String {
    input.chars().take(64).collect()
}

/// An administrative role a user holds in one company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyRole {
    /// KH: administers the users of this company.
    UserAdmin,
    /// TPK: main user of an accounting office; administers the office and all its client companies.
    OfficeAdmin,
}

impl CompanyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            CompanyRole::UserAdmin => "user_admin",
            CompanyRole::OfficeAdmin => "office_admin",
        }
    }

    pub fn parse(input: &str) -> Result<Self> {
        match input {
            "user_admin" => Ok(CompanyRole::UserAdmin),
            "office_admin" => Ok(CompanyRole::OfficeAdmin),
            other => Err(Refusal::RoleUnknown { input: shown(other) }.into()),
        }
    }
}

/// The right that lets an employee only log working hours, and see no company data.
pub const HOURS_ONLY: &str = "hours_only";

/// A named application permission (`ledger`, `payroll`, `hours_only`, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AccessRight(String);

impl AccessRight {
    /// A right name: a lower-case letter, then lower-case letters, digits or `_`; at most 64.
    pub fn parse(input: &str) -> Result<Self> {
        let valid = input.len() <= 64
            && input.starts_with(|c: char| c.is_ascii_lowercase())
            && input.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid { Ok(Self(input.to_owned())) } else { Err(Refusal::RightNameInvalid { input: shown(input) }.into()) }
    }

    pub(crate) fn from_stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user's place in one company: the roles and access rights held there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub company_id: CompanyId,
    pub roles: Vec<CompanyRole>,
    pub rights: Vec<AccessRight>,
}

impl Membership {
    /// Whether the user may see the company's data: any right other than `hours_only`.
    pub fn has_data_access(&self) -> bool {
        self.rights.iter().any(|right| right.as_str() != HOURS_ONLY)
    }

    /// Whether the membership carries `role`.
    pub fn holds(&self, role: CompanyRole) -> bool {
        self.roles.contains(&role)
    }
}

/// Whether a person only logs working hours: a member somewhere, whose one
/// right in every company is `hours_only`, holding no role there and no
/// customer-service role. Such a person skips the confirmation code after
/// strong identification; anyone with more must pass it.
pub fn only_logs_hours(memberships: &[Membership], support: bool) -> bool {
    !support
        && !memberships.is_empty()
        && memberships
            .iter()
            .all(|m| m.roles.is_empty() && !m.rights.is_empty() && m.rights.iter().all(|r| r.as_str() == HOURS_ONLY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::company::Company;

    fn company(office: Option<&CompanyId>) -> Company {
        Company { id: CompanyId::generate(), name: "Oy".into(), office_id: office.cloned(), created_at: 0 }
    }

    fn member(company: &Company, roles: &[CompanyRole], rights: &[&str]) -> Membership {
        Membership {
            company_id: company.id.clone(),
            roles: roles.to_vec(),
            rights: rights.iter().map(|r| AccessRight::parse(r).unwrap()).collect(),
        }
    }

    #[test]
    fn only_a_person_with_nothing_but_hours_only_logs_only_hours() {
        let (a, b) = (company(None), company(None));
        let hours = |c: &Company| member(c, &[], &["hours_only"]);
        assert!(only_logs_hours(&[hours(&a), hours(&b)], false));
        assert!(!only_logs_hours(&[hours(&a)], true), "customer service");
        assert!(!only_logs_hours(&[], false), "a member nowhere");
        assert!(!only_logs_hours(&[hours(&a), member(&b, &[], &["ledger"])], false), "more rights elsewhere");
        assert!(!only_logs_hours(&[member(&a, &[], &["hours_only", "payroll"])], false));
        assert!(!only_logs_hours(&[member(&a, &[CompanyRole::UserAdmin], &["hours_only"])], false), "a role");
        assert!(!only_logs_hours(&[member(&a, &[], &[])], false), "no right at all");
    }

    #[test]
    fn hours_only_gives_no_data_access() {
        let c = company(None);
        assert!(!member(&c, &[], &["hours_only"]).has_data_access());
        assert!(!member(&c, &[], &[]).has_data_access());
        assert!(member(&c, &[], &["hours_only", "ledger"]).has_data_access());
    }

    #[test]
    fn names_are_validated() {
        assert!(AccessRight::parse("payroll").is_ok());
        for bad in ["", "Ledger", "1st", "led-ger", &"a".repeat(65)] {
            assert!(AccessRight::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(CompanyRole::parse("office_admin").unwrap(), CompanyRole::OfficeAdmin);
        assert!(CompanyRole::parse("support").is_err());
    }
}
