//! QR sign-in to the browser from the phone (issue 12, items 1–4 and 8):
//! the computer's sign-in page shows a code, a link and a number; the app
//! reads what asks and approves with a fresh JWS by its device key; the
//! browser that showed the code, and no other, goes on signed in. Every
//! refusal changes nothing but what it says: a wrong number or a "deny"
//! ends the code. On both backends, and across two instances.

use diesel::prelude::*;
use openidconnect::TokenResponse as _;
use openidconnect::core::CoreIdTokenClaims;
use portti::domain::client::{ClientKind, NewClient, add_client};
use portti::domain::ids::UserId;
use portti::store::schema::{audit_events, qr_logins};
use serde_json::{Value, json};

use crate::devices::{APP, CURRENT, JWT_BEARER, Phone, api, app_first_sign_in};
use crate::support::fixtures::{CALLBACK, Rp, authorization_request, exchange, http, person, relying_party};
use crate::support::pages::{Landing, PageClient, element_text};
use crate::support::{TestDb, TestServer, served_on_both_backends};

served_on_both_backends!(
    the_phone_signs_the_computers_browser_in_once,
    a_wrong_number_or_a_deny_ends_the_code,
    a_proof_must_be_the_persons_device_key_over_this_code,
    only_the_browser_that_showed_the_code_learns_of_it_or_redeems_it,
    an_expired_code_is_refused_everywhere,
    a_locked_account_approves_nothing_and_redeems_nothing,
    a_browser_and_an_address_get_a_few_live_codes_and_then_none,
    an_approval_through_one_instance_reaches_a_browser_polling_another,
);

/// Maija, her app signed in with a registered device key, and the
/// application "Ledger" the computer signs in to.
pub(crate) struct Setup {
    pub server: TestServer,
    pub user: UserId,
    phone: Phone,
    device_id: String,
    /// The app's access token.
    access_token: String,
    ledger: Rp,
}

async fn setup(db: &TestDb) -> Setup {
    setup_on(db.serve(APP)).await
}

