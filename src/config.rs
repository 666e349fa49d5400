//! Configuration: defaults, then a TOML file, then `PORTTI_*` environment
//! variables (nested keys joined with `__`), validated into [`Settings`].
//!
//! An unknown key in the file is an error that names it, so a typo never
//! silently falls back to a default. An unknown `PORTTI_*` variable is only
//! a warning: platforms set their own (Kubernetes sets `PORTTI_PORT` and
//! `PORTTI_SERVICE_HOST` for a Service named `portti`).
//!
//! Every secret can also be read from a file (`mail.smtp_url_file`, …), as
//! mounted secrets are.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use crate::crypto::secret::sha256_hex;
use crate::domain::client::{ClientKind, MIN_SECRET_LENGTH, NewClient};
use crate::domain::client_address::TrustedProxy;
use crate::error::{Error, Result};
use crate::store::DatabaseUrl;

mod sources;
mod upstream;

pub use sources::Loaded;
use sources::secret;
pub use upstream::{UpstreamAuth, UpstreamConfig, UpstreamEndpoints, check_url as check_upstream_address};

/// Where the database is when nothing says otherwise.
const DEFAULT_DATABASE_URL: &str = "sqlite://portti.db";

/// The configuration as written by an operator, before validation.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Public base URL; the `iss` of every token.
    pub issuer: String,
    /// Listen address.
    pub bind: String,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// A file holding the database URL (its password is a secret), instead of `database_url`.
    pub database_url_file: Option<PathBuf>,
    /// Connections kept in the database pool.
    pub database_pool_size: u32,
    /// 32 random bytes, base64: encrypts secrets at rest and keys the HMACs.
    pub master_key: Option<String>,
    /// A file holding the master key (base64), instead of `master_key`.
    pub master_key_file: Option<PathBuf>,
    /// `text` (human) or `json` logs.
    pub log_format: LogFormat,
    /// A listen address of its own for `/metrics` (`127.0.0.1:9100`); then
    /// the main listener does not serve it.
    pub metrics_bind: Option<String>,
    /// A bearer token that `/metrics` requires (`Authorization: Bearer …`).
    pub metrics_token: Option<String>,
    /// A file holding `metrics_token`, instead of `metrics_token`.
    pub metrics_token_file: Option<PathBuf>,
    pub mail: MailConfig,
    pub sms: SmsConfig,
    pub outbox: OutboxConfig,
    pub tokens: TokensConfig,
    pub keys: KeysConfig,
    pub session: SessionConfig,
    pub sign_in: SignInConfig,
    pub terms: TermsConfig,
    pub app: AppConfig,
    pub upstream: Vec<UpstreamConfig>,
    pub clients: Vec<ClientConfig>,
}

/// The mobile app: its public client, and the oldest version the app API serves.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    /// The app's public client; it may use the device-key grant. Unset: no app API.
    pub client_id: Option<String>,
    /// The lowest app version (semver) the app API serves. Unset: any.
    pub min_version: Option<String>,
}

/// The mobile app, validated.
#[derive(Debug, Clone, Default)]
pub struct AppSettings {
    pub client_id: Option<String>,
    pub min_version: Option<semver::Version>,
}

/// Browser sessions (OWASP ASVS level 2 by default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused this long ends.
    pub idle_seconds: i64,
    /// A session ends this long after the sign-in, used or not.
    pub absolute_seconds: i64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { idle_seconds: 30 * 60, absolute_seconds: 12 * 3600 }
    }
}

