//! Faults of what Portti stands on (issue 14, items 1–4), each with real
//! processes and a real file system: a PostgreSQL of the test's own to
//! stop and restart, a tmpfs to fill.
//!
//! The full disk is a small tmpfs, which needs `mount` (root, as in CI);
//! without it the test is skipped, except in CI, where it fails.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use openidconnect::OAuth2TokenResponse;

use crate::activation::app_post;
use crate::admin_api::{admin_token, console};
use crate::password_reset::forgot_page;
use crate::support::fixtures::{authorization_request, confidential_client, exchange, person, relying_party};
use crate::support::fixtures::{member, member_with_password};
use crate::support::messages::reset_link;
use crate::support::pages::PageClient;
use crate::support::private_postgres::PrivatePostgres;
use crate::support::sign_in::{first_sign_in, to_password_page};
use crate::support::smtp::SmtpServer;
use crate::support::{Serving, TestDb, TestServer, random_master_key, skipped};
use crate::support::{eventually, report, served_on_both_backends};
use diesel::prelude::*;
use portti::domain::access::CompanyRole;
use portti::domain::company::add_company;
use portti::domain::ids::UserId;
use portti::web::error_response::RETRY_AFTER_SECONDS;
use serde_json::json;

/// A tmpfs of its own, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|output| output.status.success());
        mounted.then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Writes to `path` until the disk is full.
fn fill(path: &Path) {
    let mut filler = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while filler.write_all(&chunk).and_then(|()| filler.sync_all()).is_ok() {}
}

/// SQLite on a full disk: writes fail with a clear answer (503, try again,
/// never a 500 or a hang), reads go on, and once space returns everything
/// works again without a restart, in a database that is still sound.
#[actix_web::test]
async fn sqlite_on_a_full_disk_fails_writes_clearly_and_recovers() {
    let Some(disk) = SmallDisk::mount("16m") else {
        let why = "cannot mount a tmpfs (needs root)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        skipped(why);
        return;
    };
    let db = TestDb::sqlite_at(&disk.path().join("portti.db"), &random_master_key());
    let server = db.serve("[sign_in]\nsign_ins_per_minute_per_address = 100000\nsign_ins_per_browser = 100000");
    person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&server, "ledger", Some(&secret)).await;
    let url = authorization_request(&rp, &[]).url;
    let pages = PageClient::new(&server.base);
    assert_eq!(pages.open(url.as_str()).await.page().1, 200);

    // The disk fills up. Each new sign-in page stores a flow: one of them
    // soon finds no room, however much the write-ahead log had spare.
    fill(&disk.path().join("filler"));
    let mut refused = None;
    for _ in 0..2000 {
        let response = reqwest::Client::new().get(url.as_str()).send().await.unwrap();
        let status = response.status().as_u16();
        assert_ne!(status, 500, "a full disk is not an internal error");
        if status == 503 {
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            refused = Some((retry_after, response.text().await.unwrap()));
            break;
        }
    }
    let (retry_after, page) = refused.expect("a write refused on the full disk");
    assert_eq!(retry_after.as_deref(), Some(RETRY_AFTER_SECONDS));
    assert!(page.contains("temporarily unavailable"), "{page}");
    assert!(!page.contains("disk") && !page.contains("SQLite"), "nothing of the cause is shown: {page}");
    // What needs no write is still served.
    let jwks = reqwest::get(format!("{}/jwks", server.base)).await.unwrap();
    assert_eq!(jwks.status(), 200);

    // Space returns: sign-ins work again, to the end, without a restart.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    let request = authorization_request(&rp, &[]);
    let (callback, _, _) =
        first_sign_in(&PageClient::new(&server.base), request.url.as_str(), "maija@example.com").await;
    let tokens = exchange(&rp, &callback, &request).await;
    assert!(!tokens.access_token().secret().is_empty());
    server.stop().await;

    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let checks: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(&mut db.connection()).unwrap();
    let checks: Vec<String> = checks.into_iter().map(|c| c.integrity_check).collect();
    assert_eq!(checks, ["ok"], "the database is sound");
}

/// A new browser at `server` tries `password` for `email`; the status.
async fn password_at(server: &TestServer, url: &str, email: &str, password: &str) -> u16 {
    let pages = PageClient::new(&server.base);
    let page = to_password_page(&pages, url, email).await;
    pages.submit(&page, "/password", &[("password", password)]).await.page().1.as_u16()
}

