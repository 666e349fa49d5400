//! Portti's benchmark: `scripts/bench` builds this and the server in release
//! mode and runs it. See BENCHMARKS.md for what it measures and the figures.
//!
//! For each database backend it starts `portti serve` on a fresh database,
//! seeds people to sign in, and loads each case from this process over
//! loopback: a number of connections, a warm-up, then a measured window.
//! Every answer is checked, and every token issued is verified against the
//! JWKS after the window, so a fast wrong answer cannot pass.

mod activation;
mod bare;
mod cases;
mod ceilings;
mod load;
mod report;
mod seed;
mod server;
mod waiting;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use clap::Parser;
use portti::crypto::signing::SigningAlg;

use crate::activation::{Activation, Invitees, SmsInbox};
use crate::cases::{
    Browsers, ClientCredentials, DeviceGrant, DeviceKeyGrant, Introspect, PasskeySignIn, QrSignIn, Refresh, SignIn,
    SignInShared, StaticGet, TokenResponse, Userinfo, Verifier, basic, sign_in,
};
use crate::ceilings::Ceilings;
use crate::load::{Conn, Tally, Window, Worker};
use crate::report::{BackendReport, DEVICE_KEY_GRANT, Row};
use crate::server::{Backend, Clients, Server, Site};

/// Whatever went wrong, as text: a benchmark reports, it does not recover.
pub type Fail = Box<dyn std::error::Error + Send + Sync>;

/// Says what was being done when an error happened.
pub trait Context<T> {
    fn context(self, doing: &str) -> Result<T, Fail>;
}

impl<T, E: Into<Fail>> Context<T> for Result<T, E> {
    fn context(self, doing: &str) -> Result<T, Fail> {
        self.map_err(|e| format!("{doing}: {}", e.into()).into())
    }
}