/// [`Setup`] on a server started with [`APP`].
pub(crate) async fn setup_on(server: TestServer) -> Setup {
    let user = person(&server.state, "maija@example.com");
    let grants: Vec<String> = ["authorization_code", "refresh_token", JWT_BEARER].map(str::to_owned).to_vec();
    let app = NewClient::parse("app", ClientKind::Public, &[CALLBACK.to_owned()], &[], &grants, true, None).unwrap();
    add_client(&server.state.store, 1, app).unwrap();
    let ledger = NewClient::parse(
        "ledger",
        ClientKind::Confidential { secret: Some(LEDGER_SECRET.to_owned()) },
        &[CALLBACK.to_owned()],
        &[],
        &[],
        false,
        None,
    )
    .unwrap()
    .named(Some("Ledger"))
    .unwrap();
    add_client(&server.state.store, 1, ledger).unwrap();
    let tokens = app_first_sign_in(&server, &PageClient::new(&server.base), "maija@example.com").await;
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let phone = Phone::new();
    let body = json!({"public_key": phone.jwk(), "name": "Maija's phone", "platform": "ios"});
    let (status, answer) = api(&server, "POST", "/devices", Some(&access_token), Some(CURRENT), Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    let device_id = answer["device_id"].as_str().unwrap().to_owned();
    let ledger = relying_party(&server, "ledger", Some(LEDGER_SECRET)).await;
    Setup { server, user, phone, device_id, access_token, ledger }
}

const LEDGER_SECRET: &str = "ledger-secret-of-at-least-32-characters";

/// A computer's browser at the email step, showing a QR code.
struct Computer {
    pages: PageClient,
    page: String,
    qr_id: String,
    number: i64,
}

impl Computer {
    async fn open(server_base: &str, url: &str) -> Self {
        let pages = PageClient::new(server_base);
        let (path, _, page) = pages.open(url).await.page();
        assert!(path.starts_with("/signin/"), "{path}");
        let (qr_id, number) = shown_code(&page);
        Self { pages, page, qr_id, number }
    }

    /// What the page's script polls.
    async fn status(&self) -> (u16, Value) {
        poll(&self.pages, &self.qr_id).await
    }

    /// Presses "Continue" under the code.
    async fn continue_sign_in(&self) -> Landing {
        self.pages.submit(&self.page, "/qr", &[]).await
    }
}

/// The code's id (from `#qr-link`) and the number (`#qr-number`) a page shows.
pub fn shown_code(page: &str) -> (String, i64) {
    assert!(page.contains("<svg"), "the QR code is drawn inline: {page}");
    let anchor = page.split("<a id=\"qr-link\" href=\"").nth(1).expect("a #qr-link");
    let (link, rest) = anchor.split_once('"').unwrap();
    let qr_id = link.rsplit("/qr/").next().unwrap().to_owned();
    assert_eq!(rest.strip_prefix('>').unwrap().split('<').next().unwrap(), link, "the link is also shown as text");
    let number: i64 = element_text(page, "qr-number").parse().unwrap();
    assert!((10..=99).contains(&number), "{number}");
    (qr_id, number)
}

async fn poll(pages: &PageClient, qr_id: &str) -> (u16, Value) {
    match pages.open(&format!("/qr/{qr_id}/status")).await {
        Landing::Page { status, body, .. } => {
            (status.as_u16(), serde_json::from_str(&body).unwrap_or(Value::String(body)))
        }
        Landing::Left(url) => panic!("left for {url}"),
    }
}

impl Setup {
    pub(crate) fn now(&self) -> i64 {
        self.server.state.clock.now()
    }

    /// A proof by `phone` for this code and choice.
    pub(crate) fn proof_by(&self, phone: &Phone, qr_id: &str, choice: i64, jti: &str) -> String {
        let claims = json!({"qr_id": qr_id, "choice": choice, "iat": self.now(), "jti": jti, "amr": ["face"]});
        phone.sign(&self.device_id, &claims)
    }

    pub(crate) async fn describe(&self, qr_id: &str) -> (u16, Value) {
        api(&self.server, "GET", &format!("/qr/{qr_id}"), Some(&self.access_token), Some(CURRENT), None).await
    }

    pub(crate) async fn approve_with(&self, qr_id: &str, choice: i64, proof: &str) -> (u16, Value) {
        let body = json!({"choice": choice, "proof": proof});
        let path = format!("/qr/{qr_id}/approve");
        api(&self.server, "POST", &path, Some(&self.access_token), Some(CURRENT), Some(body)).await
    }

    pub(crate) async fn approve(&self, qr_id: &str, choice: i64) -> (u16, Value) {
        let proof = self.proof_by(&self.phone, qr_id, choice, &uuid::Uuid::new_v4().to_string());
        self.approve_with(qr_id, choice, &proof).await
    }

    pub(crate) async fn deny(&self, qr_id: &str) -> (u16, Value) {
        let path = format!("/qr/{qr_id}/deny");
        api(&self.server, "POST", &path, Some(&self.access_token), Some(CURRENT), None).await
    }
}

fn qr_state(db: &TestDb) -> Vec<String> {
    qr_logins::table.select(qr_logins::state).load(&mut db.connection()).unwrap()
}

fn audited(db: &TestDb, action: &str) -> Vec<Option<String>> {
    audit_events::table
        .filter(audit_events::action.eq(action))
        .select(audit_events::detail)
        .load(&mut db.connection())
        .unwrap()
}

async fn the_phone_signs_the_computers_browser_in_once(db: &TestDb) {
    let setup = setup(db).await;
    let request = authorization_request(&setup.ledger, &["email"]);
    let computer = Computer::open(&setup.server.base, request.url.as_str()).await;
    assert!(computer.page.contains("Sign in with your phone"), "{}", computer.page);
    assert!(computer.page.contains(&format!("href=\"{}/qr/{}\"", setup.server.base, computer.qr_id)));
    assert_eq!(computer.status().await, (200, json!({"state": "pending"})));

    // The phone sees what asks: the browser, the address, the application, three numbers.
    let (status, asked) = setup.describe(&computer.qr_id).await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["application"], "Ledger");
    assert_eq!(asked["ip"], "127.0.0.1");
    assert!(asked["requested_at"].as_str().unwrap().ends_with('Z'), "{asked}");
    let choices: Vec<i64> = asked["choices"].as_array().unwrap().iter().map(|n| n.as_i64().unwrap()).collect();
    assert_eq!(choices.len(), 3);
    assert!(choices.contains(&computer.number), "{choices:?} has the computer's {}", computer.number);
    assert!(asked["browser"].is_string(), "{asked}");

    // "Continue" before the phone has answered: the same code, still waiting.
    let (_, status, page) = computer.continue_sign_in().await.page();
    assert_eq!(status, 400);
    assert!(page.contains("has not approved this sign-in yet"), "{page}");
    assert_eq!(shown_code(&page), (computer.qr_id.clone(), computer.number), "the code being scanned stays");

    let before = setup.now();
    let (status, answer) = setup.approve(&computer.qr_id, computer.number).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(computer.status().await, (200, json!({"state": "approved"})));
    let approvals = audited(db, "qr_approved");
    assert_eq!(approvals.len(), 1);
    assert!(approvals[0].as_deref().unwrap().contains("\"browser_address\":\"127.0.0.1\""), "{approvals:?}");

    // The browser goes on by itself: consent for Ledger, then back with a code.
    let (_, _, consent) = computer.continue_sign_in().await.page();
    assert!(consent.contains("Allow access"), "{consent}");
    let callback = computer.pages.submit(&consent, "/consent", &[("decision", "allow")]).await.left();
    let tokens = exchange(&setup.ledger, &callback, &request).await;
    let claims: &CoreIdTokenClaims =
        tokens.id_token().unwrap().claims(&setup.ledger.id_token_verifier(), &request.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), setup.user.as_str());
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.to_string()).collect();
    assert_eq!(amr, ["hwk", "face", "mfa"]);
    let auth_time = claims.auth_time().unwrap().timestamp();
    assert!(auth_time >= before && auth_time <= setup.now(), "auth_time is the approval's: {auth_time}");

    // Used once: neither the browser nor the phone can use the code again.
    let (status, page) = match computer.continue_sign_in().await {
        Landing::Page { status, body, .. } => (status, body),
        Landing::Left(url) => panic!("signed in twice: {url}"),
    };
    assert_ne!(status, 200, "{page}");
    let (status, answer) = setup.approve(&computer.qr_id, computer.number).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("qr_expired")), "{answer}");
    assert!(qr_state(db).iter().any(|s| s.contains("redeemed")), "{:?}", qr_state(db));
}

