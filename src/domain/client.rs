//! Relying parties (OAuth clients): how they authenticate, where they may be
//! redirected, which grants they may use and how their tokens are signed.

use serde::Serialize;
use url::Url;

use crate::clock::UnixSeconds;
use crate::crypto::secret;
pub use crate::crypto::signing::SigningAlg;
use crate::error::{Error, Result};
use crate::store::{Store, Write};

/// The shortest client secret accepted when an operator chooses it.
pub const MIN_SECRET_LENGTH: usize = 32;

/// A client id: 1–64 of `A–Z a–z 0–9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(input: &str) -> Result<Self> {
        let valid = !input.is_empty()
            && input.len() <= 64
            && input.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if valid {
            Ok(Self(input.to_owned()))
        } else {
            Err(Error::InvalidRequest(format!(
                "`{input}` is not a valid client id; use 1-64 letters, digits, '.', '_' or '-'"
            )))
        }
    }

    pub(crate) fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An OAuth grant a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum GrantType {
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    #[serde(rename = "refresh_token")]
    RefreshToken,
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// The app's device-key sign-in (RFC 7523): public clients only, and
    /// honoured only for the client named by `app.client_id`.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            GrantType::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
        }
    }

    pub fn parse(input: &str) -> Result<Self> {
        [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
            GrantType::DeviceCode,
            GrantType::JwtBearer,
        ]
        .into_iter()
            .find(|grant| grant.as_str() == input)
            .ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "`{input}` is not a supported grant; use authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code or urn:ietf:params:oauth:grant-type:jwt-bearer"
                ))
            })
    }
}

/// How a new client authenticates, as given.
#[derive(Clone)]
pub enum ClientKind {
    /// Has a secret; `None` asks Portti to generate one.
    Confidential { secret: Option<String> },
    /// Cannot keep a secret (a mobile or single-page app); must use PKCE.
    Public,
}

impl std::fmt::Debug for ClientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Confidential { secret } => write!(f, "Confidential {{ secret chosen: {} }}", secret.is_some()),
            Self::Public => f.write_str("Public"),
        }
    }
}

/// A validated client to register.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: ClientId,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<GrantType>,
    pub first_party: bool,
    pub alg: SigningAlg,
    /// The name people are shown; `None` shows the id.
    pub name: Option<String>,
}

/// The longest display name of an application.
pub const MAX_CLIENT_NAME_LENGTH: usize = 100;

/// A registered client as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    pub id: ClientId,
    /// SHA-256 of the secret; `None` for a public client.
    #[serde(skip)]
    pub secret_digest: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<GrantType>,
    pub first_party: bool,
    pub alg: SigningAlg,
    /// The name people are shown (the approval pages, the phone); `None` shows the id.
    pub name: Option<String>,
    pub created_at: UnixSeconds,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_digest.is_none()
    }

    /// The name people know the application by.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.id.as_str())
    }

    /// Whether `presented` is this client's secret (constant time).
    pub fn secret_matches(&self, presented: &str) -> bool {
        self.secret_digest.as_deref().is_some_and(|digest| secret::matches_digest(presented, digest))
    }
}

/// Where a client was registered; a config client is refreshed from the file at every start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    Cli,
    Config,
}

