//! The account page: a signed-in person manages their own sign-in.

use portti::crypto::totp;
use portti::domain::recovery_codes;

use crate::support::fixtures::{
    CALLBACK, NEW_PASSWORD, PASSWORD, authorization_request, confidential_client, exchange, http, person, relying_party,
};
use crate::support::now;
use crate::support::pages::{Landing, PageClient, element_text};
use crate::support::sign_in::{first_sign_in_at, to_password_page};
use crate::support::{TestDb, TestServer, served_on_both_backends};

/// Signs in straight to /account for the first time (enrolment, terms).
/// Returns the account page, the authenticator secret, the recovery codes and
/// the time of the enrolment code.
pub(crate) async fn first_account_sign_in(pages: &PageClient) -> (String, Vec<u8>, Vec<String>, i64) {
    let (path, _, page) = pages.open("/account").await.page();
    assert!(path.starts_with("/signin/"), "no session: the account page asks to sign in first");
    let (_, _, page) = pages.submit(&page, "/email", &[("email", "maija@example.com")]).await.page();
    let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    let typed = element_text(&page, "totp-secret");
    let secret = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    let at = now();
    let (_, _, page) = pages.submit(&page, "/enrol", &[("code", &totp::code_at(&secret, at).unwrap())]).await.page();
    let codes: Vec<String> =
        page.split("<li><code>").skip(1).map(|rest| rest.split('<').next().unwrap().to_owned()).collect();
    let (_, _, page) = pages.submit(&page, "/recovery-codes", &[]).await.page();
    let (path, _, page) = pages.submit(&page, "/terms", &[]).await.page();
    assert_eq!(path, "/account", "after the sign-in, the account page itself");
    (page, secret, codes, at)
}

fn setup() -> (TestDb, TestServer, portti::domain::ids::UserId) {
    let db = TestDb::sqlite();
    let (server, user) = serve_maija(&db);
    (db, server, user)
}

/// Portti on `db`, with Maija.
fn serve_maija(db: &TestDb) -> (TestServer, portti::domain::ids::UserId) {
    let server = db.serve("");
    let user = person(&server.state, "maija@example.com");
    (server, user)
}

fn outbox_texts(db: &TestDb, server: &TestServer) -> Vec<String> {
    use diesel::prelude::*;
    use portti::store::schema::outbox;
    let rows: Vec<(String, Option<String>)> = outbox::table
        .order(outbox::created_at)
        .select((outbox::id, outbox::sealed_content))
        .load(&mut db.connection())
        .unwrap();
    rows.into_iter()
        .filter_map(|(id, sealed)| {
            let opened = server.state.keys.open(&format!("outbox:{id}"), &sealed?).ok()?;
            String::from_utf8(opened).ok()
        })
        .collect()
}

fn outbox_recipients(db: &TestDb) -> Vec<String> {
    use diesel::prelude::*;
    use portti::store::schema::outbox;
    outbox::table.select(outbox::recipient).load(&mut db.connection()).unwrap()
}

fn last_code(db: &TestDb, server: &TestServer) -> String {
    let text = outbox_texts(db, server).pop().unwrap();
    let start = text.find("code is ").unwrap() + "code is ".len();
    text[start..start + 6].to_owned()
}

