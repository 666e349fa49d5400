//! The server under test: a release build of `portti` in a process of its
//! own, on a fresh database, and what `/proc` says about it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use hyper::StatusCode;

use crate::Fail;
use crate::load::Conn;

/// Where the database lives.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// A server URL; the run gets a schema of its own there.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// The clients the cases use, with their secrets.
pub struct Clients {
    /// `client_credentials` clients by signing algorithm.
    pub machine: Vec<(&'static str, String, String)>,
    /// The web application that signs people in (authorization code, refresh).
    pub web: (String, String),
}

/// The mobile app's public client (`app.client_id`), for the device-key grant.
pub const APP_CLIENT: &str = "bench-app";

/// The app version the cases send as `Portti-App-Version`.
pub const APP_VERSION: &str = "2.0.0";

impl Clients {
    pub fn new() -> Self {
        let secret = || URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let machine = ["ES256", "EdDSA", "RS256"]
            .into_iter()
            .map(|alg| (alg, format!("bench-{}", alg.to_lowercase()), secret()))
            .collect();
        Self { machine, web: ("bench-web".to_owned(), secret()) }
    }

    fn toml(&self) -> String {
        let mut toml = String::new();
        for (alg, id, secret) in &self.machine {
            toml += &format!(
                "[[clients]]\nid = \"{id}\"\nsecret = \"{secret}\"\ngrants = [\"client_credentials\"]\nalg = \"{alg}\"\n\n"
            );
        }
        let (id, secret) = &self.web;
        toml += &format!(
            "[[clients]]\nid = \"{id}\"\nsecret = \"{secret}\"\nredirect_uris = [\"{}\"]\n\
             grants = [\"authorization_code\", \"refresh_token\"]\nfirst_party = true\nalg = \"ES256\"\n",
            crate::cases::CALLBACK
        );
        toml += &format!(
            "\n[[clients]]\nid = \"{APP_CLIENT}\"\npublic = true\nredirect_uris = [\"{}\"]\n\
             grants = [\"authorization_code\", \"refresh_token\", \"urn:ietf:params:oauth:grant-type:jwt-bearer\"]\n\
             first_party = true\nalg = \"ES256\"\n\n[app]\nclient_id = \"{APP_CLIENT}\"\nmin_version = \"{APP_VERSION}\"\n",
            crate::cases::CALLBACK
        );
        toml += &format!(
            "\n[[clients]]\nid = \"{}\"\npublic = true\n\
             grants = [\"urn:ietf:params:oauth:grant-type:device_code\", \"refresh_token\"]\nalg = \"ES256\"\n",
            crate::cases::TV_CLIENT
        );
        toml
    }
}

/// A fresh database and the config to serve it; removed when dropped.
pub struct Site {
    dir: tempfile::TempDir,
    pub config: String,
    config_path: PathBuf,
    pub addr: SocketAddr,
    pub issuer: String,
    /// The PostgreSQL server and the schema made for this run.
    schema: Option<(String, String)>,
}

impl Site {
    pub fn new(backend: &Backend, clients: &Clients) -> Result<Self, Fail> {
        let dir = tempfile::Builder::new().prefix("portti-bench-").tempdir()?;
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let (database_url, schema) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("portti.db").display()), None),
            Backend::Postgres(base) => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                PgConnection::establish(base)?.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
                let separator = if base.contains('?') { '&' } else { '?' };
                (format!("{base}{separator}options=-csearch_path%3D{schema}"), Some((base.clone(), schema)))
            }
        };
        // A domain name, not an IP address: WebAuthn needs one for passkeys.
        let issuer = format!("http://localhost:{}", addr.port());
        let config = format!(
            "issuer = \"{issuer}\"\nbind = \"{addr}\"\ndatabase_url = \"{database_url}\"\nmaster_key = \"{}\"\n\n\
             [outbox]\ndir = \"{}\"\n\n\
             # Every sign-in of the run comes from one address.\n\
             [sign_in]\nattempts_per_minute_per_address = 1000000\n\
             sign_ins_per_minute_per_address = 1000000\nsign_ins_per_browser = 1000000\n\
             # The device grant's TVs and browsers come through a proxy, each from an address of its own.\n\
             client_address_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n\n{}",
            STANDARD.encode(rand::random::<[u8; 32]>()),
            dir.path().join("outbox").display(),
            clients.toml()
        );
        let config_path = dir.path().join("portti.toml");
        std::fs::write(&config_path, &config)?;
        Ok(Self { dir, config, config_path, addr, issuer, schema })
    }

    /// Starts the server and waits until `/readyz` answers 200; returns it
    /// with the time from starting the process to ready.
    pub async fn start(&self, binary: &Path) -> Result<(Server, Duration), Fail> {
        let mut command = tokio::process::Command::new(binary);
        command.arg("--config").arg(&self.config_path).arg("serve");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PORTTI_") {
                command.env_remove(name);
            }
        }
        self.spawn(command, self.addr, "/readyz").await
    }

    /// Starts the bare actix-web server of `bare.rs` (this benchmark's own
    /// binary) with these bodies, on an address of its own.
    pub async fn start_bare(&self, discovery: &[u8], jwks: &[u8]) -> Result<(Server, SocketAddr), Fail> {
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let (discovery_path, jwks_path) = (self.dir.path().join("discovery.json"), self.dir.path().join("jwks.json"));
        std::fs::write(&discovery_path, discovery)?;
        std::fs::write(&jwks_path, jwks)?;
        let mut command = tokio::process::Command::new(std::env::current_exe()?);
        command.arg("--bare-serve").arg(addr.to_string()).arg("--bare-bodies").arg(&discovery_path).arg(&jwks_path);
        let (server, _) = self.spawn(command, addr, "/jwks").await?;
        Ok((server, addr))
    }

    /// Spawns `command` in the site's directory, logging to its log, and
    /// waits until `probe` at `addr` answers 200.
    async fn spawn(
        &self,
        mut command: tokio::process::Command,
        addr: SocketAddr,
        probe: &str,
    ) -> Result<(Server, Duration), Fail> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        command.current_dir(self.dir.path());
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn()?;
        let pid = child.id().ok_or("the server exited at once")?;
        loop {
            if let Ok(reply) = Conn::new(addr).get(probe, &[]).await
                && reply.status == StatusCode::OK
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!("the server exited with {status}; see {}", self.log_path().display()).into());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err("the server was not ready in 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok((Server { child, pid }, started.elapsed()))
    }

    /// Where the server writes the messages it sends (`[outbox] dir`).
    pub fn outbox_dir(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema
            && let Ok(mut admin) = PgConnection::establish(base)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

/// A running server process.
pub struct Server {
    child: tokio::process::Child,
    pid: u32,
}

/// Resident memory, in megabytes (10⁶ bytes).
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub now: f64,
    /// The high-water mark since the process started.
    pub peak: f64,
}

