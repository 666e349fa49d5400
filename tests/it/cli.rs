//! The `portti` command line, run as a newcomer or a script runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use crate::support::{TestDb, portti_binary, random_master_key};

/// `portti` in a directory of its own with a clean environment.
fn portti(dir: &std::path::Path) -> Command {
    let mut command = Command::new(portti_binary());
    command.current_dir(dir).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object on stdout: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

fn failure(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    assert!(output.stdout.is_empty(), "nothing on stdout when failing");
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn a_newcomer_creates_a_company_and_users_in_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| portti(dir.path()).args(args).output().unwrap();

    let first = run(&["company", "add", "--name", "Tilitoimisto Oy"]);
    let office = json(&first);
    let office_id = office["id"].as_str().unwrap().to_owned();
    assert!(dir.path().join("portti.db").is_file(), "SQLite file beside the working directory");
    assert!(dir.path().join("portti.key").is_file(), "master key generated on first start");
    assert!(String::from_utf8_lossy(&first.stderr).contains("generated a new master key"), "and the log says so");

    let second = run(&["company", "add", "--name", "Asiakas Oy", "--office", &office_id]);
    assert!(!String::from_utf8_lossy(&second.stderr).contains("generated"), "the key is generated once");
    let client = json(&second);
    assert_eq!(client["office_id"], office_id.as_str());
    let client_id = client["id"].as_str().unwrap().to_owned();

    let user = json(&run(&[
        "user",
        "add",
        "--email",
        "Maija@Example.com",
        "--name",
        "Maija Meikäläinen",
        "--phone",
        "+358 40 1234567",
        "--company",
        &office_id,
        "--role",
        "office_admin",
        "--role",
        "support",
        "--right",
        &format!("{client_id}:ledger"),
        "--national-id",
        "131052-308T",
        "--password",
        "lumiukko kahvipannu purjevene",
    ]));
    assert_eq!(user["email"], "maija@example.com");
    assert_eq!(user["phone"], "+358401234567");
    assert_eq!(user["communication"]["phone"], "+358401234567");
    assert_eq!(user["support"], true);
    assert_eq!(user["has_national_id"], true);
    assert!(!user.to_string().contains("131052"), "the identity code is never printed");
    let memberships = user["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 2);

    let registered = json(&run(&["client", "add", "--id", "ledger", "--redirect-uri", "https://ledger.example/cb"]));
    assert_eq!(registered["client_secret"].as_str().unwrap().len(), 43);
    assert_eq!(registered["grants"], serde_json::json!(["authorization_code", "refresh_token"]));
    let public = json(&run(&[
        "client",
        "add",
        "--id",
        "mobile",
        "--public",
        "--redirect-uri",
        "fi.example.app:/cb",
        "--alg",
        "EdDSA",
    ]));
    assert!(public.get("client_secret").is_none());
    assert_eq!(public["public"], true);
    let tv = json(&run(&[
        "client",
        "add",
        "--id",
        "tv",
        "--public",
        "--name",
        "Living-room TV",
        "--grant",
        "urn:ietf:params:oauth:grant-type:device_code",
    ]));
    assert_eq!(tv["name"], "Living-room TV", "the name the approval pages show");
    assert_eq!(tv["grants"], serde_json::json!(["urn:ietf:params:oauth:grant-type:device_code"]));

    // Roles pair with the --company before them.
    let admin = json(&run(&[
        "user",
        "add",
        "--email",
        "kh@example.com",
        "--name",
        "Kaisa",
        "--company",
        &client_id,
        "--role",
        "user_admin",
        "--company",
        &office_id,
        "--role",
        "office_admin",
    ]));
    let roles_in = |company: &str| {
        admin["memberships"].as_array().unwrap().iter().find(|m| m["company_id"] == company).unwrap()["roles"].clone()
    };
    assert_eq!(roles_in(&client_id), serde_json::json!(["user_admin"]));
    assert_eq!(roles_in(&office_id), serde_json::json!(["office_admin"]));
    let orphan = failure(&run(&["user", "add", "--email", "x@example.com", "--name", "X", "--role", "user_admin"]));
    assert!(orphan.contains("must follow the --company"), "{orphan}");
}

#[test]
fn the_test_suites_own_variables_do_not_upset_a_running_portti() {
    let dir = tempfile::tempdir().unwrap();
    let output = portti(dir.path())
        .env("PORTTI_TEST_POSTGRES_URL", "postgres://root@127.0.0.1:5432/test")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(json(&output)["migrated"], true);
}

#[test]
fn invalid_input_gets_a_message_a_person_can_act_on() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| portti(dir.path()).args(args).output().unwrap();

    let phone = failure(&run(&["user", "add", "--email", "a@example.com", "--name", "A", "--phone", "040-123.4567"]));
    assert!(phone.contains("contains “-”") && phone.contains("+358401234567"), "{phone}");
    let hetu =
        failure(&run(&["user", "add", "--email", "a@example.com", "--name", "A", "--national-id", "131052-308U"]));
    assert!(hetu.contains("wrong check character"), "{hetu}");
    let email = failure(&run(&["user", "add", "--email", "a@", "--name", "A"]));
    assert!(email.contains("name@example.com"), "{email}");
    let secret = failure(&run(&["client", "add", "--id", "x", "--secret", "short", "--redirect-uri", "https://x.fi/"]));
    assert!(secret.contains("at least 32"), "{secret}");
    let office = failure(&run(&["company", "add", "--name", "X", "--office", "not-an-id"]));
    assert!(office.contains("not a valid CompanyId"), "{office}");

    // None of it was stored.
    let status = json(&run(&["outbox", "status"]));
    assert_eq!(status["pending"], 0);
    let ok = json(&run(&["user", "add", "--email", "a@example.com", "--name", "A"]));
    assert_eq!(ok["email"], "a@example.com", "the refused attempts left no user behind");
}

#[test]
fn variables_a_platform_sets_are_a_warning_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    // What Kubernetes sets for a Service named `portti`; and a typo, which is named just the same.
    let output = portti(dir.path())
        .env("PORTTI_PORT", "tcp://10.0.0.1:8080")
        .env("PORTTI_SERVICE_HOST", "10.0.0.1")
        .env("PORTTI_ISUER", "https://typo.example")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(json(&output)["migrated"], true);
    let log = String::from_utf8(output.stderr).unwrap();
    for variable in ["PORTTI_PORT", "PORTTI_SERVICE_HOST", "PORTTI_ISUER"] {
        let line = log.lines().find(|line| line.contains(variable)).unwrap_or_else(|| panic!("{variable}: {log}"));
        assert!(line.contains("WARN"), "{line}");
    }
    assert!(!log.contains("10.0.0.1") && !log.contains("typo.example"), "never the values: {log}");
}

