//! Grants and what belongs to them: a refresh token or a code is used once,
//! even by two requests at the same moment, and a revoked grant stays revoked.

use portti::AppState;
use portti::domain::ids::UserId;
use portti::store::{StoredCode, StoredGrant};

use super::{app_client, person};
use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    a_refresh_token_is_used_once,
    two_requests_with_one_refresh_token_at_once_use_it_once,
    an_authorization_code_is_used_once,
    a_revoked_grant_stays_revoked_and_a_persons_grants_end_together,
);

/// A person, the client `app`, and one grant of theirs, `grant`.
fn grant_of_a_person(state: &AppState) -> UserId {
    let user = person(state, "maija@example.com");
    app_client(state);
    state.store.write(|tx| tx.insert_grant(&grant(&user, "grant"))).unwrap();
    user
}

fn grant(user: &UserId, id: &str) -> StoredGrant {
    StoredGrant {
        id: id.to_owned(),
        user_id: user.as_str().to_owned(),
        client_id: "app".to_owned(),
        session_public_id: Some("sid".to_owned()),
        scopes: "openid offline_access".to_owned(),
        auth_time: 90,
        amr: "pwd otp".to_owned(),
        created_at: 100,
        expires_at: 10_000,
        revoked_at: None,
        acr: None,
    }
}

fn a_refresh_token_is_used_once(db: &TestDb) {
    let state = db.open("");
    let user = grant_of_a_person(&state);
    state.store.write(|tx| tx.insert_refresh_token("token", "grant", 100)).unwrap();
    let stored = state.store.read(|r| r.refresh_token("token")).unwrap().unwrap();
    assert_eq!((stored.grant_id.as_str(), stored.issued_at, stored.used_at), ("grant", 100, None));
    assert_eq!(state.store.read(|r| r.grant("grant")).unwrap(), Some(grant(&user, "grant")));

    let spend = |digest: &str, now: i64| state.store.write(|tx| tx.spend_refresh_token(digest, now)).unwrap();
    assert_eq!(spend("token", 200).as_deref(), Some("grant"), "the first use rotates it, naming its grant");
    assert_eq!(spend("token", 300), None, "the second is told it was used");
    let used = state.store.read(|r| r.refresh_token("token")).unwrap().unwrap();
    assert_eq!(used.used_at, Some(200), "the first use is the one recorded");
    assert_eq!(spend("no-such-token", 300), None);
}

fn two_requests_with_one_refresh_token_at_once_use_it_once(db: &TestDb) {
    let state = db.open("");
    grant_of_a_person(&state);
    for round in 0..10 {
        let token = format!("token-{round}");
        state.store.write(|tx| tx.insert_refresh_token(&token, "grant", 100)).unwrap();
        let barrier = std::sync::Barrier::new(2);
        let accepted = std::thread::scope(|scope| {
            let requests: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        state.store.write(|tx| tx.spend_refresh_token(&token, 200)).unwrap()
                    })
                })
                .collect();
            requests.into_iter().map(|request| request.join().unwrap()).filter(Option::is_some).count()
        });
        assert_eq!(accepted, 1, "round {round}: exactly one of the two requests may use the token");
    }
}

fn an_authorization_code_is_used_once(db: &TestDb) {
    let state = db.open("");
    grant_of_a_person(&state);
    let code = StoredCode {
        code_digest: "code".to_owned(),
        grant_id: "grant".to_owned(),
        redirect_uri: "https://a.example/cb".to_owned(),
        code_challenge: Some("challenge".to_owned()),
        nonce: Some("nonce".to_owned()),
        expires_at: 160,
        used_at: None,
    };
    state.store.write(|tx| tx.insert_authorization_code(&code)).unwrap();
    assert_eq!(state.store.read(|r| r.authorization_code("code")).unwrap(), Some(code.clone()));
    assert!(state.store.write(|tx| tx.use_authorization_code("code", 110)).unwrap());
    assert!(!state.store.write(|tx| tx.use_authorization_code("code", 120)).unwrap());
    assert_eq!(state.store.read(|r| r.authorization_code("code")).unwrap().unwrap().used_at, Some(110));
}

fn a_revoked_grant_stays_revoked_and_a_persons_grants_end_together(db: &TestDb) {
    let state = db.open("");
    let user = grant_of_a_person(&state);
    state.store.write(|tx| tx.revoke_grant("grant", 200)).unwrap();
    state.store.write(|tx| tx.revoke_grant("grant", 300)).unwrap();
    assert_eq!(state.store.read(|r| r.grant("grant")).unwrap().unwrap().revoked_at, Some(200));

    let other = person(&state, "matti@example.com");
    state
        .store
        .write(|tx| {
            tx.insert_grant(&grant(&user, "phone"))?;
            tx.insert_grant(&grant(&user, "laptop"))?;
            tx.insert_grant(&grant(&other, "matti"))
        })
        .unwrap();
    assert_eq!(state.store.write(|tx| tx.revoke_user_grants(user.as_str(), 400)).unwrap(), 2, "the open ones");
    state
        .store
        .read(|r| {
            assert_eq!(r.grant("phone")?.unwrap().revoked_at, Some(400));
            assert_eq!(r.grant("laptop")?.unwrap().revoked_at, Some(400));
            assert_eq!(r.grant("grant")?.unwrap().revoked_at, Some(200), "a revoked grant keeps its time");
            assert_eq!(r.grant("matti")?.unwrap().revoked_at, None, "another person's grant stays");
            Ok(())
        })
        .unwrap();
}