/// What `portti client add` prints: the client, and a generated secret shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct RegisteredClient {
    #[serde(flatten)]
    pub client: Client,
    pub public: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl NewClient {
    /// Validates a client's registration. With no grants given, the client
    /// gets `authorization_code` and `refresh_token`.
    pub fn parse(
        id: &str,
        kind: ClientKind,
        redirect_uris: &[String],
        post_logout_redirect_uris: &[String],
        grants: &[String],
        first_party: bool,
        alg: Option<&str>,
    ) -> Result<Self> {
        let id = ClientId::parse(id)?;
        let public = matches!(kind, ClientKind::Public);
        if let ClientKind::Confidential { secret: Some(secret) } = &kind
            && secret.chars().count() < MIN_SECRET_LENGTH
        {
            return Err(Error::InvalidRequest(format!(
                "a client secret must be at least {MIN_SECRET_LENGTH} characters; leave it out to have one generated"
            )));
        }
        let mut grants = if grants.is_empty() {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        } else {
            grants.iter().map(|g| GrantType::parse(g)).collect::<Result<Vec<_>>>()?
        };
        grants.sort();
        grants.dedup();
        if public && grants.contains(&GrantType::ClientCredentials) {
            return Err(Error::InvalidRequest("a public client cannot use client_credentials".to_owned()));
        }
        if !public && grants.contains(&GrantType::JwtBearer) {
            return Err(Error::InvalidRequest(
                "only a public client (the mobile app) can use urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
            ));
        }
        let redirect_uris = validate_redirect_uris(redirect_uris, public)?;
        let post_logout_redirect_uris = validate_redirect_uris(post_logout_redirect_uris, public)?;
        if grants.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(Error::InvalidRequest("authorization_code needs at least one --redirect-uri".to_owned()));
        }
        let alg = alg.map(SigningAlg::parse).transpose()?.unwrap_or(SigningAlg::RS256);
        Ok(Self { id, kind, redirect_uris, post_logout_redirect_uris, grants, first_party, alg, name: None })
    }

    /// The same, shown to people as `name` (`portti client add --name`):
    /// 1 to [`MAX_CLIENT_NAME_LENGTH`] characters without control
    /// characters; `None` or blank shows the id.
    pub fn named(self, name: Option<&str>) -> Result<Self> {
        let name = name.map(str::trim).filter(|name| !name.is_empty());
        if let Some(name) = name
            && (name.chars().count() > MAX_CLIENT_NAME_LENGTH || name.chars().any(char::is_control))
        {
            return Err(Error::InvalidRequest(format!(
                "a client name must be at most {MAX_CLIENT_NAME_LENGTH} characters without control characters"
            )));
        }
        Ok(Self { name: name.map(str::to_owned), ..self })
    }
}

/// Redirect URIs are matched exactly later, so they are checked strictly now
/// (RFC 9700 §2.1, RFC 8252): absolute, no fragment; `https`, or `http` only
/// to a loopback address; a private-use scheme (`com.example.app:/cb`) only for
/// public (native) clients.
fn validate_redirect_uris(uris: &[String], public: bool) -> Result<Vec<String>> {
    let mut valid = Vec::new();
    for uri in uris {
        let invalid = |why: &str| Error::InvalidRequest(format!("redirect URI `{uri}` {why}"));
        let parsed = Url::parse(uri).map_err(|_| invalid("is not an absolute URI"))?;
        if parsed.fragment().is_some() {
            return Err(invalid("must not have a fragment"));
        }
        match parsed.scheme() {
            "https" => {}
            "http" => {
                let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
                if !loopback {
                    return Err(invalid("must use https (http is allowed only to 127.0.0.1, [::1] or localhost)"));
                }
            }
            scheme if public && scheme.contains('.') => {}
            _ => {
                return Err(invalid(
                    "must use https, or a reverse-domain private-use scheme (com.example.app:/callback) for a public client",
                ));
            }
        }
        if !valid.contains(uri) {
            valid.push(uri.clone());
        }
    }
    Ok(valid)
}

/// Registers a new client. A confidential client without a chosen secret gets
/// a generated 256-bit one, returned here and never again: only its digest is stored.
pub fn add_client(store: &Store, now: UnixSeconds, new: NewClient) -> Result<RegisteredClient> {
    store.write(|tx| insert_client(tx, now, new))
}

/// [`add_client`] in the caller's transaction.
pub fn insert_client(tx: &mut Write<'_>, now: UnixSeconds, new: NewClient) -> Result<RegisteredClient> {
    let (client, generated) = client_record(new, now);
    if tx.client(&client.id)?.is_some() {
        return Err(Error::Conflict(format!("a client with id `{}` already exists", client.id.as_str())));
    }
    tx.insert_client(&client, ClientSource::Cli)?;
    Ok(RegisteredClient { public: client.is_public(), client, client_secret: generated })
}

/// Makes the stored config clients match the configuration file: new ones are
/// added, existing ones updated, and ones no longer in the file removed (with
/// everything issued to them). A client registered with the CLI under the same
/// id is refused rather than overwritten.
pub fn sync_config_clients(store: &Store, now: UnixSeconds, clients: &[NewClient]) -> Result<()> {
    store.write(|tx| {
        let keep: Vec<&ClientId> = clients.iter().map(|client| &client.id).collect();
        let removed = tx.delete_config_clients_except(&keep)?;
        if removed > 0 {
            tracing::info!(removed, "removed clients no longer in the configuration file");
        }
        for new in clients {
            let (client, _) = client_record(new.clone(), now);
            match tx.client_source(&client.id)? {
                None => tx.insert_client(&client, ClientSource::Config)?,
                Some(ClientSource::Config) => tx.update_client(&client, now)?,
                Some(ClientSource::Cli) => {
                    return Err(Error::Config(format!(
                        "client `{}` in the config file was already registered with `portti client add`",
                        client.id.as_str()
                    )));
                }
            }
        }
        Ok(())
    })
}