/// Two instances on one PostgreSQL are one Portti to an attacker (item 3):
/// an attack split across both meets the same limits as on one, for the
/// per-address throttle, the lockout, the activation's resends and its
/// wrong codes. (QR and device-grant approvals across instances are in
/// `qr.rs` and `device_grant.rs`.)
#[actix_web::test]
async fn two_instances_share_every_limit() {
    let Some(db) = TestDb::postgres() else { return };
    let rules = "[sign_in]\nmax_failures = 4\nattempts_per_minute_per_address = 6\n[app]\nclient_id = \"app\"\n";
    let first = db.serve(rules);
    let second = db.serve_beside(&first, rules);
    person(&first.state, "maija@example.com");
    let secret = confidential_client(&first.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&first, "ledger", Some(&secret)).await;
    let url = authorization_request(&rp, &[]).url.to_string();
    let now = first.state.clock.now();
    first.state.clock.advance(60 - now.rem_euclid(60));
    second.state.clock.advance(60 - now.rem_euclid(60));

    // The address: six attempts a minute in all, on other accounts,
    // whichever instance takes them.
    for (n, server) in [&first, &second, &first, &second, &first, &second].into_iter().enumerate() {
        assert_eq!(password_at(server, &url, &format!("{n}@example.com"), "x").await, 400);
    }
    assert_eq!(password_at(&first, &url, "6@example.com", "x").await, 429, "the address's seventh attempt");
    assert_eq!(password_at(&second, &url, "7@example.com", "x").await, 429);

    // A minute later, the lockout: four wrong passwords, two through each,
    // lock the account on both; the right password is refused on either.
    first.state.clock.advance(60);
    second.state.clock.advance(60);
    for server in [&first, &second, &first, &second] {
        assert_eq!(password_at(server, &url, "maija@example.com", "not the password").await, 400);
    }
    assert_eq!(password_at(&first, &url, "maija@example.com", crate::support::fixtures::PASSWORD).await, 429);
    assert_eq!(password_at(&second, &url, "maija@example.com", crate::support::fixtures::PASSWORD).await, 429);

    // The activation: two new SMS codes in all, and five wrong codes in all.
    let invited = crate::activation::company_with_invitee(&first.state, None);
    crate::activation::invite(&first.state, &invited);
    let code = crate::activation::sign_up_code(&first, &db).await;
    let (status, started) = app_post(&first, "/activations", json!({"sign_up_code": code})).await;
    assert_eq!(status, 201, "{started}");
    let activation = started["activation_id"].as_str().unwrap().to_owned();
    let resend = format!("/activations/{activation}/resend");
    assert_eq!(app_post(&first, &resend, json!({})).await.0, 200);
    assert_eq!(app_post(&second, &resend, json!({})).await.0, 200);
    let (status, body) = app_post(&first, &resend, json!({})).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("resend_limit")), "{body}");
    let (status, body) = app_post(&second, &resend, json!({})).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("resend_limit")), "{body}");
    let verify = format!("/activations/{activation}/verify");
    let (sent, _) = crate::activation::last_sms_code(&first, &db).await;
    let wrong = if sent == "000000" { "000001" } else { "000000" };
    let mut statuses = Vec::new();
    for server in [&first, &second, &first, &second, &first] {
        statuses.push(app_post(server, &verify, json!({"code": wrong})).await.0);
    }
    assert_eq!(statuses, [400, 400, 400, 400, 429], "the fifth wrong code in all ends the codes");
    assert_eq!(app_post(&second, &verify, json!({"code": sent})).await.0, 429, "on the other instance too");
    first.stop().await;
    second.stop().await;
}

/// One answer of the load: what came back, and when and how fast.
struct Answer {
    status: u16,
    retry_after: bool,
    body: String,
    started: Instant,
    took: Duration,
}

impl Answer {
    /// Whether the answer is one a client can live with while the database
    /// is away: served, or 503 with `Retry-After` and nothing of the cause.
    fn is_clean(&self) -> bool {
        let shows_cause =
            ["postgres", "PostgreSQL", "connection", "database:", "pool"].iter().any(|word| self.body.contains(word));
        self.served() || (self.status == 503 && self.retry_after && !shows_cause)
    }

    /// Answered as when all is well: a page, or a redirect to one.
    fn served(&self) -> bool {
        (200..400).contains(&self.status)
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").is_some_and(|v| v == RETRY_AFTER_SECONDS);
    let body = response.text().await.unwrap();
    Answer { status, retry_after, body, started, took: started.elapsed() }
}

/// The routes of a running sign-in and token load: a sign-in starting
/// (it stores a flow and redirects to its page, which is not followed)
/// and userinfo (it reads the person).
struct Load {
    http: reqwest::Client,
    authorize: String,
    userinfo: String,
    access_token: String,
}

impl Load {
    async fn sign_in_starts(&self) -> Answer {
        answer(self.http.get(&self.authorize)).await
    }

