//! Strong identification through upstream providers (issue 13): Portti as
//! the relying party of a bank ID broker of the FTN profile (signed request
//! object, `private_key_jwt`, JWE ID token) and of a plain provider, both
//! running on real sockets in the test. A linked person passes the 90-second
//! confirmation code sent to their email and phone; a person with only
//! `hours_only` goes straight in; an unlinked identity is turned away with
//! nothing created; every refused answer leaves no session.

use openidconnect::TokenResponse as _;
use portti::domain::access::AccessRight;
use portti::domain::company::add_company;
use portti::domain::ids::UserId;
use portti::domain::user::{MembershipInput, NewUserInput, add_user};
use reqwest::StatusCode;

use crate::support::fixtures::{Rp, authorization_request, confidential_client, exchange, relying_party};
use crate::support::messages::delivered;
use crate::support::pages::PageClient;
use crate::support::rows::column_values;
use crate::support::upstream_provider::{CLIENT_ID, LOA2, UpstreamProvider};
use crate::support::{TestDb, TestServer, served_on_both_backends};

served_on_both_backends!(
    a_linked_person_signs_in_through_an_ftn_broker_and_the_confirmation_code,
    a_person_with_only_hours_rights_goes_straight_in,
    an_unlinked_identity_is_turned_away_with_nothing_created,
    a_refused_answer_signs_no_one_in,
    a_key_the_provider_publishes_later_is_fetched_once,
    a_state_is_good_once_and_only_in_its_browser,
    the_confirmation_code_lasts_90_seconds_and_5_tries,
    a_provider_that_is_down_or_cancelled_leads_back_to_the_email_step,
    portti_publishes_its_upstream_keys_and_rotates_them_a_day_ahead,
    the_apps_first_sign_in_goes_through_the_bank_and_registers_the_device,
    an_invited_user_links_strong_identification_from_the_account_page,
    a_person_signs_in_through_the_bank_in_a_real_browser,
    the_applications_language_reaches_the_provider,
);

const MAIJA_CODE: &str = "131052-308T";

struct Setup {
    provider: UpstreamProvider,
    server: TestServer,
    rp: Rp,
}

async fn setup(db: &TestDb, ftn: bool) -> Setup {
    setup_with(db, ftn, "").await
}

async fn setup_with(db: &TestDb, ftn: bool, extra_toml: &str) -> Setup {
    let provider = UpstreamProvider::start(ftn);
    let server = db.serve(&format!("{extra_toml}\n{}", provider.config()));
    provider.trust(&server.base);
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&server, "ledger", Some(&secret)).await;
    Setup { provider, server, rp }
}

impl Setup {
    async fn stop(self) {
        self.server.stop().await;
        self.provider.stop().await;
    }
}

/// A person in a company with these rights, their identity code stored (as its keyed hash).
fn person_with(server: &TestServer, email: &str, identity_code: &str, rights: &[&str]) -> UserId {
    let company = add_company(&server.state.store, 1, "Tilitoimisto Oy", None).unwrap();
    let input = NewUserInput {
        email: email.to_owned(),
        name: "Maija Meikäläinen".to_owned(),
        phone: Some("+358401234567".to_owned()),
        national_id: Some(identity_code.to_owned()),
        memberships: vec![MembershipInput {
            company_id: company.id,
            roles: vec![],
            rights: rights.iter().map(|r| AccessRight::parse(r).unwrap()).collect(),
        }],
        ..Default::default()
    };
    add_user(&server.state.store, &server.state.keys, 1, input).unwrap().user.id
}

/// The application's request, to the email step, then its "Sign in with …"
/// button: returns the request and the provider's authorization URL.
async fn to_provider(setup: &Setup, pages: &PageClient) -> (crate::support::fixtures::Request, String) {
    to_provider_for(setup, &setup.rp, &["openid"], pages).await
}