/// Protections of the sign-in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInConfig {
    /// Failed password or code attempts that lock an account.
    pub max_failures: i32,
    /// How long the first lock lasts; each next one lasts twice as long, up to a day.
    pub lockout_seconds: i64,
    /// Failures since the last full sign-in after which the account stays
    /// locked until a password reset (or an administrator) lifts the lock.
    pub max_consecutive_failures: i32,
    /// Password and code attempts one client address may make per minute.
    pub attempts_per_minute_per_address: i32,
    /// Sign-ins one client address may start per minute at `/authorize`.
    pub sign_ins_per_minute_per_address: i32,
    /// Sign-ins one browser may start while its flows live (30 minutes).
    pub sign_ins_per_browser: i32,
    /// Behind a reverse proxy: the header in which it passes the client's
    /// address (`X-Forwarded-For`, `X-Real-IP`). Unset, the connection's own
    /// address counts; set it only when every request comes through that proxy.
    pub client_address_header: Option<String>,
    /// The proxies (addresses or CIDR networks) in front of Portti, the one
    /// that connects to it included: the header is believed only from them,
    /// and the client is its rightmost address that is not one of them
    /// ([`crate::domain::client_address`]).
    pub trusted_proxies: Vec<TrustedProxy>,
}

impl Default for SignInConfig {
    fn default() -> Self {
        Self {
            max_failures: 8,
            lockout_seconds: 30 * 60,
            max_consecutive_failures: 50,
            attempts_per_minute_per_address: 30,
            sign_ins_per_minute_per_address: 300,
            sign_ins_per_browser: 100,
            client_address_header: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The terms of service people accept on their first sign-in, and again
/// whenever the version changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TermsConfig {
    pub version: String,
    /// The text, inline.
    pub text: Option<String>,
    /// Or a file holding the text.
    pub file: Option<PathBuf>,
}

impl Default for TermsConfig {
    fn default() -> Self {
        Self { version: "1".to_owned(), text: None, file: None }
    }
}

/// The terms shown when none are configured.
const DEFAULT_TERMS: &str = "You use this service to sign in to the applications of your organisation. \
Keep your password and your authenticator to yourself, and tell your administrator \
if you think someone else has used your account.";

/// The terms of service in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub version: String,
    pub text: String,
}

/// Token lifetimes, and whom access tokens are for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    pub access_token_seconds: i64,
    pub id_token_seconds: i64,
    /// How long a refresh token family lives from the sign-in that started it.
    pub refresh_token_seconds: i64,
    /// The audience that resource servers (the applications' APIs) check in
    /// an access token's `aud`, beside the client id. Unset: the issuer
    /// ([`Settings::resource_audience`]).
    pub resource_audience: Option<String>,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            access_token_seconds: 600,
            id_token_seconds: 600,
            refresh_token_seconds: 30 * 24 * 3600,
            resource_audience: None,
        }
    }
}

/// Signing-key rotation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// After `portti keys rotate`, how long a new key is published before it
    /// signs, so every instance's JWKS has it first.
    pub activation_delay_seconds: i64,
    /// How often each instance reloads the keys from the database.
    pub refresh_seconds: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self { activation_delay_seconds: 120, refresh_seconds: 20 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://localhost:8080".to_owned(),
            bind: "127.0.0.1:8080".to_owned(),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            database_url_file: None,
            database_pool_size: 8,
            master_key: None,
            master_key_file: None,
            log_format: LogFormat::Text,
            metrics_bind: None,
            metrics_token: None,
            metrics_token_file: None,
            mail: MailConfig::default(),
            sms: SmsConfig::default(),
            outbox: OutboxConfig::default(),
            tokens: TokensConfig::default(),
            keys: KeysConfig::default(),
            session: SessionConfig::default(),
            sign_in: SignInConfig::default(),
            terms: TermsConfig::default(),
            app: AppConfig::default(),
            upstream: Vec::new(),
            clients: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("bind", &self.bind)
            .field("database_url", &DatabaseUrl::parse(&self.database_url).map(|u| u.redacted()).ok())
            .finish_non_exhaustive()
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://host:port` or `smtps://…`; unset writes `.eml` files to the outbox directory.
    pub smtp_url: Option<String>,
    /// A file holding `smtp_url` (it carries the SMTP password), instead of `smtp_url`.
    pub smtp_url_file: Option<PathBuf>,
    /// The sender of every email.
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self { smtp_url: None, smtp_url_file: None, from: "Portti <no-reply@localhost>".to_owned() }
    }
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url_file", &self.smtp_url_file)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Endpoint that receives `POST {"to": "+358…", "text": "…"}`; unset writes `.json` files.
    pub webhook_url: Option<String>,
    /// A file holding `webhook_url` (it may carry a token), instead of `webhook_url`.
    pub webhook_url_file: Option<PathBuf>,
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig").field("webhook_url_file", &self.webhook_url_file).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Where messages are written as files when no SMTP server or SMS gateway is set.
    pub dir: PathBuf,
    /// How often the delivery worker looks for due messages, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long one instance may hold a message it is delivering before another
    /// may take it; must exceed `send_timeout_seconds`.
    pub lease_seconds: i64,
    /// How long one delivery (an SMTP session, a gateway request) may take.
    pub send_timeout_seconds: u64,
    /// Delivery attempts before a message is given up.
    pub max_attempts: i32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("outbox"),
            poll_interval_ms: 1000,
            lease_seconds: 60,
            send_timeout_seconds: 15,
            max_attempts: 10,
        }
    }
}

