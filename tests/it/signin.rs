//! The hosted sign-in: what a person sees, and the protections around it.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use portti::crypto::totp;

use crate::support::fixtures::{
    CALLBACK, PASSWORD, authorization_request, confidential_client, exchange, http, maija_and_ledger, person,
    relying_party,
};
use crate::support::now;
use crate::support::pages::{Landing, PageClient, query_param};
use crate::support::sign_in::{first_sign_in, first_sign_in_at, sign_in, to_password_page};
use crate::support::{TestDb, served_on_both_backends};

/// Email and password steps with a given password; returns the landing page.
async fn try_password(pages: &PageClient, url: &str, email: &str, password: &str) -> (reqwest::StatusCode, String) {
    let page = to_password_page(pages, url, email).await;
    let (_, status, page) = pages.submit(&page, "/password", &[("password", password)]).await.page();
    (status, page)
}

fn notice(page: &str) -> String {
    page.split("role=\"alert\">").nth(1).map(|rest| rest.split('<').next().unwrap().to_owned()).unwrap_or_default()
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_email_read_the_same() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);

    let url = authorization_request(&rp, &[]).url;
    let (known_status, known) = try_password(&pages, &url, "maija@example.com", "not the password").await;
    let (unknown_status, unknown) = try_password(&pages, &url, "nobody@example.com", "not the password").await;
    assert_eq!(known_status, 400);
    assert_eq!(known_status, unknown_status);
    assert_eq!(notice(&known), "The email or password is not right.");
    assert_eq!(notice(&known), notice(&unknown));
    server.stop().await;
}

#[actix_web::test]
async fn eight_failures_lock_the_account_for_thirty_minutes() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    let url = authorization_request(&rp, &[]).url;

    for email in ["maija@example.com", "nobody@example.com"] {
        for _ in 0..8 {
            let (status, _) = try_password(&pages, &url, email, "not the password").await;
            assert_eq!(status, 400);
        }
        let (status, page) = try_password(&pages, &url, email, PASSWORD).await;
        assert_eq!(status, 429, "{email}: locked, even with the right password");
        assert!(notice(&page).contains("Too many attempts"));
    }

    server.state.clock.advance(30 * 60 + 1);
    let (status, page) = try_password(&pages, &url, "maija@example.com", PASSWORD).await;
    assert_eq!(status, 200, "unlocked after 30 minutes");
    assert!(page.contains("Set up 2-step verification"));
    server.stop().await;
}

