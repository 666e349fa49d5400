//! Passkeys (issue 12, items 5 and 8): a software authenticator
//! (`webauthn-authenticator-rs`, `SoftPasskey`) registers a passkey from
//! `/account` and signs in with it instead of email, password and
//! authenticator code. An answer for another origin, a replayed ceremony and
//! a removed passkey are refused, counted, and change nothing else; with an
//! IP issuer no passkey is offered. On both backends.
//!
//! `SoftPasskey` keeps no resident keys: it needs the credential named in
//! the request and returns no user handle. A discoverable authenticator
//! (a phone, a platform authenticator, Chromium's virtual one in the browser
//! test) finds the credential itself and returns the handle it stored at
//! registration; the test does those two things for it, and nothing else.

use diesel::prelude::*;
use openidconnect::TokenResponse as _;
use openidconnect::core::CoreIdTokenClaims;
use portti::domain::ids::UserId;
use portti::store::schema::{audit_events, passkeys, webauthn_ceremonies};
use serde_json::Value;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse};

use crate::account::first_account_sign_in;
use crate::support::fixtures::{
    Rp, authorization_request, confidential_client, exchange, maija_and_ledger, person, relying_party,
};
use crate::support::messages::delivered;
use crate::support::pages::{Landing, PageClient, form_action};
use crate::support::{TestDb, TestServer, served_on_both_backends};
use portti::crypto::totp;

served_on_both_backends!(
    a_person_adds_a_passkey_and_signs_in_with_it,
    a_foreign_origin_a_replayed_ceremony_or_a_removed_passkey_signs_nobody_in,
    an_ip_issuer_offers_no_passkeys,
    a_phone_browser_approves_a_qr_code_with_a_passkey,
    wrong_passkey_answers_lock_the_account_as_wrong_passwords_do,
);

/// The first step of a ceremony, as the page's script asks it: the
/// ceremony's id and the options.
async fn first_step(pages: &PageClient, page: &str, form: &str) -> (String, Value) {
    let action = form_action(page, form);
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, status, body) = pages.post(&format!("{action}/options"), &[("csrf", &csrf)]).await.page();
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    (answer["ceremony"].as_str().unwrap().to_owned(), answer["options"].clone())
}

/// Maija, signed in on the account page, with a passkey made by `authenticator`.
struct WithPasskey {
    server: TestServer,
    /// The browser that added the passkey, still signed in (a phone's, say).
    phone: PageClient,
    user: UserId,
    ledger: Rp,
    authenticator: SoftPasskey,
    credential_id: Vec<u8>,
}

async fn with_passkey(db: &TestDb) -> WithPasskey {
    let server = db.serve_on_localhost("");
    person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let ledger = relying_party(&server, "ledger", Some(&secret)).await;
    let email = portti::domain::contact::Email::parse("maija@example.com").unwrap();
    let user = server.state.store.read(|r| r.user_id_by_email(&email)).unwrap().unwrap();
    let pages = PageClient::new(&server.base);
    let (page, secret, _, _) = first_account_sign_in(&pages).await;
    assert!(page.contains(">Add a passkey</button>"), "{page}");
    assert!(page.contains("No passkeys yet."), "{page}");

    let (ceremony, options) = first_step(&pages, &page, "/account/passkeys").await;
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(selection["residentKey"], "required", "a discoverable credential, for the sign-in without email");
    let mut creation: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    // SoftPasskey makes no resident keys (see the module's comment).
    if let Some(selection) = creation.public_key.authenticator_selection.as_mut() {
        selection.require_resident_key = false;
    }
    let mut authenticator = SoftPasskey::new(true);
    let made = authenticator.do_registration(Url::parse(&server.base).unwrap(), creation).unwrap();
    let credential_id = made.raw_id.clone();
    let credential = serde_json::to_string(&made).unwrap();

    // A session alone adds no passkey: a current authenticator code must come with it.
    let fields = [("ceremony", ceremony.as_str()), ("name", "Work laptop"), ("credential", &credential)];
    let (_, status, refused) =
        pages.submit(&page, "/account/passkeys", &[fields.as_slice(), &[("proof", "000000")]].concat()).await.page();
    assert_eq!(status, 400);
    assert!(refused.contains("No passkeys yet."), "nothing was added: {refused}");
    server.state.clock.advance(30);
    let proof = totp::code_at(&secret, server.state.clock.now()).unwrap();
    let fields = [fields.as_slice(), &[("proof", proof.as_str())]].concat();
    let (path, status, page) = pages.submit(&page, "/account/passkeys", &fields).await.page();
    assert_eq!(path, "/account", "{status} {}", page.split("<h1").nth(1).unwrap_or(&page));
    assert!(page.contains("The passkey was added.") && page.contains("<strong>Work laptop</strong>"), "{page}");
    let (mail, _) = delivered(&server, db).await;
    assert!(mail.iter().any(|m| m.contains("Your passkeys changed")), "the person is told: {mail:?}");
    WithPasskey { server, phone: pages, user, ledger, authenticator, credential_id }
}