/// A relying party declared in the configuration file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    /// The name people are shown; default the id.
    pub name: Option<String>,
    pub secret: Option<String>,
    /// A file holding `secret`, instead of `secret`.
    pub secret_file: Option<PathBuf>,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub grants: Vec<String>,
    #[serde(default)]
    pub first_party: bool,
    pub alg: Option<String>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Settings {
    /// Whether the issuer is served over https (cookies get `Secure`, responses HSTS).
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The longest a signed token (ID or access token) stays valid: how long
    /// a retired key must stay published.
    pub fn longest_signed_token_seconds(&self) -> i64 {
        self.tokens.access_token_seconds.max(self.tokens.id_token_seconds)
    }

    /// The audience access tokens carry beside the client id:
    /// `tokens.resource_audience`, or the issuer.
    pub fn resource_audience(&self) -> &str {
        self.tokens.resource_audience.as_deref().unwrap_or(&self.issuer)
    }
}

/// The validated configuration that the running service uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer exactly as tokens carry it: no trailing slash.
    pub issuer: String,
    pub bind: SocketAddr,
    pub database_url: DatabaseUrl,
    pub database_pool_size: u32,
    pub master_key: MasterKeySource,
    pub log_format: LogFormat,
    pub metrics: MetricsSettings,
    pub mail: MailSettings,
    pub sms: SmsSettings,
    pub outbox: OutboxSettings,
    pub tokens: TokensConfig,
    pub keys: KeysConfig,
    pub session: SessionConfig,
    pub sign_in: SignInConfig,
    pub terms: Terms,
    pub app: AppSettings,
    pub upstreams: Vec<UpstreamConfig>,
    pub clients: Vec<NewClient>,
}

/// Who may read `/metrics`, and where.
#[derive(Clone, Default)]
pub struct MetricsSettings {
    /// Serve `/metrics` on this address only, not on `bind`.
    pub bind: Option<SocketAddr>,
    /// The SHA-256 digest of the bearer token `/metrics` requires: a
    /// request's token is compared with it in constant time, and the token
    /// itself is not kept.
    pub token_digest: Option<String>,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("bind", &self.bind)
            .field("token", &self.token_digest.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Where the master key comes from.
#[derive(Clone)]
pub enum MasterKeySource {
    /// Given inline (base64).
    Inline(String),
    /// Read from this file; generated into it when it does not exist and `generate` is set.
    File { path: PathBuf, generate: bool },
}

#[derive(Clone)]
pub enum MailTransportSettings {
    Smtp(String),
    Files(PathBuf),
}

// Secrets stay out of Debug output, so no `?settings` can ever log them.
impl std::fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
            Self::File { path, generate } => {
                f.debug_struct("File").field("path", path).field("generate", generate).finish()
            }
        }
    }
}