async fn to_provider_for(
    setup: &Setup,
    rp: &Rp,
    scopes: &[&str],
    pages: &PageClient,
) -> (crate::support::fixtures::Request, String) {
    let request = authorization_request(rp, scopes);
    let (_, status, email_page) = pages.open(&request.url).await.page();
    assert_eq!(status, StatusCode::OK);
    let name = if setup.provider.config().contains("Testipankki") { "Testipankki" } else { "Hightrust.id" };
    assert!(email_page.contains(&format!("Sign in with {name}")), "{email_page}");
    let upstream = if name == "Testipankki" { "bank" } else { "hightrust" };
    let left = to_the_provider(pages.submit(&email_page, &format!("/upstream/{upstream}"), &[]).await);
    assert!(left.starts_with(&setup.provider.base), "{left}");
    (request, left)
}

/// The page that sends the browser on to the provider (a refresh, and a
/// link): the provider's authorization URL.
fn to_the_provider(landing: crate::support::pages::Landing) -> String {
    let (_, status, page) = landing.page();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(r#"<meta http-equiv="refresh" content="0;url="#), "{page}");
    let href = page.split(r#"<a id="continue" href=""#).nth(1).expect("a link on").split('"').next().unwrap();
    unescape(href)
}

/// An attribute's value as the browser reads it: `&amp;` and `&#38;` are `&`.
fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').map(|e| at + e).unwrap();
        let entity = &rest[at + 1..end];
        let character = match entity {
            "amp" => '&',
            "quot" => '"',
            "lt" => '<',
            "gt" => '>',
            numeric => {
                let number = numeric.trim_start_matches('#');
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).unwrap(),
                    None => number.parse().unwrap(),
                };
                char::from_u32(code).unwrap()
            }
        };
        out.push(character);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The confirmation code a message carries.
fn code_in(message: &str) -> String {
    let after = message.split("code is ").nth(1).expect("a code");
    let code: String = after.chars().take(6).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{message}");
    code
}

async fn a_linked_person_signs_in_through_an_ftn_broker_and_the_confirmation_code(db: &TestDb) {
    let setup = setup(db, true).await;
    let maija = person_with(&setup.server, "maija@example.com", MAIJA_CODE, &["ledger"]);
    let auth_time = crate::support::now() - 30;
    setup.provider.behave(|b| {
        b.identity_code = Some(MAIJA_CODE.to_owned());
        b.auth_time = Some(auth_time);
    });
    let pages = PageClient::new(&setup.server.base);
    let (request, provider_url) = to_provider(&setup, &pages).await;
    let (path, status, page) = pages.open(&provider_url).await.page();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(path.starts_with("/signin/"), "{path}");
    assert!(page.contains("Confirmation code") && page.contains(">Verify<"), "{page}");

    // What the broker saw: a request object signed by Portti's key, carrying
    // all of the request; an assertion it verified against /upstream/jwks.
    let asked = setup.provider.last_authorization();
    assert_eq!(asked["request_object_verified"], "yes");
    assert_eq!(asked["outside_client_id"], CLIENT_ID);
    assert_eq!(asked["acr_values"], LOA2);
    assert_eq!(asked["ftn_spname"], "Ledger");
    assert_eq!(asked["ui_locales"], "en");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["scope"], "openid personal_identity_code");
    assert_eq!(asked["redirect_uri"], format!("{}/upstream/bank/callback", setup.server.base));
    let token_request = setup.provider.last_token_request();
    assert_eq!(token_request["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert!(token_request.contains_key("code_verifier"));

    // One code, to both the communication email and the phone.
    let (mails, sms) = delivered(&setup.server, db).await;
    assert_eq!((mails.len(), sms.len()), (1, 1), "{mails:?} {sms:?}");
    let code = code_in(&sms[0]);
    let mail = mails[0].replace("=\r\n", "").replace("=\n", "");
    assert!(mail.contains(&code), "the email carries the same code: {mail}");
    assert!(sms[0].contains("90 seconds"), "{}", sms[0]);

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (_, status, again) = pages.submit(&page, "/confirmation", &[("code", wrong)]).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(again.contains("Confirmation code"), "a wrong code shows the form again");
    let (_, _, terms) = pages.submit(&again, "/confirmation", &[("code", &code)]).await.page();
    let callback = pages.submit(&terms, "/terms", &[]).await.left();
    let tokens = exchange(&setup.rp, &callback, &request).await;
    let id_token = tokens.id_token().unwrap();
    let claims = id_token.claims(&setup.rp.id_token_verifier(), &request.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), maija.as_str());
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.to_string()).collect();
    assert_eq!(amr, ["bank", "otp"]);
    assert_eq!(claims.auth_context_ref().map(|acr| acr.to_string()).as_deref(), Some(LOA2));
    assert_eq!(claims.auth_time().map(|t| t.timestamp()), Some(auth_time));
    assert_eq!(column_values(db, "upstream_links", "subject"), ["upstream-subject-1"]);
    assert!(column_values(db, "upstream_logins", "state_digest").is_empty(), "the state was used up");
    setup.stop().await;
}

