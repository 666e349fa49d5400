//! The phone and the computer in real browsers (issue 12, item 8): headless
//! Chromium shows the sign-in page's QR code and, by its own script, goes on
//! once the phone has approved — through the app's API from the test, or
//! in a second Chromium session, the phone's browser, with a passkey held by
//! Chromium's WebDriver virtual authenticator. And a passkey sign-in.

use std::time::Duration;

use fantoccini::{Client, Locator};
use openidconnect::PkceCodeChallenge;
use portti::crypto::totp;
use portti::domain::client::{ClientKind, NewClient, add_client};

use crate::browser::{Callback, browser, callback_server, expect_heading, fill, fill_in, press, text_once};
use crate::devices::APP;
use crate::qr::setup_on;
use crate::support::fixtures::{PASSWORD, person};
use crate::support::{TestDb, TestServer};

/// Registers the first-party application "books", whose callback is the local page.
fn books(server: &TestServer, callback: &Callback) -> impl Fn(&str) -> String + use<> {
    let new = NewClient::parse("books", ClientKind::Public, std::slice::from_ref(&callback.url), &[], &[], true, None)
        .unwrap()
        .named(Some("Books"))
        .unwrap();
    add_client(&server.state.store, 1, new).unwrap();
    let base = server.base.clone();
    let redirect = url::form_urlencoded::byte_serialize(callback.url.as_bytes()).collect::<String>();
    move |extra: &str| {
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        format!(
            "{base}/authorize?client_id=books&response_type=code&scope=openid&redirect_uri={redirect}&code_challenge={}&code_challenge_method=S256{extra}",
            challenge.as_str()
        )
    }
}

/// The QR code the computer's page shows: its id and number.
async fn shown_code(computer: &Client) -> (String, i64) {
    expect_heading(computer, "Sign in").await;
    assert!(computer.find(Locator::Css("#qr svg")).await.is_ok(), "the QR code is drawn");
    let link = computer.find(Locator::Id("qr-link")).await.unwrap().attr("href").await.unwrap().unwrap();
    let number = computer.find(Locator::Id("qr-number")).await.unwrap().text().await.unwrap();
    (link.rsplit("/qr/").next().unwrap().to_owned(), number.parse().unwrap())
}