async fn name_contacts_and_recovery_codes(db: &TestDb) {
    let (server, user_id) = serve_maija(db);
    let pages = PageClient::new(&server.base);
    let (page, secret, old_codes, _) = first_account_sign_in(&pages).await;
    assert!(page.contains("maija@example.com"));
    // Each change of where codes go asks for a fresh authenticator code (the
    // step-up); a code works once, so each is from a later time step.
    let proof = || {
        server.state.clock.advance(30);
        totp::code_at(&secret, server.state.clock.now()).unwrap()
    };

    let (_, _, page) = pages.submit(&page, "/account/name", &[("name", "Maija Virtanen")]).await.page();
    assert!(page.contains(r#"value="Maija Virtanen""#) && page.contains("Saved."));

    // A new email for codes: a code goes to the new address; a wrong one is refused.
    let (_, _, page) =
        pages.submit(&page, "/account/email", &[("email", "maija.v@example.org"), ("proof", &proof())]).await.page();
    assert!(page.contains("Sent to maija.v@example.org"));
    let (_, status, page) = pages.submit(&page, "/account/email/verify", &[("code", "000000")]).await.page();
    assert_eq!(status, 400);
    let code = last_code(db, &server);
    let (_, _, page) = pages.submit(&page, "/account/email/verify", &[("code", &code)]).await.page();
    assert!(page.contains("<strong>maija.v@example.org</strong> (confirmed)"), "{page}");
    let user = server.state.store.read(|r| r.user(&user_id)).unwrap().unwrap();
    assert_eq!(user.communication.email.as_str(), "maija.v@example.org");
    assert!(user.communication.email_verified);
    assert_eq!(user.email.as_str(), "maija@example.com", "the sign-in email stays");

    // A new phone: refused in the wrong form, confirmed by SMS in the right one.
    let (_, status, page) =
        pages.submit(&page, "/account/phone", &[("phone", "040-123.4567"), ("proof", &proof())]).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("+358401234567"), "the message shows the expected form");
    let (_, _, page) =
        pages.submit(&page, "/account/phone", &[("phone", "+358 50 7654321"), ("proof", &proof())]).await.page();
    let code = last_code(db, &server);
    pages.submit(&page, "/account/phone/verify", &[("code", &code)]).await.page();
    let user = server.state.store.read(|r| r.user(&user_id)).unwrap().unwrap();
    assert_eq!(user.communication.phone.unwrap().as_str(), "+358507654321");
    assert!(user.communication.phone_verified);

    // Five wrong codes end a contact change: then even the right code is refused.
    let (_, _, page) =
        pages.submit(&page, "/account/phone", &[("phone", "+358 50 1112222"), ("proof", &proof())]).await.page();
    let code = last_code(db, &server);
    let mut page = page;
    for _ in 0..5 {
        let (_, status, next) = pages.submit(&page, "/account/phone/verify", &[("code", "000000")]).await.page();
        assert_eq!(status, 400);
        page = next;
    }
    let (_, status, page) = pages.submit(&page, "/account/phone/verify", &[("code", &code)]).await.page();
    assert_eq!(status, 429, "the right code after five wrong ones is refused");
    assert!(page.contains("Too many wrong codes"));
    // Asking for a new code starts a new count (the hourly limit of codes bounds
    // the guesses): a person who mistyped can still change their phone.
    let (_, _, page) =
        pages.submit(&page, "/account/phone", &[("phone", "+358 50 1112222"), ("proof", &proof())]).await.page();
    let code = last_code(db, &server);
    let (_, status, page) = pages.submit(&page, "/account/phone/verify", &[("code", &code)]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("Saved."));
    let user = server.state.store.read(|r| r.user(&user_id)).unwrap().unwrap();
    assert_eq!(user.communication.phone.unwrap().as_str(), "+358501112222");

    // New recovery codes end the old ones.
    let (_, _, page) = pages.open("/account").await.page();
    let (_, status, page) = pages.submit(&page, "/account/recovery-codes", &[("proof", &proof())]).await.page();
    assert_eq!(status, 200);
    assert_eq!(page.matches("<li><code>").count(), 10);
    let old = recovery_codes::digest(&server.state.keys, &user_id, &old_codes[0]).unwrap();
    let used = server.state.store.write(|tx| tx.use_recovery_code(&user_id, &old, 1)).unwrap();
    assert!(!used, "an old recovery code no longer works");

    // Without a current authenticator code, where codes go cannot change.
    let (_, _, page) = pages.open("/account").await.page();
    let queued = outbox_texts(db, &server).len();
    let wrong = [("email", "attacker@example.net"), ("proof", "000000")];
    let (_, status, page) = pages.submit(&page, "/account/email", &wrong).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("That code is not right"), "a stolen session alone cannot redirect the codes");
    let (_, status, page) = pages.submit(&page, "/account/recovery-codes", &[("proof", "000000")]).await.page();
    assert_eq!(status, 400, "nor make new recovery codes");
    assert_eq!(page.matches("<li><code>").count(), 0);
    let user = server.state.store.read(|r| r.user(&user_id)).unwrap().unwrap();
    assert_eq!(user.communication.email.as_str(), "maija.v@example.org", "nothing changed");
    let to_the_attacker = outbox_recipients(db).iter().filter(|to| to.contains("attacker")).count();
    assert_eq!(to_the_attacker, 0, "and no code went to the attacker");
    assert!(outbox_texts(db, &server).len() > queued, "but Maija was told of the wrong code");
    server.stop().await;
}