async fn a_person_with_only_hours_rights_goes_straight_in(db: &TestDb) {
    let setup = setup(db, false).await;
    let matti = person_with(&setup.server, "matti@example.com", MAIJA_CODE, &["hours_only"]);
    setup.provider.behave(|b| b.identity_code = Some(MAIJA_CODE.to_owned()));
    let pages = PageClient::new(&setup.server.base);
    let (request, provider_url) = to_provider(&setup, &pages).await;
    // The terms come first on a first sign-in, then back to the application.
    let (_, _, terms) = pages.open(&provider_url).await.page();
    assert!(!terms.contains("Confirmation code"), "{terms}");
    let callback = pages.submit(&terms, "/terms", &[]).await.left();
    let tokens = exchange(&setup.rp, &callback, &request).await;
    let claims = tokens.id_token().unwrap().claims(&setup.rp.id_token_verifier(), &request.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), matti.as_str());
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.to_string()).collect();
    assert_eq!(amr, ["hightrust"], "no otp: the confirmation code was skipped");
    assert_eq!(claims.auth_context_ref(), None, "the provider sent no acr");
    let (mails, sms) = delivered(&setup.server, db).await;
    assert!(mails.is_empty() && sms.is_empty(), "no code was sent");
    setup.stop().await;
}

async fn an_unlinked_identity_is_turned_away_with_nothing_created(db: &TestDb) {
    let setup = setup(db, true).await;
    person_with(&setup.server, "maija@example.com", MAIJA_CODE, &["ledger"]);
    let users_before = column_values(db, "users", "id");
    setup.provider.behave(|b| b.identity_code = Some("010101A123N".to_owned()));
    let pages = PageClient::new(&setup.server.base);
    let (_, provider_url) = to_provider(&setup, &pages).await;
    let (_, status, page) = pages.open(&provider_url).await.page();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("No account is linked to this identity"), "{page}");
    assert!(page.contains("Sign in with Testipankki"), "the email step, to go back to");
    assert_eq!(column_values(db, "users", "id"), users_before, "no user was created");
    assert!(column_values(db, "upstream_links", "user_id").is_empty(), "no link either");
    assert!(column_values(db, "browser_sessions", "user_id").is_empty());
    assert_eq!(column_values(db, "audit_events", "action").iter().filter(|a| *a == "upstream_unlinked").count(), 1);
    // A claim that is no valid identity code is the same: nobody.
    setup.provider.behave(|b| b.identity_code = Some("131052-308X".to_owned()));
    let (_, provider_url) = to_provider(&setup, &pages).await;
    let (_, status, _) = pages.open(&provider_url).await.page();
    assert_eq!(status, StatusCode::FORBIDDEN);
    setup.stop().await;
}

