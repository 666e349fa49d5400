//! Registered clients and their redirect URIs.

use diesel::prelude::*;

use super::schema::{client_redirect_uris, clients};
use super::{Read, Write};
use crate::domain::client::{Client, ClientId, ClientSource, GrantType, SigningAlg};
use crate::error::{Error, Result};

const LOGIN: &str = "login";
const POST_LOGOUT: &str = "post_logout";

#[derive(Queryable, Selectable)]
#[diesel(table_name = clients)]
struct ClientRow {
    id: String,
    secret_digest: Option<String>,
    first_party: bool,
    signing_alg: String,
    grant_types: String,
    name: Option<String>,
    created_at: i64,
}

fn source_str(source: ClientSource) -> &'static str {
    match source {
        ClientSource::Cli => "cli",
        ClientSource::Config => "config",
    }
}

fn grants_str(grants: &[GrantType]) -> String {
    grants.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" ")
}

impl Read<'_> {
    /// The client with this id, if any.
    pub fn client(&mut self, id: &ClientId) -> Result<Option<Client>> {
        let Some(row) = clients::table
            .find(id.as_str())
            .select(ClientRow::as_select())
            .get_result::<ClientRow>(self.conn)
            .optional()?
        else {
            return Ok(None);
        };
        let uris = client_redirect_uris::table
            .filter(client_redirect_uris::client_id.eq(id.as_str()))
            .order(client_redirect_uris::uri)
            .select((client_redirect_uris::purpose, client_redirect_uris::uri))
            .load::<(String, String)>(self.conn)?;
        let of = |purpose: &str| uris.iter().filter(|(p, _)| p == purpose).map(|(_, uri)| uri.clone()).collect();
        let grants = row
            .grant_types
            .split_whitespace()
            .map(GrantType::parse)
            .collect::<Result<Vec<_>>>()
            .map_err(|_| Error::internal("unknown stored grant type"))?;
        Ok(Some(Client {
            id: ClientId::from_stored(row.id),
            secret_digest: row.secret_digest,
            redirect_uris: of(LOGIN),
            post_logout_redirect_uris: of(POST_LOGOUT),
            grants,
            first_party: row.first_party,
            alg: SigningAlg::parse(&row.signing_alg).map_err(|_| Error::internal("unknown stored algorithm"))?,
            name: row.name,
            created_at: row.created_at,
        }))
    }

    /// The public clients' redirect URIs for signing in (not those for after
    /// a logout), each once: where browser applications run. A confidential
    /// client's secret lives on a server, which needs no CORS.
    pub fn login_redirect_uris(&mut self) -> Result<Vec<String>> {
        let public = clients::table.filter(clients::secret_digest.is_null()).select(clients::id);
        Ok(client_redirect_uris::table
            .filter(client_redirect_uris::purpose.eq(LOGIN))
            .filter(client_redirect_uris::client_id.eq_any(public))
            .select(client_redirect_uris::uri)
            .distinct()
            .load::<String>(self.conn)?)
    }

    /// Where the client was registered, if it exists.
    pub fn client_source(&mut self, id: &ClientId) -> Result<Option<ClientSource>> {
        let source =
            clients::table.find(id.as_str()).select(clients::source).get_result::<String>(self.conn).optional()?;
        Ok(source.map(|s| if s == "config" { ClientSource::Config } else { ClientSource::Cli }))
    }
}

impl Write<'_> {
    pub fn insert_client(&mut self, client: &Client, source: ClientSource) -> Result<()> {
        diesel::insert_into(clients::table)
            .values((
                clients::id.eq(client.id.as_str()),
                clients::secret_digest.eq(client.secret_digest.as_deref()),
                clients::first_party.eq(client.first_party),
                clients::signing_alg.eq(client.alg.as_str()),
                clients::grant_types.eq(grants_str(&client.grants)),
                clients::source.eq(source_str(source)),
                clients::name.eq(client.name.as_deref()),
                clients::created_at.eq(client.created_at),
                clients::updated_at.eq(client.created_at),
            ))
            .execute(self.conn)?;
        self.insert_redirect_uris(client)
    }

    /// Deletes the clients that came from the config file, except these.
    pub fn delete_config_clients_except(&mut self, keep: &[&ClientId]) -> Result<usize> {
        let keep: Vec<&str> = keep.iter().map(|id| id.as_str()).collect();
        let removed =
            diesel::delete(clients::table.filter(clients::source.eq("config")).filter(clients::id.ne_all(keep)))
                .execute(self.conn)?;
        Ok(removed)
    }

    /// Replaces everything but the id and creation time.
    pub fn update_client(&mut self, client: &Client, now: i64) -> Result<()> {
        diesel::update(clients::table.find(client.id.as_str()))
            .set((
                clients::secret_digest.eq(client.secret_digest.as_deref()),
                clients::first_party.eq(client.first_party),
                clients::signing_alg.eq(client.alg.as_str()),
                clients::grant_types.eq(grants_str(&client.grants)),
                clients::name.eq(client.name.as_deref()),
                clients::updated_at.eq(now),
            ))
            .execute(self.conn)?;
        diesel::delete(client_redirect_uris::table.filter(client_redirect_uris::client_id.eq(client.id.as_str())))
            .execute(self.conn)?;
        self.insert_redirect_uris(client)
    }

    fn insert_redirect_uris(&mut self, client: &Client) -> Result<()> {
        let purposes = [(LOGIN, &client.redirect_uris), (POST_LOGOUT, &client.post_logout_redirect_uris)];
        for (purpose, uris) in purposes {
            for uri in uris {
                diesel::insert_into(client_redirect_uris::table)
                    .values((
                        client_redirect_uris::client_id.eq(client.id.as_str()),
                        client_redirect_uris::purpose.eq(purpose),
                        client_redirect_uris::uri.eq(uri),
                    ))
                    .execute(self.conn)?;
            }
        }
        Ok(())
    }
}
