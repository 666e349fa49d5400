//! "Forgot your password?": by email link and by SMS code, back to the
//! application, and nothing learnt about which emails have accounts.

use diesel::prelude::*;
use openidconnect::OAuth2TokenResponse;
use portti::crypto::totp;
use portti::store::schema::outbox;

use crate::support::fixtures::{
    CALLBACK, NEW_PASSWORD, PASSWORD, authorization_request, confidential_client, exchange, http, maija_and_ledger,
    person, relying_party,
};
use crate::support::messages::{delivered, reset_link};
use crate::support::pages::PageClient;
use crate::support::sign_in::{first_sign_in_at, to_password_page};
use crate::support::{TestDb, served_on_both_backends};

/// To the password page of a sign-in, then to "Forgot your password?".
pub async fn forgot_page(pages: &PageClient, url: &str, email: &str) -> String {
    let page = to_password_page(pages, url, email).await;
    let link = page.split("href=\"").find(|rest| rest.starts_with("/password/forgot")).expect("a forgot link");
    let link = link.split('"').next().unwrap().replace("&amp;", "&");
    let (_, status, page) = pages.open(&link).await.page();
    assert_eq!(status, 200);
    page
}

#[actix_web::test]
async fn a_reset_by_email_link_leads_back_to_the_application_and_ends_old_sessions() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = relying_party(&server, "ledger", Some(&secret)).await;

    // Signed in on one device, with a refresh token.
    let old_device = PageClient::new(&server.base);
    let request = authorization_request(&rp, &["offline_access"]);
    let (callback, totp_secret, _, enrolled_at) =
        first_sign_in_at(&old_device, &request.url, "maija@example.com").await;
    let old_tokens = exchange(&rp, &callback, &request).await;

    // Forgot the password on another.
    let pages = PageClient::new(&server.base);
    let page = forgot_page(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    assert!(page.contains(r#"value="maija@example.com""#), "the email is filled in");
    let (_, status, page) =
        pages.submit(&page, "/password/forgot", &[("email", "maija@example.com"), ("method", "email")]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("Check your email"));
    let (mails, _) = delivered(&server, &db).await;
    let earlier_link = reset_link(mails.last().unwrap(), &server.base);
    let page = forgot_page(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    pages.submit(&page, "/password/forgot", &[("email", "maija@example.com"), ("method", "email")]).await.page();
    let (mails, _) = delivered(&server, &db).await;
    let link = reset_link(mails.last().unwrap(), &server.base);
    assert_ne!(link, earlier_link);

    // The new password must meet the policy and be typed twice the same.
    let (_, _, page) = pages.open(&link).await.page();
    assert!(page.contains(r#"<label for="new_password">New password</label>"#));
    assert!(page.contains(r#"<label for="confirm_password">Confirm new password</label>"#));
    let (_, status, page) =
        pages.submit(&page, "", &[("new_password", NEW_PASSWORD), ("confirm_password", "something else")]).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("do not match"));
    let (_, status, page) =
        pages.submit(&page, "", &[("new_password", "password123"), ("confirm_password", "password123")]).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("too easy to guess"));
    let landing = pages.submit(&page, "", &[("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)]).await;

    // Back in the sign-in: the new password, and the authenticator still asked.
    let (path, _, page) = landing.page();
    assert!(path.starts_with("/signin/"), "{path}");
    assert!(page.contains("maija@example.com") && page.contains(r#"<label for="password">Password</label>"#));
    let (_, status, _) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    assert_eq!(status, 400, "the old password is gone");
    let page = to_password_page(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    let (_, _, page) = pages.submit(&page, "/password", &[("password", NEW_PASSWORD)]).await.page();
    assert!(page.contains("2-step verification"), "a reset does not skip the authenticator");
    let code = totp::code_at(&totp_secret, enrolled_at + 30).unwrap();
    let left = pages.submit(&page, "/code", &[("code", &code)]).await.left();
    assert!(left.starts_with(CALLBACK), "back at the application");

    // Everything from before the reset has ended.
    let refresh = rp.exchange_refresh_token(old_tokens.refresh_token().unwrap()).unwrap().request_async(&http()).await;
    assert!(refresh.is_err(), "old refresh tokens are revoked");
    let (path, _, _) = old_device.open(&authorization_request(&rp, &[]).url).await.page();
    assert!(path.starts_with("/signin/"), "old sessions are over");

    // The link worked once, and the earlier link ended with it; the person was told.
    let (_, status, page) = pages.open(&link).await.page();
    assert_eq!(status, 404);
    assert!(page.contains("expired or was used already"));
    let (_, status, _) = pages.open(&earlier_link).await.page();
    assert_eq!(status, 404, "every open reset ends with the password change");
    let (mails, _) = delivered(&server, &db).await;
    assert!(mails.last().unwrap().contains("Subject: Your password was changed"));
    assert!(mails.last().unwrap().contains(" UTC"), "and when");
    server.stop().await;
}

/// "Forgot your password?" by SMS; returns the code page.
async fn ask_for_sms(pages: &PageClient, url: &str) -> String {
    let page = forgot_page(pages, url, "maija@example.com").await;
    let (path, _, page) =
        pages.submit(&page, "/password/forgot", &[("email", "maija@example.com"), ("method", "sms")]).await.page();
    assert!(path.ends_with("/code"), "{path}");
    assert!(page.contains(r#"<label for="code">Verification code</label>"#));
    page
}

#[actix_web::test]
async fn a_reset_by_sms_code_allows_five_attempts() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);

    let mut page = ask_for_sms(&pages, &authorization_request(&rp, &[]).url).await;
    for attempt in 1..=5 {
        let (_, status, next) = pages.submit(&page, "/code", &[("code", "000000")]).await.page();
        assert_eq!(status, 400, "attempt {attempt}");
        page = next;
    }
    let (_, sms) = delivered(&server, &db).await;
    let first: serde_json::Value = serde_json::from_str(&sms[0]).unwrap();
    assert_eq!(first["to"], "+358401234567", "to the communication phone");
    let old_code: String = first["text"].as_str().unwrap().chars().filter(char::is_ascii_digit).take(6).collect();
    let (_, status, next) = pages.submit(&page, "/code", &[("code", &old_code)]).await.page();
    assert_eq!(status, 429, "the right code as the sixth attempt, after five wrong ones, is refused");
    assert!(next.contains("Too many wrong codes"));

    let page = ask_for_sms(&pages, &authorization_request(&rp, &[]).url).await;
    let (_, sms) = delivered(&server, &db).await;
    let latest: serde_json::Value = serde_json::from_str(sms.iter().find(|t| !t.contains(&old_code)).unwrap()).unwrap();
    let code: String = latest["text"].as_str().unwrap().chars().filter(char::is_ascii_digit).take(6).collect();
    let (_, _, page) = pages.submit(&page, "/code", &[("code", &code)]).await.page();
    assert!(page.contains("Choose a new password"), "{page}");
    let landing = pages.submit(&page, "", &[("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)]).await;
    let (path, _, _) = landing.page();
    assert!(path.starts_with("/signin/"), "back to the sign-in");
    server.stop().await;
}

#[actix_web::test]
async fn an_unknown_email_gets_the_same_answer_and_no_message() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);

    for method in ["email", "sms"] {
        let mut answers = Vec::new();
        for email in ["maija@example.com", "nobody@example.com"] {
            let page = forgot_page(&pages, &authorization_request(&rp, &[]).url, email).await;
            let (path, status, body) =
                pages.submit(&page, "/password/forgot", &[("email", email), ("method", method)]).await.page();
            // The pages differ only in their random ids and form tokens.
            let main = body.split("<main").nth(1).unwrap_or(&body);
            let shape = main.split("/password/reset/").next().unwrap().to_owned();
            let path_shape = path.split('/').filter(|p| p.len() < 40).collect::<Vec<_>>().join("/");
            answers.push((status, path_shape, shape));
        }
        assert_eq!(answers[0], answers[1], "{method}: the same answer for a known and an unknown email");
    }
    let queued: i64 = outbox::table.count().get_result(&mut db.connection()).unwrap();
    assert_eq!(queued, 2, "messages only for the known account (one email, one SMS)");
    server.stop().await;
}

#[actix_web::test]
async fn an_expired_link_does_nothing() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    person(&server.state, "maija@example.com");
    let pages = PageClient::new(&server.base);
    let (_, _, page) = pages.open("/password/forgot").await.page();
    let (_, _, _) =
        pages.submit(&page, "/password/forgot", &[("email", "maija@example.com"), ("method", "email")]).await.page();
    let (mails, _) = delivered(&server, &db).await;
    let link = reset_link(&mails[0], &server.base);
    server.state.clock.advance(30 * 60 + 1);
    let (_, status, page) = pages.open(&link).await.page();
    assert_eq!(status, 404);
    assert!(page.contains("expired"));
    server.stop().await;
}

#[actix_web::test]
async fn asking_for_a_reset_takes_as_long_for_an_unknown_email() {
    const ROUNDS: usize = 16;
    let db = TestDb::sqlite();
    let server = db.serve("[sign_in]\nattempts_per_minute_per_address = 1000");
    // One known and one unknown address per round, so both sides do the same
    // kind of writes (a first reset of that address) every time.
    for round in 0..ROUNDS {
        let input = portti::domain::user::NewUserInput {
            email: format!("known{round}@example.com"),
            name: "Known Person".to_owned(),
            phone: Some("+358401234567".to_owned()),
            ..Default::default()
        };
        portti::domain::user::add_user(&server.state.store, &server.state.keys, 1, input).unwrap();
    }
    let pages = PageClient::new(&server.base);
    let (_, _, page) = pages.open("/password/forgot").await.page();
    // The lower quartile: a busy machine only ever adds delay, so the fast
    // end of the samples is what the work itself costs.
    let lower_quartile = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 4]
    };
    for method in ["email", "sms"] {
        let mut timings = [Vec::new(), Vec::new()];
        for round in 0..ROUNDS {
            for (which, email) in
                [format!("known{round}@example.com"), format!("{method}{round}@nobody.example")].iter().enumerate()
            {
                let started = std::time::Instant::now();
                let (_, status, _) =
                    pages.submit(&page, "/password/forgot", &[("email", email), ("method", method)]).await.page();
                timings[which].push(started.elapsed().as_secs_f64());
                assert_eq!(status, 200);
            }
        }
        let (known, unknown) = (lower_quartile(&mut timings[0]), lower_quartile(&mut timings[1]));
        // The answer for an unknown address does the same work (the decoy);
        // the margin allows for a busy machine.
        let ratio = unknown / known;
        assert!((0.67..1.5).contains(&ratio), "{method}: known {known:.5}s, unknown {unknown:.5}s");
    }
    server.stop().await;
}

/// The SMS code page posts only to a reset that exists and waits for its
/// code in this browser: a path made to point the form (and this browser's
/// form token) elsewhere gets no form at all.
async fn the_code_page_posts_only_to_a_real_reset(db: &TestDb) {
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    let page = ask_for_sms(&pages, &authorization_request(&rp, &[]).url).await;
    let action = crate::support::pages::form_action(&page, "/code");
    assert!(action.starts_with("/password/reset/"), "{action}");

    for crafted in [
        "/password/reset/..%2F..%2Faccount%2Fsign-out-everywhere%3F/code",
        "/password/reset/%22%3E%3Cform%20action%3D%22%2Faccount/code",
        // Well formed, but no such reset.
        "/password/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/code",
    ] {
        let (_, status, body) = pages.open(crafted).await.page();
        assert_eq!(status, 404, "{crafted}");
        assert!(!body.contains("<form") && !body.contains("action="), "{crafted}: {body}");
        assert!(!body.contains(r#"name="csrf""#), "{crafted}: no form token on the page");
    }
    // The real one still shows its form, from another look.
    let (_, status, again) = pages.open(&action).await.page();
    assert_eq!(status, 200);
    assert_eq!(crate::support::pages::form_action(&again, "/code"), action);
    server.stop().await;
}

/// A person's phone gets at most five reset codes a day, and their resets
/// at most ten code attempts a day, however many resets are asked for:
/// someone who knows only the email can neither text the person without end
/// nor guess on for ever. The answers stay those of every reset.
async fn sms_resets_are_capped_per_person_and_day(db: &TestDb) {
    let server = db.serve("[sign_in]\nattempts_per_minute_per_address = 1000");
    // Limits count per calendar day (UTC): start just after midnight, so the
    // hour this test moves on stays within one day whenever it runs.
    let now = server.state.clock.now();
    server.state.clock.advance(86_400 - now.rem_euclid(86_400) + 60);
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    let url = authorization_request(&rp, &[]).url;

    // Three resets, five wrong codes each: the eleventh attempt of the day is refused.
    for reset in 0..3 {
        let mut page = ask_for_sms(&pages, &url).await;
        for attempt in 0..5 {
            let (_, status, next) = pages.submit(&page, "/code", &[("code", "000000")]).await.page();
            let expected = if reset * 5 + attempt < 10 { 400 } else { 429 };
            assert_eq!(status, expected, "reset {reset}, attempt {attempt}");
            page = next;
        }
    }
    // (Delivered before the clock moves on: a code's SMS is not sent once it has expired.)
    let (_, sms) = delivered(&server, db).await;
    assert_eq!(sms.len(), 3);
    server.state.clock.advance(3600);
    for _ in 0..3 {
        ask_for_sms(&pages, &url).await;
    }
    let (_, sms) = delivered(&server, db).await;
    assert_eq!(sms.len(), 5, "five codes a day reach the phone, not six");
    server.state.clock.advance(24 * 3600);
    let mut page = ask_for_sms(&pages, &url).await;
    let (_, sms) = delivered(&server, db).await;
    assert_eq!(sms.len(), 6, "the next day, codes are sent again");
    let code: String = serde_json::from_str::<serde_json::Value>(sms.last().unwrap()).unwrap()["text"]
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let (path, status, next) = pages.submit(&page, "/code", &[("code", &code)]).await.page();
    assert_eq!(status, 200, "and attempts are counted afresh: {path}");
    page = next;
    assert!(page.contains("New password"), "{page}");
    server.stop().await;
}

served_on_both_backends!(sms_resets_are_capped_per_person_and_day, the_code_page_posts_only_to_a_real_reset,);