    async fn userinfo(&self) -> Answer {
        answer(self.http.get(&self.userinfo).bearer_auth(&self.access_token)).await
    }

    /// Both, over and over from `connections` clients until `until`.
    async fn run_until(&self, connections: usize, until: Instant) -> Vec<Answer> {
        let client = |_| async move {
            let mut answers = Vec::new();
            while Instant::now() < until {
                answers.push(self.sign_in_starts().await);
                answers.push(self.userinfo().await);
            }
            answers
        };
        futures_util::future::join_all((0..connections).map(client)).await.into_iter().flatten().collect()
    }

    async fn both_served(&self) -> bool {
        self.sign_in_starts().await.served() && self.userinfo().await.served()
    }
}

/// The most a request may take while the database is away: the pool's
/// wait for a connection (libpq's `connect_timeout`, 5 s), and a margin.
const AT_MOST: Duration = Duration::from_secs(8);

/// PostgreSQL stopped, started, restarted under load and its connections
/// ended one by one (item 1): what needs no database keeps answering,
/// database routes answer 503 with `Retry-After` (never a 500, never a
/// hang), `/readyz` goes red, and everything recovers without restarting
/// Portti. A lost connection costs a reader nothing (its read is retried
/// once) and a writer at most one refused request.
#[actix_web::test]
async fn postgres_restarted_under_load_is_ridden_out() {
    let Some(postgres) = PrivatePostgres::start() else { return };
    let postgres = Arc::new(postgres);
    let db = TestDb::postgres_on(&postgres.url());
    let server = db.serve("[sign_in]\nsign_ins_per_minute_per_address = 1000000\nsign_ins_per_browser = 1000000");
    person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&server, "ledger", Some(&secret)).await;
    let request = authorization_request(&rp, &[]);
    let (callback, _, _) =
        first_sign_in(&PageClient::new(&server.base), request.url.as_str(), "maija@example.com").await;
    let tokens = exchange(&rp, &callback, &request).await;
    let load = Load {
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        authorize: authorization_request(&rp, &[]).url.to_string(),
        userinfo: format!("{}/userinfo", server.base),
        access_token: tokens.access_token().secret().clone(),
    };
    let status_of = |path: &'static str| {
        let url = format!("{}{path}", server.base);
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert!(load.both_served().await);
    assert_eq!(status_of("/readyz").await, 200);

    // Down: discovery, JWKS and liveness answer; the rest says try again.
    postgres.stop();
    for path in ["/.well-known/openid-configuration", "/jwks", "/healthz"] {
        assert_eq!(status_of(path).await, 200, "{path} needs no database");
    }
    assert_eq!(status_of("/readyz").await, 503, "not ready without a database");
    let (starting, reading) = tokio::join!(load.sign_in_starts(), load.userinfo());
    for down in [starting, reading] {
        assert_eq!((down.status, down.retry_after), (503, true), "{}", down.body);
        assert!(down.is_clean(), "nothing of the cause is shown: {}", down.body);
        assert!(down.took < AT_MOST, "answered in {:?}, not held", down.took);
    }

    // Back: served again within seconds, without restarting Portti.
    postgres.start_again();
    let back = Instant::now();
    while !load.both_served().await {
        assert!(back.elapsed() < Duration::from_secs(10), "served again within seconds");
    }
    assert_eq!(status_of("/readyz").await, 200);