async fn a_wrong_number_or_a_deny_ends_the_code(db: &TestDb) {
    let setup = setup(db).await;
    let request = authorization_request(&setup.ledger, &[]);

    let computer = Computer::open(&setup.server.base, request.url.as_str()).await;
    let (_, asked) = setup.describe(&computer.qr_id).await;
    let wrong =
        asked["choices"].as_array().unwrap().iter().map(|n| n.as_i64().unwrap()).find(|n| *n != computer.number);
    let (status, answer) = setup.approve(&computer.qr_id, wrong.unwrap()).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("wrong_number")), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("not the number"), "{answer}");
    assert_eq!(computer.status().await, (200, json!({"state": "denied"})));
    let (status, answer) = setup.approve(&computer.qr_id, computer.number).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("qr_expired")), "the right number comes too late");
    let (_, status, page) = computer.continue_sign_in().await.page();
    assert_eq!(status, 400);
    assert!(page.contains("declined on the phone"), "{page}");
    assert_eq!(audited(db, "qr_wrong_number").len(), 1);

    let computer = Computer::open(&setup.server.base, request.url.as_str()).await;
    let (status, _) = setup.deny(&computer.qr_id).await;
    assert_eq!(status, 204);
    assert_eq!(computer.status().await, (200, json!({"state": "denied"})));
    let (status, answer) = setup.approve(&computer.qr_id, computer.number).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("qr_expired")), "{answer}");
    let (status, answer) = setup.deny(&computer.qr_id).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("qr_expired")), "{answer}");
    assert_eq!(audited(db, "qr_denied").len(), 1);
    assert!(audited(db, "sign_in").iter().all(|d| !d.as_deref().unwrap_or("").contains("hwk")), "no one signed in");
}

