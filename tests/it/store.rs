//! The store contract: every rule about what is written, run on SQLite and on
//! PostgreSQL.

use diesel::prelude::*;
use portti::clock::Clock;
use portti::config::{Config, Settings};
use portti::crypto::Keys;
use portti::domain::access::{AccessRight, CompanyRole};
use portti::domain::client::{ClientId, ClientKind, NewClient, add_client, sync_config_clients};
use portti::domain::company::add_company;
use portti::domain::contact::{Email, PhoneNumber};
use portti::domain::user::{MembershipInput, NewUserInput, add_user};
use portti::error::Error;
use portti::notify::{Message, enqueue};
use portti::store::schema::{outbox, users};
use portti::{AppState, store::Store};

use crate::support::{TestDb, on_both_backends, random_master_key};

mod flows;
mod grants;
mod password_resets;
mod sessions;
mod sweeps;
mod throttle;

on_both_backends!(
    migrations_run_once,
    offices_and_client_companies,
    users_with_memberships_and_contacts,
    personal_identity_code_is_stored_only_as_keyed_hash,
    duplicates_are_conflicts_and_write_nothing,
    invalid_memberships_write_nothing,
    clients_store_only_a_secret_digest,
    config_clients_are_synced,
    outbox_message_is_written_with_its_transaction,
    outbox_leases_are_exclusive,
    concurrent_workers_never_claim_one_message_twice,
    an_outcome_is_not_recorded_after_the_lease_is_lost,
    a_different_master_key_is_refused,
    housekeeping_deletes_only_what_has_ended,
);

fn user_input(email: &str) -> NewUserInput {
    NewUserInput { email: email.to_owned(), name: "Maija Meikäläinen".to_owned(), ..Default::default() }
}

/// A person with nothing but an email and a name.
fn person(state: &AppState, email: &str) -> portti::domain::ids::UserId {
    add_user(&state.store, &state.keys, 1, user_input(email)).unwrap().user.id
}

/// Registers the public client `app`, that grants in these tests belong to.
fn app_client(state: &AppState) {
    let app = NewClient::parse("app", ClientKind::Public, &["https://a.example/cb".to_owned()], &[], &[], false, None)
        .unwrap();
    add_client(&state.store, 1, app).unwrap();
}

fn user_count(db: &TestDb) -> i64 {
    users::table.count().get_result(&mut db.connection()).unwrap()
}

fn migrations_run_once(db: &TestDb) {
    let store = Store::connect(&db.url, 2).unwrap();
    let versions = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap().count();
    assert_eq!(store.migrate().unwrap().len(), versions, "every migration applies on a fresh database");
    assert!(store.migrate().unwrap().is_empty(), "a second run applies nothing");
    store.ping().unwrap();
}

fn offices_and_client_companies(db: &TestDb) {
    let state = db.open("");
    let office = add_company(&state.store, 100, "Tilitoimisto Oy", None).unwrap();
    let client = add_company(&state.store, 100, "  Asiakas Oy ", Some(&office.id)).unwrap();
    assert_eq!(client.name, "Asiakas Oy");
    assert_eq!(state.store.read(|r| r.company(&client.id)).unwrap(), Some(client.clone()));
    assert_eq!(state.store.read(|r| r.client_companies(&office.id)).unwrap(), vec![client.clone()]);

    let nested = add_company(&state.store, 100, "Alihankkija Oy", Some(&client.id));
    assert!(
        matches!(nested, Err(Error::Refused(portti::error::Refusal::OfficeIsAClient { .. }))),
        "a client company cannot have clients"
    );
    let missing = add_company(&state.store, 100, "X", Some(&portti::domain::ids::CompanyId::generate()));
    assert!(matches!(missing, Err(Error::NotFound(_))));
    assert!(matches!(add_company(&state.store, 100, "   ", None), Err(Error::Refused(_))));
}