async fn a_refused_answer_signs_no_one_in(db: &TestDb) {
    let setup = setup(db, true).await;
    person_with(&setup.server, "maija@example.com", MAIJA_CODE, &["hours_only"]);
    let pages = PageClient::new(&setup.server.base);
    type Change = fn(&mut crate::support::upstream_provider::Behaviour);
    let cases: [(&str, Change); 6] = [
        ("an answer naming another issuer", |b| b.wrong_iss = true),
        ("an acr not asked for", |b| b.acr = Some("http://ftn.ficora.fi/2017/loa1".to_owned())),
        ("a bad signature", |b| b.bad_signature = true),
        ("a wrong nonce", |b| b.wrong_nonce = true),
        ("a token encrypted to another key", |b| b.encrypt_to_other_key = true),
        ("a key the provider never published", |b| b.unpublished_key = true),
    ];
    for (what, change) in cases {
        setup.provider.behave(|b| {
            *b = Default::default();
            b.subject = "upstream-subject-1".to_owned();
            b.identity_code = Some(MAIJA_CODE.to_owned());
            change(b);
        });
        let (_, provider_url) = to_provider(&setup, &pages).await;
        let (_, status, page) = pages.open(&provider_url).await.page();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        assert!(page.contains("could not be accepted"), "{what}: {page}");
        assert!(column_values(db, "browser_sessions", "user_id").is_empty(), "{what}");
    }
    setup.stop().await;
}

async fn a_key_the_provider_publishes_later_is_fetched_once(db: &TestDb) {
    let setup = setup(db, false).await;
    person_with(&setup.server, "maija@example.com", MAIJA_CODE, &["hours_only"]);
    setup.provider.behave(|b| b.identity_code = Some(MAIJA_CODE.to_owned()));
    let sign_in = || async {
        let pages = PageClient::new(&setup.server.base);
        let (_, provider_url) = to_provider(&setup, &pages).await;
        pages.open(&provider_url).await.page()
    };
    let (_, status, _) = sign_in().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(setup.provider.jwks_fetches(), 1);
    // The provider rotates: its new key is unknown to Portti's copy, fetched again.
    setup.provider.behave(|b| b.rotate_signing_key = true);
    let (_, status, page) = sign_in().await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(setup.provider.jwks_fetches(), 2);
    // Made-up keys do not make Portti fetch again and again.
    setup.provider.behave(|b| {
        b.rotate_signing_key = false;
        b.unpublished_key = true;
    });
    for _ in 0..2 {
        let (_, status, _) = sign_in().await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(setup.provider.jwks_fetches(), 2, "at most one fetch a minute for unknown keys");
    setup.stop().await;
}

async fn a_state_is_good_once_and_only_in_its_browser(db: &TestDb) {
    let setup = setup(db, false).await;
    person_with(&setup.server, "maija@example.com", MAIJA_CODE, &["hours_only"]);
    setup.provider.behave(|b| b.identity_code = Some(MAIJA_CODE.to_owned()));
    let pages = PageClient::new(&setup.server.base);
    let (_, provider_url) = to_provider(&setup, &pages).await;
    // The provider's answer, caught before the browser follows it.
    let answer = crate::support::fixtures::http().get(&provider_url).send().await.unwrap();
    let callback = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/upstream/hightrust/callback?", setup.server.base)), "{callback}");

    let other_browser = PageClient::new(&setup.server.base);
    other_browser.open(&authorization_request(&setup.rp, &["openid"]).url).await;
    let (_, status, page) = other_browser.open(&callback).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST, "another browser cannot use the answer");
    assert!(page.contains("could not be accepted"), "{page}");
    let (_, status, page) = pages.open(&callback).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST, "the state was used up by that try: {page}");
    assert!(column_values(db, "browser_sessions", "user_id").is_empty());

    let (_, provider_url) = to_provider(&setup, &pages).await;
    let answer = crate::support::fixtures::http().get(&provider_url).send().await.unwrap();
    let callback = answer.headers()["location"].to_str().unwrap().to_owned();
    let (_, status, _) = pages.open(&callback).await.page();
    assert_eq!(status, StatusCode::OK, "its own browser goes on");
    let (_, status, page) = pages.open(&callback).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST, "a replayed answer is refused: {page}");
    assert_eq!(setup.provider.token_requests(), 1, "the code was redeemed once");
    setup.stop().await;
}

