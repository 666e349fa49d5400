//! Tables that clean themselves: every table with an `expires_at` column is
//! swept, read from the migrated schema itself, and each sweep deletes what
//! has run its course and nothing else.

use std::collections::BTreeSet;

use portti::AppState;
use portti::domain::admin::invitations::{InvitedContacts, sent_invitation};
use portti::domain::contact::Email;
use portti::domain::ids::UserId;
use portti::notify::{Message, enqueue};
use portti::store::{
    KEEP_ENDED_SECONDS, KEEP_OUTBOX_SECONDS, StoredCeremony, StoredCode, StoredDevice, StoredDeviceAuthorization,
    StoredFlow, StoredGrant, StoredInvitation, StoredQrLogin, StoredReset, StoredSession, StoredUpstreamLogin,
    swept_tables,
};

use super::{app_client, person};
use crate::support::rows::{column_values, tables};
use crate::support::{TestDb, on_both_backends};

on_both_backends!(every_table_with_expires_at_is_swept, each_sweep_deletes_what_has_run_its_course);

/// The instant the sweep runs at in these tests.
const NOW: i64 = 1_900_000_000;
/// The last instant whose ended rows the sweep deletes.
const ENDED: i64 = NOW - KEEP_ENDED_SECONDS;
/// The same, for finished outbox messages.
const OUTBOX_ENDED: i64 = NOW - KEEP_OUTBOX_SECONDS;

fn every_table_with_expires_at_is_swept(db: &TestDb) {
    let _state = db.open("");
    let expiring = tables(db, Some("expires_at"));
    assert!(
        expiring.contains("password_resets") && expiring.contains("browser_sessions"),
        "the schema query finds the tables: {expiring:?}"
    );
    let swept: BTreeSet<&str> = swept_tables().into_iter().collect();
    let unswept: Vec<&String> = expiring.iter().filter(|table| !swept.contains(table.as_str())).collect();
    assert!(unswept.is_empty(), "tables with an expires_at column that no sweep clears: {unswept:?}");
    let existing = tables(db, None);
    let unknown: Vec<&&str> = swept.iter().filter(|table| !existing.contains(**table)).collect();
    assert!(unknown.is_empty(), "sweeps name tables the schema does not have: {unknown:?}");
}

/// One table's case: rows put in before the sweep, told apart by `key`, and
/// the keys the sweep must leave.
struct Case {
    table: &'static str,
    key: &'static str,
    insert: fn(&AppState, &Fixture),
    kept: &'static [&'static str],
}

/// What the rows belong to.
struct Fixture {
    user: UserId,
}

const CASES: &[Case] = &[
    Case {
        table: "browser_sessions",
        key: "id_digest",
        insert: sessions,
        kept: &["live", "recently-ended", "recently-expired"],
    },
    Case { table: "login_flows", key: "id_digest", insert: flows, kept: &["live"] },
    Case { table: "grants", key: "id", insert: grants, kept: &["live", "recently-expired", "recently-revoked"] },
    Case { table: "authorization_codes", key: "code_digest", insert: codes, kept: &["recently-expired"] },
    Case { table: "refresh_tokens", key: "token_digest", insert: refresh_tokens, kept: &["of-live-grant"] },
    Case {
        table: "outbox",
        key: "recipient",
        insert: messages,
        kept: &["pending@example.com", "recently-expired@example.com", "recently-sent@example.com"],
    },
    Case { table: "rate_limits", key: "bucket", insert: rate_limits, kept: &["current"] },
    Case {
        table: "sign_in_failures",
        key: "subject",
        insert: failures,
        // A lock's history is kept for 30 days, so waiting one out does not reset the escalation.
        // So is that of failures just under the lock, or guessing could go on unseen.
        kept: &["user:failed-under-the-lock", "user:lock-ran-out", "user:locked", "user:recent"],
    },
    Case { table: "password_resets", key: "id_digest", insert: resets, kept: &["live", "recently-expired"] },
    Case { table: "contact_changes", key: "new_value", insert: contact_changes, kept: &["+358401234567"] },
    Case {
        table: "invitations",
        key: "id",
        insert: invitations,
        kept: &["live", "only-one-long-ago", "recently-ended", "recently-expired"],
    },
    Case { table: "setup_links", key: "id_digest", insert: setup_links, kept: &["live", "recently-expired"] },
    Case { table: "device_assertions", key: "jti_digest", insert: device_assertions, kept: &["live"] },
    Case { table: "qr_logins", key: "id_digest", insert: qr_logins, kept: &["live", "recently-expired"] },
    Case {
        table: "device_authorizations",
        key: "device_code_digest",
        insert: device_authorizations,
        kept: &["live", "recently-expired"],
    },
    Case { table: "webauthn_ceremonies", key: "id_digest", insert: ceremonies, kept: &["live"] },
    Case { table: "upstream_logins", key: "state_digest", insert: upstream_trips, kept: &["live"] },
];

