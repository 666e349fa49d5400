//! The claims a user's tokens and userinfo carry, chosen by scope.

use serde_json::{Map, Value, json};

use super::ids::UserId;
use crate::error::{Error, Result};
use crate::store::Read;

/// The claims about a user that `scopes` allow: `profile` (name), `email`
/// and `phone` (the communication contact details, with whether they are
/// verified), `companies` (memberships with roles and access rights).
pub fn user_claims(read: &mut Read<'_>, user_id: &UserId, scopes: &[String]) -> Result<Map<String, Value>> {
    let user = read.user(user_id)?.ok_or_else(|| Error::InvalidGrant("the user no longer exists".to_owned()))?;
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut claims = Map::new();
    if has("profile") {
        claims.insert("name".into(), json!(user.name));
    }
    if has("email") {
        claims.insert("email".into(), json!(user.communication.email));
        claims.insert("email_verified".into(), json!(user.communication.email_verified));
    }
    if has("phone")
        && let Some(phone) = &user.communication.phone
    {
        claims.insert("phone_number".into(), json!(phone));
        claims.insert("phone_number_verified".into(), json!(user.communication.phone_verified));
    }
    if has("companies") {
        let mut companies = Vec::new();
        for membership in read.memberships(user_id)? {
            let name = read.company(&membership.company_id)?.map(|company| company.name);
            companies.push(json!({
                "id": membership.company_id,
                "name": name,
                "roles": membership.roles,
                "rights": membership.rights,
            }));
        }
        claims.insert("companies".into(), Value::Array(companies));
    }
    if user.support && has("companies") {
        claims.insert("support".into(), json!(true));
    }
    Ok(claims)
}
