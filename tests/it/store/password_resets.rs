//! Password resets as stored: attempts counted, verified, extended, and
//! used once; a changed password ends every open reset of the person.

use portti::domain::ids::UserId;
use portti::store::StoredReset;

use super::person;
use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    a_reset_is_stored_with_or_without_an_account,
    code_attempts_are_counted_and_a_verified_reset_extended,
    a_reset_is_used_once,
    a_changed_password_ends_every_open_reset_of_the_person,
);

fn reset(user: Option<&UserId>, id: &str) -> StoredReset {
    StoredReset {
        id_digest: id.to_owned(),
        browser_digest: "browser".to_owned(),
        user_id: user.map(|u| u.as_str().to_owned()),
        method: "sms".to_owned(),
        code_digest: Some("code-digest".to_owned()),
        attempts: 0,
        verified_at: None,
        request: Some("{\"client_id\":\"app\"}".to_owned()),
        created_at: 100,
        expires_at: 700,
        used_at: None,
    }
}

fn a_reset_is_stored_with_or_without_an_account(db: &TestDb) {
    let state = db.open("");
    let user = person(&state, "maija@example.com");
    let known = reset(Some(&user), "known");
    let unknown = StoredReset { method: "email".to_owned(), code_digest: None, ..reset(None, "unknown") };
    state
        .store
        .write(|tx| {
            tx.insert_password_reset(&known)?;
            tx.insert_password_reset(&unknown)
        })
        .unwrap();
    state
        .store
        .read(|r| {
            assert_eq!(r.password_reset("known")?, Some(known.clone()));
            assert_eq!(r.password_reset("unknown")?, Some(unknown.clone()), "an unknown email is stored alike");
            assert_eq!(r.password_reset("nothing")?, None);
            Ok(())
        })
        .unwrap();
    let other_method = StoredReset { method: "letter".to_owned(), ..reset(None, "letter") };
    assert!(state.store.write(|tx| tx.insert_password_reset(&other_method)).is_err(), "email or sms only");
}

fn code_attempts_are_counted_and_a_verified_reset_extended(db: &TestDb) {
    let state = db.open("");
    let user = person(&state, "maija@example.com");
    state.store.write(|tx| tx.insert_password_reset(&reset(Some(&user), "sms"))).unwrap();
    let counts: Vec<i32> = (0..3).map(|_| state.store.write(|tx| tx.count_reset_attempt("sms")).unwrap()).collect();
    assert_eq!(counts, [1, 2, 3], "each attempt counted, this one included");
    state
        .store
        .write(|tx| {
            tx.verify_password_reset("sms", 300)?;
            tx.extend_password_reset("sms", 900)
        })
        .unwrap();
    let stored = state.store.read(|r| r.password_reset("sms")).unwrap().unwrap();
    assert_eq!(
        stored,
        StoredReset { attempts: 3, verified_at: Some(300), expires_at: 900, ..reset(Some(&user), "sms") },
        "verified, with the new time to set the password, and nothing else changed"
    );
}

fn a_reset_is_used_once(db: &TestDb) {
    let state = db.open("");
    let user = person(&state, "maija@example.com");
    state.store.write(|tx| tx.insert_password_reset(&reset(Some(&user), "link"))).unwrap();
    assert!(state.store.write(|tx| tx.use_password_reset("link", 200)).unwrap());
    assert!(!state.store.write(|tx| tx.use_password_reset("link", 300)).unwrap(), "a second use fails");
    assert_eq!(state.store.read(|r| r.password_reset("link")).unwrap().unwrap().used_at, Some(200));
    assert!(!state.store.write(|tx| tx.use_password_reset("no-such-reset", 300)).unwrap());
}

fn a_changed_password_ends_every_open_reset_of_the_person(db: &TestDb) {
    let state = db.open("");
    let maija = person(&state, "maija@example.com");
    let matti = person(&state, "matti@example.com");
    state
        .store
        .write(|tx| {
            tx.insert_password_reset(&reset(Some(&maija), "by-email"))?;
            tx.insert_password_reset(&reset(Some(&maija), "by-sms"))?;
            tx.insert_password_reset(&reset(Some(&maija), "used"))?;
            tx.use_password_reset("used", 150)?;
            tx.insert_password_reset(&reset(Some(&matti), "matti"))?;
            tx.insert_password_reset(&reset(None, "nobody"))
        })
        .unwrap();
    state.store.write(|tx| tx.use_user_password_resets(&maija, 200)).unwrap();
    state
        .store
        .read(|r| {
            assert_eq!(r.password_reset("by-email")?.unwrap().used_at, Some(200));
            assert_eq!(r.password_reset("by-sms")?.unwrap().used_at, Some(200));
            assert_eq!(r.password_reset("used")?.unwrap().used_at, Some(150), "a used reset keeps its time");
            assert_eq!(r.password_reset("matti")?.unwrap().used_at, None, "another person's reset stays open");
            assert_eq!(r.password_reset("nobody")?.unwrap().used_at, None);
            Ok(())
        })
        .unwrap();
    assert!(!state.store.write(|tx| tx.use_password_reset("by-sms", 250)).unwrap(), "and cannot be used after");
}
