//! Browser sessions as stored: found by the cookie's digest and by the `sid`,
//! touched, ended once, and ended all at once for a person.

use portti::domain::ids::UserId;
use portti::store::StoredSession;

use super::person;
use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    a_session_is_found_by_its_digest_and_its_public_id,
    touching_a_session_changes_only_when_it_was_last_seen,
    a_session_ends_once,
    ending_all_of_a_person_leaves_the_others_alone,
);

fn session(user: &UserId, id: &str, created_at: i64) -> StoredSession {
    StoredSession {
        id_digest: format!("digest-{id}"),
        public_id: format!("sid-{id}"),
        user_id: user.as_str().to_owned(),
        auth_time: created_at,
        amr: "pwd otp".to_owned(),
        created_at,
        last_seen_at: created_at,
        expires_at: created_at + 3600,
        ended_at: None,
        acr: None,
    }
}

fn a_session_is_found_by_its_digest_and_its_public_id(db: &TestDb) {
    let state = db.open("");
    let user = person(&state, "maija@example.com");
    let stored = session(&user, "a", 100);
    state.store.write(|tx| tx.insert_session(&stored)).unwrap();
    state
        .store
        .read(|r| {
            assert_eq!(r.session("digest-a")?, Some(stored.clone()));
            assert_eq!(r.session_by_public_id("sid-a")?, Some(stored.clone()));
            assert_eq!(r.session("sid-a")?, None, "the public id is not the cookie");
            assert_eq!(r.session_by_public_id("digest-a")?, None, "nor the other way round");
            Ok(())
        })
        .unwrap();

    let same_sid = StoredSession { id_digest: "digest-b".to_owned(), ..stored.clone() };
    assert!(state.store.write(|tx| tx.insert_session(&same_sid)).is_err(), "a public id is unique");
    assert_eq!(state.store.read(|r| r.session("digest-b")).unwrap(), None, "and nothing was written");
}

fn touching_a_session_changes_only_when_it_was_last_seen(db: &TestDb) {
    let state = db.open("");
    let user = person(&state, "maija@example.com");
    let stored = session(&user, "a", 100);
    state.store.write(|tx| tx.insert_session(&stored)).unwrap();
    state.store.write(|tx| tx.touch_session("digest-a", 150)).unwrap();
    let touched = state.store.read(|r| r.session("digest-a")).unwrap().unwrap();
    assert_eq!(touched, StoredSession { last_seen_at: 150, ..stored }, "the absolute expiry stays put");
}

fn a_session_ends_once(db: &TestDb) {
    let state = db.open("");
    let user = person(&state, "maija@example.com");
    state
        .store
        .write(|tx| {
            tx.insert_session(&session(&user, "a", 100))?;
            tx.insert_session(&session(&user, "b", 100))
        })
        .unwrap();
    state.store.write(|tx| tx.end_session("digest-a", 200)).unwrap();
    state.store.write(|tx| tx.end_session("digest-a", 300)).unwrap();
    state.store.write(|tx| tx.end_session_by_public_id("sid-b", 210)).unwrap();
    state.store.write(|tx| tx.end_session_by_public_id("sid-b", 310)).unwrap();
    state
        .store
        .read(|r| {
            assert_eq!(r.session("digest-a")?.unwrap().ended_at, Some(200), "the first end counts");
            assert_eq!(r.session("digest-b")?.unwrap().ended_at, Some(210), "by its sid as well");
            Ok(())
        })
        .unwrap();
}

fn ending_all_of_a_person_leaves_the_others_alone(db: &TestDb) {
    let state = db.open("");
    let maija = person(&state, "maija@example.com");
    let matti = person(&state, "matti@example.com");
    state
        .store
        .write(|tx| {
            tx.insert_session(&session(&maija, "phone", 100))?;
            tx.insert_session(&session(&maija, "laptop", 110))?;
            tx.insert_session(&session(&maija, "old", 90))?;
            tx.end_session("digest-old", 95)?;
            tx.insert_session(&session(&matti, "matti", 100))
        })
        .unwrap();
    let live: Vec<String> =
        state.store.read(|r| r.live_sessions(&maija, 120)).unwrap().into_iter().map(|s| s.public_id).collect();
    assert_eq!(live, ["sid-laptop", "sid-phone"], "the open ones, newest first");

    assert_eq!(state.store.write(|tx| tx.end_other_sessions(&maija, "sid-phone", 130)).unwrap(), 1);
    assert_eq!(state.store.write(|tx| tx.end_user_sessions(&maija, 140)).unwrap(), 1, "only the one still open");
    assert_eq!(state.store.write(|tx| tx.end_user_sessions(&maija, 150)).unwrap(), 0);
    state
        .store
        .read(|r| {
            assert_eq!(r.session("digest-laptop")?.unwrap().ended_at, Some(130));
            assert_eq!(r.session("digest-phone")?.unwrap().ended_at, Some(140));
            assert_eq!(r.session("digest-old")?.unwrap().ended_at, Some(95), "an ended session keeps its end");
            assert_eq!(r.session("digest-matti")?.unwrap().ended_at, None, "another person's session stays");
            assert!(r.live_sessions(&maija, 150)?.is_empty());
            Ok(())
        })
        .unwrap();
}
