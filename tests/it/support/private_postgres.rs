//! A PostgreSQL server of one test's own, in a temporary directory on a
//! port of its own, which the test may stop, start, restart and cut
//! connections of without disturbing the shared server other tests use.
//!
//! It needs PostgreSQL's server binaries and root (to run them as the
//! `postgres` user), as in CI; without them it is skipped, except in CI,
//! where it fails.

use std::path::PathBuf;
use std::process::Command;

use diesel::{Connection, PgConnection, RunQueryDsl};

use super::skipped;

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Creates and starts a fresh cluster, or says why it cannot.
    pub fn start() -> Option<Self> {
        match Self::try_start() {
            Ok(server) => Some(server),
            Err(why) => {
                assert!(std::env::var_os("CI").is_none(), "a private PostgreSQL is needed in CI: {why}");
                skipped(&why);
                None
            }
        }
    }

    fn try_start() -> Result<Self, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no PostgreSQL server binaries: {e}"))?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .find(|bin| bin.join("initdb").exists())
            .ok_or("no initdb under /usr/lib/postgresql")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        run(Command::new("chown").arg("postgres").arg(dir.path()))?;
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?;
        let server = Self { dir, bin, port: port.port() };
        server.as_postgres("initdb", &["-D", &server.data(), "-A", "trust", "-U", "root", "--no-sync"])?;
        server.pg_ctl("start")?;
        Ok(server)
    }

    /// The URL of its `postgres` database, as a TestDb takes it.
    pub fn url(&self) -> String {
        format!("postgres://root@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, ending every connection (`-m fast`).
    pub fn stop(&self) {
        self.pg_ctl("stop").unwrap();
    }

    /// Starts it again, waiting until it takes connections.
    pub fn start_again(&self) {
        self.pg_ctl("start").unwrap();
    }

    /// Stops and starts it, as `pg_ctlcluster … restart` does.
    pub fn restart(&self) {
        self.pg_ctl("restart").unwrap();
    }

    /// The process ids of the connections other than the caller's own.
    pub fn client_backends(&self) -> Vec<i32> {
        #[derive(diesel::QueryableByName)]
        struct Backend {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let query = "SELECT pid FROM pg_stat_activity \
                     WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";
        let backends: Vec<Backend> = diesel::sql_query(query).load(&mut self.admin()).unwrap();
        backends.into_iter().map(|b| b.pid).collect()
    }

    /// Ends one connection from the server's side (`pg_terminate_backend`).
    pub fn terminate(&self, pid: i32) {
        diesel::sql_query("SELECT pg_terminate_backend($1)")
            .bind::<diesel::sql_types::Integer, _>(pid)
            .execute(&mut self.admin())
            .unwrap();
    }

    fn admin(&self) -> PgConnection {
        PgConnection::establish(&self.url()).unwrap()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg_ctl(&self, action: &str) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-l", &log, "-m", "fast", "-w", "-o", &options, action])
    }

    fn as_postgres(&self, program: &str, args: &[&str]) -> Result<(), String> {
        run(Command::new("runuser").args(["-u", "postgres", "--"]).arg(self.bin.join(program)).args(args))
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)))
}