impl WithPasskey {
    /// A new browser at the sign-in's email step; returns it and the page.
    async fn sign_in_page(&self, request_url: &str) -> (PageClient, String) {
        let pages = PageClient::new(&self.server.base);
        let (_, _, page) = pages.open(request_url).await.page();
        assert!(page.contains(">Sign in with a passkey</button>"), "{page}");
        (pages, page)
    }

    /// The authenticator's answer to a sign-in's options, from `origin`.
    fn answer(&mut self, options: Value, origin: &str) -> PublicKeyCredential {
        let mut request: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        assert!(request.public_key.allow_credentials.is_empty(), "a discoverable sign-in names no credential");
        // What a resident-key authenticator finds itself, and the handle it returns.
        request.public_key.allow_credentials =
            vec![AllowCredentials { type_: "public-key".into(), id: self.credential_id.clone(), transports: None }];
        let mut answer = self.authenticator.do_authentication(Url::parse(origin).unwrap(), request).unwrap();
        let handle = uuid::Uuid::parse_str(self.user.as_str()).unwrap();
        answer.response.user_handle = Some(handle.as_bytes().to_vec());
        answer
    }

    fn count(&self, db: &TestDb, table: &str, action: Option<&str>) -> i64 {
        let mut conn = db.connection();
        match (table, action) {
            ("passkeys", _) => passkeys::table.count().get_result(&mut conn),
            ("webauthn_ceremonies", _) => webauthn_ceremonies::table.count().get_result(&mut conn),
            (_, Some(action)) => {
                audit_events::table.filter(audit_events::action.eq(action)).count().get_result(&mut conn)
            }
            _ => unreachable!(),
        }
        .unwrap()
    }
}

async fn submit_answer(pages: &PageClient, page: &str, ceremony: &str, answer: &PublicKeyCredential) -> Landing {
    let credential = serde_json::to_string(answer).unwrap();
    pages.submit(page, "/passkey", &[("ceremony", ceremony), ("credential", &credential)]).await
}

async fn a_person_adds_a_passkey_and_signs_in_with_it(db: &TestDb) {
    let mut setup = with_passkey(db).await;
    assert_eq!(setup.count(db, "passkeys", None), 1);
    let request = authorization_request(&setup.ledger, &[]);
    let (pages, page) = setup.sign_in_page(request.url.as_str()).await;
    let (ceremony, options) = first_step(&pages, &page, "/passkey").await;
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let answer = setup.answer(options, &setup.server.base.clone());
    let callback = submit_answer(&pages, &page, &ceremony, &answer).await.left();
    let tokens = exchange(&setup.ledger, &callback, &request).await;
    let claims: &CoreIdTokenClaims =
        tokens.id_token().unwrap().claims(&setup.ledger.id_token_verifier(), &request.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), setup.user.as_str());
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.to_string()).collect();
    assert_eq!(amr, ["hwk", "user", "mfa"], "a device-bound passkey, user verified");
    assert_eq!(setup.count(db, "webauthn_ceremonies", None), 0, "the ceremony was used up");
}