fn users_with_memberships_and_contacts(db: &TestDb) {
    let state = db.open("");
    let office = add_company(&state.store, 1, "Tilitoimisto Oy", None).unwrap();
    let client = add_company(&state.store, 1, "Asiakas Oy", Some(&office.id)).unwrap();
    let mut input = user_input("Maija@Example.com");
    input.phone = Some("040 1234567".to_owned());
    input.password = Some("lumiukko kahvipannu purjevene".to_owned());
    input.support = true;
    input.memberships = vec![
        MembershipInput { company_id: office.id.clone(), roles: vec![CompanyRole::OfficeAdmin], rights: vec![] },
        MembershipInput {
            company_id: client.id.clone(),
            roles: vec![],
            rights: vec![AccessRight::parse("ledger").unwrap(), AccessRight::parse("hours_only").unwrap()],
        },
    ];
    let created = add_user(&state.store, &state.keys, 7, input).unwrap();
    let user = state.store.read(|r| r.user(&created.user.id)).unwrap().unwrap();
    assert_eq!(user, created.user);
    assert_eq!(user.email, Email::parse("maija@example.com").unwrap());
    assert_eq!(user.phone, Some(PhoneNumber::parse("+358401234567").unwrap()));
    assert_eq!(user.communication.email, user.email, "communication email starts as the basic one");
    assert_eq!(user.communication.phone, user.phone);
    assert!(!user.communication.email_verified && !user.communication.phone_verified);
    assert!(user.support && user.has_password && !user.has_national_id);

    let memberships = state.store.read(|r| r.memberships(&user.id)).unwrap();
    assert_eq!(memberships, created.memberships);
    let at_office = memberships.iter().find(|m| m.company_id == office.id).unwrap();
    assert_eq!(at_office.roles, vec![CompanyRole::OfficeAdmin]);
    let at_client = memberships.iter().find(|m| m.company_id == client.id).unwrap();
    let rights: Vec<&str> = at_client.rights.iter().map(|r| r.as_str()).collect();
    assert_eq!(rights, vec!["hours_only", "ledger"]);

    let hash: Option<String> =
        users::table.find(user.id.as_str()).select(users::password_hash).get_result(&mut db.connection()).unwrap();
    let hash = hash.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(portti::crypto::password::verify_password("lumiukko kahvipannu purjevene", &hash).unwrap());
}

fn personal_identity_code_is_stored_only_as_keyed_hash(db: &TestDb) {
    let state = db.open("");
    let mut input = user_input("maija@example.com");
    input.national_id = Some("131052-308T".to_owned());
    let user = add_user(&state.store, &state.keys, 1, input).unwrap().user;
    assert!(user.has_national_id);
    let digest: Option<String> =
        users::table.find(user.id.as_str()).select(users::national_id_digest).get_result(&mut db.connection()).unwrap();
    let digest = digest.unwrap();
    assert!(!digest.contains("131052"));
    assert_eq!(digest, state.keys.national_id_digest("131052-308T").unwrap());
    assert_eq!(state.store.read(|r| r.user_id_by_national_id_digest(&digest)).unwrap(), Some(user.id));

    let mut wrong = user_input("other@example.com");
    wrong.national_id = Some("131052-308U".to_owned());
    let err = add_user(&state.store, &state.keys, 1, wrong).unwrap_err();
    assert!(err.to_string().contains("check character"), "{err}");
    assert_eq!(user_count(db), 1);
}

fn duplicates_are_conflicts_and_write_nothing(db: &TestDb) {
    let state = db.open("");
    let mut first = user_input("maija@example.com");
    first.national_id = Some("131052-308T".to_owned());
    add_user(&state.store, &state.keys, 1, first).unwrap();
    let same_email = add_user(&state.store, &state.keys, 1, user_input("MAIJA@example.com"));
    assert!(matches!(same_email, Err(Error::Refused(portti::error::Refusal::EmailTaken))), "{same_email:?}");
    let mut same_id = user_input("other@example.com");
    same_id.national_id = Some("131052-308t".to_owned());
    let same_id = add_user(&state.store, &state.keys, 1, same_id);
    assert!(matches!(same_id, Err(Error::Refused(portti::error::Refusal::NationalIdTaken))), "{same_id:?}");
    assert_eq!(user_count(db), 1);

    let client = || {
        NewClient::parse("ledger", ClientKind::Public, &["https://ledger.example/cb".to_owned()], &[], &[], false, None)
            .unwrap()
    };
    add_client(&state.store, 1, client()).unwrap();
    assert!(matches!(add_client(&state.store, 1, client()), Err(Error::Conflict(_))));
}