/// Measures Portti under load against the limits of this machine.
#[derive(Parser, Debug)]
struct Args {
    /// The server binary: a release build.
    #[arg(long, default_value = "target/release/portti")]
    server: PathBuf,
    /// Length of each measured window, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Warm-up before each window, in seconds.
    #[arg(long, default_value_t = 2)]
    warm_up: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Which backends to run: sqlite, postgres or both.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// The PostgreSQL server; each run gets a schema of its own, dropped afterwards.
    #[arg(long, env = "PORTTI_BENCH_POSTGRES_URL", default_value = "postgres://root@127.0.0.1:5432/test")]
    postgres_url: String,
    /// Run only the cases whose name contains this (for profiling one).
    #[arg(long)]
    only: Option<String>,
    /// How many people to seed; each sign-in uses one.
    #[arg(long, default_value_t = 3000)]
    people: usize,
    /// How many invitations to seed; each activation uses one.
    #[arg(long, default_value_t = 8000)]
    invitees: usize,
    /// How many browsers wait on QR codes at once.
    #[arg(long, default_value_t = 5000)]
    waiting_browsers: usize,
    /// Be the bare actix-web server (`bare.rs`) at this address instead.
    #[arg(long, hide = true, requires = "bare_bodies")]
    bare_serve: Option<std::net::SocketAddr>,
    /// The bare server's discovery and JWKS bodies.
    #[arg(long, hide = true, num_args = 2)]
    bare_bodies: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let (Some(addr), [discovery, jwks]) = (args.bare_serve, args.bare_bodies.as_slice()) {
        return match bare::serve(addr, discovery, jwks) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench: the bare server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("bench: some answers were wrong; see the table");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs everything and prints the report; returns whether every answer was right.
async fn run(mut args: Args) -> Result<bool, Fail> {
    args.server = std::fs::canonicalize(&args.server)
        .context(&format!("no server binary at {}; run scripts/bench", args.server.display()))?;
    let backends = args
        .backends
        .iter()
        .map(|name| match name.as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" => Ok(Backend::Postgres(args.postgres_url.clone())),
            other => Err(format!("unknown backend {other}; use sqlite or postgres")),
        })
        .collect::<Result<Vec<_>, _>>()?;

    eprintln!("measuring the ceilings on one core");
    let ceilings = tokio::task::spawn_blocking(ceilings::measure).await??;
    let mut reports = Vec::new();
    for backend in &backends {
        reports.push(bench_backend(&args, backend, &ceilings).await?);
    }
    let settings = report::Settings { connections: args.connections, seconds: args.seconds, warm_up: args.warm_up };
    print!("{}", report::render(&settings, &ceilings, &reports));
    Ok(reports.iter().all(BackendReport::all_right))
}

/// What the web application's tokens are signed with (`server::Clients`).
const WEB_ALG: SigningAlg = SigningAlg::ES256;

/// How many times the server is restarted to time start-up on an existing database.
const RESTARTS: usize = 5;

async fn bench_backend(args: &Args, backend: &Backend, ceilings: &Ceilings) -> Result<BackendReport, Fail> {
    let name = backend.name();
    let clients = Clients::new();
    let site = Site::new(backend, &clients).context("preparing the database")?;
    eprintln!("{name}: first start, on a new database");
    let (server, first_start) = site.start(&args.server).await.context("starting the server")?;
    let (config, count, connections, invitees) = (site.config.clone(), args.people, args.connections, args.invitees);
    let (people, phones, passkeys, invitees) = tokio::task::spawn_blocking(move || {
        let people = seed::people(&config, count)?;
        let first = &people[..connections.min(count)];
        let phones = seed::phones(&config, first)?.into_iter().map(Arc::new).collect::<Vec<_>>();
        let passkeys = seed::passkeys(&config, first)?;
        let invitees = seed::invitees(&config, invitees)?;
        Ok::<_, Fail>((people, phones, passkeys, invitees))
    })
    .await?
    .context("seeding people, their phones and passkeys, and invitees")?;
    server.stop().await.context("stopping the server")?;

    let mut ready_times = Vec::new();
    let mut server = None;
    for _ in 0..RESTARTS {
        if let Some(running) = server.take() {
            Server::stop(running).await?;
        }
        let (running, ready) = site.start(&args.server).await?;
        ready_times.push(ready);
        server = Some(running);
    }
    let server = server.ok_or("no server")?;
    ready_times.sort();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.memory()?;

    let site_addr = site.addr;
    let mut conn = Conn::new(site_addr);
    let discovery = conn.get("/.well-known/openid-configuration", &[]).await?.body;
    let jwks = conn.get("/jwks", &[]).await?.body;
    let verifier = Arc::new(Verifier::from_jwks(&jwks, &site.issuer)?);
    let bench = Bench { args, backend: name, server: &server, addr: site.addr };
    let mut rows = Vec::new();

    // The cheapest answers, and the same bytes from a bare actix-web
    // handler under the same load: what Portti's own work per request costs.
    let (bare_server, bare_addr) = site.start_bare(&discovery, &jwks).await.context("starting the bare server")?;
    let bare = Bench { server: &bare_server, addr: bare_addr, ..bench };
    for (case, path, body) in [("discovery", "/.well-known/openid-configuration", &discovery), ("JWKS", "/jwks", &jwks)]
    {
        let workers = || bench.workers(|_| StaticGet { path, expected: body.clone() });
        rows.extend(against_bare(&bench, &bare, case, workers).await?);
    }
    bare_server.stop().await.context("stopping the bare server")?;

    for (alg, id, secret) in &clients.machine {
        let alg = SigningAlg::parse(alg)?;
        let authorization = basic(id, secret);
        let workers =
            bench.workers(|_| ClientCredentials { authorization: authorization.clone(), access_tokens: vec![] });
        let (mut row, workers) = bench.case(&format!("client_credentials {}", alg.as_str()), workers).await?;
        let tokens: Vec<&String> = workers.iter().flat_map(|w| &w.access_tokens).collect();
        row.check("every access token verifies against the JWKS", verifier.verify_all(&tokens, alg));
        row.of_ceiling = Some((row.per_second / ceilings.signing(alg), format!("{} signing", alg.as_str())));
        rows.push(row);
    }

    let (web_id, web_secret) = &clients.web;
    let shared = Arc::new(SignInShared {
        people,
        next: AtomicUsize::new(0),
        client_id: web_id.clone(),
        authorization: basic(web_id, web_secret),
        verifier: verifier.clone(),
    });
    eprintln!("{name}: signing in {} people for the token cases", args.connections);
    let mut sessions: Vec<(String, TokenResponse)> = Vec::new();
    for index in 0..args.connections {
        let person = &shared.people[index];
        sessions.push(sign_in(&mut conn, &shared, person).await?);
    }
    shared.next.store(args.connections, std::sync::atomic::Ordering::Relaxed);

    let audience = format!("{}/token", site.issuer);
    let workers =
        bench.workers(|i| DeviceKeyGrant { phone: phones[i].clone(), audience: audience.clone(), signed_in: vec![] });
    let (mut row, workers) = bench.case(DEVICE_KEY_GRANT, workers).await?;
    let access: Vec<&String> = workers.iter().flat_map(|w| w.signed_in.iter().map(|t| &t.access_token)).collect();
    row.check("every access token verifies against the JWKS", verifier.verify_all(&access, WEB_ALG));
    row.check("every ID token is the phone's person's", DeviceKeyGrant::check_id_tokens(&workers, &verifier));
    if row.measured {
        let cpu = 1.0 / ceilings.device_key_grant() * 1000.0 / row.cpu_per_1000;
        let of = format!("ES256 verify + 2 signatures ({:.0} % by CPU per request)", cpu * 100.0);
        row.of_ceiling = Some((row.per_second / ceilings.device_key_grant(), of));
    }
    rows.push(row);

    const QR_SIGN_IN: &str = "QR sign-in, browser and phone";
    let waiting_case = format!("{} browsers waiting on QR codes", args.waiting_browsers);
    let mut app_tokens = Vec::new();
    if bench.runs(QR_SIGN_IN) || bench.runs(&waiting_case) {
        for phone in &phones {
            let mut once = DeviceKeyGrant { phone: phone.clone(), audience: audience.clone(), signed_in: vec![] };
            once.step(&mut conn).await.context("the app's device-key sign-in")?;
            app_tokens.extend(once.signed_in.into_iter().map(|tokens| tokens.access_token));
        }
    }
    let workers = bench.workers(|i| QrSignIn {
        shared: shared.clone(),
        phone: phones[i].clone(),
        app_token: app_tokens.get(i).cloned().unwrap_or_default(),
        access_tokens: vec![],
    });
    let (mut row, workers) = bench.case(QR_SIGN_IN, workers).await?;
    row.unit = "QR sign-ins";
    let access: Vec<&String> = workers.iter().flat_map(|w| &w.access_tokens).collect();
    row.check("every access token verifies against the JWKS", verifier.verify_all(&access, WEB_ALG));
    rows.push(row);

    let waiting = if bench.runs(&waiting_case) {
        eprintln!("{name}: {waiting_case}");
        let approvers = phones
            .iter()
            .zip(&app_tokens)
            .map(|(phone, token)| waiting::Approver { phone: phone.clone(), app_token: token.clone() })
            .collect();
        let (warm_up, measured) = (Duration::from_secs(args.warm_up), Duration::from_secs(args.seconds));
        let mut waited =
            waiting::run(site_addr, &server, shared.clone(), approvers, args.waiting_browsers, warm_up, measured)
                .await?;
        let access: Vec<&String> = waited.access_tokens.iter().collect();
        if let Err(e) = verifier.verify_all(&access, WEB_ALG) {
            waited.problems.push(format!("every access token verifies against the JWKS: {e}"));
        }
        Some(waited)
    } else {
        None
    };

    let inbox = SmsInbox::watch(site.outbox_dir().join("sms"));
    let invitees = Arc::new(Invitees { list: invitees, next: AtomicUsize::new(0) });
    let workers = bench.workers(|_| Activation { invitees: invitees.clone(), inbox: inbox.clone() });
    let (mut row, _) = bench.case("activation: sign-up code, SMS code from the outbox, verified", workers).await?;
    row.unit = "activations";
    rows.push(row);

    let origin = url::Url::parse(&site.issuer)?;
    let workers = passkeys
        .into_iter()
        .map(|passkey| PasskeySignIn { shared: shared.clone(), passkey, origin: origin.clone(), access_tokens: vec![] })
        .collect();
    let (mut row, workers) = bench.case("passkey sign-in", workers).await?;
    row.unit = "passkey sign-ins";
    let access: Vec<&String> = workers.iter().flat_map(|w| &w.access_tokens).collect();
    row.check("every access token verifies against the JWKS", verifier.verify_all(&access, WEB_ALG));
    rows.push(row);

    const DEVICE_GRANT: &str = "device grant (RFC 8628), the person signed in";
    let wanted = if bench.runs(DEVICE_GRANT) {
        (args.connections * 16).min(args.people.saturating_sub(args.connections) / 2)
    } else {
        0
    };
    eprintln!("{name}: signing in {wanted} browsers for the device grant");
    let browsers = Arc::new(Browsers { signed_in: Default::default(), shared: shared.clone() });
    let mut signing_in = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        let (browsers, each) = (browsers.clone(), wanted / args.connections);
        signing_in.spawn(async move {
            let mut conn = Conn::new(site_addr);
            for _ in 0..each {
                browsers.sign_in_another(&mut conn, 0).await?;
            }
            Ok::<_, Fail>(())
        });
    }
    while let Some(signed_in) = signing_in.join_next().await {
        signed_in??;
    }
    let before = shared.next.load(std::sync::atomic::Ordering::Relaxed);
    let workers = bench.workers(|_| DeviceGrant { browsers: browsers.clone(), signed_in: vec![] });
    let (mut row, workers) = bench.case(DEVICE_GRANT, workers).await?;
    row.unit = "device grants";
    let inside = shared.next.load(std::sync::atomic::Ordering::Relaxed) - before;
    if inside > 0 {
        row.case += &format!(" ({inside} browsers signed in during the case, warm-up included)");
    }
    let access: Vec<&String> = workers.iter().flat_map(|w| w.signed_in.iter().map(|(_, t)| &t.access_token)).collect();
    row.check("every access token verifies against the JWKS", verifier.verify_all(&access, WEB_ALG));
    row.check("every ID token is the approving person's", DeviceGrant::check_id_tokens(&workers, &verifier));
    rows.push(row);

