//! The network side of strong identification: Portti as the relying party
//! of its upstream OpenID providers (bank ID brokers under Traficom's FTN
//! profile, Hightrust.id). Discovery, the authorization request (a signed
//! request object where asked), the code exchange (`client_secret_basic` or
//! `private_key_jwt`), and the ID token: decrypted when it is a JWE, its
//! signature checked against the provider's JWKS (fetched again, at most once
//! a minute, for a key it does not know), then its claims.
//!
//! Everything here is async and talks to the network; what it hands on is a
//! [`VerifiedIdentity`], which the synchronous domain decides about.

pub mod id_token;

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

pub use self::id_token::Expected;
use crate::clock::UnixSeconds;
use crate::config::{UpstreamAuth, UpstreamConfig};
use crate::crypto::jose::{self, TokenFault};
use crate::crypto::secret::random_token;
use crate::domain::upstream::{Trip, VerifiedIdentity};
use crate::domain::upstream_keys::UpstreamKeySet;

/// How long one call to an upstream may take, in all.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to an upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read from an upstream.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// A provider's JWKS is fetched again for an unknown key at most this often.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// A provider's JWKS is used at most this long before it is fetched again,
/// so a key it withdrew (a compromised one) stops being trusted.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// How long a request object or a client assertion is valid.
const ASSERTION_SECONDS: i64 = 300;
/// The first wait before discovery is tried again, doubled up to the last.
const DISCOVERY_RETRY: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(300));

/// Why an upstream could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// Not reachable, or not answering as a provider does: try again later.
    Unavailable(String),
    /// Its answer was refused (a bad signature, a wrong nonce, an `acr` not
    /// accepted): the reason, for the log only.
    Refused(String),
}

impl std::fmt::Display for UpstreamFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamFailure::Unavailable(why) => write!(f, "upstream unavailable: {why}"),
            UpstreamFailure::Refused(why) => write!(f, "upstream answer refused: {why}"),
        }
    }
}

fn unavailable(what: impl std::fmt::Display) -> UpstreamFailure {
    UpstreamFailure::Unavailable(what.to_string())
}

/// The provider's answer to one trip, and what redeeming it needs.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The authorization code it sent back.
    pub code: &'a str,
    /// The trip's PKCE verifier.
    pub pkce_verifier: &'a str,
    /// The digest of the trip's nonce, which the ID token must carry.
    pub nonce_digest: &'a str,
    /// The callback the trip named.
    pub redirect_uri: &'a str,
}

/// A provider's endpoints, discovered or configured.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// One upstream provider and what is known of it.
#[derive(Debug)]
pub struct Provider {
    pub config: UpstreamConfig,
    metadata: RwLock<Option<Arc<Metadata>>>,
    /// The provider's JWKS, and when it was fetched.
    jwks: RwLock<Option<(Arc<Value>, Instant)>>,
    /// When the JWKS was last fetched again for an unknown key.
    jwks_refetched: Mutex<Option<Instant>>,
}

impl Provider {
    fn new(config: UpstreamConfig) -> Self {
        let configured = config.endpoints().map(|e| {
            Arc::new(Metadata {
                issuer: config.issuer.clone(),
                authorization_endpoint: e.authorization_endpoint,
                token_endpoint: e.token_endpoint,
                jwks_uri: e.jwks_uri,
            })
        });
        Self { config, metadata: RwLock::new(configured), jwks: RwLock::new(None), jwks_refetched: Mutex::new(None) }
    }

    /// Whether `iss` (an authorization response's, RFC 9207) names this provider.
    /// (A discovered issuer is the configured one: [`Upstreams::metadata`] checks.)
    pub fn answered_by(&self, iss: &str) -> bool {
        same_issuer(iss, &self.config.issuer)
    }

    fn known_metadata(&self) -> Option<Arc<Metadata>> {
        self.metadata.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Every configured upstream, with one HTTP client for all.
#[derive(Debug)]
pub struct Upstreams {
    providers: Vec<Arc<Provider>>,
    http: reqwest::Client,
}

impl Upstreams {
    pub fn new(configs: &[UpstreamConfig]) -> crate::error::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(crate::error::Error::internal)?;
        Ok(Self { providers: configs.iter().cloned().map(Provider::new).map(Arc::new).collect(), http })
    }

    /// The provider of this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.config.id == id)
    }