fn invalid_memberships_write_nothing(db: &TestDb) {
    let state = db.open("");
    let office = add_company(&state.store, 1, "Tilitoimisto Oy", None).unwrap();
    let client = add_company(&state.store, 1, "Asiakas Oy", Some(&office.id)).unwrap();
    let mut input = user_input("maija@example.com");
    input.memberships =
        vec![MembershipInput { company_id: client.id.clone(), roles: vec![CompanyRole::OfficeAdmin], rights: vec![] }];
    assert!(matches!(add_user(&state.store, &state.keys, 1, input.clone()), Err(Error::InvalidRequest(_))));
    input.memberships[0].company_id = portti::domain::ids::CompanyId::generate();
    assert!(matches!(add_user(&state.store, &state.keys, 1, input), Err(Error::NotFound(_))));
    let mut weak = user_input("maija@example.com");
    weak.password = Some("password123".to_owned());
    assert!(matches!(add_user(&state.store, &state.keys, 1, weak), Err(Error::Refused(_))));
    assert_eq!(user_count(db), 0);
}

fn clients_store_only_a_secret_digest(db: &TestDb) {
    let state = db.open("");
    let new = NewClient::parse(
        "ledger",
        ClientKind::Confidential { secret: None },
        &["https://ledger.example/cb".to_owned()],
        &["https://ledger.example/bye".to_owned()],
        &["authorization_code".to_owned(), "client_credentials".to_owned()],
        true,
        Some("ES256"),
    )
    .unwrap();
    let registered = add_client(&state.store, 5, new).unwrap();
    let secret = registered.client_secret.clone().unwrap();
    let stored = state.store.read(|r| r.client(&ClientId::parse("ledger").unwrap())).unwrap().unwrap();
    assert_eq!(stored, registered.client);
    assert_ne!(stored.secret_digest.as_deref(), Some(secret.as_str()));
    assert!(stored.secret_matches(&secret));
    assert!(!stored.secret_matches(&secret[1..]));
    assert_eq!(stored.post_logout_redirect_uris, vec!["https://ledger.example/bye"]);
    assert!(stored.first_party);
    assert!(state.store.read(|r| r.client(&ClientId::parse("nobody").unwrap())).unwrap().is_none());
}

fn config_clients_are_synced(db: &TestDb) {
    let toml = |uri: &str| {
        format!(
            "[[clients]]\nid = \"payroll\"\nsecret = \"0123456789abcdef0123456789abcdef\"\nredirect_uris = [\"{uri}\"]\n"
        )
    };
    let state = db.open(&toml("https://payroll.example/cb"));
    let id = ClientId::parse("payroll").unwrap();
    let client = state.store.read(|r| r.client(&id)).unwrap().unwrap();
    assert!(client.secret_matches("0123456789abcdef0123456789abcdef"));

    // A changed file is applied at the next start.
    let settings = Settings::from_config(
        Config::from_toml(&format!("database_url = {:?}\n{}", db.raw_url, toml("https://payroll.example/new-cb")))
            .unwrap(),
    )
    .unwrap();
    sync_config_clients(&state.store, 2, &settings.clients).unwrap();
    let client = state.store.read(|r| r.client(&id)).unwrap().unwrap();
    assert_eq!(client.redirect_uris, vec!["https://payroll.example/new-cb"]);

    // A client taken out of the file is removed.
    sync_config_clients(&state.store, 3, &[]).unwrap();
    assert!(state.store.read(|r| r.client(&id)).unwrap().is_none());

    // A CLI client is never overwritten, nor removed, by the file.
    let cli =
        NewClient::parse("cli-app", ClientKind::Public, &["https://a.example/cb".to_owned()], &[], &[], false, None)
            .unwrap();
    add_client(&state.store, 1, cli.clone()).unwrap();
    assert!(matches!(sync_config_clients(&state.store, 3, std::slice::from_ref(&cli)), Err(Error::Config(_))));
    sync_config_clients(&state.store, 3, &[]).unwrap();
    assert!(state.store.read(|r| r.client(&cli.id)).unwrap().is_some());
}