    let workers = bench.workers(|i| Userinfo {
        authorization: format!("Bearer {}", sessions[i].1.access_token),
        sub: sessions[i].0.clone(),
    });
    rows.push(bench.case("userinfo", workers).await?.0);

    let workers = bench.workers(|i| Introspect {
        authorization: shared.authorization.clone(),
        form: format!("token={}", sessions[i].1.access_token),
        sub: sessions[i].0.clone(),
    });
    rows.push(bench.case("introspection", workers).await?.0);

    let mut workers = Vec::new();
    for (_, tokens) in &sessions {
        let current = tokens.refresh_token.clone().ok_or("a sign-in with offline_access gave no refresh token")?;
        workers.push(Refresh {
            authorization: shared.authorization.clone(),
            current,
            spent: vec![],
            access_tokens: vec![],
        });
    }
    let (mut row, workers) = bench.case("refresh_token rotation", workers).await?;
    let tokens: Vec<&String> = workers.iter().flat_map(|w| &w.access_tokens).collect();
    row.check("every access token verifies against the JWKS", verifier.verify_all(&tokens, WEB_ALG));
    row.check(
        "no refresh token accepted twice, even at once",
        Refresh::check_rotation(&workers, site.addr).await.map(|()| workers.len()),
    );
    rows.push(row);