async fn the_confirmation_code_lasts_90_seconds_and_5_tries(db: &TestDb) {
    let setup = setup(db, false).await;
    person_with(&setup.server, "maija@example.com", MAIJA_CODE, &["ledger"]);
    setup.provider.behave(|b| b.identity_code = Some(MAIJA_CODE.to_owned()));
    let pages = PageClient::new(&setup.server.base);
    let (_, provider_url) = to_provider(&setup, &pages).await;
    let (_, _, page) = pages.open(&provider_url).await.page();
    let (_, sms) = delivered(&setup.server, db).await;
    let first = code_in(&sms[0]);

    let (_, status, early) = pages.submit(&page, "/confirmation/new", &[]).await.page();
    assert_eq!(status, StatusCode::CONFLICT, "no new code while the first is valid: {early}");
    setup.server.state.clock.advance(91);
    setup.provider.advance(91);
    let (_, status, expired) = pages.submit(&page, "/confirmation", &[("code", &first)]).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(expired.contains("expired"), "{expired}");
    pages.submit(&expired, "/confirmation/new", &[]).await.page();
    let (_, sms) = delivered(&setup.server, db).await;
    let second = code_in(sms.last().unwrap());
    let wrong = if second == "000000" { "111111" } else { "000000" };
    let mut shown = page.clone();
    for _ in 0..5 {
        shown = pages.submit(&shown, "/confirmation", &[("code", wrong)]).await.page().2;
    }
    let (_, status, _) = pages.submit(&shown, "/confirmation", &[("code", &second)]).await.page();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "five wrong tries end the code");
    let failures = column_values(db, "sign_in_failures", "subject");
    assert!(failures.iter().any(|s| s.starts_with("user:")), "wrong codes count against the lockout: {failures:?}");
    assert!(column_values(db, "browser_sessions", "user_id").is_empty());
    setup.stop().await;
}

async fn a_provider_that_is_down_or_cancelled_leads_back_to_the_email_step(db: &TestDb) {
    // A broker whose address answers nothing.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let provider = UpstreamProvider::start(false);
    let down = provider.config().replace(&provider.base, &dead);
    // Beside it, a broker that works: Portti starts, and it serves, all the same.
    let working = UpstreamProvider::start(true);
    let server = db.serve(&format!("{down}\n{}", working.config()));
    working.trust(&server.base);
    person_with(&server, "matti@example.com", MAIJA_CODE, &["hours_only"]);
    working.behave(|b| b.identity_code = Some(MAIJA_CODE.to_owned()));
    let pages = PageClient::new(&server.base);
    // Signing in to the account pages: the same email step, with the same buttons.
    let (_, _, email_page) = pages.open("/account").await.page();
    let (_, status, page) = pages.submit(&email_page, "/upstream/hightrust", &[]).await.page();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.contains("cannot be reached right now") && page.contains("Sign in with Hightrust.id"), "{page}");
    let provider_url = to_the_provider(pages.submit(&page, "/upstream/bank", &[]).await);
    let (_, status, terms) = pages.open(&provider_url).await.page();
    assert_eq!(status, StatusCode::OK);
    let (path, _, _) = pages.submit(&terms, "/terms", &[]).await.page();
    assert_eq!(path, "/account", "signed in through the broker that works");
    server.stop().await;
    working.stop().await;

    let setup = setup(db, false).await;
    setup.provider.behave(|b| b.cancel = true);
    let pages = PageClient::new(&setup.server.base);
    let (_, provider_url) = to_provider(&setup, &pages).await;
    let (_, status, page) = pages.open(&provider_url).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("identification was cancelled") || page.contains("was cancelled"), "{page}");
    assert!(page.contains("Sign in with Hightrust.id"));
    assert_eq!(setup.provider.token_requests(), 0);
    provider.stop().await;
    setup.stop().await;
}