impl Server {
    /// CPU time (user and system) the server has used so far, in seconds.
    pub fn cpu_seconds(&self) -> Result<f64, Fail> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat.rsplit_once(')').ok_or("unreadable stat")?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11).ok_or("no utime")?.parse::<u64>()? + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
        Ok(ticks as f64 / *CLOCK_TICKS_PER_SECOND)
    }

    pub fn memory(&self) -> Result<Memory, Fail> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> Result<f64, Fail> {
            let line = status.lines().find(|line| line.starts_with(name)).ok_or("no such field")?;
            let kib: f64 = line.split_whitespace().nth(1).ok_or("no value")?.parse()?;
            Ok(kib * 1024.0 / 1e6)
        };
        Ok(Memory { now: field("VmRSS:")?, peak: field("VmHWM:")? })
    }

    /// Stops the server with SIGTERM, as an operator would, and waits for it.
    pub async fn stop(mut self) -> Result<(), Fail> {
        let status = tokio::process::Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status().await?;
        if !status.success() {
            return Err("kill -TERM failed".into());
        }
        let exit = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        if !exit.success() {
            return Err(format!("the server stopped with {exit}").into());
        }
        Ok(())
    }
}

/// `USER_HZ`: what `/proc` counts CPU time in.
static CLOCK_TICKS_PER_SECOND: std::sync::LazyLock<f64> = std::sync::LazyLock::new(|| {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
});