    let workers = bench.workers(|_| SignIn { shared: shared.clone(), signed_in: vec![] });
    let (mut row, workers) = bench.case("whole sign-in", workers).await?;
    row.unit = "sign-ins";
    row.of_ceiling = Some((row.per_second / ceilings.argon2id, "Argon2id".to_owned()));
    let signed_in: Vec<&String> =
        workers.iter().flat_map(|w| w.signed_in.iter().map(|(_, t)| &t.access_token)).collect();
    row.check("every access token verifies against the JWKS", verifier.verify_all(&signed_in, WEB_ALG));
    rows.push(row);

    rows.retain(|row| row.measured);
    let peak = server.memory()?;
    server.stop().await?;
    Ok(BackendReport {
        name,
        first_start,
        ready: ready_times[ready_times.len() / 2],
        idle_mb: idle.now,
        peak_mb: peak.peak,
        rows,
        waiting,
    })
}

/// How many times a cheap case and its bare twin take turns: this shared
/// machine's speed drifts from minute to minute, and a ratio of two windows
/// far apart would measure the drift.
const BARE_ROUNDS: usize = 3;

/// Runs `case` on Portti and on the bare server in turns, and returns the
/// median round of each, Portti's with the median of its rounds' ratios.
async fn against_bare<W: Worker>(
    portti: &Bench<'_>,
    bare: &Bench<'_>,
    case: &str,
    workers: impl Fn() -> Vec<W>,
) -> Result<Vec<Row>, Fail> {
    let bare_case = format!("{case}, bare actix-web");
    let (mut served, mut bare_served, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..BARE_ROUNDS {
        let (row, _) = portti.case(case, workers()).await?;
        let (bare_row, _) = bare.case(&bare_case, workers()).await?;
        ratios.push(row.per_second / bare_row.per_second);
        served.push(row);
        bare_served.push(bare_row);
    }
    let (mut row, bare_row) = (median_row(served), median_row(bare_served));
    ratios.sort_by(f64::total_cmp);
    if row.measured {
        // The server CPU per request, which the machine's drift moves less.
        let cpu = bare_row.cpu_per_1000 / row.cpu_per_1000;
        let of = format!("bare actix-web ({:.0} % by CPU per request)", cpu * 100.0);
        row.of_ceiling = Some((ratios[ratios.len() / 2], of));
    }
    Ok(vec![row, bare_row])
}

/// The row of the median rate, with the errors and problems of them all.
fn median_row(mut rows: Vec<Row>) -> Row {
    let errors = rows.iter().map(|row| row.errors).sum();
    let problems: Vec<String> = rows.iter().flat_map(|row| row.problems.clone()).collect();
    rows.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    let mut median = rows.swap_remove(rows.len() / 2);
    median.errors = errors;
    median.problems = problems;
    median
}

/// One backend's server under load.
#[derive(Clone, Copy)]
struct Bench<'a> {
    args: &'a Args,
    backend: &'static str,
    server: &'a Server,
    addr: std::net::SocketAddr,
}

