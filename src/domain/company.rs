//! Companies ("environments"), and accounting offices with their client companies.

use serde::Serialize;

use super::ids::CompanyId;
use super::refusal::Refusal;
use crate::clock::UnixSeconds;
use crate::error::{Error, Result};
use crate::store::{Store, Write};

/// A company. A company whose `office_id` is set is a client company of that
/// accounting office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    pub office_id: Option<CompanyId>,
    pub created_at: UnixSeconds,
}

/// The longest display name accepted, in characters.
pub const MAX_NAME_LENGTH: usize = 200;

/// Validates a display name (of a company or a person): 1 to
/// [`MAX_NAME_LENGTH`] characters, no control characters.
pub fn parse_name(input: &str) -> Result<String, Refusal> {
    let name = input.trim();
    if name.is_empty() {
        return Err(Refusal::NameMissing);
    }
    if name.chars().count() > MAX_NAME_LENGTH {
        return Err(Refusal::NameTooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(Refusal::NameControlCharacters);
    }
    Ok(name.to_owned())
}

/// Adds a company; with `office_id`, as a client company of that accounting
/// office. An office's client cannot itself have clients.
pub fn add_company(store: &Store, now: UnixSeconds, name: &str, office_id: Option<&CompanyId>) -> Result<Company> {
    store.write(|tx| insert_company(tx, now, name, office_id))
}

/// [`add_company`] in the caller's transaction.
pub fn insert_company(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    name: &str,
    office_id: Option<&CompanyId>,
) -> Result<Company> {
    let name = parse_name(name)?;
    if let Some(office_id) = office_id {
        let office = tx.company(office_id)?.ok_or(Error::NotFound("accounting office"))?;
        if office.office_id.is_some() {
            return Err(Refusal::OfficeIsAClient { office: office.name }.into());
        }
    }
    let company = Company { id: CompanyId::generate(), name, office_id: office_id.cloned(), created_at: now };
    tx.insert_company(&company)?;
    Ok(company)
}
