//! A person in a real browser: headless Chromium, driven over WebDriver
//! (chromedriver + fantoccini), through the pages of a sign-in that a local
//! relying party starts and finishes.
//!
//! Where Chromium is not installed these tests say so and pass; in CI (`CI`
//! set) its absence is a failure.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use fantoccini::{Client, ClientBuilder, Locator};
use openidconnect::core::{CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use portti::crypto::totp;
use portti::domain::client::{ClientKind, NewClient, add_client};

use crate::support::TestDb;
use crate::support::fixtures::{NEW_PASSWORD, PASSWORD, http, person};
use crate::support::now;
use crate::support::pages::query_param;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver, killed when dropped.
pub(crate) struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless Chromium session, or `None` (skipped) where there is none outside CI.
pub(crate) async fn browser() -> Option<(Client, Driver, tempfile::TempDir)> {
    portti::crypto::install_tls_provider();
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("CI must install chromium and chromium-driver for the browser tests");
        }
        crate::support::skipped(&format!("Chromium ({CHROMIUM}) or chromedriver ({CHROMEDRIVER}) is not installed"));
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child, port);
    let profile = tempfile::tempdir().unwrap();
    let args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        // Nothing but loopback: no lookups of outside hosts at all.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".to_owned(), serde_json::json!({ "binary": CHROMIUM, "args": args }));
    let webdriver = format!("http://127.0.0.1:{}", driver.1);
    for _ in 0..100 {
        if let Ok(client) =
            ClientBuilder::rustls().unwrap().capabilities(capabilities.clone()).connect(&webdriver).await
        {
            return Some((client, driver, profile));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

/// The relying party's callback: a local page that records where the browser came back.
pub(crate) struct Callback {
    pub url: String,
    pub received: Arc<Mutex<Vec<String>>>,
    pub server: actix_web::dev::ServerHandle,
}

pub(crate) async fn callback_server() -> Callback {
    let received = Arc::new(Mutex::new(Vec::new()));
    let data = web::Data::new(received.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).default_service(web::to(
            |req: actix_web::HttpRequest, seen: web::Data<Arc<Mutex<Vec<String>>>>| async move {
                seen.lock().unwrap().push(req.uri().to_string());
                HttpResponse::Ok().content_type("text/html").body("<h1>Back at the application</h1>")
            },
        ))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Callback { url: format!("http://127.0.0.1:{port}/callback"), received, server: handle }
}

/// Types into the field a person finds by its label.
pub(crate) async fn fill(browser: &Client, label: &str, text: &str) {
    let label = browser.find(Locator::XPath(&format!("//label[normalize-space()='{label}']"))).await.unwrap();
    let id = label.attr("for").await.unwrap().unwrap();
    let field = browser.find(Locator::Id(&id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Types into the field labelled `label` of the form that posts to `action`
/// (the account page has an `Authenticator code` in several forms).
pub(crate) async fn fill_in(browser: &Client, action: &str, label: &str, text: &str) {
    let xpath = format!("//form[@action='{action}']//label[normalize-space()='{label}']");
    let label = browser.find(Locator::XPath(&xpath)).await.unwrap();
    let id = label.attr("for").await.unwrap().unwrap();
    let field = browser.find(Locator::Id(&id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Presses a button and waits for the page it leads to (the old page's
/// elements go stale once the browser has navigated).
pub(crate) async fn press(browser: &Client, button: &str) {
    let element = browser.find(Locator::XPath(&format!("//button[normalize-space()='{button}']"))).await.unwrap();
    element.click().await.unwrap();
    for _ in 0..200 {
        if element.text().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("pressing {button} led nowhere");
}

/// The text of the first element matching `css` once it satisfies `expected`
/// (a page may still be loading after a click); the last text seen otherwise.
pub(crate) async fn text_once(browser: &Client, css: &str, expected: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(element) = browser.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if expected(&text) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

pub(crate) async fn expect_heading(browser: &Client, expected: &str) {
    assert_eq!(text_once(browser, "h1", |text| text == expected).await, expected);
}

pub(crate) async fn expect_alert(browser: &Client, expected: &str) {
    let text = text_once(browser, "[role=alert]", |text| text.contains(expected)).await;
    assert!(text.contains(expected), "alert {text:?} lacks {expected:?}");
}

#[actix_web::test]
async fn a_person_signs_in_enrols_consents_and_signs_out() {
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve("");
    let callback = callback_server().await;
    person(&server.state, "maija@example.com");
    let new = NewClient::parse(
        "ledger",
        ClientKind::Confidential { secret: None },
        std::slice::from_ref(&callback.url),
        &[format!("{}/signed-out", callback.url.trim_end_matches("/callback"))],
        &[],
        false,
        Some("EdDSA"),
    )
    .unwrap();
    let secret = add_client(&server.state.store, 1, new).unwrap().client_secret.unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http()).await.unwrap();
    let rp =
        CoreClient::from_provider_metadata(metadata, ClientId::new("ledger".into()), Some(ClientSecret::new(secret)))
            .set_redirect_uri(RedirectUrl::new(callback.url.clone()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    browser.goto(url.as_str()).await.unwrap();
    expect_heading(&browser, "Sign in").await;

    // A wrong password first.
    fill(&browser, "Email", "maija@example.com").await;
    press(&browser, "Next").await;
    fill(&browser, "Password", "not my password at all").await;
    press(&browser, "Sign in").await;
    expect_alert(&browser, "The email or password is not right.").await;
    fill(&browser, "Password", PASSWORD).await;
    press(&browser, "Sign in").await;

    // Enrolment: the QR code, and the secret as text for typing.
    expect_heading(&browser, "Set up 2-step verification").await;
    assert!(browser.find(Locator::Css("figure.qr svg")).await.is_ok(), "the QR code is drawn");
    let typed = browser.find(Locator::Id("totp-secret")).await.unwrap().text().await.unwrap();
    let totp_secret = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    fill(&browser, "Authenticator code", &totp::code_at(&totp_secret, now()).unwrap()).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Save your recovery codes").await;
    let codes = browser.find_all(Locator::Css("#recovery-codes code")).await.unwrap();
    assert_eq!(codes.len(), 10);
    press(&browser, "Continue").await;
    expect_heading(&browser, "Terms of service").await;
    press(&browser, "Accept").await;
    expect_heading(&browser, "Allow access").await;
    assert!(browser.source().await.unwrap().contains("See your email address"));
    press(&browser, "Allow").await;

    // Back at the application, which exchanges the code for tokens.
    expect_heading(&browser, "Back at the application").await;
    let back = browser.current_url().await.unwrap().to_string();
    assert_eq!(query_param(&back, "state").as_deref(), Some(state.secret().as_str()));
    let code = AuthorizationCode::new(query_param(&back, "code").unwrap());
    let tokens = rp.exchange_code(code).unwrap().set_pkce_verifier(verifier).request_async(&http()).await.unwrap();
    let id_verifier =
        rp.id_token_verifier().set_allowed_algs(vec![openidconnect::core::CoreJwsSigningAlgorithm::EdDsa]);
    let claims: &CoreIdTokenClaims = tokens.id_token().unwrap().claims(&id_verifier, &nonce).unwrap();
    assert_eq!(claims.email().unwrap().as_str(), "maija@example.com");

    // Sign out from the application, with the ID token as hint.
    let logout = format!(
        "{}/logout?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
        server.base,
        tokens.id_token().unwrap(),
        url::form_urlencoded::byte_serialize(
            format!("{}/signed-out", callback.url.trim_end_matches("/callback")).as_bytes()
        )
        .collect::<String>()
    );
    browser.goto(&logout).await.unwrap();
    assert!(browser.current_url().await.unwrap().as_str().ends_with("/signed-out?state=bye"));

    // The second sign-in asks for the authenticator code, not enrolment, and no consent.
    let (url, _, _) = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .url();
    browser.goto(url.as_str()).await.unwrap();
    expect_heading(&browser, "Sign in").await;
    fill(&browser, "Email", "maija@example.com").await;
    press(&browser, "Next").await;
    fill(&browser, "Password", PASSWORD).await;
    press(&browser, "Sign in").await;
    expect_heading(&browser, "2-step verification").await;
    fill(&browser, "Authenticator code", &totp::code_at(&totp_secret, now() + 30).unwrap()).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Back at the application").await;
    // The account page lists the application; its access can be cancelled.
    browser.goto(&format!("{}/account", server.base)).await.unwrap();
    expect_heading(&browser, "Your account").await;
    assert!(browser.source().await.unwrap().contains("<strong>ledger</strong>"));
    press_in(&browser, "/account/applications/ledger/revoke").await;
    expect_status(&browser, "Saved.").await;
    assert!(!browser.source().await.unwrap().contains("<strong>ledger</strong>"));

    // Signing out without an ID token asks first; the confirmation still returns
    // the browser to the application (CSP lets that form's redirect through).
    let signed_out = format!("{}/signed-out", callback.url.trim_end_matches("/callback"));
    browser
        .goto(&format!(
            "{}/logout?client_id=ledger&state=again&post_logout_redirect_uri={}",
            server.base,
            url::form_urlencoded::byte_serialize(signed_out.as_bytes()).collect::<String>()
        ))
        .await
        .unwrap();
    expect_heading(&browser, "Sign out").await;
    press(&browser, "Continue").await;
    assert!(browser.current_url().await.unwrap().as_str().ends_with("/signed-out?state=again"));

    let received = callback.received.lock().unwrap().clone();
    let came_back = |path: &str| received.iter().filter(|uri| uri.starts_with(path)).count();
    assert_eq!((came_back("/callback?"), came_back("/signed-out?")), (2, 2), "{received:?}");

    browser.close().await.unwrap();
    callback.server.stop(false).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_person_is_locked_out_after_eight_wrong_passwords() {
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve("");
    let callback = callback_server().await;
    person(&server.state, "maija@example.com");
    let new = NewClient::parse("ledger", ClientKind::Public, std::slice::from_ref(&callback.url), &[], &[], true, None)
        .unwrap();
    add_client(&server.state.store, 1, new).unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}/authorize?client_id=ledger&response_type=code&scope=openid&redirect_uri={}&code_challenge={}&code_challenge_method=S256",
        server.base,
        url::form_urlencoded::byte_serialize(callback.url.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    browser.goto(&url).await.unwrap();
    fill(&browser, "Email", "maija@example.com").await;
    press(&browser, "Next").await;
    for _ in 0..8 {
        fill(&browser, "Password", "wrong password here").await;
        press(&browser, "Sign in").await;
        expect_alert(&browser, "The email or password is not right.").await;
    }
    fill(&browser, "Password", PASSWORD).await;
    press(&browser, "Sign in").await;
    // Locked, even with the right password.
    expect_alert(&browser, "Too many attempts").await;
    browser.close().await.unwrap();
    callback.server.stop(false).await;
    server.stop().await;
}

/// A person with an authenticator, terms accepted, and a first-party client
/// whose callback is the local page; returns the client's authorize URL
/// maker, the authenticator secret, the recovery codes and the enrolment time.
async fn enrolled_person(
    server: &crate::support::TestServer,
    callback: &Callback,
) -> (impl Fn() -> String + use<>, Vec<u8>, Vec<String>, i64) {
    person(&server.state, "maija@example.com");
    let new = NewClient::parse("ledger", ClientKind::Public, std::slice::from_ref(&callback.url), &[], &[], true, None)
        .unwrap();
    add_client(&server.state.store, 1, new).unwrap();
    let base = server.base.clone();
    let redirect = url::form_urlencoded::byte_serialize(callback.url.as_bytes()).collect::<String>();
    let authorize = move || {
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        format!(
            "{base}/authorize?client_id=ledger&response_type=code&scope=openid&redirect_uri={redirect}&code_challenge={}&code_challenge_method=S256",
            challenge.as_str()
        )
    };
    let pages = crate::support::pages::PageClient::new(&server.base);
    let (_, secret, codes, at) =
        crate::support::sign_in::first_sign_in_at(&pages, &authorize(), "maija@example.com").await;
    (authorize, secret, codes, at)
}

pub(crate) async fn click_link(browser: &Client, text: &str) {
    let link = browser.find(Locator::LinkText(text)).await.unwrap();
    link.click().await.unwrap();
    for _ in 0..200 {
        if link.text().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the link {text} led nowhere");
}

#[actix_web::test]
async fn a_person_resets_a_forgotten_password_by_email_and_is_back_in_the_application() {
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve("");
    let callback = callback_server().await;
    let (authorize, secret, _, at) = enrolled_person(&server, &callback).await;

    browser.goto(&authorize()).await.unwrap();
    fill(&browser, "Email", "maija@example.com").await;
    press(&browser, "Next").await;
    click_link(&browser, "Forgot your password?").await;
    expect_heading(&browser, "Forgot your password?").await;
    let email = browser.find(Locator::Id("email")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(email.as_deref(), Some("maija@example.com"), "the email is filled in");
    press(&browser, "Send").await;
    expect_heading(&browser, "Check your email").await;

    let (mails, _) = crate::support::messages::delivered(&server, &db).await;
    let link = crate::support::messages::reset_link(mails.last().unwrap(), &server.base);
    browser.goto(&link).await.unwrap();
    expect_heading(&browser, "Choose a new password").await;
    fill(&browser, "New password", NEW_PASSWORD).await;
    fill(&browser, "Confirm new password", NEW_PASSWORD).await;
    press(&browser, "Save").await;

    // Back in the sign-in, email known; the authenticator still asked.
    expect_heading(&browser, "Sign in").await;
    fill(&browser, "Password", NEW_PASSWORD).await;
    press(&browser, "Sign in").await;
    expect_heading(&browser, "2-step verification").await;
    fill(&browser, "Authenticator code", &totp::code_at(&secret, at + 30).unwrap()).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Back at the application").await;
    browser.close().await.unwrap();
    callback.server.stop(false).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_person_who_lost_the_authenticator_signs_in_with_a_recovery_code_and_sets_up_a_new_one() {
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve("");
    let callback = callback_server().await;
    let (authorize, _, codes, _) = enrolled_person(&server, &callback).await;

    browser.goto(&authorize()).await.unwrap();
    fill(&browser, "Email", "maija@example.com").await;
    press(&browser, "Next").await;
    fill(&browser, "Password", PASSWORD).await;
    press(&browser, "Sign in").await;
    click_link(&browser, "Lost your authenticator? Use a recovery code").await;
    fill(&browser, "Recovery code", &codes[3]).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Set up 2-step verification").await;
    let typed = browser.find(Locator::Id("totp-secret")).await.unwrap().text().await.unwrap();
    let fresh = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    fill(&browser, "Authenticator code", &totp::code_at(&fresh, now()).unwrap()).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Save your recovery codes").await;
    press(&browser, "Continue").await;
    expect_heading(&browser, "Back at the application").await;
    browser.close().await.unwrap();
    callback.server.stop(false).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_person_resets_by_sms_and_manages_the_account() {
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve("");
    let callback = callback_server().await;
    let (_, secret, _, at) = enrolled_person(&server, &callback).await;

    // The account page asks to sign in; the password is forgotten: by SMS.
    browser.goto(&format!("{}/account", server.base)).await.unwrap();
    expect_heading(&browser, "Sign in").await;
    fill(&browser, "Email", "maija@example.com").await;
    press(&browser, "Next").await;
    click_link(&browser, "Forgot your password?").await;
    browser.find(Locator::Css("input[name=method][value=sms]")).await.unwrap().click().await.unwrap();
    press(&browser, "Send").await;
    expect_heading(&browser, "Enter the code").await;
    let (_, sms) = crate::support::messages::delivered(&server, &db).await;
    let text: serde_json::Value = serde_json::from_str(sms.last().unwrap()).unwrap();
    let code: String = text["text"].as_str().unwrap().chars().filter(char::is_ascii_digit).take(6).collect();
    fill(&browser, "Verification code", &code).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Choose a new password").await;
    fill(&browser, "New password", NEW_PASSWORD).await;
    fill(&browser, "Confirm new password", NEW_PASSWORD).await;
    press(&browser, "Save").await;

    // Not from an application: to the account page, which asks to sign in.
    expect_heading(&browser, "Sign in").await;
    fill(&browser, "Email", "maija@example.com").await;
    press(&browser, "Next").await;
    fill(&browser, "Password", NEW_PASSWORD).await;
    press(&browser, "Sign in").await;
    fill(&browser, "Authenticator code", &totp::code_at(&secret, at + 30).unwrap()).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Your account").await;

    // Change the name.
    fill(&browser, "Name", "Maija Virtanen").await;
    browser.find(Locator::Css("form[action='/account/name'] button")).await.unwrap().click().await.unwrap();
    expect_status(&browser, "Saved.").await;
    let name = browser.find(Locator::Id("name")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(name.as_deref(), Some("Maija Virtanen"));

    // A new phone for codes, confirmed by SMS.
    fill(&browser, "Phone", "+358 50 7654321").await;
    // The step-up: a current authenticator code, right before the change
    // (of a later time step than the one that signed in).
    server.state.clock.advance(90);
    let proof = totp::code_at(&secret, server.state.clock.now()).unwrap();
    fill_in(&browser, "/account/phone", "Authenticator code", &proof).await;
    press_in(&browser, "/account/phone").await;
    expect_status(&browser, "We sent a code").await;
    let (_, sms) = crate::support::messages::delivered(&server, &db).await;
    let text: serde_json::Value = serde_json::from_str(sms.last().unwrap()).unwrap();
    assert_eq!(text["to"], "+358507654321");
    let code: String = text["text"].as_str().unwrap().chars().filter(char::is_ascii_digit).take(6).collect();
    fill(&browser, "Verification code", &code).await;
    press_in(&browser, "/account/phone/verify").await;
    expect_status(&browser, "Saved.").await;
    assert!(browser.source().await.unwrap().contains("+358507654321</strong> (confirmed)"));

    // The password, given the current one.
    fill(&browser, "Password", NEW_PASSWORD).await;
    fill(&browser, "New password", "seitsemän koiraa haukkuu kuulle").await;
    fill(&browser, "Confirm new password", "seitsemän koiraa haukkuu kuulle").await;
    press_in(&browser, "/account/password").await;
    expect_status(&browser, "Saved.").await;

    // A minute on: a new authenticator, given a fresh code from the current one.
    server.state.clock.advance(60);
    let code = totp::code_at(&secret, server.state.clock.now()).unwrap();
    fill_in(&browser, "/account/authenticator", "Authenticator code", &code).await;
    press_in(&browser, "/account/authenticator").await;
    expect_heading(&browser, "Set up 2-step verification").await;
    let typed = browser.find(Locator::Id("totp-secret")).await.unwrap().text().await.unwrap();
    let fresh = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    fill(&browser, "Authenticator code", &totp::code_at(&fresh, server.state.clock.now()).unwrap()).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Save your recovery codes").await;
    press(&browser, "Continue").await;
    expect_heading(&browser, "Your account").await;

    // New recovery codes, shown once, given a code from the new authenticator.
    server.state.clock.advance(30);
    let proof = totp::code_at(&fresh, server.state.clock.now()).unwrap();
    fill_in(&browser, "/account/recovery-codes", "Authenticator code", &proof).await;
    browser.find(Locator::Css("form[action='/account/recovery-codes'] button")).await.unwrap().click().await.unwrap();
    expect_heading(&browser, "Save your recovery codes").await;
    assert_eq!(browser.find_all(Locator::Css("#recovery-codes code")).await.unwrap().len(), 10);
    click_link(&browser, "Back to your account").await;

    // Sign out everywhere.
    browser
        .find(Locator::Css("form[action='/account/sign-out-everywhere'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    expect_heading(&browser, "Sign in").await;
    browser.close().await.unwrap();
    callback.server.stop(false).await;
    server.stop().await;
}

/// Presses the button of the form posting to `action`.
async fn press_in(browser: &Client, action: &str) {
    let button = browser.find(Locator::Css(&format!("form[action='{action}'] button"))).await.unwrap();
    button.click().await.unwrap();
    for _ in 0..200 {
        if button.text().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the form {action} led nowhere");
}

async fn expect_status(browser: &Client, expected: &str) {
    let text = text_once(browser, "[role=status]", |text| text.contains(expected)).await;
    assert!(text.contains(expected), "status {text:?} lacks {expected:?}");
}

#[actix_web::test]
async fn a_person_switches_to_finnish_and_signs_in() {
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve("");
    let callback = callback_server().await;
    let (authorize, secret, _, _) = enrolled_person(&server, &callback).await;
    let fi = portti::i18n::Texts::new(portti::i18n::Lang::Fi);
    assert_ne!(fi.get("common.password"), "Password", "the Finnish catalogue is Finnish");

    browser.goto(&authorize()).await.unwrap();
    expect_heading(&browser, "Sign in").await;
    click_link(&browser, "Suomi").await;
    expect_heading(&browser, fi.get("sign_in.title")).await;
    let html = browser.find(Locator::Css("html")).await.unwrap();
    assert_eq!(html.attr("lang").await.unwrap().as_deref(), Some("fi"));
    fill(&browser, fi.get("common.email"), "maija@example.com").await;
    press(&browser, fi.get("common.next")).await;
    fill(&browser, fi.get("common.password"), "wrong password here").await;
    press(&browser, fi.get("common.sign_in")).await;
    expect_alert(&browser, fi.get("refusal.wrong_password")).await;
    fill(&browser, fi.get("common.password"), PASSWORD).await;
    press(&browser, fi.get("common.sign_in")).await;
    expect_heading(&browser, fi.get("code.title")).await;
    // A code of a later time step than the one used at enrolment.
    server.state.clock.advance(60);
    let code = totp::code_at(&secret, server.state.clock.now()).unwrap();
    fill(&browser, fi.get("common.authenticator_code"), &code).await;
    press(&browser, fi.get("common.verify")).await;
    expect_heading(&browser, "Back at the application").await;
    browser.close().await.unwrap();
    callback.server.stop(false).await;
    server.stop().await;
}

/// Issue 11 in the browser: a user administrator adds a user, invites them,
/// cancels and invites again, re-invites; the invitee enters the sign-up
/// code at `/activate`; the administrator generates a code, and the invitee
/// verifies with it.
#[actix_web::test]
async fn an_administrator_invites_a_foreign_user_who_activates_in_the_browser() {
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve(crate::activation::APP_TOML);
    let company = portti::domain::company::add_company(&server.state.store, 1, "Asiakas Oy", None).unwrap();
    let user_admin = vec![portti::domain::access::CompanyRole::UserAdmin];
    crate::support::fixtures::member(&server.state, "kh@example.com", &company.id, user_admin, false);
    let pages = crate::support::pages::PageClient::new(&server.base);
    let (secret, enrolled_at) = crate::admin_pages::sign_in_from_admin(&pages, "kh@example.com").await;

    // /admin asks to sign in first.
    browser.goto(&format!("{}/admin", server.base)).await.unwrap();
    fill(&browser, "Email", "kh@example.com").await;
    press(&browser, "Next").await;
    fill(&browser, "Password", PASSWORD).await;
    press(&browser, "Sign in").await;
    fill(&browser, "Authenticator code", &totp::code_at(&secret, enrolled_at + 30).unwrap()).await;
    press(&browser, "Verify").await;
    // The sign-in /admin started ends back there.
    expect_heading(&browser, "Administration").await;
    click_link(&browser, "Asiakas Oy").await;

    // Add the user, open the invitation view.
    fill(&browser, "Name", "John Smith").await;
    fill(&browser, "Email", "john@example.com").await;
    fill(&browser, "Phone", "+46701234567").await;
    fill(&browser, "Rights (comma-separated)", "ledger").await;
    press(&browser, "Save").await;
    click_link(&browser, "Invite user to log in with the mobile application").await;
    let invitation_view = browser.current_url().await.unwrap().to_string();
    let tick = async || browser.find(Locator::Id("identity_verified")).await.unwrap().click().await.unwrap();
    let invitation_state = async |wanted: &'static str| {
        text_once(&browser, "#invitation-state", |text| text == wanted).await;
    };
    tick().await;
    press(&browser, "Send invitation").await;
    invitation_state("Sent").await;
    press(&browser, "Cancel invitation").await;
    invitation_state("Cancelled").await;
    tick().await;
    press(&browser, "Send invitation").await;
    invitation_state("Sent").await;
    tick().await;
    press(&browser, "Re-invite").await;
    invitation_state("Sent").await;
    text_once(&browser, ".done", |text| text == "The invitation was sent.").await;
    let code = crate::activation::sign_up_code(&server, &db).await;

    // The invitee, without the app.
    let enter_sign_up_code = async || {
        browser.goto(&format!("{}/activate", server.base)).await.unwrap();
        fill(&browser, "Sign-up code", &code).await;
        press(&browser, "Next").await;
        expect_heading(&browser, "Verify your phone").await;
    };
    enter_sign_up_code().await;

    // "Didn't the invitee receive the verification code?"
    browser.goto(&invitation_view).await.unwrap();
    press(&browser, "Generate code").await;
    let admin_code = text_once(&browser, "#admin-code", |text| text.len() == 6).await;
    assert!(admin_code.chars().all(|c| c.is_ascii_digit()), "{admin_code:?}");

    enter_sign_up_code().await;
    fill(&browser, "Verification code", &admin_code).await;
    press(&browser, "Verify").await;
    expect_heading(&browser, "Phone verified").await;
    let next = text_once(&browser, "#activation-next", |text| text.contains("j•••@example.com")).await;
    assert!(next.contains("create your password"), "{next}");
    browser.close().await.unwrap();
    server.stop().await;
}