fn outbox_message_is_written_with_its_transaction(db: &TestDb) {
    let state = db.open("");
    let message = Message::Sms { to: PhoneNumber::parse("+358401234567").unwrap(), text: "Code 123456".to_owned() };
    let failed: Result<(), Error> = state.store.write(|tx| {
        enqueue(tx, &state.keys, 1, &message, None)?;
        Err(Error::InvalidRequest("the code it carried was refused".to_owned()))
    });
    assert!(failed.is_err());
    assert_eq!(state.store.read(|r| r.outbox_counts()).unwrap().pending, 0, "rolled back with its transaction");

    state.store.write(|tx| enqueue(tx, &state.keys, 1, &message, None)).unwrap();
    let sealed: Vec<Option<String>> = outbox::table.select(outbox::sealed_content).load(&mut db.connection()).unwrap();
    assert_eq!(sealed.len(), 1);
    assert!(!sealed[0].as_deref().unwrap().contains("123456"), "content is sealed at rest");
}

fn outbox_leases_are_exclusive(db: &TestDb) {
    let state = db.open("");
    for n in 0..3 {
        let message =
            Message::Email { to: Email::parse("a@example.com").unwrap(), subject: format!("{n}"), body: String::new() };
        state.store.write(|tx| enqueue(tx, &state.keys, 100, &message, None)).unwrap();
    }
    let first = state.store.write(|tx| tx.claim_due_messages(100, 160, 2)).unwrap();
    let second = state.store.write(|tx| tx.claim_due_messages(100, 160, 10)).unwrap();
    assert_eq!((first.len(), second.len()), (2, 1), "a leased message is not handed out again");
    assert!(first.iter().all(|m| second.iter().all(|s| s.id != m.id)));
    assert!(state.store.write(|tx| tx.claim_due_messages(159, 219, 10)).unwrap().is_empty());
    // The worker holding them died: after the lease they are taken again, the attempt counted.
    let retaken = state.store.write(|tx| tx.claim_due_messages(160, 220, 10)).unwrap();
    assert_eq!(retaken.len(), 3);
    assert!(retaken.iter().all(|m| m.attempts == 2));

    assert!(state.store.write(|tx| tx.mark_message_sent(&retaken[0], 161)).unwrap());
    assert!(state.store.write(|tx| tx.mark_message_failed(&retaken[1], 161, "gave up")).unwrap());
    let counts = state.store.read(|r| r.outbox_counts()).unwrap();
    assert_eq!((counts.pending, counts.sent, counts.failed), (1, 1, 1));
    let erased: i64 =
        outbox::table.filter(outbox::sealed_content.is_null()).count().get_result(&mut db.connection()).unwrap();
    assert_eq!(erased, 2, "content is erased once a message is finished");
}

fn a_different_master_key_is_refused(db: &TestDb) {
    let state = db.open("");
    let other = Keys::from_master(&rand::random::<[u8; 32]>());
    assert!(matches!(state.store.verify_master_key(&other), Err(Error::Config(_))));
    state.store.verify_master_key(&state.keys).unwrap();
    let mut settings = db.settings("");
    settings.master_key = portti::config::MasterKeySource::Inline(random_master_key());
    let err = AppState::open(settings, Clock::system()).unwrap_err();
    assert!(err.to_string().contains("master key"), "{err}");
}