async fn portti_publishes_its_upstream_keys_and_rotates_them_a_day_ahead(db: &TestDb) {
    let setup = setup(db, true).await;
    let http = crate::support::fixtures::http();
    let jwks: serde_json::Value =
        http.get(format!("{}/upstream/jwks", setup.server.base)).send().await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let mut uses: Vec<(&str, &str)> =
        keys.iter().map(|k| (k["use"].as_str().unwrap(), k["alg"].as_str().unwrap())).collect();
    uses.sort();
    assert_eq!(uses, [("enc", "RSA-OAEP"), ("sig", "RS256")]);
    for key in keys {
        assert_eq!(key["kty"], "RSA");
        assert!(key.get("d").is_none(), "no private part");
        let n = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, key["n"].as_str().unwrap());
        assert!(n.unwrap().len() >= 256, "at least 2048 bits");
    }
    // The signed JWKS: the same keys, signed by the signing key.
    let response = http.get(format!("{}/upstream/signed-jwks", setup.server.base)).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/jwk-set+jwt");
    let signed = response.text().await.unwrap();
    let claims = portti::crypto::jose::verify(&signed, &jwks).unwrap();
    assert_eq!(claims["keys"], jwks["keys"]);
    assert_eq!(claims["iss"], setup.server.base.as_str());
    // The token signing keys are others.
    let token_jwks: serde_json::Value =
        http.get(format!("{}/jwks", setup.server.base)).send().await.unwrap().json().await.unwrap();
    let token_kids: Vec<&serde_json::Value> =
        token_jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
    assert!(keys.iter().all(|k| !token_kids.contains(&&k["kid"])));

    // A rotation publishes the new keys at once and uses them a day later.
    let state = &setup.server.state;
    let old_signer = keys.iter().find(|k| k["use"] == "sig").unwrap()["kid"].as_str().unwrap().to_owned();
    let rotated =
        portti::domain::upstream_keys::rotate_upstream_keys(&state.store, &state.keys, state.clock.now()).unwrap();
    state.reload_keys().unwrap();
    assert_eq!(state.upstream_key_set().signer().unwrap().kid, old_signer, "the old key signs for a day yet");
    let published: serde_json::Value = serde_json::from_slice(state.upstream_key_set().jwks()).unwrap();
    assert_eq!(published["keys"].as_array().unwrap().len(), 4, "both generations published");
    state.clock.advance(24 * 3600 + 1);
    state.reload_keys().unwrap();
    let new_signer = rotated.iter().find(|k| k.key_use == "sig").unwrap().kid.clone();
    assert_eq!(state.upstream_key_set().signer().unwrap().kid, new_signer);
    assert_eq!(state.upstream_key_set().decryption_keys().len(), 2, "the old encryption key still decrypts");
    state.clock.advance(24 * 3600);
    state.reload_keys().unwrap();
    let published: serde_json::Value = serde_json::from_slice(state.upstream_key_set().jwks()).unwrap();
    assert_eq!(published["keys"].as_array().unwrap().len(), 2, "a day later the old ones are gone");
    setup.stop().await;
}

