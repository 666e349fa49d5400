//! Schemathesis (issue 14, item 6) against both JSON APIs, from their own
//! OpenAPI documents, with real access tokens so that its requests reach
//! past authentication: no answer is a 5xx, and every answer matches the
//! status, content type and schema its document gives.
//!
//! Schemathesis is a Python program (`pip install schemathesis`), named by
//! `PORTTI_SCHEMATHESIS` or found on `PATH`. Without it the test is skipped,
//! except in CI (`CI` set), where it fails: `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use portti::domain::access::CompanyRole;
use portti::domain::client::{ClientKind, NewClient, add_client};
use portti::domain::company::add_company;

use crate::admin_api::{admin_token, call, console};
use crate::devices::{APP, CURRENT, JWT_BEARER, api, app_first_sign_in};
use crate::support::fixtures::{CALLBACK, authorization_request, maija_and_ledger, member};
use crate::support::pages::PageClient;
use crate::support::{TestDb, skipped};

/// The schemathesis command, if there is one.
fn schemathesis() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PORTTI_SCHEMATHESIS") {
        return Some(PathBuf::from(path));
    }
    let found = Command::new("schemathesis").arg("--version").output();
    found.is_ok_and(|output| output.status.success()).then(|| PathBuf::from("schemathesis"))
}

/// Runs schemathesis on one API's document with `headers`; its report when
/// it found anything.
fn run(command: &PathBuf, base: &str, api: &str, config: &Path, headers: &[String]) -> Result<(), String> {
    let mut schemathesis = Command::new(command);
    schemathesis
        .arg("--no-color")
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .current_dir(config.parent().unwrap_or(Path::new(".")))
        .arg(format!("{base}/api/{api}/v1/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "40", "--workers", "1", "--seed", "14"])
        .arg("--generation-deterministic")
        .env("NO_COLOR", "1");
    for header in headers {
        schemathesis.args(["--header", header]);
    }
    let output = schemathesis.output().map_err(|e| format!("cannot run {}: {e}", command.display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

#[actix_web::test]
async fn schemathesis_finds_nothing_in_either_api() {
    let Some(command) = schemathesis() else {
        let why = "schemathesis is not installed (pip install schemathesis, or set PORTTI_SCHEMATHESIS)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        skipped(why);
        return;
    };
    let db = TestDb::sqlite();
    let server = db.serve(APP);
    let state = &server.state;

    // The admin API: customer service, who may call every operation, over
    // an office with a client company and a few people.
    let office = add_company(&state.store, 1, "Tilitoimisto Oy", None).unwrap();
    let client = add_company(&state.store, 1, "Asiakas Oy", Some(&office.id)).unwrap();
    member(state, "kh@example.com", &client.id, vec![CompanyRole::UserAdmin], false);
    let john = member(state, "john@example.com", &client.id, vec![], false);
    member(state, "service@example.com", &office.id, vec![], true);
    let console = console(&server).await;
    let support = admin_token(&server, &console, "service@example.com").await;

    // The app API: the app, signed in as a person of the client company.
    let grants: Vec<String> = ["authorization_code", "refresh_token", JWT_BEARER].map(str::to_owned).to_vec();
    let app = NewClient::parse("app", ClientKind::Public, &[CALLBACK.to_owned()], &[], &grants, true, None).unwrap();
    add_client(&state.store, 1, app).unwrap();
    let pages = PageClient::new(&server.base);
    let tokens = app_first_sign_in(&server, &pages, "john@example.com").await;
    let app_token = tokens["access_token"].as_str().unwrap();

    // Real ids for the paths, so that requests reach past "not found": the
    // client company, a person in it, and an invitation of theirs.
    let body = serde_json::json!({"company_id": client.id.as_str(), "identity_verified": true});
    let (status, invitation) = call(&server, &support, "POST", &format!("/users/{john}/invitations"), Some(body)).await;
    assert_eq!(status, 201, "{invitation}");
    let admin_config = db.dir.path().join("schemathesis-admin.toml");
    let ids = format!(
        "[parameters]\n\"path.company_id\" = \"{}\"\n\"path.user_id\" = \"{john}\"\n\"path.id\" = \"{}\"\n",
        client.id.as_str(),
        invitation["id"].as_str().unwrap()
    );
    std::fs::write(&admin_config, ids).unwrap();
    // And for the app: its registered device, and a QR code a browser shows.
    let phone = crate::devices::Phone::new();
    let body = serde_json::json!({"public_key": phone.jwk(), "name": "John's phone", "platform": "ios"});
    let (status, device) = api(&server, "POST", "/devices", Some(app_token), Some(CURRENT), Some(body)).await;
    assert_eq!(status, 201, "{device}");
    let ledger = maija_and_ledger(&server).await;
    let (_, _, page) =
        PageClient::new(&server.base).open(authorization_request(&ledger, &[]).url.as_str()).await.page();
    let (qr_id, _) = crate::qr::shown_code(&page);
    let app_config = db.dir.path().join("schemathesis-app.toml");
    let ids = format!(
        "[parameters]\n\"path.device_id\" = \"{}\"\n\"path.qr_id\" = \"{qr_id}\"\n",
        device["device_id"].as_str().unwrap()
    );
    std::fs::write(&app_config, ids).unwrap();

    let command_for = command.clone();
    let base = server.base.clone();
    let admin_headers = vec![format!("Authorization: Bearer {support}")];
    let app_headers = vec![format!("Authorization: Bearer {app_token}"), format!("Portti-App-Version: {CURRENT}")];
    let (admin, app) = actix_web::rt::task::spawn_blocking(move || {
        (
            run(&command_for, &base, "admin", &admin_config, &admin_headers),
            run(&command_for, &base, "app", &app_config, &app_headers),
        )
    })
    .await
    .unwrap();
    let mut failures = Vec::new();
    if let Err(report) = admin {
        failures.push(format!("admin API:\n{report}"));
    }
    if let Err(report) = app {
        failures.push(format!("app API:\n{report}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    server.stop().await;
}
