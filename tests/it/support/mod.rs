//! Shared test fixtures: fresh databases on both backends, settings, the
//! people and clients tests start from, a person signing in on the pages,
//! and real peers (an SMTP server, an SMS gateway).

pub mod fixtures;
pub mod messages;
pub mod pages;
pub mod private_postgres;
pub mod rows;
pub mod sign_in;
pub mod sms_gateway;
pub mod smtp;
pub mod upstream_provider;

use std::path::{Path, PathBuf};

use base64::Engine;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use portti::clock::Clock;
use portti::config::{Config, Settings};
use portti::store::{DatabaseUrl, DbConnection};
use portti::{AppState, Running, StartOptions};

/// The PostgreSQL server for the PostgreSQL runs of the store tests.
/// CI must set it: there a missing URL fails the test instead of skipping it.
pub fn postgres_base_url() -> Option<String> {
    match std::env::var("PORTTI_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI must set PORTTI_TEST_POSTGRES_URL so the PostgreSQL tests run")
        }
        _ => {
            skipped("PORTTI_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Says that a test was skipped, on the terminal itself: the test harness
/// captures `eprintln!`, not a direct write to standard error.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// Says what a fault test saw, on the terminal as [`skipped`] does.
pub fn report(what: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{what}");
}

/// A database of its own for one test: an SQLite file in a temporary
/// directory, or a PostgreSQL schema dropped afterwards.
pub struct TestDb {
    pub url: DatabaseUrl,
    /// The raw URL, for handing to a child process.
    pub raw_url: String,
    pub dir: tempfile::TempDir,
    /// The deployment's master key: every server started on this database uses it.
    pub master_key: String,
    schema: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let raw_url = format!("sqlite://{}", dir.path().join("portti.db").display());
        Self { url: DatabaseUrl::parse(&raw_url).unwrap(), raw_url, dir, master_key: random_master_key(), schema: None }
    }

    /// The SQLite file at `path` (a restored backup), under `master_key`.
    pub fn sqlite_at(path: &Path, master_key: &str) -> Self {
        let raw_url = format!("sqlite://{}", path.display());
        let url = DatabaseUrl::parse(&raw_url).unwrap();
        Self { url, raw_url, dir: tempfile::tempdir().unwrap(), master_key: master_key.to_owned(), schema: None }
    }

    /// `None` (skipped) where no PostgreSQL is configured outside CI.
    pub fn postgres() -> Option<Self> {
        Some(Self::postgres_on(&postgres_base_url()?))
    }

    /// A schema of its own on the PostgreSQL server at `base`.
    pub fn postgres_on(base: &str) -> Self {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(base).expect("the PostgreSQL server must be reachable");
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let raw_url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        Self {
            url: DatabaseUrl::parse(&raw_url).unwrap(),
            raw_url,
            dir: tempfile::tempdir().unwrap(),
            master_key: random_master_key(),
            schema: Some((base.to_owned(), schema)),
        }
    }

    /// A connection outside Portti's pool, to check rows directly.
    pub fn connection(&self) -> DbConnection {
        self.url.establish().unwrap()
    }

    /// A scratch directory for this test (outbox files, config files).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Settings for this database with a fresh master key, files under the
    /// test's directory, and any extra TOML merged in.
    pub fn settings(&self, extra_toml: &str) -> Settings {
        let toml = format!("database_url = {:?}\nmaster_key = {:?}\n{extra_toml}", self.raw_url, self.master_key);
        let mut config = Config::from_toml(&toml).unwrap();
        config.outbox.dir = self.path().join("outbox");
        config.outbox.poll_interval_ms = 50;
        Settings::from_config(config).unwrap()
    }

    pub fn open(&self, extra_toml: &str) -> AppState {
        AppState::open(self.settings(extra_toml), Clock::system()).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema
            && let Ok(mut admin) = PgConnection::establish(base)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

pub fn random_master_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

/// Generates one test per backend for each named function taking `&TestDb`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&$crate::support::TestDb::sqlite());
                }

                #[test]
                fn postgres() {
                    if let Some(db) = $crate::support::TestDb::postgres() {
                        super::$name(&db);
                    }
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

/// Runs each named `async fn(&TestDb)` on SQLite and, where one is
/// configured, on PostgreSQL: `<module>::<name>::sqlite` and `::postgres`.
macro_rules! served_on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    super::$name(&crate::support::TestDb::sqlite()).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(db) = crate::support::TestDb::postgres() {
                        super::$name(&db).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use served_on_both_backends;

/// Portti running in-process on a loopback port, with its issuer set to
/// that address.
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    running: Option<Running>,
}

impl TestServer {
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
    }
}

impl TestDb {
    /// Starts Portti on this database, issuer = its own address.
    pub fn serve(&self, extra_toml: &str) -> TestServer {
        self.serve_as(extra_toml, Issuer::OwnAddress)
    }

    /// A second instance on the same database, behind the same issuer as
    /// `first` (as two instances behind one load balancer are).
    pub fn serve_beside(&self, first: &TestServer, extra_toml: &str) -> TestServer {
        self.serve_as(extra_toml, Issuer::Of(&first.base))
    }

    /// Starts Portti with the issuer `http://localhost:<port>`: a domain
    /// name, as passkeys need (WebAuthn refuses an IP address).
    pub fn serve_on_localhost(&self, extra_toml: &str) -> TestServer {
        self.serve_as(extra_toml, Issuer::Localhost)
    }

    fn serve_as(&self, extra_toml: &str, issuer: Issuer<'_>) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (base, issuer) = match issuer {
            Issuer::OwnAddress => (format!("http://127.0.0.1:{port}"), format!("http://127.0.0.1:{port}")),
            Issuer::Localhost => (format!("http://localhost:{port}"), format!("http://localhost:{port}")),
            Issuer::Of(first) => (format!("http://127.0.0.1:{port}"), first.to_owned()),
        };
        let mut settings = self.settings(extra_toml);
        settings.issuer = issuer;
        let state = AppState::open(settings, Clock::system()).unwrap();
        let running =
            portti::start(state.clone(), listener, StartOptions { handle_signals: false, outbox_worker: false })
                .unwrap();
        TestServer { base, state, running: Some(running) }
    }
}

/// The issuer a test server runs behind.
enum Issuer<'a> {
    /// Its own address, `http://127.0.0.1:<port>`.
    OwnAddress,
    /// `http://localhost:<port>`.
    Localhost,
    /// Another instance's.
    Of(&'a str),
}

/// Moves the server's clock to the start of a minute: the throttles count
/// in fixed one-minute windows, and a test that straddled two would see
/// its count start again.
pub fn at_the_start_of_a_minute(server: &TestServer) {
    let now = server.state.clock.now();
    server.state.clock.advance(60 - now.rem_euclid(60));
}

/// Starts Portti in-process on a loopback port.
pub fn start(state: AppState, outbox_worker: bool) -> Running {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    portti::start(state, listener, StartOptions { handle_signals: false, outbox_worker }).unwrap()
}

/// The `portti` binary built for these tests.
pub fn portti_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portti"))
}