fn each_sweep_deletes_what_has_run_its_course(db: &TestDb) {
    let state = db.open("");
    let expiring = tables(db, Some("expires_at"));
    let covered: BTreeSet<&str> = CASES.iter().map(|case| case.table).collect();
    let uncovered: Vec<&String> = expiring.iter().filter(|table| !covered.contains(table.as_str())).collect();
    assert!(uncovered.is_empty(), "add a case proving that the sweep of each of these deletes: {uncovered:?}");

    let fixture = Fixture { user: person(&state, "maija@example.com") };
    app_client(&state);
    for case in CASES {
        (case.insert)(&state, &fixture);
        let before = column_values(db, case.table, case.key);
        assert!(before.len() > case.kept.len(), "{}: something to delete: {before:?}", case.table);
        assert!(case.kept.iter().all(|kept| before.iter().any(|k| k == kept)), "{}: {before:?}", case.table);
    }

    let deleted = state.store.sweep_expired(NOW).unwrap();
    assert!(deleted > 0);
    for case in CASES {
        assert_eq!(column_values(db, case.table, case.key), case.kept, "left in {}", case.table);
    }
    assert_eq!(state.store.sweep_expired(NOW).unwrap(), 0, "a second sweep finds nothing more");
}

fn session(user: &UserId, id: &str, expires_at: i64) -> StoredSession {
    StoredSession {
        id_digest: id.to_owned(),
        public_id: format!("public-{id}"),
        user_id: user.as_str().to_owned(),
        auth_time: 0,
        amr: "pwd otp".to_owned(),
        created_at: 0,
        last_seen_at: 0,
        expires_at,
        ended_at: None,
        acr: None,
    }
}

fn sessions(state: &AppState, fixture: &Fixture) {
    let user = &fixture.user;
    state
        .store
        .write(|tx| {
            tx.insert_session(&session(user, "expired", ENDED))?;
            tx.insert_session(&session(user, "ended", NOW + 3600))?;
            tx.end_session("ended", ENDED)?;
            tx.insert_session(&session(user, "recently-ended", NOW + 3600))?;
            tx.end_session("recently-ended", ENDED + 1)?;
            tx.insert_session(&session(user, "recently-expired", ENDED + 1))?;
            tx.insert_session(&session(user, "live", NOW + 3600))
        })
        .unwrap();
}

fn flow(id: &str, expires_at: i64) -> StoredFlow {
    StoredFlow {
        id_digest: id.to_owned(),
        browser_digest: "browser".to_owned(),
        request: "null".to_owned(),
        state: r#"{"step":"email","email":null}"#.to_owned(),
        version: 0,
        user_id: None,
        created_at: 0,
        expires_at,
        destination: None,
    }
}

/// An abandoned sign-in is of no use once it expires: it goes at once.
fn flows(state: &AppState, _: &Fixture) {
    state
        .store
        .write(|tx| {
            tx.insert_flow(&flow("abandoned", NOW))?;
            tx.insert_flow(&flow("live", NOW + 1))
        })
        .unwrap();
}

fn grant(user: &UserId, id: &str, expires_at: i64) -> StoredGrant {
    StoredGrant {
        id: id.to_owned(),
        user_id: user.as_str().to_owned(),
        client_id: "app".to_owned(),
        session_public_id: None,
        scopes: "openid".to_owned(),
        auth_time: 0,
        amr: "pwd otp".to_owned(),
        created_at: 0,
        expires_at,
        revoked_at: None,
        acr: None,
    }
}