#[test]
fn configuration_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = portti(dir.path()).env("PORTTI_DATABASE_POOL_SIZE", "many").arg("migrate").output().unwrap();
    assert!(failure(&bad).contains("PORTTI_DATABASE_POOL_SIZE"));

    std::fs::write(dir.path().join("portti.toml"), "[mail]\nsmpt_url = \"smtp://x\"\n").unwrap();
    let file = portti(dir.path()).args(["migrate", "--config", "portti.toml"]).output().unwrap();
    assert!(failure(&file).contains("smpt_url"));

    let missing = portti(dir.path()).args(["migrate", "--config", "nope.toml"]).output().unwrap();
    assert!(failure(&missing).contains("nope.toml"));
}

#[test]
fn an_unreachable_postgres_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = portti(dir.path())
        .env("PORTTI_DATABASE_URL", "postgres://portti:secret-password@127.0.0.1:1/portti")
        .arg("migrate")
        .output()
        .unwrap();
    let message = failure(&output);
    assert!(
        message.contains("cannot connect to the database at postgres://portti:***@127.0.0.1:1/portti"),
        "{message}"
    );
    assert!(!message.contains("secret-password"));
}

#[actix_web::test]
async fn with_no_command_it_serves_answers_health_checks_and_stops_on_sigterm() {
    let db = TestDb::sqlite();
    let mut child = portti(db.path())
        .env("PORTTI_BIND", "127.0.0.1:0")
        .env("PORTTI_LOG_FORMAT", "json")
        .env("PORTTI_MASTER_KEY", random_master_key())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
        .find(|log| log["message"] == "Portti is listening")
        .map(|log| log["address"].as_str().unwrap().to_owned())
        .expect("a JSON log line saying where Portti listens");

    let health = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), r#"{"status":"ready"}"#);

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
}

#[test]
fn keys_rotate_prints_the_new_kid() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| portti(dir.path()).args(args).output().unwrap();
    let first = json(&run(&["keys", "rotate"]));
    let second = json(&run(&["keys", "rotate"]));
    assert_eq!(first["keys"].as_array().unwrap().len(), 3, "one per algorithm");
    let kid = first["kid"].as_str().unwrap();
    assert_eq!(kid.len(), 43, "an RFC 7638 thumbprint");
    assert_ne!(second["kid"], first["kid"]);
}

#[test]
fn upstream_keys_are_printed_for_brokers_and_rotated_a_day_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| portti(dir.path()).args(args).output().unwrap();
    let keys = json(&run(&["upstream", "keys"]));
    let mut uses: Vec<&str> = keys["keys"].as_array().unwrap().iter().map(|k| k["use"].as_str().unwrap()).collect();
    uses.sort_unstable();
    assert_eq!(uses, ["enc", "sig"]);
    assert!(keys["keys"].as_array().unwrap().iter().all(|k| k.get("d").is_none()), "public keys only");
    assert_eq!(json(&run(&["upstream-keys", "show"])), keys, "the same keys, printed again");

    let rotated = json(&run(&["upstream-keys", "rotate"]));
    let now = crate::support::now();
    for key in rotated["keys"].as_array().unwrap() {
        let used_from = key["used_from"].as_i64().unwrap();
        assert!((now + 86_000..=now + 86_500).contains(&used_from), "used from a day on: {key}");
    }
    let published = json(&run(&["upstream", "keys"]));
    assert_eq!(published["keys"].as_array().unwrap().len(), 4, "published at once, beside the old ones");
}

#[test]
fn a_compromised_signing_key_is_rotated_at_once_and_retired() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| portti(dir.path()).args(args).output().unwrap();
    let first = json(&run(&["keys", "rotate", "--now"]));
    let now = crate::support::now();
    let rs256 = first["keys"].as_array().unwrap().iter().find(|k| k["alg"] == "RS256").unwrap().clone();
    assert!(rs256["signs_from"].as_i64().unwrap() <= now, "signs at once: {rs256}");
    let current = first["kid"].as_str().unwrap().to_owned();
    let second = json(&run(&["keys", "rotate", "--now"]));
    let error = failure(&run(&["keys", "retire", second["kid"].as_str().unwrap()]));
    assert!(error.contains("rotate --now"), "{error}");
    assert_eq!(json(&run(&["keys", "retire", &current])), serde_json::json!({ "retired": current }));
    let error = failure(&run(&["keys", "retire", &current]));
    assert!(error.contains("no published signing key"), "retired once: {error}");
}