fn concurrent_workers_never_claim_one_message_twice(db: &TestDb) {
    let state = db.open("");
    for n in 0..40 {
        let message = Message::Sms { to: PhoneNumber::parse("+358401234567").unwrap(), text: format!("{n}") };
        state.store.write(|tx| enqueue(tx, &state.keys, 100, &message, None)).unwrap();
    }
    let barrier = std::sync::Barrier::new(4);
    let claimed: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let mut mine = Vec::new();
                    loop {
                        let batch = state.store.write(|tx| tx.claim_due_messages(100, 200, 3)).unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|m| m.id.to_string()));
                    }
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().unwrap()).collect()
    });
    let distinct: std::collections::HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), 40, "every message claimed once");
    assert_eq!(distinct.len(), 40, "no message claimed twice");
}

fn an_outcome_is_not_recorded_after_the_lease_is_lost(db: &TestDb) {
    let state = db.open("");
    let message = Message::Sms { to: PhoneNumber::parse("+358401234567").unwrap(), text: "code".to_owned() };
    state.store.write(|tx| enqueue(tx, &state.keys, 100, &message, None)).unwrap();
    let slow = state.store.write(|tx| tx.claim_due_messages(100, 160, 1)).unwrap().remove(0);
    // The slow worker's lease runs out and another worker takes the message.
    let other = state.store.write(|tx| tx.claim_due_messages(160, 220, 1)).unwrap().remove(0);
    assert_eq!(other.id, slow.id);
    assert!(!state.store.write(|tx| tx.mark_message_retry(&slow, 500, "late failure")).unwrap());
    assert!(state.store.write(|tx| tx.claim_due_messages(161, 221, 1)).unwrap().is_empty(), "still leased");
    assert!(state.store.write(|tx| tx.mark_message_sent(&other, 170)).unwrap());
    let counts = state.store.read(|r| r.outbox_counts()).unwrap();
    assert_eq!((counts.pending, counts.sent), (0, 1));
}

fn housekeeping_deletes_only_what_has_ended(db: &TestDb) {
    use portti::store::{StoredGrant, StoredSession};
    let state = db.open("");
    let user = add_user(&state.store, &state.keys, 1, user_input("maija@example.com")).unwrap().user;
    let client =
        NewClient::parse("app", ClientKind::Public, &["https://a.example/cb".to_owned()], &[], &[], false, None)
            .unwrap();
    add_client(&state.store, 1, client).unwrap();
    let session = |id: &str, expires_at: i64| StoredSession {
        id_digest: id.to_owned(),
        public_id: format!("public-{id}"),
        user_id: user.id.as_str().to_owned(),
        auth_time: 0,
        amr: "pwd otp".to_owned(),
        created_at: 0,
        last_seen_at: 0,
        expires_at,
        ended_at: None,
        acr: None,
    };
    let grant = |id: &str, expires_at: i64| StoredGrant {
        id: id.to_owned(),
        user_id: user.id.as_str().to_owned(),
        client_id: "app".to_owned(),
        session_public_id: None,
        scopes: "openid".to_owned(),
        auth_time: 0,
        amr: "pwd otp".to_owned(),
        created_at: 0,
        expires_at,
        revoked_at: None,
        acr: None,
    };
    state
        .store
        .write(|tx| {
            tx.insert_session(&session("old", 100))?;
            tx.insert_session(&session("live", 10_000))?;
            tx.insert_grant(&grant("old", 100))?;
            tx.insert_grant(&grant("live", 10_000))?;
            tx.insert_refresh_token("old-token", "old", 50)?;
            tx.insert_refresh_token("live-token", "live", 50)
        })
        .unwrap();
    let deleted = state.store.sweep_expired(1_000 + portti::store::KEEP_ENDED_SECONDS).unwrap();
    assert_eq!(deleted, 2, "one session and one grant (its refresh token goes with it)");
    state
        .store
        .read(|r| {
            assert!(r.session("old")?.is_none() && r.session("live")?.is_some());
            assert!(r.grant("old")?.is_none() && r.grant("live")?.is_some());
            assert!(r.refresh_token("old-token")?.is_none() && r.refresh_token("live-token")?.is_some());
            Ok(())
        })
        .unwrap();
}
