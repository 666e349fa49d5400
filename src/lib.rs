//! Portti, an OpenID Connect identity provider.
//!
//! [`AppState::open`] opens the database and everything that goes with it;
//! [`start`] serves it over HTTP together with the outbox worker. `main.rs` and
//! the tests both start Portti this way.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod metrics;
pub mod notify;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod web;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::Keys;
use crate::domain::signing_keys::{KeySet, ensure_signing_keys};
use crate::error::{Error, Result};
use crate::notify::{OutboxWorker, Transports};
use crate::store::Store;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub keys: Keys,
    pub clock: Clock,
    /// Wakes the outbox worker when a transaction that queued a message
    /// commits (the store notifies it).
    pub outbox_wake: Arc<Notify>,
    /// The signing keys, reloaded from the database every `keys.refresh_seconds`.
    signing: Arc<RwLock<Arc<KeySet>>>,
    /// The discovery document, serialised once.
    pub discovery: bytes::Bytes,
    /// This instance's counters, exposed at `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Clients recently read, for the token, introspection and revocation endpoints.
    pub clients: Arc<domain::client_cache::ClientCache>,
    /// The registered origins of browser applications, for CORS.
    pub browser_origins: Arc<domain::browser_origins::BrowserOrigins>,
    /// One permit per database connection, for the API endpoints
    /// ([`web::browser::run_in_database_slot`]).
    pub database_slots: Arc<tokio::sync::Semaphore>,
    /// The WebAuthn relying party of the issuer; `None` (no passkeys) when
    /// the issuer's host is an IP address.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// The upstream providers of strong identification.
    pub upstreams: Arc<upstream::Upstreams>,
    upstream_keys: Arc<RwLock<Arc<domain::upstream_keys::UpstreamKeySet>>>,
}

impl AppState {
    /// Loads the master key, connects to the database, applies migrations,
    /// checks the key against the database and registers the config clients.
    pub fn open(settings: Settings, clock: Clock) -> Result<Self> {
        crypto::install_tls_provider();
        let keys = Keys::load(&settings.master_key)?;
        let store = Store::connect(&settings.database_url, settings.database_pool_size)?;
        store.during_startup(|| {
            let applied = store.migrate()?;
            if !applied.is_empty() {
                tracing::info!(?applied, database = %store.url().redacted(), "database migrated");
            }
            store.verify_master_key(&keys)?;
            domain::client::sync_config_clients(&store, clock.now(), &settings.clients)?;
            ensure_signing_keys(&store, &keys, clock.now())?;
            if !settings.upstreams.is_empty() {
                domain::upstream_keys::ensure_upstream_keys(&store, &keys, clock.now())?;
            }
            Ok(())
        })?;
        let key_set = KeySet::load(&store, &keys, clock.now())?;
        let upstream_keys = domain::upstream_keys::UpstreamKeySet::load(&store, &keys, &settings.issuer, clock.now())?;
        let upstreams = Arc::new(upstream::Upstreams::new(&settings.upstreams)?);
        let discovery = domain::discovery::document(&settings)?;
        let webauthn = domain::passkeys::relying_party(&settings.issuer)?.map(Arc::new);
        let pool_size = settings.database_pool_size as usize;
        let outbox_wake = store.outbox_queued();
        Ok(Self {
            settings: Arc::new(settings),
            store,
            keys,
            clock,
            outbox_wake,
            signing: Arc::new(RwLock::new(Arc::new(key_set))),
            discovery,
            metrics: Arc::new(metrics::Metrics::new(&web::request_id::QUIET_PATHS)?),
            clients: Arc::default(),
            browser_origins: Arc::default(),
            database_slots: Arc::new(tokio::sync::Semaphore::new(pool_size)),
            webauthn,
            upstreams,
            upstream_keys: Arc::new(RwLock::new(Arc::new(upstream_keys))),
        })
    }