#[actix_web::test]
async fn an_authenticator_code_is_accepted_once_and_a_recovery_code_once() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;

    let first = PageClient::new(&server.base);
    let (_, secret, recovery, enrolled_at) =
        first_sign_in_at(&first, &authorization_request(&rp, &[]).url, "maija@example.com").await;

    // The enrolment used that step's code: the same code cannot sign in again.
    let second = PageClient::new(&server.base);
    let (status, page) =
        match sign_in(&second, &authorization_request(&rp, &[]).url, "maija@example.com", &secret, enrolled_at).await {
            Landing::Page { status, body, .. } => (status, body),
            Landing::Left(url) => panic!("a replayed code signed in: {url}"),
        };
    assert_eq!(status, 400);
    assert!(notice(&page).contains("code is not right"));
    // The next step's code works.
    let code = totp::code_at(&secret, enrolled_at + 30).unwrap();
    let left = second.submit(&page, "/code", &[("code", &code)]).await.left();
    assert!(left.starts_with(CALLBACK));

    // A recovery code instead of the authenticator, once.
    for attempt in 0..2 {
        let pages = PageClient::new(&server.base);
        let (_, _, page) = pages.open(&authorization_request(&rp, &[]).url).await.page();
        let (_, _, page) = pages.submit(&page, "/email", &[("email", "maija@example.com")]).await.page();
        let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
        let (_, _, page) = pages
            .open(&format!("{}/recovery", crate::support::pages::form_action(&page, "/code").trim_end_matches("/code")))
            .await
            .page();
        assert!(page.contains(r#"<label for="recovery_code">Recovery code</label>"#));
        let landing = pages.submit(&page, "/recovery", &[("code", &recovery[0].to_lowercase())]).await;
        match (attempt, landing) {
            (0, Landing::Page { body, .. }) => {
                // The authenticator is lost: a new one is set up, with new recovery codes.
                assert!(body.contains("Set up 2-step verification"), "{body}");
                let typed = crate::support::pages::element_text(&body, "totp-secret");
                let fresh = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
                assert_ne!(fresh, secret);
                let code = totp::code_at(&fresh, now()).unwrap();
                let (_, _, page) = pages.submit(&body, "/enrol", &[("code", &code)]).await.page();
                assert!(page.contains("Save your recovery codes"));
                let left = pages.submit(&page, "/recovery-codes", &[]).await.left();
                assert!(left.starts_with(CALLBACK));
            }
            (1, Landing::Page { status, body, .. }) => {
                assert_eq!(status, 400);
                assert!(notice(&body).contains("used already"), "old recovery codes end with the re-enrolment");
            }
            (_, other) => panic!("attempt {attempt}: {other:?}"),
        }
    }
    server.stop().await;
}

#[actix_web::test]
async fn forged_forms_and_other_browsers_are_refused() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    let (path, _, page) = pages.open(&authorization_request(&rp, &[]).url).await.page();

    let (_, status, body) =
        pages.post(&format!("{path}/email"), &[("csrf", "forged"), ("email", "maija@example.com")]).await.page();
    assert_eq!(status, 400);
    assert!(body.contains("This form has expired"));

    // Another browser (no binding cookie) cannot use the flow, even with its token.
    let stranger = PageClient::new(&server.base);
    let (_, status, body) = stranger.submit(&page, "/email", &[("email", "maija@example.com")]).await.page();
    assert_eq!(status, 400);
    assert!(body.contains("This form has expired"));
    let (_, status, body) = stranger.open(&path).await.page();
    assert_eq!(status, 404);
    assert!(body.contains("start again"));

    // The flow is untouched: the email step is still there.
    let (_, _, again) = pages.open(&path).await.page();
    assert!(again.contains(r#"<label for="email">Email</label>"#));
    server.stop().await;
}

#[actix_web::test]
async fn sessions_sign_in_once_for_every_application_until_they_time_out() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    person(&server.state, "maija@example.com");
    confidential_client(&server.state, "ledger", false, "RS256", &[]);
    let payroll_secret = confidential_client(&server.state, "payroll", true, "ES256", &[]);
    let ledger = relying_party(&server, "ledger", None).await;
    let payroll = relying_party(&server, "payroll", Some(&payroll_secret)).await;
    let pages = PageClient::new(&server.base);

    // Third-party ledger: consent is asked, then remembered.
    let (callback, _, _) =
        first_sign_in(&pages, &authorization_request(&ledger, &["email"]).url, "maija@example.com").await;
    assert!(callback.starts_with(CALLBACK));
    let again = pages.open(&authorization_request(&ledger, &["email"]).url).await.left();
    assert!(query_param(&again, "code").is_some(), "consent remembered, session reused");
    let (_, _, page) = pages.open(&authorization_request(&ledger, &["email", "phone"]).url).await.page();
    assert!(page.contains("Allow access") && page.contains("See your phone number"), "a new scope asks again");

    // First-party payroll: single sign-on, no consent page, ES256 tokens.
    let request = authorization_request(&payroll, &["email"]);
    let callback = pages.open(&request.url).await.left();
    let tokens = exchange(&payroll, &callback, &request).await;
    let id_token = tokens.id_token().unwrap();
    assert_eq!(
        *id_token.signing_alg().unwrap(),
        openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        "payroll's tokens are ES256"
    );
    let verifier = payroll
        .id_token_verifier()
        .set_allowed_algs(vec![openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    id_token.claims(&verifier, &request.nonce).expect("the ES256 ID token verifies against JWKS");
    assert!(!tokens.access_token().secret().is_empty());

    // prompt=login asks for the password again despite the session.
    let mut request = authorization_request(&payroll, &[]);
    request.url.push_str("&prompt=login");
    let (_, _, page) = pages.open(&request.url).await.page();
    assert!(page.contains(r#"<label for="email">Email</label>"#));

    // After 30 idle minutes the session is over; prompt=none then says so.
    server.state.clock.advance(30 * 60 + 1);
    let mut request = authorization_request(&payroll, &[]);
    request.url.push_str("&prompt=none");
    let left = pages.open(&request.url).await.left();
    assert_eq!(query_param(&left, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&left, "state").as_deref(), Some(request.state.secret().as_str()));
    server.stop().await;
}

#[actix_web::test]
async fn denied_consent_and_untrusted_requests() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    person(&server.state, "maija@example.com");
    confidential_client(&server.state, "ledger", false, "RS256", &[]);
    let rp = relying_party(&server, "ledger", None).await;
    let pages = PageClient::new(&server.base);

    let page = to_password_page(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    let secret =
        totp_rs::Secret::try_from_base32(crate::support::pages::element_text(&page, "totp-secret").replace(' ', ""))
            .unwrap();
    let code = totp::code_at(secret.as_bytes(), now()).unwrap();
    let (_, _, page) = pages.submit(&page, "/enrol", &[("code", &code)]).await.page();
    let (_, _, page) = pages.submit(&page, "/recovery-codes", &[]).await.page();
    let (_, _, page) = pages.submit(&page, "/terms", &[]).await.page();
    assert!(page.contains(">Deny<"));
    let left = pages.submit(&page, "/consent", &[("decision", "deny")]).await.left();
    assert_eq!(query_param(&left, "error").as_deref(), Some("access_denied"));

    // A redirect URI the client never registered: a page, no redirect.
    let url = authorization_request(&rp, &[]).url.replace("rp.example%2Fcallback", "evil.example%2Fcallback");
    let (_, status, body) = pages.open(&url).await.page();
    assert_eq!(status, 400);
    assert!(body.contains("has not registered"));
    let (_, status, _) =
        pages.open(&format!("{}/authorize?client_id=nobody&response_type=code", server.base)).await.page();
    assert_eq!(status, 400);
    // A bad scope goes back to the (trusted) redirect URI.
    let url = authorization_request(&rp, &["admin"]).url;
    let left = pages.open(&url).await.left();
    assert_eq!(query_param(&left, "error").as_deref(), Some("invalid_scope"));
    server.stop().await;
}

#[actix_web::test]
async fn a_new_terms_version_is_accepted_again() {
    let db = TestDb::sqlite();
    let server = db.serve("[terms]\nversion = \"2026-01\"\ntext = \"First terms.\"");
    let rp = maija_and_ledger(&server).await;
    let (_, secret, _) =
        first_sign_in(&PageClient::new(&server.base), &authorization_request(&rp, &[]).url, "maija@example.com").await;
    server.stop().await;

    let server = db.serve("[terms]\nversion = \"2026-06\"\ntext = \"Second terms.\"");
    let rp = relying_party(&server, "ledger", None).await;
    let pages = PageClient::new(&server.base);
    let (_, _, page) =
        sign_in(&pages, &authorization_request(&rp, &[]).url, "maija@example.com", &secret, now() + 30).await.page();
    assert!(page.contains("Second terms.") && page.contains("2026-06"), "{page}");
    let left = pages.submit(&page, "/terms", &[]).await.left();
    assert!(left.starts_with(CALLBACK));
    server.stop().await;
}

/// Email and password; returns the authenticator-code page.
async fn to_code_step(pages: &PageClient, url: &str) -> String {
    let page = to_password_page(pages, url, "maija@example.com").await;
    let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    assert!(page.contains("2-step verification"), "{page}");
    page
}

#[actix_web::test]
async fn wrong_authenticator_codes_lock_and_a_right_password_does_not_reset_them() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let (_, secret, _, enrolled_at) =
        first_sign_in_at(&PageClient::new(&server.base), &authorization_request(&rp, &[]).url, "maija@example.com")
            .await;

    // Seven wrong codes, then a fresh start with the right password: the count goes on.
    let pages = PageClient::new(&server.base);
    let mut page = to_code_step(&pages, &authorization_request(&rp, &[]).url).await;
    for _ in 0..7 {
        let (_, status, next) = pages.submit(&page, "/code", &[("code", "000000")]).await.page();
        assert_eq!(status, 400);
        page = next;
    }
    let page = to_code_step(&pages, &authorization_request(&rp, &[]).url).await;
    let (_, status, page) = pages.submit(&page, "/code", &[("code", "000000")]).await.page();
    assert_eq!(status, 400, "the eighth wrong code");
    let right = totp::code_at(&secret, enrolled_at + 30).unwrap();
    let (_, status, page) = pages.submit(&page, "/code", &[("code", &right)]).await.page();
    assert_eq!(status, 429, "locked: even the right code is refused");
    assert!(notice(&page).contains("Too many attempts"));

    server.state.clock.advance(29 * 60);
    let page = to_password_page(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    let (_, status, _) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    assert_eq!(status, 429, "still locked after 29 minutes");
    server.state.clock.advance(60 + 1);
    to_code_step(&pages, &authorization_request(&rp, &[]).url).await; // the lock is over
    server.stop().await;
}

#[actix_web::test]
async fn attempts_from_one_address_are_throttled() {
    let db = TestDb::sqlite();
    let server = db.serve("[sign_in]\nattempts_per_minute_per_address = 3");
    let rp = maija_and_ledger(&server).await;
    // The throttle counts in fixed one-minute windows: start at the start of one.
    let now = server.state.clock.now();
    server.state.clock.advance(60 - now.rem_euclid(60));
    let pages = PageClient::new(&server.base);
    let url = authorization_request(&rp, &[]).url;
    for (n, email) in ["a@example.com", "b@example.com", "c@example.com"].iter().enumerate() {
        let (status, _) = try_password(&pages, &url, email, "guess number one").await;
        assert_eq!(status, 400, "attempt {n}");
    }
    let (status, page) = try_password(&pages, &url, "d@example.com", "guess number one").await;
    assert_eq!(status, 429, "a fourth attempt in the minute from the same address");
    assert!(notice(&page).contains("Too many attempts"));
    server.state.clock.advance(61);
    let (status, _) = try_password(&pages, &url, "maija@example.com", PASSWORD).await;
    assert_eq!(status, 200, "the next minute is allowed again");
    server.stop().await;
}

#[actix_web::test]
async fn an_unknown_email_takes_as_long_as_a_known_one() {
    let db = TestDb::sqlite();
    let server = db
        .serve("[sign_in]\nattempts_per_minute_per_address = 1000\nmax_failures = 100\nmax_consecutive_failures = 100");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    let url = authorization_request(&rp, &[]).url;

    let mut timings = [Vec::new(), Vec::new()];
    for round in 0..6 {
        for (which, email) in ["maija@example.com", "nobody@example.com"].iter().enumerate() {
            let (_, _, page) = pages.open(&url).await.page();
            let (_, _, page) = pages.submit(&page, "/email", &[("email", email)]).await.page();
            let started = std::time::Instant::now();
            let (_, status, _) = pages.submit(&page, "/password", &[("password", "a wrong password")]).await.page();
            if round > 0 {
                timings[which].push(started.elapsed().as_secs_f64());
            }
            assert_eq!(status, 400);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (known, unknown) = (median(&mut timings[0]), median(&mut timings[1]));
    // Both pay for one Argon2id verification; without the dummy hash the
    // unknown email would answer many times faster.
    let ratio = unknown / known;
    assert!((0.5..2.0).contains(&ratio), "known {known:.4}s, unknown {unknown:.4}s");
    server.stop().await;
}

#[actix_web::test]
async fn sign_out_without_a_hint_asks_first_and_only_returns_to_registered_addresses() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    first_sign_in(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;

    let unregistered = format!(
        "/logout?client_id=ledger&post_logout_redirect_uri={}",
        url::form_urlencoded::byte_serialize(b"https://evil.example/").collect::<String>()
    );
    let (_, status, page) = pages.open(&unregistered).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("has not registered"));

    let registered = format!(
        "{}/logout?client_id=ledger&state=s&post_logout_redirect_uri={}",
        server.base,
        url::form_urlencoded::byte_serialize(b"https://rp.example/signed-out").collect::<String>()
    );
    let response = http().get(&registered).send().await.unwrap();
    assert_eq!(response.status(), 303, "a browser with no session goes straight back");
    assert_eq!(response.headers()["location"], "https://rp.example/signed-out?state=s");
    let (_, status, page) = pages.open(&registered).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("Do you want to sign out"), "a link alone does not sign a person out");
    let still_in = pages.open(&authorization_request(&rp, &[]).url).await.left();
    assert!(still_in.starts_with(CALLBACK), "still signed in until confirmed");

    let (_, _, page) = pages.open(&registered).await.page();
    let left = pages.submit(&page, "/logout", &[]).await.left();
    assert_eq!(left, "https://rp.example/signed-out?state=s");
    let (path, _, _) = pages.open(&authorization_request(&rp, &[]).url).await.page();
    assert!(path.starts_with("/signin/"), "signed out");
    server.stop().await;
}

async fn prompt_max_age_and_login_hint(db: &TestDb) {
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);

    let hinted = format!("{}&login_hint=maija%40example.com", authorization_request(&rp, &[]).url);
    let (_, _, page) = pages.open(&hinted).await.page();
    assert!(page.contains(r#"value="maija@example.com""#), "the email is filled in from login_hint");
    first_sign_in(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;

    // prompt=consent asks even a first-party client; with prompt=none that is consent_required.
    let (_, _, page) = pages.open(&format!("{}&prompt=consent", authorization_request(&rp, &[]).url)).await.page();
    assert!(page.contains("Allow access"));
    let left = pages.open(&format!("{}&prompt=none", authorization_request(&rp, &[]).url)).await.left();
    assert!(query_param(&left, "code").is_some(), "prompt=none with a session signs in silently");

    // An id_token_hint naming someone else: prompt=none cannot use this session.
    let other = person(&server.state, "other@example.com");
    let foreign_hint = server
        .state
        .key_set()
        .signer(portti::crypto::signing::SigningAlg::RS256)
        .unwrap()
        .sign("JWT", &serde_json::json!({ "iss": server.base, "sub": other.as_str(), "aud": "ledger" }))
        .unwrap();
    let left = pages
        .open(&format!("{}&prompt=none&id_token_hint={foreign_hint}", authorization_request(&rp, &[]).url))
        .await
        .left();
    assert_eq!(query_param(&left, "error").as_deref(), Some("login_required"));

    // A hint that does not verify (signed by a key that is not Portti's) names
    // nobody: not even this person's session may answer it.
    let maija = server
        .state
        .store
        .read(|r| r.user_id_by_email(&portti::domain::contact::Email::parse("maija@example.com").unwrap()))
        .unwrap()
        .unwrap();
    let alg = portti::crypto::signing::SigningAlg::RS256;
    let stranger_key = portti::crypto::signing::SigningKey::from_pkcs8(
        alg,
        &portti::crypto::signing::generate_private_key(alg).unwrap(),
    )
    .unwrap();
    let forged_hint = stranger_key
        .sign("JWT", &serde_json::json!({ "iss": server.base, "sub": maija.as_str(), "aud": "ledger" }))
        .unwrap();
    let left = pages
        .open(&format!("{}&prompt=none&id_token_hint={forged_hint}", authorization_request(&rp, &[]).url))
        .await
        .left();
    assert_eq!(query_param(&left, "error").as_deref(), Some("login_required"), "an unverifiable hint");

    // max_age=0 demands a fresh sign-in, even within the second of the last one.
    let (path, _, _) = pages.open(&format!("{}&max_age=0", authorization_request(&rp, &[]).url)).await.page();
    assert!(path.starts_with("/signin/"));
    let left = pages.open(&format!("{}&max_age=3600", authorization_request(&rp, &[]).url)).await.left();
    assert!(query_param(&left, "code").is_some());
    server.stop().await;
}

#[actix_web::test]
async fn a_session_ends_at_its_absolute_limit_even_when_used() {
    let db = TestDb::sqlite();
    let server = db.serve("[session]\nidle_seconds = 1800\nabsolute_seconds = 3000");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    first_sign_in(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;

    server.state.clock.advance(1700);
    let used = pages.open(&authorization_request(&rp, &[]).url).await.left();
    assert!(query_param(&used, "code").is_some(), "within both limits: single sign-on");
    server.state.clock.advance(1400);
    let (path, _, _) = pages.open(&authorization_request(&rp, &[]).url).await.page();
    assert!(path.starts_with("/signin/"), "idle only 1400 s, but 3100 s since the sign-in: over");
    server.stop().await;
}

/// Two recovery codes sent at once for one sign-in (a double submit, two
/// tabs): one moves the sign-in on; the other changes nothing, so its code
/// is not spent. The step spends the code and saves the flow in one
/// transaction.
async fn racing_recovery_codes_spend_exactly_one(db: TestDb) {
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let first = PageClient::new(&server.base);
    let (_, _, recovery) = first_sign_in(&first, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    let user = server
        .state
        .store
        .read(|r| r.user_id_by_email(&portti::domain::contact::Email::parse("maija@example.com").unwrap()))
        .unwrap()
        .unwrap();
    let unused = || server.state.store.read(|r| r.unused_recovery_codes(&user)).unwrap();
    assert_eq!(unused(), 10);

    let pages = PageClient::new(&server.base);
    let page = to_password_page(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    let recovery_page =
        format!("{}/recovery", crate::support::pages::form_action(&page, "/code").trim_end_matches("/code"));
    let (_, _, page) = pages.open(&recovery_page).await.page();
    let (first_code, second_code) = ([("code", recovery[0].as_str())], [("code", recovery[1].as_str())]);
    let (one, other) =
        tokio::join!(pages.submit(&page, "/recovery", &first_code), pages.submit(&page, "/recovery", &second_code));
    let outcomes = [one.page(), other.page()];
    // Both pages show where the sign-in now stands; the loser's says why it did nothing.
    let (won, lost): (Vec<_>, Vec<_>) = outcomes.iter().partition(|(_, status, _)| *status == 200);
    assert_eq!((won.len(), lost.len()), (1, 1), "exactly one moves the sign-in on");
    assert!(won[0].2.contains("Set up 2-step verification"));
    assert_eq!(lost[0].1, 400);
    assert!(notice(&lost[0].2).contains("already done"), "the other is told: {}", notice(&lost[0].2));
    assert_eq!(unused(), 9, "and only one code is spent");
    server.stop().await;
}

#[actix_web::test]
async fn racing_recovery_codes_spend_exactly_one_on_sqlite() {
    racing_recovery_codes_spend_exactly_one(TestDb::sqlite()).await;
}

#[actix_web::test]
async fn racing_recovery_codes_spend_exactly_one_on_postgres() {
    let Some(db) = TestDb::postgres() else { return };
    racing_recovery_codes_spend_exactly_one(db).await;
}

/// Recovery codes are stored as keyed hashes bound to their person, never
/// as plain hashes; a code stored before that (plain SHA-256) still works once.
async fn recovery_codes_are_stored_keyed_and_old_ones_still_work(db: &TestDb) {
    use portti::domain::recovery_codes;
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    let first = PageClient::new(&server.base);
    let (_, _, codes) = first_sign_in(&first, &authorization_request(&rp, &[]).url, "maija@example.com").await;
    let email = portti::domain::contact::Email::parse("maija@example.com").unwrap();
    let user = server.state.store.read(|r| r.user_id_by_email(&email)).unwrap().unwrap();
    let keyed = recovery_codes::digest(&server.state.keys, &user, &codes[0]).unwrap();
    let plain = recovery_codes::legacy_digest(&codes[0]);
    let stored_as = |digest: &str| {
        let digest = digest.to_owned();
        server.state.store.write(|tx| tx.use_recovery_code(&user, &digest, 1)).unwrap()
    };
    assert!(!stored_as(&plain), "no plain hash is stored");
    assert!(stored_as(&keyed), "the keyed hash is");

    // A code from before: stored as its plain hash.
    let old = "ABCDE-FGHJK";
    let legacy = vec![recovery_codes::legacy_digest(old)];
    server.state.store.write(|tx| tx.replace_recovery_codes(&user, &legacy)).unwrap();
    for attempt in 0..2 {
        let pages = PageClient::new(&server.base);
        let page = to_password_page(&pages, &authorization_request(&rp, &[]).url, "maija@example.com").await;
        let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
        let recovery_page =
            format!("{}/recovery", crate::support::pages::form_action(&page, "/code").trim_end_matches("/code"));
        let (_, _, page) = pages.open(&recovery_page).await.page();
        let (_, status, body) = pages.submit(&page, "/recovery", &[("code", old)]).await.page();
        match attempt {
            0 => assert!(body.contains("Set up 2-step verification"), "{status}"),
            _ => assert!(notice(&body).contains("used already"), "once: {status}"),
        }
    }
    server.stop().await;
}

/// Guessing never goes on for ever: each lock lasts twice the one before,
/// and past the cap of failures in a row only a password reset lifts the
/// lock. The person hears of every lock by email.
async fn locks_escalate_and_past_the_cap_only_a_reset_lifts_them(db: &TestDb) {
    let server = db.serve("[sign_in]\nmax_consecutive_failures = 20\nattempts_per_minute_per_address = 1000");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    let url = authorization_request(&rp, &[]).url;
    let fail = async |times: usize| {
        for _ in 0..times {
            let (status, _) = try_password(&pages, &url, "maija@example.com", "not the password").await;
            assert_eq!(status, 400);
        }
    };
    let right = async || try_password(&pages, &url, "maija@example.com", PASSWORD).await;

    fail(8).await;
    assert_eq!(right().await.0, 429, "the first lock");
    server.state.clock.advance(30 * 60 + 1);
    fail(8).await;
    assert_eq!(right().await.0, 429, "the second lock");
    server.state.clock.advance(30 * 60 + 1);
    assert_eq!(right().await.0, 429, "the second lock lasts an hour, not thirty minutes");
    server.state.clock.advance(30 * 60);

    // Twenty failures in a row, all told: locked until a reset.
    fail(4).await;
    let (status, page) = right().await;
    assert_eq!(status, 429);
    assert!(notice(&page).contains("reset your password"), "{}", notice(&page));
    server.state.clock.advance(3 * 24 * 3600);
    let (status, _) = right().await;
    assert_eq!(status, 429, "still locked days later");

    let (mails, _) = crate::support::messages::delivered(&server, db).await;
    let locks = mails.iter().filter(|mail| mail.contains("Subject: Your account was locked")).count();
    assert_eq!(locks, 3, "told of each lock");

    // A password reset lifts it.
    let (_, _, page) = pages.open("/password/forgot").await.page();
    pages.submit(&page, "/password/forgot", &[("email", "maija@example.com"), ("method", "email")]).await.page();
    let (mails, _) = crate::support::messages::delivered(&server, db).await;
    let link = crate::support::messages::reset_link(mails.last().unwrap(), &server.base);
    let (_, _, page) = pages.open(&link).await.page();
    let new = crate::support::fixtures::NEW_PASSWORD;
    pages.submit(&page, "", &[("new_password", new), ("confirm_password", new)]).await.page();
    let (status, page) = try_password(&pages, &url, "maija@example.com", new).await;
    assert_eq!(status, 200, "{}", notice(&page));

    // All of it is in the audit trail.
    let email = portti::domain::contact::Email::parse("maija@example.com").unwrap();
    let user = server.state.store.read(|r| r.user_id_by_email(&email)).unwrap().unwrap();
    let events = portti::domain::audit::events_of(&server.state.store, &user).unwrap();
    let locks: Vec<bool> = events
        .iter()
        .filter(|e| e.action == "account_locked")
        .map(|e| e.detail.as_ref().unwrap()["until_reset"].as_bool().unwrap())
        .collect();
    assert_eq!(locks, [false, false, true]);
    assert_eq!(events.iter().filter(|e| e.action == "sign_in_failed").count(), 20);
    assert!(events.iter().any(|e| e.action == "password_reset"));
    server.stop().await;
}

/// A right password and then a wrong authenticator code: the person is told
/// at once (someone may have their password), and no more than once an hour.
async fn a_wrong_second_factor_after_a_right_password_is_told_to_the_person(db: &TestDb) {
    let server = db.serve("");
    let rp = maija_and_ledger(&server).await;
    first_sign_in(&PageClient::new(&server.base), &authorization_request(&rp, &[]).url, "maija@example.com").await;
    // The notices count per clock hour: go on to just after one begins.
    let now = server.state.clock.now();
    server.state.clock.advance(3600 - now.rem_euclid(3600) + 5);
    let told = async || {
        let (mails, _) = crate::support::messages::delivered(&server, db).await;
        mails.iter().filter(|mail| mail.contains("Subject: A sign-in with your password was stopped")).count()
    };
    assert_eq!(told().await, 0);
    let pages = PageClient::new(&server.base);
    let page = to_code_step(&pages, &authorization_request(&rp, &[]).url).await;
    let (_, _, page) = pages.submit(&page, "/code", &[("code", "000000")]).await.page();
    pages.submit(&page, "/code", &[("code", "000000")]).await.page();
    assert_eq!(told().await, 1, "told once, not for every wrong code");
    server.state.clock.advance(3600);
    let page = to_code_step(&pages, &authorization_request(&rp, &[]).url).await;
    pages.submit(&page, "/code", &[("code", "000000")]).await.page();
    assert_eq!(told().await, 2, "and again an hour later");
    server.stop().await;
}

/// A flood of `/authorize` requests is cut off: per client address each
/// minute, and per browser while its flows live. Past a limit no flow is
/// stored and the page says to wait.
async fn an_authorize_flood_is_cut_off_per_address_and_per_browser(db: &TestDb) {
    use diesel::prelude::*;
    let server = db.serve("[sign_in]\nsign_ins_per_minute_per_address = 6\nsign_ins_per_browser = 3");
    // The limits count per clock minute and per half hour: start just after
    // a half hour begins, so the minute this test moves on stays within it.
    let now = server.state.clock.now();
    server.state.clock.advance(1800 - now.rem_euclid(1800) + 1);
    let rp = maija_and_ledger(&server).await;
    let url = authorization_request(&rp, &[]).url;
    let flows = || portti::store::schema::login_flows::table.count().get_result::<i64>(&mut db.connection()).unwrap();

    // One browser: three sign-ins, then a refusal.
    let browser = PageClient::new(&server.base);
    for _ in 0..3 {
        assert_eq!(browser.open(&url).await.page().1, 200);
    }
    let (_, status, page) = browser.open(&url).await.page();
    assert_eq!(status, 429);
    assert!(page.contains("Too many sign-ins were started from here"), "{page}");
    assert_eq!(flows(), 3, "nothing stored past the limit");

    // New browsers from the same address: six a minute in all.
    for _ in 0..3 {
        assert_eq!(PageClient::new(&server.base).open(&url).await.page().1, 200);
    }
    let (_, status, _) = PageClient::new(&server.base).open(&url).await.page();
    assert_eq!(status, 429, "the address's limit");
    assert_eq!(flows(), 6);

    // A minute later the address may start sign-ins again; the first browser still may not.
    server.state.clock.advance(60);
    assert_eq!(PageClient::new(&server.base).open(&url).await.page().1, 200);
    assert_eq!(browser.open(&url).await.page().1, 429, "the browser's limit lasts as long as its flows");
    server.stop().await;
}

/// An operator lifts a lock that only a reset would lift otherwise, for a
/// person who cannot reset their password: `portti user unlock --user ID`.
async fn an_operator_lifts_a_lock(db: &TestDb) {
    let server = db.serve("[sign_in]\nmax_consecutive_failures = 8");
    let rp = maija_and_ledger(&server).await;
    let pages = PageClient::new(&server.base);
    let url = authorization_request(&rp, &[]).url;
    for _ in 0..8 {
        assert_eq!(try_password(&pages, &url, "maija@example.com", "not the password").await.0, 400);
    }
    let (status, page) = try_password(&pages, &url, "maija@example.com", PASSWORD).await;
    assert_eq!(status, 429);
    assert!(notice(&page).contains("reset your password"), "{}", notice(&page));

    let email = portti::domain::contact::Email::parse("maija@example.com").unwrap();
    let user = server.state.store.read(|r| r.user_id_by_email(&email)).unwrap().unwrap();
    let output = std::process::Command::new(crate::support::portti_binary())
        .current_dir(db.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORTTI_DATABASE_URL", &db.raw_url)
        .env("PORTTI_MASTER_KEY", &db.master_key)
        .args(["user", "unlock", "--user", user.as_str()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["was_locked"], true);
    assert_eq!(try_password(&pages, &url, "maija@example.com", PASSWORD).await.0, 200, "unlocked");
    let events = portti::domain::audit::events_of(&server.state.store, &user).unwrap();
    assert!(events.iter().any(|e| e.action == "account_unlocked"));
    server.stop().await;
}

served_on_both_backends!(
    an_operator_lifts_a_lock,
    locks_escalate_and_past_the_cap_only_a_reset_lifts_them,
    a_wrong_second_factor_after_a_right_password_is_told_to_the_person,
    an_authorize_flood_is_cut_off_per_address_and_per_browser,
    recovery_codes_are_stored_keyed_and_old_ones_still_work,
    prompt_max_age_and_login_hint,
);
