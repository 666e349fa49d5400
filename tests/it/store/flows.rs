//! Sign-in flows as stored: a save or an end happens only at the version it
//! was read at, so of two requests racing on one flow exactly one wins, and
//! a person's flows in progress end together.

use portti::store::StoredFlow;

use super::person;
use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    a_save_moves_the_version_on_and_a_stale_save_is_refused,
    of_two_racing_saves_exactly_one_wins,
    an_end_at_a_stale_version_is_refused,
    a_persons_flows_in_progress_end_together,
);

fn flow(id: &str, user_id: Option<&str>) -> StoredFlow {
    StoredFlow {
        id_digest: id.to_owned(),
        browser_digest: "browser".to_owned(),
        request: "null".to_owned(),
        state: r#"{"step":"email","email":null}"#.to_owned(),
        version: 0,
        user_id: user_id.map(str::to_owned),
        created_at: 100,
        expires_at: 1900,
        destination: None,
    }
}

fn a_save_moves_the_version_on_and_a_stale_save_is_refused(db: &TestDb) {
    let state = db.open("");
    let user = person(&state, "maija@example.com");
    state.store.write(|tx| tx.insert_flow(&flow("f", None))).unwrap();
    let password = r#"{"step":"password","email":"maija@example.com"}"#;
    assert!(state.store.write(|tx| tx.update_flow("f", 0, password, None)).unwrap());
    let saved = state.store.read(|r| r.flow("f")).unwrap().unwrap();
    assert_eq!((saved.version, saved.state.as_str()), (1, password));
    assert!(!state.store.write(|tx| tx.update_flow("f", 0, "{}", Some(user.as_str()))).unwrap(), "read at 0, now 1");
    let kept = state.store.read(|r| r.flow("f")).unwrap().unwrap();
    assert_eq!(kept, saved, "a refused save changes nothing");
    assert!(state.store.write(|tx| tx.update_flow("f", 1, password, Some(user.as_str()))).unwrap());
    assert_eq!(state.store.read(|r| r.flow("f")).unwrap().unwrap().user_id.as_deref(), Some(user.as_str()));
}

fn of_two_racing_saves_exactly_one_wins(db: &TestDb) {
    let state = db.open("");
    state.store.write(|tx| tx.insert_flow(&flow("f", None))).unwrap();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let saves: Vec<bool> = std::thread::scope(|scope| {
        let racers: Vec<_> = ["first", "second"]
            .map(|who| {
                let (store, barrier) = (state.store.clone(), barrier.clone());
                scope.spawn(move || {
                    barrier.wait();
                    let json = format!(r#"{{"step":"email","email":"{who}@example.com"}}"#);
                    store.write(|tx| tx.update_flow("f", 0, &json, None)).unwrap()
                })
            })
            .into_iter()
            .collect();
        racers.into_iter().map(|racer| racer.join().unwrap()).collect()
    });
    assert_eq!(saves.iter().filter(|won| **won).count(), 1, "{saves:?}");
    assert_eq!(state.store.read(|r| r.flow("f")).unwrap().unwrap().version, 1);
}

fn an_end_at_a_stale_version_is_refused(db: &TestDb) {
    let state = db.open("");
    state.store.write(|tx| tx.insert_flow(&flow("f", None))).unwrap();
    assert!(state.store.write(|tx| tx.update_flow("f", 0, "{}", None)).unwrap());
    assert!(!state.store.write(|tx| tx.delete_flow("f", 0)).unwrap());
    assert!(state.store.read(|r| r.flow("f")).unwrap().is_some(), "still there");
    assert!(state.store.write(|tx| tx.delete_flow("f", 1)).unwrap());
    assert!(state.store.read(|r| r.flow("f")).unwrap().is_none());
}

fn a_persons_flows_in_progress_end_together(db: &TestDb) {
    let state = db.open("");
    let maija = person(&state, "maija@example.com");
    let matti = person(&state, "matti@example.com");
    state
        .store
        .write(|tx| {
            tx.insert_flow(&flow("a", Some(maija.as_str())))?;
            tx.insert_flow(&flow("b", Some(maija.as_str())))?;
            tx.insert_flow(&flow("c", Some(matti.as_str())))?;
            tx.insert_flow(&flow("d", None))
        })
        .unwrap();
    assert_eq!(state.store.write(|tx| tx.delete_user_flows(&maija)).unwrap(), 2);
    let left: Vec<bool> =
        ["a", "b", "c", "d"].iter().map(|id| state.store.read(|r| r.flow(id)).unwrap().is_some()).collect();
    assert_eq!(left, [false, false, true, true]);
}