    /// Every provider, in the order of the settings: the sign-in page's buttons.
    pub fn all(&self) -> impl Iterator<Item = &UpstreamConfig> {
        self.providers.iter().map(|p| &p.config)
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Discovers every provider that has no endpoints yet, trying again
    /// (with a growing wait) while one is unreachable; one provider's
    /// failure never holds up the others.
    pub async fn discover_all(self: Arc<Self>) {
        let tasks: Vec<_> = self
            .providers
            .iter()
            .filter(|p| p.known_metadata().is_none())
            .map(|provider| {
                let (this, provider) = (self.clone(), provider.clone());
                tokio::spawn(async move {
                    let mut wait = DISCOVERY_RETRY.0;
                    while let Err(e) = this.metadata(&provider).await {
                        tracing::warn!(upstream = %provider.config.id, error = %e, retry_in = ?wait, "upstream discovery failed");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(DISCOVERY_RETRY.1);
                    }
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }

    /// A provider's endpoints: configured, discovered before, or discovered now.
    pub async fn metadata(&self, provider: &Provider) -> Result<Arc<Metadata>, UpstreamFailure> {
        if let Some(known) = provider.known_metadata() {
            return Ok(known);
        }
        let issuer = provider.config.issuer.trim_end_matches('/');
        let address = format!("{issuer}/.well-known/openid-configuration");
        let body = self.get_json(&address).await?;
        let metadata: Metadata =
            serde_json::from_value(body).map_err(|e| unavailable(format_args!("its discovery does not parse: {e}")))?;
        // OpenID Connect Discovery 4.3: the document is the issuer's own.
        if !same_issuer(&metadata.issuer, issuer) {
            return Err(unavailable(format_args!("its discovery names another issuer, {}", metadata.issuer)));
        }
        // An https issuer's endpoints are https too: a loopback address is for tests only.
        let https = issuer.starts_with("https://");
        for endpoint in [&metadata.authorization_endpoint, &metadata.token_endpoint, &metadata.jwks_uri] {
            crate::config::check_upstream_address(endpoint).map_err(unavailable)?;
            if https && !endpoint.starts_with("https://") {
                return Err(unavailable(format_args!("its discovery names a plain http endpoint, {endpoint}")));
            }
        }
        let metadata = Arc::new(metadata);
        *provider.metadata.write().unwrap_or_else(PoisonError::into_inner) = Some(metadata.clone());
        tracing::info!(upstream = %provider.config.id, "upstream discovered");
        Ok(metadata)
    }

    /// Where to send the browser: the provider's authorization endpoint with
    /// this trip's state, nonce and PKCE challenge; the whole request signed
    /// as a request object where the provider asks for one.
    pub async fn authorization_url(
        &self,
        provider: &Provider,
        trip: &Trip,
        redirect_uri: &str,
        ui_locales: Option<&str>,
        keys: &UpstreamKeySet,
        now: UnixSeconds,
    ) -> Result<String, UpstreamFailure> {
        let metadata = self.metadata(provider).await?;
        let config = &provider.config;
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), config.client_id.clone()),
            ("redirect_uri".into(), redirect_uri.to_owned()),
            ("scope".into(), config.scopes.join(" ")),
            ("state".into(), trip.state.clone()),
            ("nonce".into(), trip.nonce.clone()),
        ];
        if config.pkce {
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(trip.pkce_verifier.as_bytes()));
            params.push(("code_challenge".into(), challenge));
            params.push(("code_challenge_method".into(), "S256".into()));
        }
        if let Some(acr_values) = &config.acr_values {
            params.push(("acr_values".into(), acr_values.clone()));
        }
        if let Some(ui_locales) = ui_locales {
            params.push(("ui_locales".into(), ui_locales.to_owned()));
        }
        params.extend(config.extra_params.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut url = Url::parse(&metadata.authorization_endpoint).map_err(unavailable)?;
        if config.request_object {
            let mut claims: Map<String, Value> =
                params.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
            claims.insert("iss".into(), Value::from(config.client_id.as_str()));
            claims.insert("aud".into(), Value::from(metadata.issuer.as_str()));
            claims.insert("iat".into(), Value::from(now));
            claims.insert("exp".into(), Value::from(now + ASSERTION_SECONDS));
            claims.insert("jti".into(), Value::from(random_token()));
            let request = keys.signer().and_then(|k| k.sign("oauth-authz-req+jwt", &claims)).map_err(unavailable)?;
            // OpenID Connect Core 6.1: these stay outside the request object too.
            url.query_pairs_mut()
                .append_pair("response_type", "code")
                .append_pair("client_id", &config.client_id)
                .append_pair("scope", &config.scopes.join(" "))
                .append_pair("request", &request);
        } else {
            url.query_pairs_mut().extend_pairs(params);
        }
        Ok(url.into())
    }

    /// Redeems the code the provider sent back and checks its ID token.
    pub async fn redeem(
        &self,
        provider: &Provider,
        answer: Answer<'_>,
        keys: &UpstreamKeySet,
        now: UnixSeconds,
    ) -> Result<VerifiedIdentity, UpstreamFailure> {
        let Answer { code, pkce_verifier, nonce_digest, redirect_uri } = answer;
        let metadata = self.metadata(provider).await?;
        let config = &provider.config;
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
        ];
        if config.pkce {
            form.push(("code_verifier", pkce_verifier.to_owned()));
        }
        let mut request = self.http.post(&metadata.token_endpoint);
        match config.auth {
            UpstreamAuth::ClientSecretBasic => {
                // RFC 6749 2.3.1: both form-encoded before they are joined.
                let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let secret = config.client_secret.as_deref().unwrap_or_default();
                request = request.basic_auth(encode(&config.client_id), Some(encode(secret)));
            }
            UpstreamAuth::PrivateKeyJwt => {
                let mut claims = Map::new();
                claims.insert("iss".into(), Value::from(config.client_id.as_str()));
                claims.insert("sub".into(), Value::from(config.client_id.as_str()));
                claims.insert("aud".into(), Value::from(metadata.token_endpoint.as_str()));
                claims.insert("jti".into(), Value::from(random_token()));
                claims.insert("iat".into(), Value::from(now));
                claims.insert("exp".into(), Value::from(now + ASSERTION_SECONDS));
                let assertion = keys.signer().and_then(|k| k.sign("JWT", &claims)).map_err(unavailable)?;
                form.push(("client_id", config.client_id.clone()));
                form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
                form.push(("client_assertion", assertion));
            }
        }
        let response = request.form(&form).send().await.map_err(|e| unavailable(without_url(e)))?;
        let status = response.status();
        let body = read_limited(response).await?;
        if status.is_server_error() {
            return Err(unavailable(format_args!("its token endpoint answered {status}")));
        }
        if !status.is_success() {
            let error = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            return Err(UpstreamFailure::Refused(format!("its token endpoint refused the code: {status} {error}")));
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|_| refused("its token answer is not JSON"))?;
        let id_token = answer.get("id_token").and_then(Value::as_str).ok_or_else(|| refused("no id_token"))?;
        // OpenID Connect Core 3.1.3.7: the issuer is the one discovery named.
        let expected = Expected { issuer: &metadata.issuer, nonce_digest };
        self.check_id_token(provider, &metadata, id_token, keys, expected, now).await
    }

    /// Decrypts (when it must be encrypted), verifies and checks an ID token.
    async fn check_id_token(
        &self,
        provider: &Provider,
        metadata: &Metadata,
        id_token: &str,
        keys: &UpstreamKeySet,
        expected: Expected<'_>,
        now: UnixSeconds,
    ) -> Result<VerifiedIdentity, UpstreamFailure> {
        let signed = match (provider.config.encrypted_id_token, jose::is_encrypted(id_token)) {
            (true, true) => {
                let plaintext = jose::decrypt(id_token, &keys.decryption_keys()).map_err(fault)?;
                String::from_utf8(plaintext).map_err(|_| refused("the decrypted ID token is not text"))?
            }
            (true, false) => return Err(refused("the ID token is not encrypted, though it must be")),
            (false, true) => return Err(refused("the ID token is encrypted, though it was not asked to be")),
            (false, false) => id_token.to_owned(),
        };
        let jwks = self.jwks(provider, metadata, false).await?;
        let claims = match jose::verify(&signed, &jwks) {
            Err(TokenFault::UnknownKey) => {
                let jwks = self.jwks(provider, metadata, true).await?;
                jose::verify(&signed, &jwks).map_err(fault)?
            }
            other => other.map_err(fault)?,
        };
        id_token::check(&claims, &provider.config, expected, now).map_err(refused)
    }

    /// A provider's JWKS: as fetched before, unless `again` (a token named a
    /// key it did not hold) and it was not fetched again for that within the
    /// last minute: a stream of made-up key ids costs one fetch a minute.
    async fn jwks(&self, provider: &Provider, metadata: &Metadata, again: bool) -> Result<Arc<Value>, UpstreamFailure> {
        let cached = provider.jwks.read().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some((cached, _)) = cached.filter(|(_, fetched)| fetched.elapsed() < JWKS_MAX_AGE) {
            if !again {
                return Ok(cached);
            }
            let mut refetched = provider.jwks_refetched.lock().unwrap_or_else(PoisonError::into_inner);
            if refetched.is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL) {
                return Ok(cached);
            }
            *refetched = Some(Instant::now());
        }
        let jwks = Arc::new(self.get_json(&metadata.jwks_uri).await?);
        *provider.jwks.write().unwrap_or_else(PoisonError::into_inner) = Some((jwks.clone(), Instant::now()));
        Ok(jwks)
    }

    async fn get_json(&self, address: &str) -> Result<Value, UpstreamFailure> {
        let response = self.http.get(address).send().await.map_err(|e| unavailable(without_url(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unavailable(format_args!("{address} answered {status}")));
        }
        let body = read_limited(response).await?;
        serde_json::from_slice(&body).map_err(|_| unavailable(format_args!("{address} is not JSON")))
    }
}

/// Whether two issuer identifiers name the same provider: equal, but for one
/// trailing `/` that some providers add and others leave out.
pub(crate) fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

fn refused(why: &str) -> UpstreamFailure {
    UpstreamFailure::Refused(why.to_owned())
}

fn fault(fault: TokenFault) -> UpstreamFailure {
    match fault {
        TokenFault::UnknownKey => refused("the ID token is signed by a key the provider does not publish"),
        TokenFault::Refused(why) => refused(why),
    }
}

/// A reqwest error without the address it carries (the callback's code may be in it).
fn without_url(error: reqwest::Error) -> reqwest::Error {
    error.without_url()
}

/// An answer's body, refused past [`MAX_ANSWER_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, UpstreamFailure> {
    if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
        return Err(unavailable("its answer is too large"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(without_url(e)))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(unavailable("its answer is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