impl std::fmt::Debug for MailTransportSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(url) => {
                let redacted = Url::parse(url).map(|mut u| {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                });
                write!(f, "Smtp({})", redacted.unwrap_or_default())
            }
            Self::Files(dir) => f.debug_tuple("Files").field(dir).finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: MailTransportSettings,
    pub from: lettre::message::Mailbox,
}

#[derive(Clone)]
pub enum SmsSettings {
    Webhook(Url),
    Files(PathBuf),
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The path and query may carry the gateway's token: only the origin is shown.
            Self::Webhook(url) => write!(f, "Webhook({}/…)", url.origin().ascii_serialization()),
            Self::Files(dir) => f.debug_tuple("Files").field(dir).finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub poll_interval: std::time::Duration,
    pub lease_seconds: i64,
    pub send_timeout: std::time::Duration,
    pub max_attempts: i32,
}

impl Settings {
    /// Validates a [`Config`]; every error names the key that is wrong.
    pub fn from_config(config: Config) -> Result<Self> {
        let parsed = Url::parse(&config.issuer)
            .map_err(|e| Error::Config(format!("issuer `{}` is not a URL: {e}", config.issuer)))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(Error::Config("issuer must be an http(s) URL without query or fragment".to_owned()));
        }
        let issuer = config.issuer.trim_end_matches('/').to_owned();
        let bind = config
            .bind
            .parse()
            .map_err(|e| Error::Config(format!("bind `{}` is not an address like 127.0.0.1:8080: {e}", config.bind)))?;
        // The URL has a default, so "both set" means a URL other than it.
        let inline_url = (config.database_url != DEFAULT_DATABASE_URL).then_some(config.database_url);
        let database_url = secret("database_url", inline_url, config.database_url_file.as_deref())
            .map_err(Error::Config)?
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let database_url = DatabaseUrl::parse(&database_url)?;
        let metrics = metrics_settings(config.metrics_bind, config.metrics_token, config.metrics_token_file)?;
        if config.database_pool_size == 0 {
            return Err(Error::Config("database_pool_size must be at least 1".to_owned()));
        }
        check_sign_in(&config.sign_in)?;
        let master_key = match (config.master_key, config.master_key_file) {
            (Some(_), Some(_)) => {
                return Err(Error::Config("set master_key or master_key_file, not both".to_owned()));
            }
            (Some(inline), None) => MasterKeySource::Inline(inline),
            (None, Some(path)) => MasterKeySource::File { path, generate: false },
            (None, None) => MasterKeySource::File { path: database_url.data_dir().join("portti.key"), generate: true },
        };
        let smtp_url = secret("mail.smtp_url", config.mail.smtp_url, config.mail.smtp_url_file.as_deref())
            .map_err(Error::Config)?;
        let mail = MailSettings {
            transport: match smtp_url {
                Some(url) => {
                    let parsed =
                        Url::parse(&url).map_err(|e| Error::Config(format!("mail.smtp_url is not a URL: {e}")))?;
                    if !matches!(parsed.scheme(), "smtp" | "smtps") {
                        return Err(Error::Config("mail.smtp_url must start with smtp:// or smtps://".to_owned()));
                    }
                    MailTransportSettings::Smtp(url)
                }
                None => MailTransportSettings::Files(config.outbox.dir.join("mail")),
            },
            from: config
                .mail
                .from
                .parse()
                .map_err(|e| Error::Config(format!("mail.from `{}` is not an address: {e}", config.mail.from)))?,
        };
        let webhook_url = secret("sms.webhook_url", config.sms.webhook_url, config.sms.webhook_url_file.as_deref())
            .map_err(Error::Config)?;
        let sms = match webhook_url {
            Some(url) => {
                let parsed =
                    Url::parse(&url).map_err(|e| Error::Config(format!("sms.webhook_url is not a URL: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(Error::Config("sms.webhook_url must be an http(s) URL".to_owned()));
                }
                SmsSettings::Webhook(parsed)
            }
            None => SmsSettings::Files(config.outbox.dir.join("sms")),
        };
        if config.outbox.max_attempts < 1 || config.outbox.poll_interval_ms == 0 {
            return Err(Error::Config("outbox.max_attempts and outbox.poll_interval_ms must be positive".to_owned()));
        }
        // A lease shorter than a delivery could hand a message to a second
        // instance while the first is still sending it.
        let send_timeout = i64::try_from(config.outbox.send_timeout_seconds).unwrap_or(i64::MAX);
        if config.outbox.send_timeout_seconds == 0 || config.outbox.lease_seconds <= send_timeout {
            return Err(Error::Config(
                "outbox.lease_seconds must be longer than outbox.send_timeout_seconds, which must be positive"
                    .to_owned(),
            ));
        }
        let outbox = OutboxSettings {
            poll_interval: std::time::Duration::from_millis(config.outbox.poll_interval_ms),
            lease_seconds: config.outbox.lease_seconds,
            send_timeout: std::time::Duration::from_secs(config.outbox.send_timeout_seconds),
            max_attempts: config.outbox.max_attempts,
        };
        let tokens = config.tokens;
        if tokens.access_token_seconds < 1 || tokens.id_token_seconds < 1 || tokens.refresh_token_seconds < 1 {
            return Err(Error::Config("tokens.*_seconds must be positive".to_owned()));
        }
        if tokens.resource_audience.as_deref().is_some_and(|aud| aud.is_empty() || aud.trim() != aud) {
            return Err(Error::Config("tokens.resource_audience must not be blank or padded with spaces".to_owned()));
        }
        let keys = config.keys;
        // Every instance must have reloaded (and published) a new key before any signs with it.
        let refresh = i64::try_from(keys.refresh_seconds).unwrap_or(i64::MAX);
        if keys.refresh_seconds == 0 || keys.activation_delay_seconds < refresh {
            return Err(Error::Config(
                "keys.refresh_seconds must be positive and keys.activation_delay_seconds at least as long".to_owned(),
            ));
        }
        let session = config.session;
        if session.idle_seconds < 1 || session.absolute_seconds < session.idle_seconds {
            return Err(Error::Config(
                "session.idle_seconds must be positive and at most session.absolute_seconds".to_owned(),
            ));
        }
        let sign_in = config.sign_in;
        if !sign_in.trusted_proxies.is_empty() && sign_in.client_address_header.is_none() {
            return Err(Error::Config(
                "sign_in.trusted_proxies needs sign_in.client_address_header, the header they pass addresses in"
                    .to_owned(),
            ));
        }
        if sign_in.max_failures < 1 || sign_in.lockout_seconds < 1 || sign_in.attempts_per_minute_per_address < 1 {
            return Err(Error::Config("sign_in.* must be positive".to_owned()));
        }
        let terms = load_terms(config.terms)?;
        let app = app_settings(config.app)?;
        let upstreams = upstream::validate(config.upstream)?;
        let clients = config.clients.into_iter().map(client_from_config).collect::<Result<Vec<_>>>()?;
        Ok(Self {
            issuer,
            bind,
            database_url,
            database_pool_size: config.database_pool_size,
            master_key,
            log_format: config.log_format,
            metrics,
            mail,
            sms,
            outbox,
            tokens,
            keys,
            session,
            sign_in,
            terms,
            app,
            upstreams,
            clients,
        })
    }
}

fn metrics_settings(
    bind: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
) -> Result<MetricsSettings> {
    let bind = bind
        .map(|bind| {
            bind.parse()
                .map_err(|e| Error::Config(format!("metrics_bind `{bind}` is not an address like 127.0.0.1:9100: {e}")))
        })
        .transpose()?;
    let token = secret("metrics_token", token, token_file.as_deref()).map_err(Error::Config)?;
    if token.as_ref().is_some_and(|token| token.chars().count() < MIN_SECRET_LENGTH) {
        return Err(Error::Config(format!("metrics_token must be at least {MIN_SECRET_LENGTH} characters")));
    }
    Ok(MetricsSettings { bind, token_digest: token.as_deref().map(sha256_hex) })
}

/// The sign-in's limits must let a person in at all, and stop guessing
/// within NIST SP 800-63B's 100 failures in a row.
fn check_sign_in(rules: &SignInConfig) -> Result<()> {
    let problem = if rules.max_failures < 1 {
        Some("sign_in.max_failures must be at least 1")
    } else if rules.max_consecutive_failures < rules.max_failures || rules.max_consecutive_failures > 100 {
        Some("sign_in.max_consecutive_failures must be at least sign_in.max_failures and at most 100")
    } else if rules.lockout_seconds < 1 {
        Some("sign_in.lockout_seconds must be at least 1")
    } else if rules.attempts_per_minute_per_address < 1
        || rules.sign_ins_per_minute_per_address < 1
        || rules.sign_ins_per_browser < 1
    {
        Some(
            "sign_in.attempts_per_minute_per_address, sign_ins_per_minute_per_address and sign_ins_per_browser must be at least 1",
        )
    } else {
        None
    };
    problem.map_or(Ok(()), |problem| Err(Error::Config(problem.to_owned())))
}

fn app_settings(app: AppConfig) -> Result<AppSettings> {
    if app.client_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
        return Err(Error::Config("app.client_id must not be blank".to_owned()));
    }
    let min_version = app
        .min_version
        .map(|v| {
            semver::Version::parse(v.trim())
                .map_err(|e| Error::Config(format!("app.min_version `{v}` is not a version like 2.4.0: {e}")))
        })
        .transpose()?;
    Ok(AppSettings { client_id: app.client_id, min_version })
}

