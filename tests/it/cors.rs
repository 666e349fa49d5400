//! CORS for browser applications: a single-page app, registered as a public
//! client, calls `/token`, `/userinfo` and `/revoke` from its own origin;
//! no other origin, and no other endpoint or page, gets CORS.

use portti::domain::client::{ClientKind, NewClient, add_client};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

use crate::support::fixtures::{CALLBACK, authorization_request, http, person, relying_party};
use crate::support::pages::{PageClient, query_param};
use crate::support::sign_in::first_sign_in;
use crate::support::{TestDb, TestServer};

/// The origin of [`CALLBACK`], the single-page app's redirect URI.
const SPA: &str = "https://rp.example";
const ELSEWHERE: &str = "https://evil.example";

fn cors_headers(response: &Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|value| value.to_str().unwrap())
}

async fn preflight(server: &TestServer, path: &str, origin: &str, method: &str, headers: &str) -> Response {
    http()
        .request(Method::OPTIONS, format!("{}{path}", server.base))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

async fn from(origin: &str, request: RequestBuilder) -> Response {
    request.header("origin", origin).send().await.unwrap()
}

/// The answer a browser needs to let the app's script read it.
fn assert_allowed(response: &Response, what: &str) {
    assert_eq!(header(response, "access-control-allow-origin"), Some(SPA), "{what}");
    assert!(header(response, "access-control-allow-credentials").is_none(), "{what}: no credentials");
    assert!(response.headers().get_all("vary").iter().any(|v| v.to_str().unwrap().contains("Origin")), "{what}");
}

/// Registers the app (public, PKCE) and a service whose only registered
/// address is one for after a logout; signs Maija in to the app.
async fn spa_tokens(server: &TestServer) -> Value {
    person(&server.state, "maija@example.com");
    let spa = NewClient::parse("spa", ClientKind::Public, &[CALLBACK.to_owned()], &[], &[], true, None).unwrap();
    add_client(&server.state.store, 1, spa).unwrap();
    let service = NewClient::parse(
        "service",
        ClientKind::Confidential { secret: None },
        &[],
        &["https://logout-only.example/".to_owned()],
        &["client_credentials".to_owned()],
        false,
        Some("ES256"),
    )
    .unwrap();
    add_client(&server.state.store, 1, service).unwrap();
    let rp = relying_party(server, "spa", None).await;
    let pages = PageClient::new(&server.base);
    let request = authorization_request(&rp, &["offline_access"]);
    let (callback, _, _) = first_sign_in(&pages, &request.url, "maija@example.com").await;
    let code = query_param(&callback, "code").unwrap();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", "spa"),
        ("code_verifier", request.verifier.secret().as_str()),
    ];
    let response = from(SPA, http().post(format!("{}/token", server.base)).form(&redeem)).await;
    assert_eq!(response.status(), 200);
    assert_allowed(&response, "the token answer");
    response.json().await.unwrap()
}

async fn a_registered_origin_may_call_the_token_endpoints(db: &TestDb) {
    let server = db.serve("");
    let tokens = spa_tokens(&server).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    for (path, method, methods) in
        [("/token", "POST", "POST"), ("/userinfo", "GET", "GET, POST"), ("/revoke", "POST", "POST")]
    {
        let answer = preflight(&server, path, SPA, method, "authorization,content-type").await;
        assert_eq!(answer.status(), 204, "{path}");
        assert_allowed(&answer, path);
        assert_eq!(header(&answer, "access-control-allow-methods"), Some(methods), "{path}");
        assert_eq!(header(&answer, "access-control-allow-headers"), Some("Authorization, Content-Type"), "{path}");
    }

    let userinfo = from(SPA, http().get(format!("{}/userinfo", server.base)).bearer_auth(access)).await;
    assert_eq!(userinfo.status(), 200);
    assert_allowed(&userinfo, "userinfo");
    let refused = from(SPA, http().get(format!("{}/userinfo", server.base)).bearer_auth("not-a-token")).await;
    assert_eq!(refused.status(), 401);
    assert_allowed(&refused, "a refusal, which the script must be able to read");
    assert_eq!(header(&refused, "access-control-expose-headers"), Some("WWW-Authenticate"));
    let refreshed = from(
        SPA,
        http().post(format!("{}/token", server.base)).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "spa"),
        ]),
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    assert_allowed(&refreshed, "a refresh");
    let next: Value = refreshed.json().await.unwrap();
    let revoked = from(
        SPA,
        http()
            .post(format!("{}/revoke", server.base))
            .form(&[("token", next["refresh_token"].as_str().unwrap()), ("client_id", "spa")]),
    )
    .await;
    assert_eq!(revoked.status(), 200);
    assert_allowed(&revoked, "revocation");
    server.stop().await;
}

