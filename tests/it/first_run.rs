//! The first run: on an empty database `portti serve` logs a single-use
//! link, valid an hour, that creates the first customer-service account.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use diesel::prelude::*;
use portti::domain::first_run::{self, FirstAccount};
use portti::error::{Error, Refusal};
use portti::store::schema::users;

use crate::support::pages::PageClient;
use crate::support::{TestDb, on_both_backends, portti_binary};

on_both_backends!(the_link_creates_one_support_account_once);

fn the_link_creates_one_support_account_once(db: &TestDb) {
    let state = db.open("");
    let now = state.clock.now();
    let link = first_run::offer_link(&state.store, now, "https://login.example").unwrap().expect("a link");
    let token = link.strip_prefix("https://login.example/setup/").unwrap().to_owned();
    let account = |password: &str| FirstAccount {
        name: "Asiakaspalvelu".into(),
        email: "support@example.com".into(),
        password: password.into(),
        confirmation: password.into(),
    };
    let origin = Default::default();
    // A weak password is refused and spends nothing.
    let weak = first_run::create_support(&state.store, &state.keys, &origin, now, &token, account("password1"));
    assert!(
        matches!(weak, Err(Error::Refused(Refusal::PasswordTooShort { .. } | Refusal::PasswordTooEasy))),
        "{weak:?}"
    );
    // After the hour it no longer works.
    let late = first_run::check(&state.store, now + 3600, &token);
    assert!(matches!(late, Err(Error::Refused(Refusal::SetupLinkExpired))));

    let id = first_run::create_support(
        &state.store,
        &state.keys,
        &origin,
        now + 60,
        &token,
        account("kolme iloista kirahvia"),
    )
    .unwrap();
    let support: bool = users::table.find(id.as_str()).select(users::support).get_result(&mut db.connection()).unwrap();
    assert!(support);
    let again = first_run::create_support(
        &state.store,
        &state.keys,
        &origin,
        now + 61,
        &token,
        account("neljä iloista kirahvia"),
    );
    assert!(matches!(again, Err(Error::Refused(Refusal::SetupLinkExpired))), "{again:?}");
    assert_eq!(users::table.count().get_result::<i64>(&mut db.connection()).unwrap(), 1);
    assert_eq!(
        first_run::offer_link(&state.store, now + 62, "https://login.example").unwrap(),
        None,
        "users exist now"
    );
}

#[actix_web::test]
async fn portti_serve_logs_the_link_on_an_empty_database() {
    let db = TestDb::sqlite();
    let mut child = Command::new(portti_binary())
        .current_dir(db.path())
        .env("PORTTI_DATABASE_URL", &db.raw_url)
        .env("PORTTI_BIND", "127.0.0.1:0")
        .env("PORTTI_ISSUER", "http://login.invalid")
        .env("PORTTI_LOG_FORMAT", "json")
        .env("PORTTI_MASTER_KEY", &db.master_key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut logs = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok());
    let listening = logs.by_ref().find(|log| log["message"] == "Portti is listening").expect("a listening line");
    let address = listening["address"].as_str().unwrap().to_owned();
    let offered =
        logs.find(|log| log["message"].as_str().is_some_and(|m| m.starts_with("No users yet"))).expect("the link");
    let link = offered["link"].as_str().unwrap();
    let path = link.strip_prefix("http://login.invalid").expect("a link under the issuer");
    assert!(path.starts_with("/setup/"), "{link}");

    let pages = PageClient::new(&address);
    let (_, status, page) = pages.open(path).await.page();
    assert_eq!(status, 200);
    for label in ["Name", "Email", "New password", "Confirm new password"] {
        assert!(page.contains(&format!(">{label}</label>")), "{label}: {page}");
    }
    let password = "kolme iloista kirahvia";
    let fields = [
        ("name", "Asiakaspalvelu"),
        ("email", "support@example.com"),
        ("new_password", password),
        ("confirm_password", password),
    ];
    pages.submit(&page, "", &fields).await;
    let support: Vec<bool> = users::table.select(users::support).load(&mut db.connection()).unwrap();
    assert_eq!(support, [true], "one customer-service account");
    let (_, status, _) = pages.open(path).await.page();
    assert_eq!(status, 404, "the link works once");

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}