#[actix_web::test]
async fn the_computers_page_goes_on_by_itself_once_the_app_approves() {
    let Some((computer, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let setup = setup_on(db.serve_on_localhost(APP)).await;
    let callback = callback_server().await;
    let authorize = books(&setup.server, &callback);
    computer.goto(&authorize("")).await.unwrap();
    let (first, _) = shown_code(&computer).await;
    // The code runs out while the page is open: the page shows a new one by itself.
    setup.server.state.clock.advance(portti::domain::qr::QR_SECONDS);
    for _ in 0..200 {
        // Mid-reload the link may be missing for a moment: that reads as no change yet.
        let link = match computer.find(Locator::Id("qr-link")).await {
            Ok(element) => element.attr("href").await.ok().flatten(),
            Err(_) => None,
        };
        if link.is_some_and(|link| !link.ends_with(&first)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (qr_id, number) = shown_code(&computer).await;
    assert_ne!(qr_id, first, "a new code replaced the expired one");
    let (status, asked) = setup.describe(&qr_id).await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["application"], "Books");
    assert!(asked["browser"].as_str().unwrap().starts_with("Chrome on Linux"), "{asked}");
    let (status, answer) = setup.approve(&qr_id, number).await;
    assert_eq!(status, 204, "{answer}");
    // No click: the page's script learns of the approval and goes on.
    expect_heading(&computer, "Back at the application").await;
    let back = computer.current_url().await.unwrap().to_string();
    assert!(back.starts_with(&callback.url) && back.contains("code="), "{back}");
    computer.close().await.unwrap();
    callback.server.stop(false).await;
    setup.server.stop().await;
}

/// Gives a Chromium session a platform authenticator that keeps resident
/// keys and verifies its user (WebDriver's virtual authenticator).
async fn add_virtual_authenticator(browser: &Client) {
    #[derive(Debug)]
    struct AddAuthenticator;
    impl fantoccini::wd::WebDriverCompatibleCommand for AddAuthenticator {
        fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
            base.join(&format!("session/{}/webauthn/authenticator", session.unwrap_or_default()))
        }
        fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
            let options = serde_json::json!({
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                "hasUserVerification": true, "isUserVerified": true,
            });
            (http::Method::POST, Some(options.to_string()))
        }
    }
    browser.issue_cmd(AddAuthenticator).await.unwrap();
}

/// The phone's browser: Maija signs in to her account for the first time
/// and adds a passkey (held by the virtual authenticator).
async fn phone_with_passkey(phone: &Client, server: &TestServer) {
    add_virtual_authenticator(phone).await;
    phone.goto(&format!("{}/account", server.base)).await.unwrap();
    expect_heading(phone, "Sign in").await;
    fill(phone, "Email", "maija@example.com").await;
    press(phone, "Next").await;
    fill(phone, "Password", PASSWORD).await;
    press(phone, "Sign in").await;
    expect_heading(phone, "Set up 2-step verification").await;
    let typed = phone.find(Locator::Id("totp-secret")).await.unwrap().text().await.unwrap();
    let secret = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    fill(phone, "Authenticator code", &totp::code_at(&secret, server.state.clock.now()).unwrap()).await;
    press(phone, "Verify").await;
    press(phone, "Continue").await;
    press(phone, "Accept").await;
    expect_heading(phone, "Your account").await;
    fill_in(phone, "/account/passkeys", "Name", "Maija's phone").await;
    server.state.clock.advance(30);
    let proof = totp::code_at(&secret, server.state.clock.now()).unwrap();
    fill_in(phone, "/account/passkeys", "Authenticator code", &proof).await;
    press(phone, "Add a passkey").await;
    let added = text_once(phone, "p.done", |text| text.contains("The passkey was added")).await;
    assert!(added.contains("The passkey was added"), "{added}");
    assert!(phone.source().await.unwrap().contains("<strong>Maija's phone</strong>"));
}

#[actix_web::test]
async fn the_phones_browser_approves_the_computers_qr_code_with_a_passkey() {
    let Some((computer, _driver, _profile)) = browser().await else { return };
    let Some((phone, _phone_driver, _phone_profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve_on_localhost("");
    person(&server.state, "maija@example.com");
    let callback = callback_server().await;
    let authorize = books(&server, &callback);
    phone_with_passkey(&phone, &server).await;

    computer.goto(&authorize("")).await.unwrap();
    let (qr_id, number) = shown_code(&computer).await;
    // The phone opens the code's link (the camera app would) and approves.
    phone.goto(&format!("{}/qr/{qr_id}", server.base)).await.unwrap();
    expect_heading(&phone, "Scan this code with the Portti app").await;
    phone.find(Locator::Id("qr-approve-here")).await.unwrap().click().await.unwrap();
    expect_heading(&phone, "Sign in a computer").await;
    assert_eq!(phone.find(Locator::Id("qr-application")).await.unwrap().text().await.unwrap(), "Books");
    phone
        .find(Locator::XPath(&format!("//button[@name='pick' and normalize-space()='{number}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let done = text_once(&phone, "p.done", |text| text.contains("signed in")).await;
    assert!(done.contains("the computer's browser is signed in"), "{done}");
    expect_heading(&computer, "Back at the application").await;
    computer.close().await.unwrap();
    phone.close().await.unwrap();
    callback.server.stop(false).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_person_signs_in_with_a_passkey() {
    let Some((browser, _driver, _profile)) = browser().await else { return };
    let db = TestDb::sqlite();
    let server = db.serve_on_localhost("");
    person(&server.state, "maija@example.com");
    let callback = callback_server().await;
    let authorize = books(&server, &callback);
    phone_with_passkey(&browser, &server).await;
    // A new sign-in, asked for by the application: no email, no password.
    browser.goto(&authorize("&prompt=login")).await.unwrap();
    expect_heading(&browser, "Sign in").await;
    let button = browser.find(Locator::XPath("//button[normalize-space()='Sign in with a passkey']")).await.unwrap();
    for _ in 0..100 {
        if button.is_displayed().await.unwrap_or(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    button.click().await.unwrap();
    expect_heading(&browser, "Back at the application").await;
    let received = callback.received.lock().unwrap().clone();
    assert!(received.iter().any(|uri| uri.starts_with("/callback?code=")), "{received:?}");
    browser.close().await.unwrap();
    callback.server.stop(false).await;
    server.stop().await;
}