async fn other_origins_and_other_endpoints_get_no_cors(db: &TestDb) {
    let server = db.serve("");
    let tokens = spa_tokens(&server).await;
    let access = tokens["access_token"].as_str().unwrap();

    for origin in [ELSEWHERE, "https://logout-only.example", "null", "https://rp.example.evil.example"] {
        for path in ["/token", "/userinfo", "/revoke"] {
            let answer = preflight(&server, path, origin, "POST", "authorization").await;
            assert!(cors_headers(&answer).is_empty(), "{origin} {path}: {:?}", answer.headers());
            assert!(!answer.status().is_success(), "{origin} {path}: {}", answer.status());
        }
        let userinfo = from(origin, http().get(format!("{}/userinfo", server.base)).bearer_auth(access)).await;
        assert_eq!(userinfo.status(), 200, "the request itself is answered; the browser keeps it from the script");
        assert!(cors_headers(&userinfo).is_empty(), "{origin}: {:?}", userinfo.headers());
    }
    let no_origin = http().get(format!("{}/userinfo", server.base)).bearer_auth(access).send().await.unwrap();
    assert!(cors_headers(&no_origin).is_empty(), "a request without Origin is no browser's cross-origin call");

    // The pages and the other APIs never answer CORS, whatever the origin.
    // (Discovery and JWKS are public documents that answer every origin, `*`.)
    let rp = relying_party(&server, "spa", None).await;
    let sign_in = authorization_request(&rp, &[]).url;
    let pages = [
        sign_in.clone(),
        format!("{}/", server.base),
        format!("{}/account", server.base),
        format!("{}/password/forgot", server.base),
        format!("{}/metrics", server.base),
    ];
    for url in &pages {
        let answer = from(SPA, http().get(url)).await;
        assert!(cors_headers(&answer).is_empty(), "{url}: {:?}", answer.headers());
        let path = url::Url::parse(url).unwrap().path().to_owned();
        let answer = preflight(&server, &path, SPA, "POST", "content-type").await;
        assert!(cors_headers(&answer).is_empty(), "preflight {path}: {:?}", answer.headers());
    }
    let signin = PageClient::new(&server.base);
    let (path, _, page) = signin.open(&sign_in).await.page();
    let email_step = crate::support::pages::form_action(&page, "/email");
    let posted = from(SPA, http().post(format!("{}{email_step}", server.base)).form(&[("email", "x")])).await;
    assert!(cors_headers(&posted).is_empty(), "{path}: {:?}", posted.headers());
    let introspect = from(SPA, http().post(format!("{}/introspect", server.base)).form(&[("token", access)])).await;
    assert!(cors_headers(&introspect).is_empty(), "introspection is for resource servers");
    server.stop().await;
}

#[actix_web::test]
async fn a_registered_origin_may_call_the_token_endpoints_sqlite() {
    a_registered_origin_may_call_the_token_endpoints(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn a_registered_origin_may_call_the_token_endpoints_postgres() {
    if let Some(db) = TestDb::postgres() {
        a_registered_origin_may_call_the_token_endpoints(&db).await;
    }
}

#[actix_web::test]
async fn other_origins_and_other_endpoints_get_no_cors_sqlite() {
    other_origins_and_other_endpoints_get_no_cors(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn other_origins_and_other_endpoints_get_no_cors_postgres() {
    if let Some(db) = TestDb::postgres() {
        other_origins_and_other_endpoints_get_no_cors(&db).await;
    }
}