fn grants(state: &AppState, fixture: &Fixture) {
    let user = &fixture.user;
    state
        .store
        .write(|tx| {
            tx.insert_grant(&grant(user, "expired", ENDED))?;
            tx.insert_grant(&grant(user, "revoked", NOW + 3600))?;
            tx.revoke_grant("revoked", ENDED)?;
            tx.insert_grant(&grant(user, "recently-revoked", NOW + 3600))?;
            tx.revoke_grant("recently-revoked", ENDED + 1)?;
            tx.insert_grant(&grant(user, "recently-expired", ENDED + 1))?;
            tx.insert_grant(&grant(user, "live", NOW + 3600))
        })
        .unwrap();
}

fn code(digest: &str, grant_id: &str, expires_at: i64) -> StoredCode {
    StoredCode {
        code_digest: digest.to_owned(),
        grant_id: grant_id.to_owned(),
        redirect_uri: "https://a.example/cb".to_owned(),
        code_challenge: None,
        nonce: None,
        expires_at,
        used_at: None,
    }
}

/// Runs after `grants`: a code of a deleted grant goes with it.
fn codes(state: &AppState, _: &Fixture) {
    state
        .store
        .write(|tx| {
            tx.insert_authorization_code(&code("expired", "live", ENDED))?;
            tx.insert_authorization_code(&code("of-revoked-grant", "revoked", NOW + 60))?;
            tx.insert_authorization_code(&code("recently-expired", "live", ENDED + 1))
        })
        .unwrap();
}

/// A refresh token has no expiry of its own: it lives and dies with its grant.
fn refresh_tokens(state: &AppState, _: &Fixture) {
    state
        .store
        .write(|tx| {
            tx.insert_refresh_token("of-expired-grant", "expired", 0)?;
            tx.insert_refresh_token("of-live-grant", "live", 0)
        })
        .unwrap();
}

fn messages(state: &AppState, _: &Fixture) {
    let email = |to: &str| Message::Email {
        to: Email::parse(to).unwrap(),
        subject: "Your code".to_owned(),
        body: "123456".to_owned(),
    };
    let queued_at = OUTBOX_ENDED - 600;
    let queue = |to: &str, expires_at: Option<i64>| {
        state.store.write(|tx| enqueue(tx, &state.keys, queued_at, &email(to), expires_at)).unwrap();
    };
    queue("sent@example.com", None);
    queue("recently-sent@example.com", None);
    queue("failed@example.com", None);
    queue("pending@example.com", None);
    queue("expired@example.com", Some(OUTBOX_ENDED));
    queue("recently-expired@example.com", Some(OUTBOX_ENDED + 1));
    let claimed = state.store.write(|tx| tx.claim_due_messages(queued_at, queued_at + 60, 10)).unwrap();
    state
        .store
        .write(|tx| {
            for message in &claimed {
                let finished = match message.recipient.as_str() {
                    "sent@example.com" => tx.mark_message_sent(message, OUTBOX_ENDED)?,
                    "recently-sent@example.com" => tx.mark_message_sent(message, OUTBOX_ENDED + 1)?,
                    "failed@example.com" => tx.mark_message_failed(message, OUTBOX_ENDED, "gave up")?,
                    // No worker came back for the rest: they stay pending.
                    _ => tx.mark_message_retry(message, queued_at + 30, "try later")?,
                };
                assert!(finished);
            }
            Ok(())
        })
        .unwrap();
}

fn rate_limits(state: &AppState, _: &Fixture) {
    state
        .store
        .write(|tx| {
            tx.hit_rate_limit("old", ENDED, 60)?;
            tx.hit_rate_limit("current", NOW, 3600)
        })
        .unwrap();
}

