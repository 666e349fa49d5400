//! Customer service adds the companies ("environments") and accounting
//! offices, as `portti company add` does, from the admin pages.

use super::{AdminContext, CustomerService};
use crate::clock::UnixSeconds;
use crate::domain::audit::{self, Event, Subjects};
use crate::domain::company::{Company, insert_company};
use crate::domain::ids::CompanyId;
use crate::error::Result;

/// Adds a company; with `office`, as a client company of that accounting
/// office. Recorded in the new company's log.
pub fn add(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    support: &CustomerService,
    name: &str,
    office: Option<&CompanyId>,
) -> Result<Company> {
    ctx.store.write(|tx| {
        let company = insert_company(tx, now, name, office)?;
        let about = Subjects { user: None, client: None, company: Some(company.id.as_str()) };
        audit::record_by(tx, now, &ctx.origin, support.id(), about, Event::CompanyAdded)?;
        Ok(company)
    })
}
