//! Customer service registers the applications (OpenID Connect clients), as
//! `portti client add` does, from the admin pages.

use super::{AdminContext, CustomerService};
use crate::clock::UnixSeconds;
use crate::domain::audit::{self, Event, Subjects};
use crate::domain::client::{NewClient, RegisteredClient, insert_client};
use crate::error::Result;

/// Registers an application. A confidential one gets a generated secret,
/// returned here and never again. Recorded in the audit log.
pub fn register(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    support: &CustomerService,
    new: NewClient,
) -> Result<RegisteredClient> {
    ctx.store.write(|tx| {
        let registered = insert_client(tx, now, new)?;
        // Under the person who did it: `portti audit --user` finds it.
        let about = Subjects::person(support.id()).with_client(registered.client.id.as_str());
        audit::record_by(tx, now, &ctx.origin, support.id(), about, Event::ClientRegistered)?;
        Ok(registered)
    })
}
