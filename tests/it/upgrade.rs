//! A rolling upgrade (issue 14, item 10): the previous release's binary
//! serves a database that this Portti migrated, beside this Portti, behind
//! one issuer, as two instances are while a load balancer moves from one
//! to the other. A person signs in on the old instance and their code,
//! tokens and session work on the new one, and the other way round.
//!
//! The previous release is the commit in `.ci/previous-release`, built by
//! `scripts/previous-release` into `target/previous-release/portti`.
//! Without it the test is skipped, except in CI (`CI` set), where it
//! fails: `.ci/run` builds it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::migrations::{NEWEST_OF_THE_PREVIOUS_RELEASE, breaking_statements, versions_in};
use crate::support::fixtures::relying_party;
use crate::support::fixtures::{CALLBACK, Request, authorization_request, code_of, confidential_client, http, person};
use crate::support::pages::PageClient;
use crate::support::sign_in::first_sign_in;
use crate::support::{Serving, TestDb, TestServer, served_on_both_backends, skipped};

/// What `scripts/previous-release` builds: the previous release's source
/// and its `portti`. Built from another commit than `.ci/previous-release`
/// pins, it is stale, and the test fails rather than pass on it.
fn previous_release() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = root.join("target/previous-release");
    if built.exists() {
        let commit = std::fs::read_to_string(built.join("commit")).unwrap_or_default();
        let pinned = std::fs::read_to_string(root.join(".ci/previous-release")).unwrap();
        let pinned = pinned.lines().find(|line| !line.is_empty() && !line.starts_with('#')).unwrap();
        assert_eq!(commit.trim(), pinned.trim(), "target/previous-release is stale: run scripts/previous-release");
    }
    built
}

/// Skips the test without the previous release, except in CI.
fn without_the_previous_release(missing: &Path) {
    let why = format!("{} is missing: scripts/previous-release builds it", missing.display());
    assert!(std::env::var_os("CI").is_none(), "{why}");
    skipped(&why);
}

/// The previous release as a process on a port of its own, behind the new
/// instance's issuer.
async fn previous_release_beside(db: &TestDb, new: &TestServer) -> Option<(Serving, String)> {
    let binary = previous_release().join("portti");
    if !binary.is_file() {
        without_the_previous_release(&binary);
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = db.command_of(&binary);
    command.arg("serve").env("PORTTI_BIND", format!("127.0.0.1:{port}")).env("PORTTI_ISSUER", &new.base);
    Some((Serving::start(command, &base).await, base))
}

async fn get_json(url: String, token: Option<&str>) -> (u16, Value) {
    let mut request = http().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn token_at(base: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response =
        http().post(format!("{base}/token")).basic_auth("ledger", Some(secret)).form(form).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The application's code exchange of `callback` at the instance at `base`.
async fn redeem_at(base: &str, secret: &str, callback: &str, request: &Request) -> (u16, Value) {
    let code = code_of(callback, request);
    let verifier = request.verifier.secret();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.secret().as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.as_str()),
    ];
    token_at(base, secret, &redeem).await
}

async fn previous_and_new_release_serve_side_by_side(db: &TestDb) {
    // The new release migrates the database and holds the people and clients.
    let new = db.serve("");
    person(&new.state, "maija@example.com");
    let secret = confidential_client(&new.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&new, "ledger", Some(&secret)).await;
    let Some((_old_process, old)) = previous_release_beside(db, &new).await else {
        new.stop().await;
        return;
    };

    // What did not change reads the same from both.
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let (old_status, old_body) = get_json(format!("{old}{path}"), None).await;
        assert_eq!(old_status, 200, "{path} on the previous release");
        assert_eq!(old_body, get_json(format!("{}{path}", new.base), None).await.1, "{path}");
    }

    // A first sign-in on the previous release's pages (its enrolment and
    // session written by the old code), the code redeemed at the new one.
    let pages = PageClient::new(&old);
    let request = authorization_request(&rp, &["email", "offline_access"]);
    let on_old = request.url.replacen(&new.base, &old, 1);
    let (callback, _, _) = first_sign_in(&pages, &on_old, "maija@example.com").await;
    let (status, tokens) = redeem_at(&new.base, &secret, &callback, &request).await;
    assert_eq!(status, 200, "the new release redeems the old one's code: {tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // The new release's tokens at the previous release, and back.
    let (status, userinfo) = get_json(format!("{old}/userinfo"), Some(access)).await;
    assert_eq!(status, 200, "{userinfo}");
    assert_eq!(userinfo["email"], "maija@example.com");
    let maija = userinfo["sub"].clone();
    let (status, rotated) =
        token_at(&old, &secret, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(status, 200, "the previous release rotates the new one's refresh token: {rotated}");
    let rotated_access = rotated["access_token"].as_str();
    let (status, userinfo) = get_json(format!("{}/userinfo", new.base), rotated_access).await;
    assert_eq!(status, 200, "{userinfo}");
    assert_eq!(userinfo["sub"], maija);
    // The spent refresh token at the new release is a reuse: it ends the
    // grant, and the previous release refuses its access token at once.
    let (status, again) =
        token_at(&new.base, &secret, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!((status, &again["error"]), (400, &serde_json::json!("invalid_grant")), "{again}");
    let (status, refused) = get_json(format!("{old}/userinfo"), rotated_access).await;
    assert_eq!(status, 401, "{refused}");

    // The session the previous release started signs in on the new one
    // without a step, and the new one's code is redeemed at the old one.
    let request = authorization_request(&rp, &["email", "offline_access"]);
    let callback = pages.open(&request.url).await.left();
    let (status, tokens) = redeem_at(&old, &secret, &callback, &request).await;
    assert_eq!(status, 200, "the previous release redeems the new one's code: {tokens}");
    let (status, userinfo) = get_json(format!("{}/userinfo", new.base), tokens["access_token"].as_str()).await;
    assert_eq!(status, 200, "{userinfo}");
    assert_eq!(userinfo["sub"], maija);
    new.stop().await;
}

served_on_both_backends!(previous_and_new_release_serve_side_by_side);

/// The previous release's migrations are all here, unchanged, and every
/// one it does not have only adds (`tests/it/migrations.rs`); its newest is
/// [`NEWEST_OF_THE_PREVIOUS_RELEASE`], where the quick check of those
/// additions starts.
#[test]
fn the_previous_releases_migrations_are_kept_and_the_new_ones_only_add() {
    let old = previous_release().join("source/migrations");
    if !old.is_dir() {
        return without_the_previous_release(&old);
    }
    let new = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let known = versions_in(&old.join("sqlite"));
    assert_eq!(known.last().map(String::as_str), Some(NEWEST_OF_THE_PREVIOUS_RELEASE));
    for backend in ["sqlite", "postgres"] {
        assert_eq!(versions_in(&old.join(backend)), known, "the previous release's {backend} migrations");
        for version in &known {
            for file in ["up.sql", "down.sql"] {
                let (was, is) =
                    (old.join(backend).join(version).join(file), new.join(backend).join(version).join(file));
                assert_eq!(std::fs::read(&was).ok(), std::fs::read(&is).ok(), "{} changed", is.display());
            }
        }
        for version in versions_in(&new.join(backend)).difference(&known) {
            let sql = std::fs::read_to_string(new.join(backend).join(version).join("up.sql")).unwrap();
            let breaking = breaking_statements(&sql);
            assert!(breaking.is_empty(), "{backend}/{version} breaks a rolling upgrade: {breaking:?}");
        }
    }
}