fn failures(state: &AppState, _: &Fixture) {
    state
        .store
        .write(|tx| {
            tx.record_sign_in_attempt("user:old", ENDED, 0)?;
            tx.record_sign_in_attempt("user:locked-long-ago", NOW - 30 * 24 * 3600, 0)?;
            tx.lock_sign_in("user:locked-long-ago", NOW - 30 * 24 * 3600 + 1800)?;
            tx.record_sign_in_attempt("user:failed-under-the-lock", ENDED, 0)?;
            tx.count_consecutive_failure("user:failed-under-the-lock")?;
            tx.record_sign_in_attempt("user:lock-ran-out", ENDED, 0)?;
            tx.lock_sign_in("user:lock-ran-out", NOW)?;
            tx.record_sign_in_attempt("user:locked", ENDED, 0)?;
            tx.lock_sign_in("user:locked", NOW + 1)?;
            tx.record_sign_in_attempt("user:recent", ENDED + 1, 0)
        })
        .unwrap();
}

fn reset(user: Option<&UserId>, id: &str, expires_at: i64) -> StoredReset {
    StoredReset {
        id_digest: id.to_owned(),
        browser_digest: "browser".to_owned(),
        user_id: user.map(|u| u.as_str().to_owned()),
        method: "email".to_owned(),
        code_digest: None,
        attempts: 0,
        verified_at: None,
        request: None,
        created_at: 0,
        expires_at,
        used_at: None,
    }
}

/// Every reset adds a row, even one for an email with no account.
fn resets(state: &AppState, fixture: &Fixture) {
    let user = Some(&fixture.user);
    state
        .store
        .write(|tx| {
            tx.insert_password_reset(&reset(user, "expired", ENDED))?;
            tx.insert_password_reset(&reset(None, "expired-for-unknown-email", ENDED))?;
            tx.insert_password_reset(&reset(user, "used", NOW + 600))?;
            tx.use_password_reset("used", ENDED)?;
            tx.insert_password_reset(&reset(user, "recently-expired", ENDED + 1))?;
            tx.insert_password_reset(&reset(None, "live", NOW + 600))
        })
        .unwrap();
}

/// Invitations are kept 30 days after they end or expire, for the
/// administrator's view; a person's last one is kept for good, for the
/// re-invite rule (the last invitation's email and phone).
fn invitations(state: &AppState, fixture: &Fixture) {
    let company = portti::domain::company::add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    let month = 30 * 24 * 3600;
    let other = person(state, "john.smith@example.com");
    let invitation = |id: &str, expires_at: i64, ended_at: Option<i64>| {
        let user = if id == "only-one-long-ago" { &other } else { &fixture.user };
        let contacts = InvitedContacts {
            email: "john@example.com".to_owned(),
            phone: None,
            communication_email: "john@example.com".to_owned(),
            communication_phone: None,
        };
        StoredInvitation {
            id: id.to_owned(),
            state: if ended_at.is_some() { "cancelled" } else { "sent" }.to_owned(),
            expires_at,
            ended_at,
            ..sent_invitation(user, company.id.as_str(), None, contacts, format!("digest-{id}"), 0)
        }
    };
    state
        .store
        .write(|tx| {
            tx.insert_invitation(&invitation("live", NOW + 3600, None))?;
            tx.insert_invitation(&invitation("recently-expired", NOW - month + 1, None))?;
            tx.insert_invitation(&invitation("expired-long-ago", NOW - month, None))?;
            tx.insert_invitation(&invitation("recently-ended", NOW + 3600, Some(NOW - month + 1)))?;
            tx.insert_invitation(&invitation("ended-long-ago", NOW + 3600, Some(NOW - month)))?;
            tx.insert_invitation(&invitation("only-one-long-ago", NOW + 3600, Some(NOW - month)))
        })
        .unwrap();
}

fn contact_changes(state: &AppState, fixture: &Fixture) {
    let user = &fixture.user;
    state
        .store
        .write(|tx| {
            tx.put_contact_change(user, "email", "new@example.com", "digest", ENDED)?;
            tx.put_contact_change(user, "phone", "+358401234567", "digest", ENDED + 1)
        })
        .unwrap();
}

/// The first run's links are kept a day after they expire.
fn setup_links(state: &AppState, _: &Fixture) {
    state
        .store
        .write(|tx| {
            tx.insert_setup_link("live", NOW - 60, NOW + 3600)?;
            tx.insert_setup_link("recently-expired", ENDED - 3600, ENDED + 1)?;
            tx.insert_setup_link("expired-long-ago", ENDED - 7200, ENDED)
        })
        .unwrap();
}