async fn a_proof_must_be_the_persons_device_key_over_this_code(db: &TestDb) {
    let setup = setup(db).await;
    let request = authorization_request(&setup.ledger, &[]);
    let computer = Computer::open(&setup.server.base, request.url.as_str()).await;
    let (qr_id, number) = (computer.qr_id.as_str(), computer.number);
    let jti = || uuid::Uuid::new_v4().to_string();
    let now = setup.now();
    let claims = |qr: &str, choice: i64, iat: i64, amr: Value| json!({"qr_id": qr, "choice": choice, "iat": iat, "jti": jti(), "amr": amr});
    let refused = [
        ("a stolen access token alone", "not a proof".to_owned()),
        ("a foreign key under the device's id", setup.proof_by(&Phone::new(), qr_id, number, &jti())),
        ("another code", setup.phone.sign(&setup.device_id, &claims("other", number, now, json!(["pin"])))),
        ("another choice", setup.phone.sign(&setup.device_id, &claims(qr_id, number + 1, now, json!(["pin"])))),
        ("an old proof", setup.phone.sign(&setup.device_id, &claims(qr_id, number, now - 120, json!(["pin"])))),
        ("no unlock method", setup.phone.sign(&setup.device_id, &claims(qr_id, number, now, json!(["pwd"])))),
        (
            "an unknown device",
            Phone::new().sign(&uuid::Uuid::new_v4().to_string(), &claims(qr_id, number, now, json!(["pin"]))),
        ),
    ];
    for (case, proof) in &refused {
        let (status, answer) = setup.approve_with(qr_id, number, proof).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_proof")), "{case}: {answer}");
    }
    // Without the app's access token nothing is read or approved.
    let proof = setup.proof_by(&setup.phone, qr_id, number, &jti());
    let (status, _) = api(&setup.server, "GET", &format!("/qr/{qr_id}"), None, Some(CURRENT), None).await;
    assert_eq!(status, 401);
    let body = Some(json!({"choice": number, "proof": proof}));
    let (status, _) = api(&setup.server, "POST", &format!("/qr/{qr_id}/approve"), None, Some(CURRENT), body).await;
    assert_eq!(status, 401);
    assert_eq!(computer.status().await, (200, json!({"state": "pending"})), "nothing above changed the code");

    // A replayed proof: used once, then refused (on a code still waiting).
    let second = Computer::open(&setup.server.base, request.url.as_str()).await;
    let proof = setup.proof_by(&setup.phone, &second.qr_id, second.number, "the-same-jti");
    let (status, _) = setup.approve_with(&second.qr_id, second.number, &proof).await;
    assert_eq!(status, 204);
    let third = Computer::open(&setup.server.base, request.url.as_str()).await;
    let replayed = setup.proof_by(&setup.phone, &third.qr_id, third.number, "the-same-jti");
    let (status, answer) = setup.approve_with(&third.qr_id, third.number, &replayed).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_proof")), "a jti is used once: {answer}");

    // A removed device approves nothing.
    let path = format!("/devices/{}", setup.device_id);
    let (status, _) = api(&setup.server, "DELETE", &path, Some(&setup.access_token), Some(CURRENT), None).await;
    assert_eq!(status, 204);
    let (status, answer) = setup.approve(qr_id, number).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_proof")), "{answer}");
    assert_eq!(computer.status().await, (200, json!({"state": "pending"})));
}

async fn only_the_browser_that_showed_the_code_learns_of_it_or_redeems_it(db: &TestDb) {
    let setup = setup(db).await;
    let request = authorization_request(&setup.ledger, &[]);
    let computer = Computer::open(&setup.server.base, request.url.as_str()).await;
    let (status, answer) = setup.approve(&computer.qr_id, computer.number).await;
    assert_eq!(status, 204, "{answer}");

    // Another browser (an attacker who relayed the code) learns nothing and redeems nothing.
    let attacker = Computer::open(&setup.server.base, request.url.as_str()).await;
    assert_eq!(poll(&attacker.pages, &computer.qr_id).await.0, 404);
    let cookieless = http().get(format!("{}/qr/{}/status", setup.server.base, computer.qr_id)).send().await.unwrap();
    assert_eq!(cookieless.status(), 404);
    let page = attacker.page.replace(&attacker.qr_id, &computer.qr_id);
    let (_, status, page) = attacker.pages.submit(&page, "/qr", &[]).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("expired or was already used"), "{page}");

    // The browser that showed it still can.
    assert_eq!(computer.status().await, (200, json!({"state": "approved"})));
    let (_, _, consent) = computer.continue_sign_in().await.page();
    assert!(consent.contains("Allow access"), "{consent}");
}

async fn an_expired_code_is_refused_everywhere(db: &TestDb) {
    let setup = setup(db).await;
    let request = authorization_request(&setup.ledger, &[]);
    let computer = Computer::open(&setup.server.base, request.url.as_str()).await;
    setup.server.state.clock.advance(portti::domain::qr::QR_SECONDS);
    assert_eq!(computer.status().await, (200, json!({"state": "expired"})));
    let (status, answer) = setup.describe(&computer.qr_id).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("qr_expired")), "{answer}");
    let (status, answer) = setup.approve(&computer.qr_id, computer.number).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("qr_expired")), "{answer}");
    let (status, _) = setup.describe("no-such-code").await;
    assert_eq!(status, 404);
    // The page shown again has a new code.
    let (_, _, page) = computer.pages.open(&format!("/signin/{}", computer.page_flow())).await.page();
    assert_ne!(shown_code(&page).0, computer.qr_id);
}