impl Bench<'_> {
    fn workers<W>(&self, make: impl FnMut(usize) -> W) -> Vec<W> {
        (0..self.args.connections).map(make).collect()
    }

    /// Whether `--only` leaves this case in.
    fn runs(&self, name: &str) -> bool {
        self.args.only.as_deref().is_none_or(|only| name.contains(only))
    }

    /// Runs one case and reads the server's CPU time at the window's edges.
    /// A case left out with `--only` runs no load and reports nothing.
    async fn case<W: Worker>(&self, name: &str, workers: Vec<W>) -> Result<(Row, Vec<W>), Fail> {
        if !self.runs(name) {
            return Ok((Row::skipped(name), workers));
        }
        eprintln!("{}: {name}", self.backend);
        let measured = Duration::from_secs(self.args.seconds);
        let window = Window::after_warm_up(Duration::from_secs(self.args.warm_up), measured);
        let cpu = async {
            tokio::time::sleep_until(window.start.into()).await;
            let before = self.server.cpu_seconds()?;
            tokio::time::sleep_until(window.end.into()).await;
            Ok::<_, Fail>(self.server.cpu_seconds()? - before)
        };
        let (ran, cpu) = tokio::join!(load::run(self.addr, workers, window), cpu);
        let (workers, tally) = ran?;
        Ok((Row::new(name, tally, measured, cpu?), workers))
    }
}

impl Row {
    fn new(case: &str, mut tally: Tally, measured: Duration, cpu_seconds: f64) -> Self {
        let done = tally.latencies_us.len();
        Row {
            case: case.to_owned(),
            unit: "requests",
            per_second: done as f64 / measured.as_secs_f64(),
            p50_ms: tally.percentile_ms(0.5),
            p99_ms: tally.percentile_ms(0.99),
            errors: tally.errors,
            cpu_per_1000: if done == 0 { f64::NAN } else { cpu_seconds * 1000.0 / done as f64 },
            of_ceiling: None,
            problems: tally.first_error.into_iter().collect(),
            measured: true,
        }
    }

    fn skipped(case: &str) -> Self {
        Row { measured: false, ..Row::new(case, Tally::default(), Duration::from_secs(1), f64::NAN) }
    }

    /// Records a check made after the run.
    fn check(&mut self, what: &str, outcome: Result<usize, Fail>) {
        if let Err(e) = outcome {
            self.problems.push(format!("{what}: {e}"));
        }
    }
}