async fn a_foreign_origin_a_replayed_ceremony_or_a_removed_passkey_signs_nobody_in(db: &TestDb) {
    let mut setup = with_passkey(db).await;
    let request = authorization_request(&setup.ledger, &[]);

    // Another origin (a phishing page on another port of the same host).
    let failures_before = setup.count(db, "audit", Some("sign_in_failed"));
    let (pages, page) = setup.sign_in_page(request.url.as_str()).await;
    let (ceremony, options) = first_step(&pages, &page, "/passkey").await;
    let port = Url::parse(&setup.server.base).unwrap().port().unwrap();
    let phishing = format!("http://localhost:{}", if port == 65535 { 65534 } else { port + 1 });
    let answer = setup.answer(options, &phishing);
    let (_, status, refused) = submit_answer(&pages, &page, &ceremony, &answer).await.page();
    assert_eq!(status, 400);
    assert!(refused.contains("The passkey could not be verified"), "{refused}");
    let failures = setup.count(db, "audit", Some("sign_in_failed"));
    assert_eq!(failures, failures_before + 1, "counted as a failed attempt");

    // A right answer, replayed: its ceremony is gone.
    let (ceremony, options) = first_step(&pages, &refused, "/passkey").await;
    let answer = setup.answer(options, &setup.server.base.clone());
    let callback = submit_answer(&pages, &refused, &ceremony, &answer).await.left();
    assert!(callback.contains("code="), "{callback}");
    let (other, page) = setup.sign_in_page(request.url.as_str()).await;
    let (_, status, replayed) = submit_answer(&other, &page, &ceremony, &answer).await.page();
    assert_eq!(status, 400);
    assert!(replayed.contains("expired or was already used"), "{replayed}");
    // The same answer under a new ceremony: another challenge.
    let (fresh, _) = first_step(&other, &page, "/passkey").await;
    let (_, status, _) = submit_answer(&other, &page, &fresh, &answer).await.page();
    assert_eq!(status, 400);

    // Removed on the account page: it signs nobody in.
    let account = PageClient::new(&setup.server.base);
    let (_, _, page) = account.open(request.url.as_str()).await.page();
    let (ceremony, options) = first_step(&account, &page, "/passkey").await;
    let answer = setup.answer(options, &setup.server.base.clone());
    submit_answer(&account, &page, &ceremony, &answer).await.left();
    let (_, _, page) = account.open("/account").await.page();
    let remove = page.split("action=\"/account/passkeys/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, _, page) = account.submit(&page, &format!("/account/passkeys/{remove}"), &[]).await.page();
    assert!(page.contains("No passkeys yet."), "{page}");
    assert_eq!(setup.count(db, "audit", Some("passkey_removed")), 1);
    let (pages, page) = setup.sign_in_page(request.url.as_str()).await;
    let (ceremony, options) = first_step(&pages, &page, "/passkey").await;
    let answer = setup.answer(options, &setup.server.base.clone());
    let (_, status, _) = submit_answer(&pages, &page, &ceremony, &answer).await.page();
    assert_eq!(status, 400);
}

async fn an_ip_issuer_offers_no_passkeys(db: &TestDb) {
    let server = db.serve("");
    let ledger = maija_and_ledger(&server).await;
    let request = authorization_request(&ledger, &[]);
    let pages = PageClient::new(&server.base);
    let (_, _, page) = pages.open(request.url.as_str()).await.page();
    assert!(!page.contains("passkey"), "{page}");
    let flow = page.split("action=\"/signin/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, status, _) = pages.post(&format!("/signin/{flow}/passkey/options"), &[("csrf", &csrf)]).await.page();
    assert_eq!(status, 404);
    let (page, _, _, _) = first_account_sign_in(&pages).await;
    assert!(!page.contains("Add a passkey"), "{page}");
}

async fn a_phone_browser_approves_a_qr_code_with_a_passkey(db: &TestDb) {
    let mut setup = with_passkey(db).await;
    let request = authorization_request(&setup.ledger, &[]);
    let (computer, page) = setup.sign_in_page(request.url.as_str()).await;
    let qr_link = page.split("<a id=\"qr-link\" href=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let number = crate::support::pages::element_text(&page, "qr-number");

    // The link opened in the phone's browser, where Maija is signed in.
    let (_, _, landing) = setup.phone.open(&qr_link).await.page();
    assert!(landing.contains("Scan this code with the Portti app"), "{landing}");
    let approve = landing.split("id=\"qr-approve-here\" href=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, _, asked) = setup.phone.open(&approve).await.page();
    assert!(asked.contains(&format!(">{number}</button>")), "the computer's number is among the choices: {asked}");
    assert_eq!(crate::support::pages::element_text(&asked, "qr-ip"), "127.0.0.1");

    // A wrong number first, on another code: it ends that code.
    let (other_computer, other_page) = setup.sign_in_page(request.url.as_str()).await;
    let other_link = other_page.split("<a id=\"qr-link\" href=\"").nth(1).unwrap().split('"').next().unwrap();
    let other_number: i64 = crate::support::pages::element_text(&other_page, "qr-number").parse().unwrap();
    let other_approve = format!("{}/approve", other_link.trim_start_matches(&setup.server.base));
    let (_, _, other_asked) = setup.phone.open(&other_approve).await.page();
    let wrong = (10..=99).find(|n| *n != other_number && other_asked.contains(&format!(">{n}</button>"))).unwrap();
    let (ceremony, options) = first_step(&setup.phone, &other_asked, &other_approve).await;
    let answer = setup
        .authenticator
        .do_authentication(Url::parse(&setup.server.base).unwrap(), serde_json::from_value(options).unwrap())
        .unwrap();
    let credential = serde_json::to_string(&answer).unwrap();
    let fields = [("choice", wrong.to_string()), ("ceremony", ceremony), ("credential", credential)];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, status, said) = setup.phone.submit(&other_asked, &other_approve, &fields).await.page();
    assert_eq!(status, 400);
    assert!(said.contains("not the number on the computer"), "{said}");
    let other_id = other_link.rsplit("/qr/").next().unwrap();
    let (_, _, status_body) = other_computer.open(&format!("/qr/{other_id}/status")).await.page();
    assert_eq!(status_body, r#"{"state":"denied"}"#);

    // The right number, confirmed with the passkey: the computer goes on.
    let (ceremony, options) = first_step(&setup.phone, &asked, &approve).await;
    let request_options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    assert!(!request_options.public_key.allow_credentials.is_empty(), "Maija's own passkeys");
    let answer =
        setup.authenticator.do_authentication(Url::parse(&setup.server.base).unwrap(), request_options).unwrap();
    let credential = serde_json::to_string(&answer).unwrap();
    let fields = [("choice", number.as_str()), ("ceremony", ceremony.as_str()), ("credential", credential.as_str())];
    let (_, status, done) = setup.phone.submit(&asked, &approve, &fields).await.page();
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("the computer&#39;s browser is signed in"), "{done}");
    let callback = computer.submit(&page, "/qr", &[]).await.left();
    let tokens = exchange(&setup.ledger, &callback, &request).await;
    let claims: &CoreIdTokenClaims =
        tokens.id_token().unwrap().claims(&setup.ledger.id_token_verifier(), &request.nonce).unwrap();
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.to_string()).collect();
    assert_eq!(amr, ["hwk", "user", "mfa"]);
    assert_eq!(claims.subject().as_str(), setup.user.as_str());
}

async fn wrong_passkey_answers_lock_the_account_as_wrong_passwords_do(db: &TestDb) {
    let mut setup = with_passkey(db).await;
    let request = authorization_request(&setup.ledger, &[]);
    let port = Url::parse(&setup.server.base).unwrap().port().unwrap();
    let phishing = format!("http://localhost:{}", if port == 65535 { 65534 } else { port + 1 });
    // The wrong authenticator code of the step-up (in `with_passkey`) counts
    // too: one lockout for every kind of wrong answer.
    let max_failures = setup.server.state.settings.sign_in.max_failures;
    let mut statuses = Vec::new();
    for _ in 0..max_failures {
        let (pages, page) = setup.sign_in_page(request.url.as_str()).await;
        let (ceremony, options) = first_step(&pages, &page, "/passkey").await;
        let answer = setup.answer(options, &phishing);
        let (_, status, _) = submit_answer(&pages, &page, &ceremony, &answer).await.page();
        statuses.push(status.as_u16());
    }
    let wrong = usize::try_from(max_failures - 1).unwrap();
    assert_eq!(statuses[..wrong], vec![400; wrong], "{statuses:?}");
    assert_eq!(statuses[wrong], 429, "locked after {max_failures} failures in all: {statuses:?}");
    assert_eq!(setup.count(db, "audit", Some("account_locked")), 1, "the last wrong answer locked the account");
    // Locked: even the right passkey signs no one in now.
    let (pages, page) = setup.sign_in_page(request.url.as_str()).await;
    let (ceremony, options) = first_step(&pages, &page, "/passkey").await;
    let answer = setup.answer(options, &setup.server.base.clone());
    let (_, status, page) = submit_answer(&pages, &page, &ceremony, &answer).await.page();
    assert_eq!(status, 429, "{page}");
}
