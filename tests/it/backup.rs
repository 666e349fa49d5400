//! Backing up and restoring (issue 14, item 9): `portti backup FILE` copies a
//! SQLite database while Portti serves; the copy, with the master key, is a
//! deployment a person signs in to; without the key it does not start.

use std::process::Command;

use portti::AppState;
use portti::clock::Clock;

use crate::support::fixtures::{authorization_request, confidential_client, exchange, person, relying_party};
use crate::support::pages::PageClient;
use crate::support::sign_in::{first_sign_in, sign_in};
use crate::support::{TestDb, now, portti_binary, random_master_key};

fn backup(db: &TestDb, file: &std::path::Path) -> std::process::Output {
    Command::new(portti_binary())
        .args(["backup", file.to_str().unwrap()])
        .current_dir(db.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORTTI_DATABASE_URL", &db.raw_url)
        .env("PORTTI_MASTER_KEY", &db.master_key)
        .output()
        .unwrap()
}

#[actix_web::test]
async fn a_backup_taken_while_serving_restores_and_signs_in() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let maija = person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&server, "ledger", Some(&secret)).await;
    let pages = PageClient::new(&server.base);
    let (_, totp, _) = first_sign_in(&pages, &authorization_request(&rp, &["openid"]).url, "maija@example.com").await;

    // Online: the server keeps serving while the copy is made.
    let file = db.path().join("backup.db");
    let made = backup(&db, &file);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let again = backup(&db, &file);
    assert!(!again.status.success(), "an existing file is not overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    server.stop().await;

    // Without the master key, the copy is of no use: it does not start.
    let stranger = TestDb::sqlite_at(&file, &random_master_key());
    let refused = AppState::open(stranger.settings(""), Clock::system());
    assert!(refused.is_err(), "another master key cannot open what the copy holds");

    // With it, Maija signs in with her password and authenticator as before.
    let restored = TestDb::sqlite_at(&file, &db.master_key);
    let server = restored.serve("");
    let rp = relying_party(&server, "ledger", Some(&secret)).await;
    let pages = PageClient::new(&server.base);
    let request = authorization_request(&rp, &["openid"]);
    let callback = sign_in(&pages, &request.url, "maija@example.com", &totp, now() + 30).await.left();
    let tokens = exchange(&rp, &callback, &request).await;
    let claims = openidconnect::TokenResponse::id_token(&tokens)
        .unwrap()
        .claims(&rp.id_token_verifier(), &request.nonce)
        .unwrap();
    assert_eq!(claims.subject().as_str(), maija.as_str());
    server.stop().await;
}

#[test]
fn a_postgresql_database_is_backed_up_with_its_own_tools() {
    let Some(db) = TestDb::postgres() else { return };
    let output = backup(&db, &db.path().join("backup.db"));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("pg_dump"), "{}", String::from_utf8_lossy(&output.stderr));
}
