//! The device authorization grant (RFC 8628; issue 12, item 7): a TV-style
//! client gets a device code and a user code, polls while the person signs
//! in at `/device` and allows it, and gets its tokens once; every polling
//! answer (`authorization_pending`, `slow_down` with a remembered longer
//! interval, `access_denied`, `expired_token`) and every refusal on the
//! pages is checked. On both backends, and across two instances.

use portti::crypto::totp;
use portti::domain::client::{ClientKind, NewClient, add_client};
use portti::domain::device_authorization::{DEVICE_CODE_SECONDS, LOOKUPS_PER_BROWSER};
use portti::domain::ids::UserId;
use portti::domain::throttle::Subject;
use serde_json::Value;

use crate::support::fixtures::{PASSWORD, http, person};
use crate::support::pages::{Landing, PageClient, element_text};
use crate::support::{TestDb, TestServer, served_on_both_backends};
use crate::tokens::verify_with_jwks;

served_on_both_backends!(
    a_tv_gets_tokens_once_after_the_person_allows_it,
    a_denied_an_expired_or_a_foreign_device_code_gets_nothing,
    wrong_user_codes_are_limited_and_a_locked_account_gets_nothing,
    guesses_posted_to_the_approval_address_are_counted_too,
    a_device_allowed_through_one_instance_gets_its_tokens_from_another,
);

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub fn register_tv(server: &TestServer) {
    let grants = [DEVICE_CODE, "refresh_token"].map(str::to_owned);
    let tv = NewClient::parse("tv", ClientKind::Public, &[], &[], &grants, false, None)
        .unwrap()
        .named(Some("Living-room TV"))
        .unwrap();
    add_client(&server.state.store, 1, tv).unwrap();
}

async fn post_form(server: &TestServer, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http().post(format!("{}{path}", server.base)).form(form).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The device asks for its codes.
async fn start(server: &TestServer, client_id: &str, scope: &str) -> (u16, Value) {
    post_form(server, "/device_authorization", &[("client_id", client_id), ("scope", scope)]).await
}

/// One poll of the token endpoint.
async fn poll(server: &TestServer, device_code: &str) -> (u16, Value) {
    post_form(server, "/token", &[("grant_type", DEVICE_CODE), ("device_code", device_code), ("client_id", "tv")]).await
}

fn error_of(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["error"].as_str().unwrap_or("none"))
}