async fn the_apps_first_sign_in_goes_through_the_bank_and_registers_the_device(db: &TestDb) {
    use crate::devices::{APP, CURRENT, Phone, api, token};
    use portti::domain::client::{ClientKind, NewClient, add_client};
    let setup = setup_with(db, true, APP).await;
    person_with(&setup.server, "maija@example.com", MAIJA_CODE, &["ledger"]);
    let grants: Vec<String> = ["authorization_code", "refresh_token"].map(str::to_owned).to_vec();
    let callback_uri = crate::support::fixtures::CALLBACK.to_owned();
    let app = NewClient::parse("app", ClientKind::Public, &[callback_uri], &[], &grants, true, None).unwrap();
    add_client(&setup.server.state.store, 1, app).unwrap();
    let app_rp = relying_party(&setup.server, "app", None).await;
    setup.provider.behave(|b| b.identity_code = Some(MAIJA_CODE.to_owned()));
    // The app's /authorize, in an in-app browser tab: the bank button, then the code.
    let pages = PageClient::new(&setup.server.base);
    let (request, provider_url) = to_provider_for(&setup, &app_rp, &["offline_access"], &pages).await;
    let (_, _, page) = pages.open(&provider_url).await.page();
    let (_, sms) = delivered(&setup.server, db).await;
    let (_, _, terms) = pages.submit(&page, "/confirmation", &[("code", &code_in(&sms[0]))]).await.page();
    let callback = pages.submit(&terms, "/terms", &[]).await.left();
    let code = crate::support::pages::query_param(&callback, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", crate::support::fixtures::CALLBACK),
        ("client_id", "app"),
        ("code_verifier", request.verifier.secret().as_str()),
    ];
    let (status, tokens) = token(&setup.server, &form, Some(CURRENT)).await;
    assert_eq!(status, 200, "{tokens}");
    let access_token = tokens["access_token"].as_str().unwrap();
    let body = serde_json::json!({"public_key": Phone::new().jwk(), "name": "Maija's phone", "platform": "ios"});
    let (status, answer) = api(&setup.server, "POST", "/devices", Some(access_token), Some(CURRENT), Some(body)).await;
    assert_eq!(status, 201, "a strong sign-in with the confirmation code registers the device: {answer}");
    setup.stop().await;
}

async fn an_invited_user_links_strong_identification_from_the_account_page(db: &TestDb) {
    let setup = setup(db, true).await;
    // A foreign user: an account password, no identity code yet.
    let user = crate::support::fixtures::person(&setup.server.state, "maija@example.com");
    let pages = PageClient::new(&setup.server.base);
    let request = authorization_request(&setup.rp, &["openid"]);
    let (_, secret, _) = crate::support::sign_in::first_sign_in(&pages, &request.url, "maija@example.com").await;
    let (_, status, account) = pages.open("/account").await.page();
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("No strong identification is linked yet."), "{account}");
    // Later she got a Finnish identity code and bank credentials.
    setup.provider.behave(|b| b.identity_code = Some(MAIJA_CODE.to_owned()));

    // Signed out in between (say, "sign out everywhere" after a takeover): nothing is linked.
    let provider_url = to_the_provider(pages.submit(&account, "/account/upstream/bank", &[]).await);
    pages.submit(&account, "/account/sign-out-everywhere", &[]).await;
    let (_, status, _) = pages.open(&provider_url).await.page();
    assert_eq!(status, StatusCode::NOT_FOUND, "the link needs the session that asked for it");
    assert!(column_values(db, "upstream_links", "user_id").is_empty());
    let request = authorization_request(&setup.rp, &["openid"]);
    let at = crate::support::now() + 30;
    crate::support::sign_in::sign_in(&pages, &request.url, "maija@example.com", &secret, at).await;
    let (_, _, account) = pages.open("/account").await.page();

    let provider_url = to_the_provider(pages.submit(&account, "/account/upstream/bank", &[]).await);
    let (path, status, page) = pages.open(&provider_url).await.page();
    assert_eq!((path.as_str(), status), ("/account", StatusCode::OK), "{page}");
    assert!(page.contains("Your strong identification is linked."), "{page}");
    assert!(page.contains("Testipankki: linked"), "{page}");
    let shown = format!("(issuer {}, identifier upstream-subject-1)", setup.provider.base);
    assert!(page.contains(&shown), "the issuer and subject are shown: {page}");
    assert_eq!(column_values(db, "upstream_links", "user_id"), [user.as_str()]);
    let (mails, _) = delivered(&setup.server, db).await;
    assert!(mails.iter().any(|m| m.contains("strong identification")), "she is told by email");
    assert_eq!(column_values(db, "audit_events", "action").iter().filter(|a| *a == "upstream_linked").count(), 1);

    // From now on the bank signs her in.
    let other = PageClient::new(&setup.server.base);
    let (_, provider_url) = to_provider(&setup, &other).await;
    let (_, status, page) = other.open(&provider_url).await.page();
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Confirmation code"), "{page}");

    // A code that is another person's is not linked to her.
    let matti = person_with(&setup.server, "matti@example.com", "010101A123N", &["ledger"]);
    assert_ne!(matti, user);
    setup.provider.behave(|b| b.identity_code = Some("010101A123N".to_owned()));
    let (_, _, account) = pages.open("/account").await.page();
    let provider_url = to_the_provider(pages.submit(&account, "/account/upstream/bank", &[]).await);
    let (_, status, _) = pages.open(&provider_url).await.page();
    assert_eq!(status, StatusCode::CONFLICT);
    setup.stop().await;
}