    // Restarted in the middle of a load of four clients.
    let restarting = Arc::clone(&postgres);
    let restart = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_secs(1));
        restarting.restart();
        Instant::now()
    });
    let answers = load.run_until(4, Instant::now() + Duration::from_secs(6)).await;
    let restarted = restart.await.unwrap();
    let unclean: Vec<_> = answers.iter().filter(|a| !a.is_clean()).map(|a| (a.status, &a.body)).collect();
    assert!(unclean.is_empty(), "every answer is served or a clean 503: {unclean:?}");
    assert!(answers.iter().all(|a| a.took < AT_MOST), "no request was held");
    let settled: Vec<_> = answers.iter().filter(|a| a.started > restarted + Duration::from_secs(2)).collect();
    let slowest = answers.iter().map(|a| a.took).max().unwrap_or_default();
    let refused = answers.iter().filter(|a| !a.served()).count();
    report(format_args!(
        "PostgreSQL restarted under load: {} answers, {refused} of them 503, the slowest in {slowest:?}",
        answers.len()
    ));
    assert!(!settled.is_empty() && settled.iter().all(|a| a.served()), "all served again after the restart");

    // Connections ended one by one: a reader never notices ...
    futures_util::future::join_all((0..4).map(|_| load.userinfo())).await;
    let backends = postgres.client_backends();
    assert!(!backends.is_empty());
    for pid in &backends {
        postgres.terminate(*pid);
        let read = load.userinfo().await;
        assert!(read.served(), "the read is retried on a fresh connection: {}", read.body);
    }
    // ... and each costs writers at most one refused request.
    futures_util::future::join_all((0..4).map(|_| load.sign_in_starts())).await;
    let backends = postgres.client_backends();
    for pid in &backends {
        postgres.terminate(*pid);
    }
    let mut writes = Vec::new();
    for _ in 0..2 * backends.len() + 2 {
        writes.push(load.sign_in_starts().await);
    }
    assert!(writes.iter().all(Answer::is_clean));
    let refused = writes.iter().filter(|a| !a.served()).count();
    assert!(refused <= backends.len(), "{refused} refused for {} connections ended", backends.len());
    report(format_args!("{} connections ended: {refused} writes refused, no read", backends.len()));
    assert!(writes.last().is_some_and(Answer::served));
    server.stop().await;
}

/// `portti serve` as a process of its own at `address`, behind `issuer`,
/// mailing through `smtp`; ready once `/healthz` answers.
async fn portti_serve(db: &TestDb, address: std::net::SocketAddr, issuer: &str, smtp: &SmtpServer) -> Serving {
    let mut command = db.portti_command();
    command
        .arg("serve")
        .env("PORTTI_BIND", address.to_string())
        .env("PORTTI_ISSUER", issuer)
        .env("PORTTI_MAIL__SMTP_URL", smtp.url())
        .env("PORTTI_OUTBOX__POLL_INTERVAL_MS", "100")
        // A message the killed process was delivering waits out its lease.
        .env("PORTTI_OUTBOX__SEND_TIMEOUT_SECONDS", "5")
        .env("PORTTI_OUTBOX__LEASE_SECONDS", "6")
        .env("PORTTI_SIGN_IN__SIGN_INS_PER_MINUTE_PER_ADDRESS", "100000");
    Serving::start(command, &format!("http://{address}")).await
}

/// The recipients of the outbox's rows, sorted.
fn queued_recipients(db: &TestDb) -> Vec<String> {
    use portti::store::schema::outbox::dsl as o;
    let mut recipients: Vec<String> = o::outbox.select(o::recipient).load(&mut db.connection()).unwrap();
    recipients.sort();
    recipients
}

