//! Faults of what Portti stands on (issue 14, items 1–4), each with real
//! processes and a real file system.
//!
//! The full disk is a small tmpfs, which needs `mount` (root, as in CI);
//! without it the test is skipped, except in CI, where it fails.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use diesel::RunQueryDsl;
use openidconnect::OAuth2TokenResponse;

use crate::activation::app_post;
use crate::support::fixtures::{authorization_request, confidential_client, exchange, person, relying_party};
use crate::support::pages::PageClient;
use crate::support::sign_in::{first_sign_in, to_password_page};
use crate::support::{TestDb, TestServer, random_master_key, skipped};
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
    assert_eq!(retry_after.as_deref(), Some(portti::web::error_response::RETRY_AFTER_SECONDS));
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