fn load_terms(config: TermsConfig) -> Result<Terms> {
    let text = match (config.text, config.file) {
        (Some(_), Some(_)) => return Err(Error::Config("set terms.text or terms.file, not both".to_owned())),
        (Some(text), None) => text,
        (None, Some(file)) => {
            std::fs::read_to_string(&file).map_err(|e| Error::Config(format!("terms.file {}: {e}", file.display())))?
        }
        (None, None) => DEFAULT_TERMS.to_owned(),
    };
    if config.version.trim().is_empty() || text.trim().is_empty() {
        return Err(Error::Config("terms.version and the terms text must not be empty".to_owned()));
    }
    Ok(Terms { version: config.version.trim().to_owned(), text })
}

fn client_from_config(client: ClientConfig) -> Result<NewClient> {
    let secret = secret("secret", client.secret, client.secret_file.as_deref())
        .map_err(|e| Error::Config(format!("client `{}`: {e}", client.id)))?;
    let kind = match (client.public, secret) {
        (true, None) => ClientKind::Public,
        (false, Some(secret)) => ClientKind::Confidential { secret: Some(secret) },
        (true, Some(_)) => {
            return Err(Error::Config(format!("client `{}`: a public client has no secret", client.id)));
        }
        (false, None) => {
            return Err(Error::Config(format!(
                "client `{}`: set `secret` (or `secret_file`), or `public = true`",
                client.id
            )));
        }
    };
    NewClient::parse(
        &client.id,
        kind,
        &client.redirect_uris,
        &client.post_logout_redirect_uris,
        &client.grants,
        client.first_party,
        client.alg.as_deref(),
    )
    .and_then(|new| new.named(client.name.as_deref()))
    .map_err(|e| Error::Config(format!("client `{}`: {e}", client.id)))
}

#[cfg(test)]
mod tests;
