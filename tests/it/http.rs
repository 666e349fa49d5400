//! The HTTP basics, over a real loopback socket: health, headers, errors.

use crate::support::{TestDb, start};

#[actix_web::test]
async fn health_and_readiness() {
    let db = TestDb::sqlite();
    let running = start(db.open(""), false);
    let base = format!("http://{}", running.addr);
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: serde_json::Value = reqwest::get(format!("{base}/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    running.stop().await.unwrap();
}

#[actix_web::test]
async fn readiness_follows_the_database_on_postgres() {
    use diesel::connection::SimpleConnection;
    let Some(db) = TestDb::postgres() else { return };
    let running = start(db.open(""), false);
    let ready = reqwest::get(format!("http://{}/readyz", running.addr)).await.unwrap();
    assert_eq!(ready.status(), 200);

    // Portti's tables vanish: not ready, and the answer says nothing more.
    db.connection().batch_execute("DROP TABLE instance_settings").unwrap();
    let down = reqwest::get(format!("http://{}/readyz", running.addr)).await.unwrap();
    assert_eq!(down.status(), 503);
    assert_eq!(down.text().await.unwrap(), r#"{"status":"unavailable"}"#);
    let health = reqwest::get(format!("http://{}/healthz", running.addr)).await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is still up");
    running.stop().await.unwrap();
}

#[actix_web::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let db = TestDb::sqlite();
    let running = start(db.open(""), false);
    let base = format!("http://{}", running.addr);
    for path in ["/", "/healthz", "/no-such-page"] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-request-id"].len(), 32, "{path}");
        assert!(!headers.contains_key("strict-transport-security"), "no HSTS on plain http");
    }
    let missing = reqwest::get(format!("{base}/no-such-page")).await.unwrap();
    assert_eq!(missing.status(), 404);
    running.stop().await.unwrap();
}

#[actix_web::test]
async fn the_front_page_and_its_stylesheet() {
    let db = TestDb::sqlite();
    let running = start(db.open("issuer = \"https://login.example.com\""), false);
    let base = format!("http://{}", running.addr);
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().contains_key("strict-transport-security"), "HSTS when the issuer is https");
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Portti</h1>") && html.contains("https://login.example.com"));
    let css = reqwest::get(format!("{base}/static/portti.css")).await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    running.stop().await.unwrap();
}

#[actix_web::test]
async fn cookies_are_http_only_same_site_and_host_bound_over_https() {
    for (issuer, name, secure) in
        [(None, "portti_browser=", false), (Some("https://login.example.com"), "__Host-portti_browser=", true)]
    {
        let db = TestDb::sqlite();
        let extra = issuer.map(|i| format!("issuer = {i:?}")).unwrap_or_default();
        let running = start(db.open(&extra), false);
        let response = crate::support::fixtures::http()
            .get(format!("http://{}/authorize?client_id=nobody", running.addr))
            .send()
            .await
            .unwrap();
        let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with(name), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert_eq!(cookie.contains("Secure"), secure, "{cookie}");
        running.stop().await.unwrap();
    }
}

