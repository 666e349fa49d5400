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

use crate::support::fixtures::{authorization_request, confidential_client, exchange, person, relying_party};
use crate::support::pages::PageClient;
use crate::support::sign_in::first_sign_in;
use crate::support::{TestDb, random_master_key, skipped};

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
    assert_eq!(retry_after.as_deref(), Some("5"));
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