async fn a_person_signs_in_through_the_bank_in_a_real_browser(db: &TestDb) {
    use crate::browser::{browser, callback_server, expect_heading, fill, press, text_once};
    use portti::domain::client::{ClientKind, NewClient, add_client};
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let setup = setup(db, true).await;
    let maija = person_with(&setup.server, "maija@example.com", MAIJA_CODE, &["ledger"]);
    setup.provider.behave(|b| b.identity_code = Some(MAIJA_CODE.to_owned()));
    let callback = callback_server().await;
    let web = NewClient::parse("web", ClientKind::Public, std::slice::from_ref(&callback.url), &[], &[], true, None);
    add_client(&setup.server.state.store, 1, web.unwrap()).unwrap();
    let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}/authorize?client_id=web&response_type=code&scope=openid&state=s1&nonce=n1&redirect_uri={}\
         &code_challenge={}&code_challenge_method=S256",
        setup.server.base,
        url::form_urlencoded::byte_serialize(callback.url.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    browser.goto(&url).await.unwrap();
    expect_heading(&browser, "Sign in").await;
    // The bank button's form leads to the broker, and the broker back: the
    // page's Content-Security-Policy lets the browser follow.
    press(&browser, "Sign in with Testipankki").await;
    expect_heading(&browser, "Confirm your sign-in").await;
    let (_, sms) = delivered(&setup.server, db).await;
    fill(&browser, "Confirmation code", &code_in(&sms[0])).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Terms of service").await;
    press(&browser, "Accept").await;
    assert_eq!(text_once(&browser, "h1", |t| t == "Back at the application").await, "Back at the application");
    let back = callback.received.lock().unwrap().iter().find(|uri| uri.starts_with("/callback?")).cloned().unwrap();
    // The callback server saw the request's path and query.
    let code = crate::support::pages::query_param(&format!("http://127.0.0.1{back}"), "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", callback.url.as_str()),
        ("client_id", "web"),
        ("code_verifier", verifier.secret().as_str()),
    ];
    let (status, tokens) = crate::devices::token(&setup.server, &form, None).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], maija.as_str());
    assert_eq!(claims["amr"], serde_json::json!(["bank", "otp"]));
    assert_eq!(claims["acr"], LOA2);
    browser.close().await.unwrap();
    callback.server.stop(false).await;
    setup.stop().await;
}

async fn the_applications_language_reaches_the_provider(db: &TestDb) {
    let setup = setup(db, false).await;
    let pages = PageClient::new(&setup.server.base);
    let request = authorization_request(&setup.rp, &["openid"]);
    let (_, _, email_page) = pages.open(&format!("{}&ui_locales=fi", request.url)).await.page();
    assert!(email_page.contains(r#"<html lang="fi">"#));
    assert!(email_page.contains("Kirjaudu: Hightrust.id"), "{email_page}");
    let landing = pages.submit(&email_page, "/upstream/hightrust", &[]).await;
    let provider_url = to_the_provider(landing);
    assert_eq!(crate::support::pages::query_param(&provider_url, "ui_locales").as_deref(), Some("fi"));
    setup.stop().await;
}