/// A person at `/device` with the code filled in from the link, signing in
/// for the first time on the way: returns the approval page.
async fn to_approval(server: &TestServer, pages: &PageClient, verification_uri_complete: &str, email: &str) -> String {
    let (_, status, page) = pages.open(verification_uri_complete).await.page();
    assert_eq!(status, 200);
    assert!(page.contains(r#"<label for="user_code">User code</label>"#), "{page}");
    let filled_in = page.split("name=\"user_code\"").nth(1).unwrap().split("value=\"").nth(1).unwrap();
    let filled_in = filled_in.split('"').next().unwrap().to_owned();
    assert!(verification_uri_complete.ends_with(&filled_in), "the link fills the code in: {filled_in}");
    let (path, _, page) = pages.submit(&page, "/device", &[("user_code", &filled_in)]).await.page();
    assert!(path.starts_with("/signin/"), "a browser not signed in signs in first: {path}");
    let (_, _, page) = pages.submit(&page, "/email", &[("email", email)]).await.page();
    let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    let typed = element_text(&page, "totp-secret");
    let secret = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    let code = totp::code_at(&secret, server.state.clock.now()).unwrap();
    let (_, _, page) = pages.submit(&page, "/enrol", &[("code", &code)]).await.page();
    let (_, _, page) = pages.submit(&page, "/recovery-codes", &[]).await.page();
    let (path, _, page) = pages.submit(&page, "/terms", &[]).await.page();
    assert!(path.starts_with("/device/"), "back to the device after signing in: {path}");
    page
}

async fn a_tv_gets_tokens_once_after_the_person_allows_it(db: &TestDb) {
    let server = db.serve("");
    register_tv(&server);
    let user = person(&server.state, "maija@example.com");
    let discovery: Value = http()
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["device_authorization_endpoint"], format!("{}/device_authorization", server.base));
    assert!(discovery["grant_types_supported"].as_array().unwrap().iter().any(|g| g == DEVICE_CODE));

    let (status, codes) = start(&server, "tv", "openid offline_access").await;
    assert_eq!(status, 200, "{codes}");
    let user_code = codes["user_code"].as_str().unwrap();
    assert!(
        user_code.len() == 9
            && user_code.chars().enumerate().all(|(i, c)| if i == 4 {
                c == '-'
            } else {
                "BCDFGHJKLMNPQRSTVWXZ".contains(c)
            }),
        "{user_code}"
    );
    assert_eq!(codes["verification_uri"], format!("{}/device", server.base));
    assert_eq!(codes["verification_uri_complete"], format!("{}/device?user_code={user_code}", server.base));
    assert_eq!((codes["expires_in"].as_i64(), codes["interval"].as_i64()), (Some(600), Some(5)));
    let device_code = codes["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43, "at least 128 bits");

    // Polling: pending; too soon, slow down, and the longer interval is remembered.
    assert_eq!(error_of(&poll(&server, device_code).await), (400, "authorization_pending"));
    assert_eq!(error_of(&poll(&server, device_code).await), (400, "slow_down"));
    server.state.clock.advance(6);
    assert_eq!(error_of(&poll(&server, device_code).await), (400, "slow_down"), "the interval is now 10 s");
    server.state.clock.advance(15);
    assert_eq!(error_of(&poll(&server, device_code).await), (400, "authorization_pending"));

    // The person: a wrong code first, then the right one typed in lower case without its dash.
    let pages = PageClient::new(&server.base);
    let (_, _, page) = pages.open("/device").await.page();
    let (_, status, page) = pages.submit(&page, "/device", &[("user_code", "BBBB-BBBB")]).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("That code is not right"), "{page}");
    let page =
        to_approval(&server, &pages, codes["verification_uri_complete"].as_str().unwrap(), "maija@example.com").await;
    assert_eq!(element_text(&page, "device-application"), "Living-room TV");
    assert_eq!(element_text(&page, "device-user-code"), user_code);
    assert_eq!(element_text(&page, "device-address"), "127.0.0.1", "where the device asked from");
    assert!(page.contains(">Allow</button>") && page.contains(">Deny</button>"), "{page}");
    let typed = user_code.replace('-', "").to_lowercase();
    let (_, _, entered) = pages.open("/device").await.page();
    let (path, _, _) = pages.submit(&entered, "/device", &[("user_code", &typed)]).await.page();
    assert_eq!(path, format!("/device/{}", user_code.replace('-', "")), "case and dashes are ignored");
    let (_, status, done) =
        pages.submit(&page, &format!("/device/{}", user_code.replace('-', "")), &[("decision", "allow")]).await.page();
    assert_eq!(status, 200);
    assert!(done.contains("The device is connected"), "{done}");

    server.state.clock.advance(15);
    let (status, tokens) = poll(&server, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let claims = verify_with_jwks(&server, tokens["id_token"].as_str().unwrap(), "JWT", "tv").await;
    assert_eq!(claims["sub"], user.as_str());
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
    server.state.clock.advance(15);
    assert_eq!(error_of(&poll(&server, device_code).await), (400, "invalid_grant"), "tokens are issued once");
    // The code cannot be answered again either.
    let (_, _, again) = pages.open(&format!("/device/{}", user_code.replace('-', ""))).await.page();
    assert!(again.contains("That code is not right"), "{again}");
}

async fn a_denied_an_expired_or_a_foreign_device_code_gets_nothing(db: &TestDb) {
    let server = db.serve("");
    register_tv(&server);
    person(&server.state, "maija@example.com");
    let other =
        NewClient::parse("web", ClientKind::Public, &["https://rp.example/cb".to_owned()], &[], &[], false, None)
            .unwrap();
    add_client(&server.state.store, 1, other).unwrap();
    assert_eq!(error_of(&start(&server, "web", "openid").await), (400, "unauthorized_client"));
    assert_eq!(error_of(&start(&server, "nobody", "openid").await), (401, "invalid_client"));
    assert_eq!(error_of(&start(&server, "tv", "openid wishes").await), (400, "invalid_scope"));

    let (_, denied) = start(&server, "tv", "openid").await;
    let pages = PageClient::new(&server.base);
    let page =
        to_approval(&server, &pages, denied["verification_uri_complete"].as_str().unwrap(), "maija@example.com").await;
    let path = crate::support::pages::form_action(&page, &denied["user_code"].as_str().unwrap().replace('-', ""));
    let (_, _, done) = pages.submit(&page, &path, &[("decision", "deny")]).await.page();
    assert!(done.contains("not given access"), "{done}");
    assert_eq!(error_of(&poll(&server, denied["device_code"].as_str().unwrap()).await), (400, "access_denied"));

    let (_, expiring) = start(&server, "tv", "openid").await;
    server.state.clock.advance(DEVICE_CODE_SECONDS);
    assert_eq!(error_of(&poll(&server, expiring["device_code"].as_str().unwrap()).await), (400, "expired_token"));
    let code = expiring["user_code"].as_str().unwrap().replace('-', "");
    let (_, status, page) = pages.open(&format!("/device/{code}")).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("That code is not right, or it has expired"), "{page}");

    let (_, live) = start(&server, "tv", "openid").await;
    let form =
        [("grant_type", DEVICE_CODE), ("device_code", live["device_code"].as_str().unwrap()), ("client_id", "web")];
    assert_eq!(error_of(&post_form(&server, "/token", &form).await), (400, "unauthorized_client"));
    assert_eq!(error_of(&poll(&server, "no-such-device-code").await), (400, "invalid_grant"));
}

async fn wrong_user_codes_are_limited_and_a_locked_account_gets_nothing(db: &TestDb) {
    let server = db.serve("");
    register_tv(&server);
    let user: UserId = person(&server.state, "maija@example.com");
    // The limits count in fixed windows: start at the start of one, so that
    // the minute waited below leaves the browser's window as it is.
    let now = server.state.clock.now();
    server.state.clock.advance(DEVICE_CODE_SECONDS - now % DEVICE_CODE_SECONDS);
    let (_, codes) = start(&server, "tv", "openid").await;

    let guesser = PageClient::new(&server.base);
    let (_, _, page) = guesser.open("/device").await.page();
    let mut last = 0;
    for _ in 0..=LOOKUPS_PER_BROWSER {
        let (_, status, _) = guesser.submit(&page, "/device", &[("user_code", "BBBB-BBBB")]).await.page();
        last = status.as_u16();
    }
    assert_eq!(last, 429, "a browser's guesses are limited");
    let right = codes["user_code"].as_str().unwrap();
    let (_, status, _) = guesser.submit(&page, "/device", &[("user_code", right)]).await.page();
    assert_eq!(status, 429, "even the right code, once over the limit");
    // A new cookie does not help: the address is over its limit for this minute.
    let fresh = PageClient::new(&server.base);
    let (_, _, fresh_page) = fresh.open("/device").await.page();
    let (_, status, _) = fresh.submit(&fresh_page, "/device", &[("user_code", right)]).await.page();
    assert_eq!(status, 429, "the address's lookups are limited too");
    // A minute later the address may look codes up again, but not that browser.
    server.state.clock.advance(60);
    let (_, status, _) = guesser.submit(&page, "/device", &[("user_code", right)]).await.page();
    assert_eq!(status, 429, "the browser's limit lasts while a code lives");

    // Allowed, then locked before the device polls: the device gets nothing.
    let pages = PageClient::new(&server.base);
    let page =
        to_approval(&server, &pages, codes["verification_uri_complete"].as_str().unwrap(), "maija@example.com").await;
    let path = crate::support::pages::form_action(&page, &right.replace('-', ""));
    pages.submit(&page, &path, &[("decision", "allow")]).await.page();
    let until = server.state.clock.now() + 3600;
    let subject = Subject::person(&user);
    // As repeated failures lock it: counted first, then locked.
    server
        .state
        .store
        .write(|tx| {
            tx.record_sign_in_attempt(subject.key(), until - 3600, until - 3660)?;
            tx.lock_sign_in(subject.key(), until)
        })
        .unwrap();
    let device_code = codes["device_code"].as_str().unwrap();
    assert_eq!(error_of(&poll(&server, device_code).await), (400, "invalid_grant"));
    server.state.clock.advance(10);
    assert_eq!(error_of(&poll(&server, device_code).await), (400, "invalid_grant"), "and never later");
}

async fn a_device_allowed_through_one_instance_gets_its_tokens_from_another(db: &TestDb) {
    let first = db.serve("");
    let second = db.serve_beside(&first, "");
    register_tv(&first);
    person(&first.state, "maija@example.com");
    let (_, codes) = start(&second, "tv", "openid").await;
    let pages = PageClient::new(&first.base);
    let link = codes["verification_uri_complete"].as_str().unwrap();
    let page = to_approval(&first, &pages, link, "maija@example.com").await;
    let path = crate::support::pages::form_action(&page, &codes["user_code"].as_str().unwrap().replace('-', ""));
    let landing = pages.submit(&page, &path, &[("decision", "allow")]).await;
    assert!(matches!(landing, Landing::Page { .. }));
    let (status, tokens) = poll(&second, codes["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    second.stop().await;
}

async fn guesses_posted_to_the_approval_address_are_counted_too(db: &TestDb) {
    let server = db.serve("");
    register_tv(&server);
    person(&server.state, "maija@example.com");
    let now = server.state.clock.now();
    server.state.clock.advance(DEVICE_CODE_SECONDS - now % DEVICE_CODE_SECONDS);
    let (_, codes) = start(&server, "tv", "openid").await;
    let pages = PageClient::new(&server.base);
    let link = codes["verification_uri_complete"].as_str().unwrap();
    let page = to_approval(&server, &pages, link, "maija@example.com").await;
    // A signed-in guesser answering for codes it does not know, straight at their addresses.
    let mut statuses = Vec::new();
    for _ in 0..LOOKUPS_PER_BROWSER {
        let forged = page.replace(&codes["user_code"].as_str().unwrap().replace('-', ""), "BBBBBBBB");
        let (_, status, _) = pages.submit(&forged, "/device/BBBBBBBB", &[("decision", "allow")]).await.page();
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses.first(), Some(&400), "a wrong code: {statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "then the limit: {statuses:?}");
    assert_eq!(error_of(&poll(&server, codes["device_code"].as_str().unwrap()).await), (400, "authorization_pending"));
}