    /// What the sign-in (and sign-out) reads and writes; its messages go out
    /// in `lang` unless the application chose the language.
    pub fn sign_in(&self, lang: i18n::Lang) -> domain::signin::SignIn<'_> {
        domain::signin::SignIn {
            store: &self.store,
            keys: &self.keys,
            issuer: &self.settings.issuer,
            terms: &self.settings.terms,
            sessions: &self.settings.session,
            tokens: &self.settings.tokens,
            lockout: self.lockout(),
            signing: self.key_set(),
            lang,
            origin: domain::audit::Origin::default(),
        }
    }

    /// What the token endpoint and the checks of its tokens read.
    pub fn token_context(&self) -> domain::grants::TokenContext<'_> {
        domain::grants::TokenContext {
            store: &self.store,
            issuer: &self.settings.issuer,
            resource_audience: self.settings.resource_audience(),
            tokens: &self.settings.tokens,
            signing: self.key_set(),
            clients: &self.clients,
            metrics: &self.metrics,
            origin: domain::audit::Origin::default(),
            app_client_id: self.settings.app.client_id.as_deref(),
            terms_version: &self.settings.terms.version,
        }
    }

    /// The account lockout and address throttle.
    pub fn lockout(&self) -> domain::throttle::Lockout<'_> {
        domain::throttle::Lockout { rules: &self.settings.sign_in, metrics: &self.metrics, keys: &self.keys }
    }

    /// What the account page's changes need; messages go out in `lang`.
    pub fn account(&self, lang: i18n::Lang) -> domain::account::AccountContext<'_> {
        domain::account::AccountContext { sign_in: self.sign_in(lang), texts: i18n::Texts::new(lang) }
    }

    /// What a password reset needs; messages go out in `lang`.
    pub fn password_reset(&self, lang: i18n::Lang) -> domain::password_reset::ResetContext<'_> {
        domain::password_reset::ResetContext {
            store: &self.store,
            keys: &self.keys,
            issuer: &self.settings.issuer,
            lockout: self.lockout(),
            texts: i18n::Texts::new(lang),
            origin: domain::audit::Origin::default(),
        }
    }

    /// The context of the invitee's activation steps, in `lang`.
    pub fn activation(&self, lang: i18n::Lang) -> domain::activation::ActivationContext<'_> {
        domain::activation::ActivationContext {
            store: &self.store,
            keys: &self.keys,
            issuer: &self.settings.issuer,
            texts: i18n::Texts::new(lang),
            origin: domain::audit::Origin::default(),
        }
    }

    /// The signing keys in use now.
    pub fn key_set(&self) -> Arc<KeySet> {
        self.signing.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Portti's keys towards its upstream providers.
    pub fn upstream_key_set(&self) -> Arc<domain::upstream_keys::UpstreamKeySet> {
        self.upstream_keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reloads the signing keys from the database (after a rotation, say),
    /// and Portti's keys towards its upstreams. Blocking: call it off the
    /// async workers.
    pub fn reload_keys(&self) -> Result<()> {
        let now = self.clock.now();
        let fresh = Arc::new(KeySet::load(&self.store, &self.keys, now)?);
        *self.signing.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        let upstream =
            domain::upstream_keys::UpstreamKeySet::load(&self.store, &self.keys, &self.settings.issuer, now)?;
        *self.upstream_keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(upstream);
        Ok(())
    }
}

/// How [`start`] runs.
#[derive(Debug, Clone, Copy)]
pub struct StartOptions {
    /// Stop gracefully on SIGTERM and SIGINT (the binary); off for in-process tests.
    pub handle_signals: bool,
    /// Run the outbox worker in this process.
    pub outbox_worker: bool,
}

/// A running Portti: its address, and the means to stop it.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when `metrics_bind` is set.
    pub metrics_addr: Option<SocketAddr>,
    server: actix_web::dev::ServerHandle,
    finished: tokio::task::JoinHandle<Result<()>>,
}

impl Running {
    /// Waits until the server stops (on a signal, or after [`Running::stop`]).
    pub async fn wait(self) -> Result<()> {
        self.finished.await.map_err(Error::internal)?
    }

    /// Stops gracefully: in-flight requests and the delivery in progress finish first.
    pub async fn stop(self) -> Result<()> {
        self.server.stop(true).await;
        self.wait().await
    }
}