/// `kill -9` in a burst of invitations and password resets (item 2): every
/// request that was answered has its message, delivered after the restart
/// and working as sent; a request cut off left nothing half done (a row
/// without its message, or a message without its row); and the kill cost
/// at most one duplicate, the one message in delivery at that moment.
async fn killed_in_a_burst_of_invitations_and_resets(db: &TestDb) {
    const EACH: usize = 12;
    // Set up in-process: a company, its administrator's token, the people
    // to invite and the people who forgot their passwords, each on the
    // "Forgot your password?" page.
    let server = db.serve(crate::activation::APP_TOML);
    let state = &server.state;
    let company = add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    member(state, "kh@example.com", &company.id, vec![CompanyRole::UserAdmin], false);
    let token = admin_token(&server, &console(&server).await, "kh@example.com").await;
    let invitees: Vec<_> = (0..EACH)
        .map(|n| {
            let email = format!("invitee{n}@example.com");
            let user = member_with_password(state, &email, &company.id, vec![], false, None);
            (email, user)
        })
        .collect();
    let secret = confidential_client(state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&server, "ledger", Some(&secret)).await;
    let mut forgetful = Vec::new();
    for n in 0..EACH {
        let email = format!("reset{n}@example.com");
        person(state, &email);
        let pages = PageClient::new(&server.base);
        let page = forgot_page(&pages, &authorization_request(&rp, &[]).url, &email).await;
        forgetful.push((email, pages, page));
    }
    let base = server.base.clone();
    server.stop().await;

    // The same Portti as a process, on the same address; killed once a
    // a quarter of the requests of the burst have been answered.
    let smtp = SmtpServer::start().await;
    let address = base.trim_start_matches("http://").parse().unwrap();
    let mut first = portti_serve(db, address, &base, &smtp).await;
    let answers_so_far = std::sync::atomic::AtomicUsize::new(0);
    let count = |sent: reqwest::Result<reqwest::Response>| {
        let status = sent.ok().map(|r| r.status().as_u16());
        if status.is_some() {
            answers_so_far.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        status
    };
    let (token, count) = (&token, &count);
    let invite = |(_, user): &(String, UserId)| {
        let ask = json!({"company_id": company.id.as_str(), "identity_verified": true});
        let url = format!("{base}/api/admin/v1/users/{user}/invitations");
        async move { count(reqwest::Client::new().post(url).bearer_auth(token).json(&ask).send().await) }
    };
    let reset = |(email, pages, page): &(String, PageClient, String)| {
        let request = pages.form(page, "/password/forgot", &[("email", email.as_str()), ("method", "email")]);
        async move { count(request.send().await) }
    };
    let kill = async {
        while answers_so_far.load(std::sync::atomic::Ordering::SeqCst) < EACH / 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        first.kill();
    };
    let (invited, reset_asked, ()) = tokio::join!(
        futures_util::future::join_all(invitees.iter().map(invite)),
        futures_util::future::join_all(forgetful.iter().map(reset)),
        kill,
    );
    let answered: Vec<(&String, Option<u16>)> = invitees
        .iter()
        .map(|(email, _)| email)
        .zip(invited)
        .chain(forgetful.iter().map(|(email, _, _)| email).zip(reset_asked))
        .filter(|(_, status)| status.is_some())
        .collect();
    assert!(answered.len() < 2 * EACH, "the kill cut the burst short");

    // Nothing half done: each invitation and each reset stored has its
    // message, and each message its invitation or reset.
    let mut stored: Vec<String> = {
        use portti::store::schema::invitations::dsl as i;
        i::invitations.select(i::email).load(&mut db.connection()).unwrap()
    };
    stored.extend({
        use portti::store::schema::password_resets::dsl as r;
        use portti::store::schema::users::dsl as u;
        let of_people = r::password_resets.inner_join(u::users.on(r::user_id.eq(u::id.nullable())));
        of_people.select(u::email).load::<String>(&mut db.connection()).unwrap()
    });
    stored.sort();
    assert_eq!(queued_recipients(db), stored, "each stored request has its message, and no more");
    for (email, status) in &answered {
        let expected = if email.starts_with("invitee") { 201 } else { 200 };
        assert_eq!(*status, Some(expected), "{email}");
        assert!(stored.contains(email), "{email} was answered, so it was stored");
    }

    // Restarted: every message is delivered, at least once, duplicated at
    // most once in all, and each works as it was sent.
    let delivered_before = smtp.messages().len();
    let mut second = portti_serve(db, address, &base, &smtp).await;
    let sent = || {
        use portti::store::schema::outbox::dsl as o;
        o::outbox.filter(o::sent_at.is_null()).count().get_result::<i64>(&mut db.connection()).unwrap() == 0
    };
    let all_sent = eventually(30, sent).await;
    let mails = smtp.messages();
    let mut received: Vec<String> =
        mails.iter().map(|m| m.to[0].trim_matches(|c| c == '<' || c == '>').to_owned()).collect();
    received.sort();
    let mut distinct = received.clone();
    distinct.dedup();
    assert!(all_sent, "all delivered after the restart ({delivered_before} before it)");
    assert_eq!(distinct, stored, "every message reached its recipient");
    assert!(received.len() <= stored.len() + 1, "at most one duplicate: {received:?}");
    report(format_args!(
        "kill -9 in a burst of {} requests: {} answered, {} stored, {} delivered before the kill, \
         {} after the restart ({} duplicate)",
        2 * EACH,
        answered.len(),
        stored.len(),
        delivered_before,
        received.len() - delivered_before,
        received.len() - stored.len(),
    ));
    for (email, pages, _) in forgetful.iter().filter(|(email, _, _)| stored.contains(email)) {
        let mail = mails.iter().rev().find(|m| m.to[0] == format!("<{email}>")).unwrap();
        let (_, status, page) = pages.open(&reset_link(&mail.data, &base)).await.page();
        assert_eq!(status, 200, "the reset link {email} was sent works: {page}");
    }
    second.kill();
}

served_on_both_backends!(killed_in_a_burst_of_invitations_and_resets);