impl Computer {
    /// The flow id of the page.
    fn page_flow(&self) -> String {
        self.page.split("action=\"/signin/").nth(1).unwrap().split('/').next().unwrap().to_owned()
    }
}

async fn an_approval_through_one_instance_reaches_a_browser_polling_another(db: &TestDb) {
    let setup = setup(db).await;
    let other = db.serve_beside(&setup.server, APP);
    let request = authorization_request(&setup.ledger, &[]);
    // The computer talks to the other instance only; the phone to the first.
    let url = request.url.as_str().replace(&setup.server.base, &other.base);
    let computer = Computer::open(&other.base, &url).await;
    assert_eq!(computer.status().await, (200, json!({"state": "pending"})));
    let (status, answer) = setup.approve(&computer.qr_id, computer.number).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(computer.status().await, (200, json!({"state": "approved"})));
    let (_, _, consent) = computer.continue_sign_in().await.page();
    assert!(consent.contains("Allow access"), "{consent}");
    other.stop().await;
}

/// Locks Maija as repeated failures would.
fn lock(setup: &Setup) {
    let subject = portti::domain::throttle::Subject::person(&setup.user);
    let now = setup.now();
    setup
        .server
        .state
        .store
        .write(|tx| {
            tx.record_sign_in_attempt(subject.key(), now, now - 60)?;
            tx.lock_sign_in(subject.key(), now + 3600)
        })
        .unwrap();
}

async fn a_locked_account_approves_nothing_and_redeems_nothing(db: &TestDb) {
    let setup = setup(db).await;
    let request = authorization_request(&setup.ledger, &[]);
    // Approved, then locked before the browser redeems it.
    let computer = Computer::open(&setup.server.base, request.url.as_str()).await;
    let (status, _) = setup.approve(&computer.qr_id, computer.number).await;
    assert_eq!(status, 204);
    lock(&setup);
    let (_, status, page) = computer.continue_sign_in().await.page();
    assert_eq!(status, 429, "{page}");
    assert!(!page.contains("Allow access"), "not signed in: {page}");
    // Locked first: the phone approves nothing.
    let other = Computer::open(&setup.server.base, request.url.as_str()).await;
    let (status, answer) = setup.approve(&other.qr_id, other.number).await;
    assert_eq!((status, answer["error"].as_str()), (429, Some("account_locked")), "{answer}");
    assert_eq!(other.status().await, (200, json!({"state": "pending"})));
}

async fn a_browser_and_an_address_get_a_few_live_codes_and_then_none(db: &TestDb) {
    use portti::domain::qr::{LIVE_PER_BROWSER, NEW_PER_ADDRESS_PER_MINUTE};
    let setup = setup(db).await;
    let request = authorization_request(&setup.ledger, &[]);
    // The address counts in fixed minutes: start at the start of one.
    let now = setup.now();
    setup.server.state.clock.advance(60 - now % 60);
    let shows_code = |page: &str| page.contains("id=\"qr-link\"");

    let tabs = PageClient::new(&setup.server.base);
    for _ in 0..LIVE_PER_BROWSER {
        let (_, _, page) = tabs.open(request.url.as_str()).await.page();
        assert!(shows_code(&page), "{page}");
    }
    let (_, status, page) = tabs.open(request.url.as_str()).await.page();
    assert_eq!(status, 200, "the sign-in itself goes on");
    assert!(!shows_code(&page) && page.contains("<label for=\"email\">"), "no sixth live code: {page}");
    // Once those have expired, the browser gets codes again.
    setup.server.state.clock.advance(portti::domain::qr::QR_SECONDS);
    let (_, _, page) = tabs.open(request.url.as_str()).await.page();
    assert!(shows_code(&page), "{page}");

    // Many browsers from one address: the address's share per minute, then none.
    let now = setup.now();
    setup.server.state.clock.advance(60 - now % 60);
    let mut shown = 0;
    for _ in 0..(NEW_PER_ADDRESS_PER_MINUTE + 5) {
        let (_, _, page) = PageClient::new(&setup.server.base).open(request.url.as_str()).await.page();
        shown += i64::from(shows_code(&page));
    }
    assert_eq!(shown, NEW_PER_ADDRESS_PER_MINUTE, "an address gets {NEW_PER_ADDRESS_PER_MINUTE} a minute");
}