impl TestDb {
    /// The `portti` binary with this database and master key, in the
    /// test's directory, and nothing else of the test's environment.
    pub fn portti_command(&self) -> std::process::Command {
        self.command_of(&portti_binary())
    }

    /// [`TestDb::portti_command`] for another build of Portti.
    pub fn command_of(&self, binary: &Path) -> std::process::Command {
        let mut command = std::process::Command::new(binary);
        command
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORTTI_DATABASE_URL", &self.raw_url)
            .env("PORTTI_MASTER_KEY", &self.master_key);
        command
    }
}

/// The current time, as Portti's clock counts it.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Polls `check` until it holds or `seconds` pass.
pub async fn eventually(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    check()
}

/// A `portti serve` process, killed (`kill -9`) when dropped, so that a
/// failing test leaves none behind.
pub struct Serving(std::process::Child);

impl Serving {
    /// Spawns `command` (a `portti serve`, quiet) and waits until `base`
    /// answers `/healthz`.
    pub async fn start(mut command: std::process::Command, base: &str) -> Self {
        use std::process::Stdio;
        let serving = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().map(Serving).unwrap();
        let healthz = format!("{base}/healthz");
        for _ in 0..200 {
            if reqwest::get(&healthz).await.is_ok_and(|r| r.status() == 200) {
                return serving;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("portti serve did not start at {base}");
    }

    /// `kill -9`: no shutdown, no flushing, as a crash or the OOM killer.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.kill();
    }
}