#[actix_web::test]
async fn changing_the_password_ends_the_other_sessions() {
    let (db, server, _) = setup();
    let client_secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&server, "ledger", Some(&client_secret)).await;
    let pages = PageClient::new(&server.base);
    let (page, secret, _, at) = first_account_sign_in(&pages).await;
    let elsewhere = PageClient::new(&server.base);
    let p = to_password_page(&elsewhere, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    let (_, _, p) = elsewhere.submit(&p, "/password", &[("password", PASSWORD)]).await.page();
    assert!(
        elsewhere
            .submit(&p, "/code", &[("code", &totp::code_at(&secret, at + 30).unwrap())])
            .await
            .left()
            .starts_with(CALLBACK)
    );

    // An application holds a refresh token from before the change.
    let offline = authorization_request(&rp, &["offline_access"]);
    let callback = elsewhere.open(&offline.url).await.left();
    let tokens = exchange(&rp, &callback, &offline).await;

    let form = |current: &'static str, new: &'static str, confirm: &'static str| {
        [("current_password", current), ("new_password", new), ("confirm_password", confirm)]
    };
    let (_, status, page) =
        pages.submit(&page, "/account/password", &form("wrong one here", NEW_PASSWORD, NEW_PASSWORD)).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("current password is not right"));
    let (_, status, page) =
        pages.submit(&page, "/account/password", &form(PASSWORD, NEW_PASSWORD, "something else")).await.page();
    assert_eq!(status, 400);
    let (_, status, page) =
        pages.submit(&page, "/account/password", &form(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("Saved."), "this browser stays signed in");

    let (path, _, _) = elsewhere.open(&authorization_request(&rp, &[]).url).await.page();
    assert!(path.starts_with("/signin/"), "the other session ended");
    use openidconnect::OAuth2TokenResponse;
    let refreshed = rp.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&http()).await;
    assert!(refreshed.is_err(), "refresh tokens from before the change are revoked");
    assert!(outbox_texts(&db, &server).last().unwrap().contains("password of your account changed"));
    server.stop().await;
}

#[actix_web::test]
async fn a_new_authenticator_replaces_the_old_one() {
    let (_db, server, _) = setup();
    confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&server, "ledger", None).await;
    let pages = PageClient::new(&server.base);
    let (page, old_secret, _, at) = first_account_sign_in(&pages).await;

    let (_, status, page) = pages.submit(&page, "/account/authenticator", &[("code", "000000")]).await.page();
    assert_eq!(status, 400);
    let current = totp::code_at(&old_secret, at + 30).unwrap();
    let (path, _, page) = pages.submit(&page, "/account/authenticator", &[("code", &current)]).await.page();
    assert!(path.starts_with("/signin/") && page.contains("Set up 2-step verification"), "{path}");
    let typed = element_text(&page, "totp-secret");
    let new_secret = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    let (_, _, page) =
        pages.submit(&page, "/enrol", &[("code", &totp::code_at(&new_secret, now()).unwrap())]).await.page();
    let (path, _, _) = pages.submit(&page, "/recovery-codes", &[]).await.page();
    assert_eq!(path, "/account");

    // Two minutes on: the old authenticator no longer signs in; the new one does.
    server.state.clock.advance(120);
    let later = server.state.clock.now();
    let other = PageClient::new(&server.base);
    let p = to_password_page(&other, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    let (_, _, p) = other.submit(&p, "/password", &[("password", PASSWORD)]).await.page();
    let (_, status, p) =
        other.submit(&p, "/code", &[("code", &totp::code_at(&old_secret, later).unwrap())]).await.page();
    assert_eq!(status, 400);
    let left = other.submit(&p, "/code", &[("code", &totp::code_at(&new_secret, later).unwrap())]).await.left();
    assert!(left.starts_with(CALLBACK));
    server.stop().await;
}

