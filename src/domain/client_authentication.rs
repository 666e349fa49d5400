//! Client authentication at the token, introspection and revocation
//! endpoints (RFC 6749 §2.3): a confidential client by its secret, a public
//! client by its id alone.

use super::client::{Client, ClientId};
use crate::domain::grants::TokenContext;
use crate::error::{Error, Result};

/// The credentials a client presented.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// Authenticates a client: a confidential client by its secret (Basic or
/// form), a public client by its id alone.
pub fn authenticate_client(ctx: &TokenContext<'_>, credentials: &ClientCredentials) -> Result<Client> {
    let id = credentials.client_id.as_deref().ok_or(Error::InvalidClient)?;
    let id = ClientId::parse(id).map_err(|_| Error::InvalidClient)?;
    let client = ctx.clients.get_or_load(&id, || ctx.store.read(|r| r.client(&id)))?.ok_or(Error::InvalidClient)?;
    check_credentials(&client, credentials)?;
    Ok(Client::clone(&client))
}

/// Whether `credentials` authenticate `client`, already found by their id:
/// its secret, or none for a public client.
pub(crate) fn check_credentials(client: &Client, credentials: &ClientCredentials) -> Result<()> {
    match (&client.secret_digest, credentials.client_secret.as_deref()) {
        (None, None) => Ok(()),
        (Some(_), Some(secret)) if client.secret_matches(secret) => Ok(()),
        _ => Err(Error::InvalidClient),
    }
}