/// How long a graceful stop waits for in-flight work.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Serves Portti on `listener`. Must be called inside a Tokio (actix) runtime.
pub fn start(state: AppState, listener: TcpListener, options: StartOptions) -> Result<Running> {
    let addr = listener.local_addr().map_err(Error::internal)?;
    let https = state.settings.is_https();
    let data = actix_web::web::Data::new(state.clone());
    let metrics_apart = metrics_server_apart(&data)?;
    let metrics_on_main = metrics_apart.is_none();
    let main_data = data.clone();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(main_data.clone())
            .app_data(actix_web::web::FormConfig::default().limit(web::limits::BODY_LIMIT))
            .app_data(actix_web::web::PayloadConfig::new(web::limits::BODY_LIMIT))
            .wrap(from_fn(web::limits::enforce))
            .wrap(from_fn(web::cors::answer))
            .wrap(web::security_headers(https))
            .wrap(from_fn(web::request_id::assign))
            .configure(web::routes)
            .configure(|config| {
                if metrics_on_main {
                    web::metrics_route(config);
                }
            })
    })
    .client_request_timeout(web::limits::HEAD_TIME)
    .keep_alive(web::limits::HEAD_TIME)
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    if !options.handle_signals {
        server = server.disable_signals();
    }
    let server = server.listen(listener).map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?.run();
    let handle = server.handle();

    let (stop_worker, worker_stopped) = watch::channel(false);
    let worker = if options.outbox_worker {
        let transports = Transports::from_settings(&state.settings)?;
        let worker = OutboxWorker::new(
            state.store.clone(),
            state.keys.clone(),
            state.clock.clone(),
            state.settings.outbox.clone(),
            transports,
            state.outbox_wake.clone(),
        );
        Some(tokio::spawn(worker.run(worker_stopped)))
    } else {
        None
    };
    let key_refresher = tokio::spawn(refresh_keys_periodically(state.clone()));
    let discovery = tokio::spawn(state.upstreams.clone().discover_all());
    let sweeper = tokio::spawn(sweep_periodically(state.clone()));
    let metrics_addr = metrics_apart.as_ref().map(|apart| apart.addr);
    let finished = tokio::spawn(async move {
        let metrics_served = metrics_apart.map(MetricsApart::spawn);
        let served = server.await.map_err(Error::internal);
        if let Some((handle, metrics_served)) = metrics_served {
            handle.stop(true).await;
            match metrics_served.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "the metrics listener failed"),
                Err(e) => tracing::warn!(error = %e, "the metrics listener panicked"),
            }
        }
        key_refresher.abort();
        discovery.abort();
        sweeper.abort();
        let _ = stop_worker.send(true);
        if let Some(worker) = worker
            && tokio::time::timeout(SHUTDOWN_GRACE, worker).await.is_err()
        {
            tracing::warn!("outbox worker did not stop in time");
        }
        tracing::info!("stopped");
        served
    });
    Ok(Running { addr, metrics_addr, server: handle, finished })
}

/// The server of `/metrics` alone, on `metrics_bind`; it runs once spawned.
struct MetricsApart {
    addr: SocketAddr,
    server: actix_web::dev::Server,
}

impl MetricsApart {
    fn spawn(self) -> (actix_web::dev::ServerHandle, tokio::task::JoinHandle<std::io::Result<()>>) {
        tracing::info!(address = %format!("http://{}/metrics", self.addr), "metrics are served apart");
        (self.server.handle(), tokio::spawn(self.server))
    }
}

/// With `metrics_bind`, a small server of its own for `/metrics` alone, so
/// that the main listener can face the internet without it. [`start`] runs
/// it, and stops it when the main server stops.
fn metrics_server_apart(data: &actix_web::web::Data<AppState>) -> Result<Option<MetricsApart>> {
    let Some(bind) = data.settings.metrics.bind else { return Ok(None) };
    let listener =
        TcpListener::bind(bind).map_err(|e| Error::Config(format!("cannot listen on metrics_bind {bind}: {e}")))?;
    let addr = listener.local_addr().map_err(Error::internal)?;
    let data = data.clone();
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).wrap(from_fn(web::request_id::assign)).configure(web::metrics_route)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .listen(listener)
    .map_err(|e| Error::Config(format!("cannot listen on metrics_bind {addr}: {e}")))?
    .run();
    Ok(Some(MetricsApart { addr, server }))
}

/// Picks up keys rotated by another process or instance.
async fn refresh_keys_periodically(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(state.settings.keys.refresh_seconds));
    interval.tick().await;
    loop {
        interval.tick().await;
        let state = state.clone();
        match tokio::task::spawn_blocking(move || state.reload_keys()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "reloading the signing keys failed"),
            Err(e) => tracing::error!(error = %e, "reloading the signing keys panicked"),
        }
    }
}

/// Deletes what has run its course, every ten minutes. Any instance may do it.
async fn sweep_periodically(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(600));
    loop {
        interval.tick().await;
        let state = state.clone();
        let swept = tokio::task::spawn_blocking(move || state.store.sweep_expired(state.clock.now())).await;
        match swept {
            Ok(Ok(0)) => {}
            Ok(Ok(deleted)) => tracing::info!(deleted, "deleted expired and finished rows"),
            Ok(Err(e)) => tracing::error!(error = %e, "housekeeping failed"),
            Err(e) => tracing::error!(error = %e, "housekeeping panicked"),
        }
    }
}
