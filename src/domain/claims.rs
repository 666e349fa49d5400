//! The claims a user's tokens and userinfo carry, chosen by scope.

use serde_json::{Map, Value, json};

use super::access::Membership;
use super::ids::UserId;
use super::user::User;
use crate::error::{Error, Result};
use crate::store::Read;

/// The claims about a user that `scopes` allow ([`claims_of`]), read from the store.
pub fn user_claims(read: &mut Read<'_>, user_id: &UserId, scopes: &[String]) -> Result<Map<String, Value>> {
    let user = read.user(user_id)?.ok_or_else(|| Error::InvalidGrant("the user no longer exists".to_owned()))?;
    let mut companies = Vec::new();
    if has(scopes, COMPANIES) {
        for membership in read.memberships(user_id)? {
            let company_name = read.company(&membership.company_id)?.map(|company| company.name);
            companies.push(CompanyClaim { membership, company_name });
        }
    }
    Ok(claims_of(&user, &companies, scopes))
}

/// The scope of the `companies` claim, and of `support`.
const COMPANIES: &str = "companies";

fn has(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope)
}

/// One entry of the `companies` claim: a membership, with its company's name
/// (`None` when the company is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyClaim {
    pub membership: Membership,
    pub company_name: Option<String>,
}

/// The claims about `user` that `scopes` allow: `profile` (name), `email`
/// and `phone` (the communication contact details, not the basic ones, with
/// whether they are verified; `phone` only when there is one), `companies`
/// (the memberships, with roles and access rights, and `support` for a user
/// with the customer-service role). `companies` is read only when asked for.
pub fn claims_of(user: &User, companies: &[CompanyClaim], scopes: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    if has(scopes, "profile") {
        claims.insert("name".into(), json!(user.name));
    }
    if has(scopes, "email") {
        claims.insert("email".into(), json!(user.communication.email));
        claims.insert("email_verified".into(), json!(user.communication.email_verified));
    }
    if has(scopes, "phone")
        && let Some(phone) = &user.communication.phone
    {
        claims.insert("phone_number".into(), json!(phone));
        claims.insert("phone_number_verified".into(), json!(user.communication.phone_verified));
    }
    if has(scopes, COMPANIES) {
        let companies = companies
            .iter()
            .map(|CompanyClaim { membership, company_name }| {
                json!({
                    "id": membership.company_id,
                    "name": company_name,
                    "roles": membership.roles,
                    "rights": membership.rights,
                })
            })
            .collect();
        claims.insert("companies".into(), Value::Array(companies));
    }
    if user.support && has(scopes, COMPANIES) {
        claims.insert("support".into(), json!(true));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::{AccessRight, CompanyRole};
    use crate::domain::contact::{Email, PhoneNumber};
    use crate::domain::ids::CompanyId;
    use crate::domain::user::CommunicationContacts;

    /// Maija: basic email and phone apart from the communication ones, so a
    /// claim shows which it took.
    fn maija() -> User {
        User {
            id: UserId::generate(),
            email: Email::parse("maija@example.com").unwrap(),
            name: "Maija Meikäläinen".to_owned(),
            phone: Some(PhoneNumber::parse("+358401111111").unwrap()),
            communication: CommunicationContacts {
                email: Email::parse("maija.m@example.org").unwrap(),
                email_verified: true,
                phone: Some(PhoneNumber::parse("+358402222222").unwrap()),
                phone_verified: false,
            },
            support: false,
            has_password: true,
            has_national_id: false,
            created_at: 1,
        }
    }

    fn ledger_in(company: &CompanyId) -> CompanyClaim {
        CompanyClaim {
            membership: Membership {
                company_id: company.clone(),
                roles: vec![CompanyRole::UserAdmin],
                rights: vec![AccessRight::parse("ledger").unwrap(), AccessRight::parse("payroll").unwrap()],
            },
            company_name: Some("Asiakas Oy".to_owned()),
        }
    }

    fn scopes(names: &str) -> Vec<String> {
        names.split_whitespace().map(str::to_owned).collect()
    }

    fn names(claims: &Map<String, Value>) -> Vec<&str> {
        let mut names: Vec<&str> = claims.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn openid_alone_gives_no_claims_about_the_user() {
        let company = CompanyId::generate();
        let claims = claims_of(&maija(), &[ledger_in(&company)], &scopes("openid offline_access"));
        assert!(claims.is_empty(), "{claims:?}");
    }

    #[test]
    fn profile_gives_the_name() {
        let claims = claims_of(&maija(), &[], &scopes("openid profile"));
        assert_eq!(Value::Object(claims), json!({"name": "Maija Meikäläinen"}));
    }

    #[test]
    fn email_and_phone_give_the_communication_contacts_and_whether_they_are_verified() {
        let claims = claims_of(&maija(), &[], &scopes("openid email phone"));
        assert_eq!(
            Value::Object(claims),
            json!({
                "email": "maija.m@example.org",
                "email_verified": true,
                "phone_number": "+358402222222",
                "phone_number_verified": false,
            })
        );
    }

    #[test]
    fn phone_gives_nothing_without_a_communication_phone() {
        let mut user = maija();
        user.communication.phone = None;
        let claims = claims_of(&user, &[], &scopes("openid phone"));
        assert!(claims.is_empty(), "the basic phone is not a claim: {claims:?}");
    }

    #[test]
    fn companies_gives_the_memberships_with_roles_and_rights() {
        let company = CompanyId::generate();
        let gone = CompanyId::generate();
        let mut former = ledger_in(&gone);
        former.company_name = None;
        former.membership.roles.clear();
        let claims = claims_of(&maija(), &[ledger_in(&company), former], &scopes("openid companies"));
        assert_eq!(
            Value::Object(claims),
            json!({"companies": [
                {"id": company.as_str(), "name": "Asiakas Oy", "roles": ["user_admin"], "rights": ["ledger", "payroll"]},
                {"id": gone.as_str(), "name": null, "roles": [], "rights": ["ledger", "payroll"]},
            ]})
        );
        let claims = claims_of(&maija(), &[], &scopes("openid companies"));
        assert_eq!(Value::Object(claims), json!({"companies": []}), "no memberships is an empty list");
    }

    #[test]
    fn support_comes_with_companies_only() {
        let mut user = maija();
        user.support = true;
        assert_eq!(names(&claims_of(&user, &[], &scopes("openid companies"))), ["companies", "support"]);
        assert!(claims_of(&user, &[], &scopes("openid profile email")).get("support").is_none());
        assert!(claims_of(&maija(), &[], &scopes("openid companies")).get("support").is_none(), "not support");
    }

    #[test]
    fn memberships_are_shown_only_for_the_companies_scope() {
        let company = CompanyId::generate();
        let claims = claims_of(&maija(), &[ledger_in(&company)], &scopes("openid profile email phone"));
        assert_eq!(names(&claims), ["email", "email_verified", "name", "phone_number", "phone_number_verified"]);
    }
}
