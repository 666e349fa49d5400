//! The first run: with an empty database, `portti serve` logs a link,
//! single use and valid an hour, that creates the first customer-service
//! (`support`) account from the browser. `portti user add … --role support`
//! stays the scripted way.

use super::audit::{self, Event, Origin, Subjects};
use super::ids::UserId;
use super::refusal::Refusal;
use super::user::{NewUserInput, PreparedUser};
use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::error::Result;
use crate::store::Store;

/// How long the first run's link works.
pub const LINK_SECONDS: i64 = 3600;

/// A new link, when the database has no users yet: its address.
pub fn offer_link(store: &Store, now: UnixSeconds, issuer: &str) -> Result<Option<String>> {
    let token = random_token();
    store.write(|tx| {
        if tx.has_users()? {
            return Ok(None);
        }
        tx.insert_setup_link(&sha256_hex(&token), now, now + LINK_SECONDS)?;
        Ok(Some(format!("{issuer}/setup/{token}")))
    })
}

/// Whether a token from a URL is one Portti could have made (43 characters
/// of base64url); anything else is refused before it is looked up.
fn well_formed(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether the link may create the first account now: unused, unexpired,
/// and no user exists yet.
pub fn check(store: &Store, now: UnixSeconds, token: &str) -> Result<()> {
    if !well_formed(token) {
        return Err(Refusal::SetupLinkExpired.into());
    }
    let usable = store.read(|r| Ok(r.setup_link_usable(&sha256_hex(token), now)? && !r.has_users()?))?;
    if usable { Ok(()) } else { Err(Refusal::SetupLinkExpired.into()) }
}

/// What the first run's form asks.
pub struct FirstAccount {
    pub name: String,
    pub email: String,
    pub password: String,
    pub confirmation: String,
}

/// Creates the first customer-service account with the link, once. The
/// password policy applies; the authenticator is enrolled at its first
/// sign-in, as for everyone.
pub fn create_support(
    store: &Store,
    keys: &Keys,
    origin: &Origin,
    now: UnixSeconds,
    token: &str,
    account: FirstAccount,
) -> Result<UserId> {
    check(store, now, token)?;
    if account.password != account.confirmation {
        return Err(Refusal::PasswordsDiffer.into());
    }
    let input = NewUserInput {
        email: account.email,
        name: account.name,
        password: Some(account.password),
        support: true,
        ..Default::default()
    };
    let prepared = PreparedUser::validate(keys, input)?;
    store.write(|tx| {
        if tx.has_users()? || !tx.use_setup_link(&sha256_hex(token), now)? {
            return Err(Refusal::SetupLinkExpired.into());
        }
        let created = prepared.insert(tx, now)?;
        audit::record(tx, now, origin, Subjects::person(&created.user.id), Event::FirstAccountCreated)?;
        tracing::info!(user_id = %created.user.id, "the first customer-service account was created");
        Ok(created.user.id)
    })
}