#[actix_web::test]
async fn applications_can_be_removed_and_everything_signed_out() {
    let (_db, server, _) = setup();
    confidential_client(&server.state, "ledger", false, "RS256", &[]);
    let rp = relying_party(&server, "ledger", None).await;
    let pages = PageClient::new(&server.base);
    let (callback, _, _, _) =
        first_sign_in_at(&pages, &authorization_request(&rp, &["email"]).url, "maija@example.com").await;
    assert!(callback.starts_with(CALLBACK));

    let (path, _, page) = pages.open("/account").await.page();
    assert_eq!(path, "/account");
    assert!(page.contains("<strong>ledger</strong>"), "the consented application is listed");
    let (_, _, page) = pages.submit(&page, "/account/applications/ledger/revoke", &[]).await.page();
    assert!(!page.contains("<strong>ledger</strong>"));
    let (_, _, consent) = pages.open(&authorization_request(&rp, &["email"]).url).await.page();
    assert!(consent.contains("Allow access"), "removed: the application must ask again");

    // Signed in in another browser too.
    let other = PageClient::new(&server.base);
    let (_, secret, _, at) = (pages.base.clone(), (), (), ());
    let _ = (secret, at);
    let p = to_password_page(&other, "/account", "maija@example.com").await;
    let (_, _, p) = other.submit(&p, "/password", &[("password", PASSWORD)]).await.page();
    assert!(p.contains("2-step verification"));

    let (_, _, page) = pages.open("/account").await.page();
    assert_eq!(page.matches("<li>Signed in").count(), 1);
    let landing = pages.submit(&page, "/account/sign-out-everywhere", &[]).await;
    let Landing::Page { path, .. } = landing else { panic!("expected the sign-in") };
    assert!(path.starts_with("/signin/"), "signed out everywhere: the account page asks to sign in");
    let (path, status, _) = other.submit(&p, "/code", &[("code", "123456")]).await.page();
    assert_eq!(status, 404, "the other browser's sign-in in progress ended too: {path}");
    server.stop().await;
}

/// A double-submitted confirmation of a new authenticator stores exactly one
/// set of recovery codes, the one its page shows: the step is one
/// transaction, and the request that loses the race changes nothing.
async fn a_double_submitted_new_authenticator_keeps_the_codes_its_page_shows(db: &TestDb) {
    let (server, user_id) = serve_maija(db);
    let pages = PageClient::new(&server.base);
    let (page, secret, _, _) = first_account_sign_in(&pages).await;
    server.state.clock.advance(30);
    let code = totp::code_at(&secret, server.state.clock.now()).unwrap();
    let (_, _, page) = pages.submit(&page, "/account/authenticator", &[("code", &code)]).await.page();
    assert!(page.contains("Set up 2-step verification"), "{page}");
    let typed = element_text(&page, "totp-secret");
    let fresh = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    let first = totp::code_at(&fresh, server.state.clock.now()).unwrap();
    let fields = [("code", first.as_str())];
    let (one, other) = tokio::join!(pages.submit(&page, "/enrol", &fields), pages.submit(&page, "/enrol", &fields));
    let pages_shown = [one.page(), other.page()];
    let shown: Vec<Vec<String>> = pages_shown
        .iter()
        .map(|(_, _, body)| {
            body.split("<li><code>").skip(1).map(|rest| rest.split('<').next().unwrap().to_owned()).collect()
        })
        .collect();
    let winners: Vec<&Vec<String>> = shown.iter().filter(|codes| codes.len() == 10).collect();
    assert_eq!(winners.len(), 1, "exactly one request shows new recovery codes");
    let statuses: Vec<u16> = pages_shown.iter().map(|(_, status, _)| status.as_u16()).collect();
    assert!(statuses.contains(&400), "the other is refused: {statuses:?}");
    // The stored codes are the ones shown: each of them works, once.
    for code in winners[0] {
        let digest = recovery_codes::digest(&server.state.keys, &user_id, code).unwrap();
        assert!(server.state.store.write(|tx| tx.use_recovery_code(&user_id, &digest, 1)).unwrap(), "{code}");
    }
    assert_eq!(server.state.store.read(|r| r.unused_recovery_codes(&user_id)).unwrap(), 0, "and no others");
    server.stop().await;
}

served_on_both_backends!(
    name_contacts_and_recovery_codes,
    a_double_submitted_new_authenticator_keeps_the_codes_its_page_shows
);