/// A device's used assertion ids are kept until the assertion expires: an
/// expired assertion is refused anyway.
fn device_assertions(state: &AppState, fixture: &Fixture) {
    let device = StoredDevice {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: fixture.user.as_str().to_owned(),
        key_x: "x".to_owned(),
        key_y: "y".to_owned(),
        name: "Phone".to_owned(),
        platform: "ios".to_owned(),
        created_at: 0,
        last_used_at: None,
    };
    state
        .store
        .write(|tx| {
            tx.insert_device(&device)?;
            assert!(tx.use_device_assertion(&device.id, "expired", NOW)?);
            assert!(tx.use_device_assertion(&device.id, "live", NOW + 1)?);
            assert!(!tx.use_device_assertion(&device.id, "live", NOW + 1)?, "used once");
            Ok(())
        })
        .unwrap();
}

/// QR codes are kept a day after they expire, for the record.
fn qr_logins(state: &AppState, _: &Fixture) {
    let qr = |id: &str, expires_at: i64| StoredQrLogin {
        id_digest: id.to_owned(),
        browser_digest: "browser".to_owned(),
        flow_digest: "flow".to_owned(),
        number: 42,
        choices: "17 42 88".to_owned(),
        user_agent: "Mozilla/5.0".to_owned(),
        address: None,
        client_id: None,
        state: r#"{"state":"pending"}"#.to_owned(),
        version: 0,
        created_at: expires_at - 120,
        expires_at,
    };
    state
        .store
        .write(|tx| {
            tx.insert_qr_login(&qr("live", NOW + 60))?;
            tx.insert_qr_login(&qr("recently-expired", ENDED + 1))?;
            tx.insert_qr_login(&qr("expired-long-ago", ENDED))
        })
        .unwrap();
}

/// A device's requests are kept a day after they expire, for the record.
fn device_authorizations(state: &AppState, _: &Fixture) {
    let request = |id: &str, expires_at: i64| StoredDeviceAuthorization {
        device_code_digest: id.to_owned(),
        user_code_digest: format!("user-code-of-{id}"),
        client_id: "app".to_owned(),
        scopes: "openid".to_owned(),
        state: r#"{"state":"pending"}"#.to_owned(),
        version: 0,
        interval_seconds: 5,
        last_polled_at: None,
        address: None,
        created_at: expires_at - 600,
        expires_at,
    };
    state
        .store
        .write(|tx| {
            tx.insert_device_authorization(&request("live", NOW + 60))?;
            tx.insert_device_authorization(&request("recently-expired", ENDED + 1))?;
            tx.insert_device_authorization(&request("expired-long-ago", ENDED))
        })
        .unwrap();
}

/// A passkey ceremony never finished is deleted once it expires (a used one
/// is deleted as it is used).
fn ceremonies(state: &AppState, _: &Fixture) {
    let ceremony = |id: &str, expires_at: i64| StoredCeremony {
        id_digest: id.to_owned(),
        browser_digest: "browser".to_owned(),
        purpose: "sign_in".to_owned(),
        subject: "flow".to_owned(),
        state: "{}".to_owned(),
        created_at: expires_at - 300,
        expires_at,
    };
    state
        .store
        .write(|tx| {
            tx.insert_ceremony(&ceremony("live", NOW + 1))?;
            tx.insert_ceremony(&ceremony("expired", NOW))
        })
        .unwrap();
}

fn upstream_trips(state: &AppState, _: &Fixture) {
    let trip = |digest: &str, expires_at: i64| StoredUpstreamLogin {
        state_digest: digest.to_owned(),
        upstream_id: "bank".to_owned(),
        browser_digest: "browser".to_owned(),
        nonce_digest: "nonce".to_owned(),
        sealed_secrets: "sealed".to_owned(),
        purpose: "sign_in".to_owned(),
        user_id: None,
        created_at: expires_at - 600,
        expires_at,
    };
    state
        .store
        .write(|tx| {
            tx.insert_upstream_login(&trip("live", NOW + 1))?;
            tx.insert_upstream_login(&trip("expired", NOW))
        })
        .unwrap();
}
