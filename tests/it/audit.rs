//! The audit trail: every sign-in, failure, lock and change of an account is
//! recorded with its time, person, application, address and request id —
//! never a secret — and `portti audit --user ID` prints it.

use portti::domain::contact::Email;

use crate::support::TestDb;
use crate::support::fixtures::{PASSWORD, authorization_request, maija_and_ledger};
use crate::support::pages::PageClient;
use crate::support::sign_in::{first_sign_in, to_password_page};

async fn what_happens_to_an_account_is_recorded(db: TestDb) {
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    let url = authorization_request(&rp, &[]).url;

    // A wrong password, then a first sign-in, then a wrong authenticator code.
    let page = to_password_page(&pages, &url, "maija@example.com").await;
    pages.submit(&page, "/password", &[("password", "the wrong password")]).await.page();
    let (_, _, recovery) = first_sign_in(&pages, &url, "maija@example.com").await;
    let other = PageClient::new(&server.base);
    let page = to_password_page(&other, &url, "maija@example.com").await;
    let (_, _, page) = other.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    other.submit(&page, "/code", &[("code", "000000")]).await.page();
    // Everywhere signed out, from the account page.
    let (_, _, page) = pages.open("/account").await.page();
    pages.submit(&page, "/account/sign-out-everywhere", &[]).await.page();

    let email = Email::parse("maija@example.com").unwrap();
    let user = server.state.store.read(|r| r.user_id_by_email(&email)).unwrap().unwrap();
    let events = portti::domain::audit::events_of(&server.state.store, &user).unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    // (ledger is first-party: no consent is asked, so none is recorded.)
    assert_eq!(actions, ["sign_in_failed", "sign_in", "sign_in_failed", "sessions_ended"]);
    let failed = &events[0];
    assert_eq!(failed.detail.as_ref().unwrap()["step"], "password");
    assert_eq!(failed.client_id.as_deref(), Some("ledger"));
    assert_eq!(failed.ip.as_deref(), Some("127.0.0.1"));
    assert!(failed.request_id.as_deref().is_some_and(|id| !id.is_empty()), "with the request id");
    assert_eq!(events[1].detail.as_ref().unwrap()["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(events[2].detail.as_ref().unwrap()["step"], "authenticator_code");
    assert!(events.iter().all(|e| e.at.ends_with('Z')), "times in RFC 3339 UTC");
    let everything = serde_json::to_string(&events).unwrap();
    for secret in ["the wrong password", PASSWORD, "000000", recovery[0].as_str()] {
        assert!(!everything.contains(secret), "no secret in the trail");
    }

    // The operator reads it with the command line.
    let output = std::process::Command::new(crate::support::portti_binary())
        .current_dir(db.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORTTI_DATABASE_URL", &db.raw_url)
        .env("PORTTI_MASTER_KEY", &db.master_key)
        .args(["audit", "--user", user.as_str()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), events.len(), "one JSON object a line");
    assert_eq!(lines[1]["action"], "sign_in");
    assert_eq!(lines[1]["user_id"], user.as_str());
    server.stop().await;
}

#[actix_web::test]
async fn what_happens_to_an_account_is_recorded_on_sqlite() {
    what_happens_to_an_account_is_recorded(TestDb::sqlite()).await;
}

#[actix_web::test]
async fn what_happens_to_an_account_is_recorded_on_postgres() {
    let Some(db) = TestDb::postgres() else { return };
    what_happens_to_an_account_is_recorded(db).await;
}