fn client_record(new: NewClient, now: UnixSeconds) -> (Client, Option<String>) {
    let (secret_digest, generated) = match new.kind {
        ClientKind::Public => (None, None),
        ClientKind::Confidential { secret: Some(chosen) } => (Some(secret::sha256_hex(&chosen)), None),
        ClientKind::Confidential { secret: None } => {
            let generated = secret::random_token();
            (Some(secret::sha256_hex(&generated)), Some(generated))
        }
    };
    let client = Client {
        id: new.id,
        secret_digest,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        grants: new.grants,
        first_party: new.first_party,
        alg: new.alg,
        name: new.name,
        created_at: now,
    };
    (client, generated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: ClientKind, redirects: &[&str], grants: &[&str]) -> Result<NewClient> {
        let redirects: Vec<String> = redirects.iter().map(|s| s.to_string()).collect();
        let grants: Vec<String> = grants.iter().map(|s| s.to_string()).collect();
        NewClient::parse("app", kind, &redirects, &[], &grants, false, None)
    }

    fn confidential() -> ClientKind {
        ClientKind::Confidential { secret: None }
    }

    #[test]
    fn defaults_are_code_and_refresh_with_rs256() {
        let client = parse(confidential(), &["https://app.example/cb"], &[]).unwrap();
        assert_eq!(client.grants, vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
        assert_eq!(client.alg, SigningAlg::RS256);
    }

    #[test]
    fn redirect_uris_are_strict() {
        assert!(parse(confidential(), &["https://app.example/cb#x"], &[]).is_err());
        assert!(parse(confidential(), &["http://app.example/cb"], &[]).is_err());
        assert!(parse(confidential(), &["http://127.0.0.1:3000/cb"], &[]).is_ok());
        assert!(parse(confidential(), &["/cb"], &[]).is_err());
        assert!(parse(confidential(), &["com.example.app:/cb"], &[]).is_err());
        assert!(parse(ClientKind::Public, &["com.example.app:/cb"], &[]).is_ok());
        assert!(parse(ClientKind::Public, &["javascript:alert(1)"], &[]).is_err());
    }

    #[test]
    fn grant_rules() {
        assert!(parse(confidential(), &[], &[]).unwrap_err().to_string().contains("redirect-uri"));
        assert!(parse(confidential(), &[], &["client_credentials"]).is_ok());
        assert!(parse(ClientKind::Public, &[], &["client_credentials"]).is_err());
        assert!(parse(ClientKind::Public, &[], &["urn:ietf:params:oauth:grant-type:device_code"]).is_ok());
        assert!(parse(confidential(), &[], &["password"]).is_err());
        let jwt_bearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
        assert_eq!(parse(ClientKind::Public, &[], &[jwt_bearer]).unwrap().grants, [GrantType::JwtBearer]);
        let refused = parse(confidential(), &[], &[jwt_bearer]).unwrap_err().to_string();
        assert!(refused.contains("only a public client"), "{refused}");
    }

    #[test]
    fn a_name_is_shown_instead_of_the_id_when_given() {
        let new = parse(confidential(), &["https://a.example/cb"], &[]).unwrap();
        let (client, _) = client_record(new.clone().named(Some("  Ledger  ")).unwrap(), 0);
        assert_eq!(client.display_name(), "Ledger");
        let (client, _) = client_record(new.clone().named(Some(" ")).unwrap(), 0);
        assert_eq!(client.display_name(), "app");
        assert!(new.clone().named(Some(&"x".repeat(101))).is_err());
        assert!(new.named(Some("a\u{7}b")).is_err());
    }

    #[test]
    fn chosen_secrets_must_be_long() {
        let short = ClientKind::Confidential { secret: Some("x".repeat(31)) };
        assert!(parse(short, &["https://a.example/cb"], &[]).unwrap_err().to_string().contains("32"));
        let long = ClientKind::Confidential { secret: Some("x".repeat(32)) };
        assert!(parse(long, &["https://a.example/cb"], &[]).is_ok());
    }

    #[test]
    fn generated_secret_is_stored_only_as_digest() {
        let new = parse(confidential(), &["https://a.example/cb"], &[]).unwrap();
        let (client, generated) = client_record(new, 0);
        let generated = generated.unwrap();
        assert_eq!(generated.len(), 43, "256 bits, base64url");
        assert_ne!(client.secret_digest.as_deref(), Some(generated.as_str()));
        assert!(client.secret_matches(&generated));
        assert!(!client.secret_matches("wrong"));
    }
}