/// The value of one series in a Prometheus text exposition.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[actix_web::test]
async fn metrics_count_requests_sign_ins_tokens_and_read_the_outbox() {
    use portti::domain::client::{ClientKind, NewClient, add_client};
    let db = TestDb::sqlite();
    let server = db.serve("");
    crate::support::fixtures::person(&server.state, "maija@example.com");
    crate::support::fixtures::confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let new = NewClient::parse(
        "service",
        ClientKind::Confidential { secret: None },
        &[],
        &[],
        &["client_credentials".to_owned()],
        false,
        Some("ES256"),
    )
    .unwrap();
    let secret = add_client(&server.state.store, 1, new).unwrap().client_secret.unwrap();
    let http = crate::support::fixtures::http();
    for _ in 0..2 {
        http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    }
    http.post(format!("{}/token", server.base))
        .basic_auth("service", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let rp = crate::support::fixtures::relying_party(&server, "ledger", None).await;
    let pages = crate::support::pages::PageClient::new(&server.base);
    let (_, _, page) = pages.open(&crate::support::fixtures::authorization_request(&rp, &[]).url).await.page();
    let (path, _, page) = pages.submit(&page, "/email", &[("email", "maija@example.com")]).await.page();
    pages.submit(&page, "/password", &[("password", "not the password")]).await.page();
    pages.open("/password/forgot").await.page();

    let text = http.get(format!("{}/metrics", server.base)).send().await.unwrap().text().await.unwrap();
    assert_eq!(series(&text, r#"portti_http_requests_total{method="GET",route="/healthz",status="200"}"#), Some(2.0));
    assert_eq!(series(&text, r#"portti_tokens_issued_total{grant="client_credentials"}"#), Some(1.0));
    assert_eq!(series(&text, r#"portti_sign_in_steps_total{outcome="wrong_password"}"#), Some(1.0));
    assert!(
        series(&text, r#"portti_http_requests_total{method="POST",route="/signin/{flow}/password",status="400"}"#)
            .is_some(),
        "routes are counted by pattern"
    );
    assert!(!text.contains(path.trim_start_matches("/signin/")), "no flow id (a secret) in the metrics");
    assert_eq!(series(&text, r#"portti_outbox_messages{state="pending"}"#), Some(0.0));
    assert!(series(&text, r#"portti_db_pool_connections{state="open"}"#).is_some_and(|n| n >= 1.0));
    assert!(text.contains("portti_http_request_duration_seconds_bucket"));
    server.stop().await;
}

/// With `metrics_bind`, `/metrics` is served on that address alone: the main
/// listener, which may face the internet, no longer has it.
async fn metrics_can_have_an_address_of_their_own(db: &TestDb) {
    let running = start(db.open("metrics_bind = \"127.0.0.1:0\""), false);
    let apart = running.metrics_addr.expect("the metrics' own address");
    assert_ne!(apart, running.addr);
    let main = reqwest::get(format!("http://{}/metrics", running.addr)).await.unwrap();
    assert_eq!(main.status(), 404, "not on the main listener");
    let scraped = reqwest::get(format!("http://{apart}/metrics")).await.unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    assert!(series(&text, r#"portti_outbox_messages{state="pending"}"#).is_some(), "{text}");
    assert!(
        series(&text, r#"portti_http_requests_total{method="GET",route="unmatched",status="404"}"#).is_some(),
        "the main listener's requests are counted: {text}"
    );
    for path in ["/healthz", "/authorize", "/token"] {
        let other = reqwest::get(format!("http://{apart}{path}")).await.unwrap();
        assert_eq!(other.status(), 404, "{path} is not served on the metrics address");
    }
    running.stop().await.unwrap();
    assert!(reqwest::get(format!("http://{apart}/metrics")).await.is_err(), "it stops with Portti");
}

#[actix_web::test]
async fn metrics_can_have_an_address_of_their_own_sqlite() {
    metrics_can_have_an_address_of_their_own(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn metrics_can_have_an_address_of_their_own_postgres() {
    if let Some(db) = TestDb::postgres() {
        metrics_can_have_an_address_of_their_own(&db).await;
    }
}

/// With `metrics_token`, only a scraper presenting it reads the metrics.
async fn metrics_can_require_a_bearer_token(db: &TestDb) {
    let token = "metrics-token-0123456789-metrics-token";
    let running = start(db.open(&format!("metrics_token = {token:?}")), false);
    let url = format!("http://{}/metrics", running.addr);
    let http = crate::support::fixtures::http();
    let refused = http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer realm=\"metrics\"");
    assert!(!refused.text().await.unwrap().contains("portti_"), "nothing is told");
    for wrong in ["wrong", &token[..token.len() - 1], &format!("{token}x")] {
        let refused = http.get(&url).bearer_auth(wrong).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{wrong}");
    }
    let basic = http.get(&url).basic_auth("metrics", Some(token)).send().await.unwrap();
    assert_eq!(basic.status(), 401, "only as a bearer token");
    let scraped = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.text().await.unwrap().contains("portti_http_requests_total"));
    running.stop().await.unwrap();
}

#[actix_web::test]
async fn metrics_can_require_a_bearer_token_sqlite() {
    metrics_can_require_a_bearer_token(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn metrics_can_require_a_bearer_token_postgres() {
    if let Some(db) = TestDb::postgres() {
        metrics_can_require_a_bearer_token(&db).await;
    }
}
