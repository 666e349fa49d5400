//! The token endpoint's own rules: client authentication, grants, PKCE, and
//! key rotation as seen by a relying party.

use std::sync::Arc;

use portti::crypto::signing::{self, SigningKey};
use portti::domain::client::{ClientKind, NewClient, add_client};
use portti::domain::signing_keys::{Takeover, rotate_signing_keys};
use serde_json::Value;

use crate::support::fixtures::{CALLBACK, confidential_client, http, person};
use crate::support::pages::{PageClient, query_param};
use crate::support::{TestDb, TestServer};

async fn post_token(server: &TestServer, auth: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
    let mut request = http().post(format!("{}/token", server.base)).form(form);
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

/// Verifies a JWT against the published JWKS, as a resource server would.
pub(crate) async fn verify_with_jwks(server: &TestServer, token: &str, typ: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        http().get(format!("{}/jwks", server.base)).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&server.base]);
    assert_eq!(header.typ.as_deref(), Some(typ));
    jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap().claims
}

/// A service's token for itself, in every algorithm; its `sub` names the
/// client in a form no user's `sub` (a UUID) can take.
async fn client_credentials_with_every_algorithm(db: &TestDb) {
    let server = db.serve("");
    for alg in ["RS256", "ES256", "EdDSA"] {
        let id = format!("service-{}", alg.to_lowercase());
        let id = id.as_str();
        let new = NewClient::parse(
            id,
            ClientKind::Confidential { secret: None },
            &[],
            &[],
            &["client_credentials".to_owned()],
            false,
            Some(alg),
        )
        .unwrap();
        let secret = add_client(&server.state.store, 1, new).unwrap().client_secret.unwrap();
        let (status, body) = post_token(&server, Some((id, &secret)), &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 200, "{alg}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        let claims = verify_with_jwks(&server, body["access_token"].as_str().unwrap(), "at+jwt", id).await;
        assert_eq!(claims["sub"], format!("client:{id}"), "a subject that no user's can equal");
        assert_eq!(claims["client_id"], id);
        assert_eq!(claims["aud"], serde_json::json!([id, server.base]), "the resource audience defaults to the issuer");
        assert!(claims["jti"].is_string());
        let header = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        let introspection: Value = http()
            .post(format!("{}/introspect", server.base))
            .basic_auth(id, Some(&secret))
            .form(&[("token", body["access_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!((introspection["active"].as_bool(), &introspection["sub"]), (Some(true), &claims["sub"]));
    }
    server.stop().await;
}

#[actix_web::test]
async fn client_credentials_with_every_algorithm_sqlite() {
    client_credentials_with_every_algorithm(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn client_credentials_with_every_algorithm_postgres() {
    if let Some(db) = TestDb::postgres() {
        client_credentials_with_every_algorithm(&db).await;
    }
}

#[actix_web::test]
async fn client_authentication_and_grant_rules() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let secret = confidential_client(&server.state, "ledger", false, "RS256", &["authorization_code"]);

    let (status, body) = post_token(&server, Some(("ledger", "wrong")), &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, body) = post_token(&server, Some(("nobody", "x")), &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, body) =
        post_token(&server, None, &[("grant_type", "client_credentials"), ("client_id", "ledger")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "a confidential client needs its secret"
    );
    let (status, body) = post_token(&server, Some(("ledger", &secret)), &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
    let (status, body) = post_token(&server, Some(("ledger", &secret)), &[("grant_type", "password")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) = post_token(&server, Some(("ledger", &secret)), &[("grant_type", "authorization_code")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let (status, body) = post_token(
        &server,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", "made-up"),
            ("redirect_uri", CALLBACK),
            ("client_id", "ledger"),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "client_secret_post works; the code does not"
    );
    server.stop().await;
}

/// A client read once is kept, and its `client_credentials` requests are then
/// answered without the blocking pool: they must be checked just the same.
#[actix_web::test]
async fn kept_clients_are_checked_as_strictly_as_read_ones() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let service = confidential_client(&server.state, "service", false, "ES256", &["client_credentials"]);
    let ledger = confidential_client(&server.state, "ledger", false, "EdDSA", &["authorization_code"]);
    let cc = [("grant_type", "client_credentials")];
    for round in ["first round (the client is read)", "second round (kept)"] {
        let (status, body) = post_token(&server, Some(("service", &service)), &cc).await;
        assert_eq!(status, 200, "{round}: {body}");
        let token = body["access_token"].as_str().unwrap();
        let claims: Value = signing::verify(token, "at+jwt", server.state.key_set().published()).unwrap();
        assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some("client:service"), Some("service")));

        let (status, body) = post_token(&server, Some(("service", "wrong")), &cc).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{round}");
        let (status, body) = post_token(&server, None, &[cc[0], ("client_id", "service")]).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{round}: no secret");
        let (status, body) = post_token(&server, Some(("service", &service)), &[cc[0], ("scope", "openid")]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{round}");
        let (status, body) = post_token(&server, Some(("ledger", &ledger)), &cc).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")), "{round}");
    }
    let kept = |id| server.state.clients.fresh(&portti::domain::client::ClientId::parse(id).unwrap()).is_some();
    assert!(kept("service") && kept("ledger"), "the second round was answered from the kept clients");
    server.stop().await;
}

#[actix_web::test]
async fn public_clients_must_use_pkce_and_the_right_verifier() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    person(&server.state, "maija@example.com");
    let new = NewClient::parse("mobile", ClientKind::Public, &[CALLBACK.to_owned()], &[], &[], true, None).unwrap();
    add_client(&server.state.store, 1, new).unwrap();
    let pages = PageClient::new(&server.base);

    let without_pkce = format!(
        "{}/authorize?client_id=mobile&response_type=code&scope=openid&redirect_uri={}&state=s1",
        server.base,
        url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    );
    let left = pages.open(&without_pkce).await.left();
    assert_eq!(query_param(&left, "error").as_deref(), Some("invalid_request"));
    let plain = format!("{without_pkce}&code_challenge={}&code_challenge_method=plain", "a".repeat(43));
    assert_eq!(query_param(&pages.open(&plain).await.left(), "error").as_deref(), Some("invalid_request"));

    // Sign in with PKCE, then present a wrong verifier: the code is burnt.
    let rp = crate::support::fixtures::relying_party(&server, "mobile", None).await;
    let request = crate::support::fixtures::authorization_request(&rp, &[]);
    let (callback, _, _) = crate::support::sign_in::first_sign_in(&pages, &request.url, "maija@example.com").await;
    let code = query_param(&callback, "code").unwrap();
    let wrong = "x".repeat(43);
    let (status, body) = post_token(
        &server,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", "mobile"),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    // A code is only ever tried once: even the right verifier now fails.
    let (status, body) = post_token(
        &server,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", "mobile"),
            ("code_verifier", request.verifier.secret()),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    server.stop().await;
}

#[actix_web::test]
async fn an_expired_code_is_refused() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = crate::support::fixtures::relying_party(&server, "ledger", Some(&secret)).await;
    let pages = PageClient::new(&server.base);
    let request = crate::support::fixtures::authorization_request(&rp, &[]);
    let (callback, _, _) = crate::support::sign_in::first_sign_in(&pages, &request.url, "maija@example.com").await;
    server.state.clock.advance(61);
    let code = query_param(&callback, "code").unwrap();
    let (status, body) = post_token(
        &server,
        Some(("ledger", &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", request.verifier.secret()),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "codes live 60 seconds");
    server.stop().await;
}

#[actix_web::test]
async fn a_rotated_key_is_published_first_and_signs_after_the_delay() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let state = &server.state;
    let before = state.key_set();
    let old_kid = before.signer(portti::crypto::signing::SigningAlg::RS256).unwrap().kid.clone();

    let rotated =
        rotate_signing_keys(&state.store, &state.keys, &state.settings, state.clock.now(), Takeover::AfterDelay)
            .unwrap();
    let new_kid = rotated.iter().find(|k| k.alg == portti::crypto::signing::SigningAlg::RS256).unwrap().kid.clone();
    state.reload_keys().unwrap();
    let jwks: Value = http().get(format!("{}/jwks", server.base)).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 6, "old and new keys published");
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));
    assert_eq!(state.key_set().signer(portti::crypto::signing::SigningAlg::RS256).unwrap().kid, old_kid, "not yet");

    state.clock.advance(state.settings.keys.activation_delay_seconds + 1);
    state.reload_keys().unwrap();
    let signer: Arc<SigningKey> = state.key_set().signer(portti::crypto::signing::SigningAlg::RS256).unwrap().clone();
    assert_eq!(signer.kid, new_kid, "the new key signs after the delay");
    // What the old key signed still verifies until it expires.
    let old_token = before
        .signer(portti::crypto::signing::SigningAlg::RS256)
        .unwrap()
        .sign("JWT", &serde_json::json!({"sub": "x"}))
        .unwrap();
    assert!(signing::verify::<Value>(&old_token, "JWT", state.key_set().published()).is_some());

    // Published for the tokens' lifetime plus one reload interval (an instance
    // may still have signed with the old key until it reloaded).
    state.clock.advance(state.settings.longest_signed_token_seconds());
    state.reload_keys().unwrap();
    assert_eq!(state.key_set().published().len(), 6, "not before the reload lag has passed too");
    state.clock.advance(state.settings.keys.refresh_seconds as i64 + 1);
    state.reload_keys().unwrap();
    let kids: Vec<String> = state.key_set().published().iter().map(|k| k.kid.clone()).collect();
    assert_eq!(kids.len(), 3, "the old keys leave JWKS once their tokens have expired");
    assert!(!kids.contains(&old_kid));
    server.stop().await;
}

/// RFC 6749 §3.1 and §3.2: a parameter must not be given more than once. A
/// repeated one is refused, naming it, before anything is done with the
/// request: the code is not spent, no token is issued, nothing is revoked.
#[actix_web::test]
async fn a_repeated_parameter_is_refused_and_nothing_is_done() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let service = confidential_client(&server.state, "service", false, "ES256", &["client_credentials"]);
    let rp = crate::support::fixtures::relying_party(&server, "ledger", Some(&secret)).await;
    let pages = PageClient::new(&server.base);
    let request = crate::support::fixtures::authorization_request(&rp, &["offline_access"]);
    let (callback, _, _) = crate::support::sign_in::first_sign_in(&pages, &request.url, "maija@example.com").await;
    let code = query_param(&callback, "code").unwrap();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", request.verifier.secret().as_str()),
    ];
    let refused = |status: u16, body: &Value, name: &str| {
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{name} twice: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(name), "{description}");
        assert!(body.get("access_token").is_none() && body.get("id_token").is_none(), "{body}");
    };

    for repeated in [
        ("code", code.as_str()),
        ("code", "made-up"),
        ("grant_type", "authorization_code"),
        ("grant_type", "client_credentials"),
        ("redirect_uri", "https://elsewhere.example/callback"),
        ("code_verifier", "x"),
    ] {
        let mut form = redeem.to_vec();
        form.push(repeated);
        let (status, body) = post_token(&server, Some(("ledger", &secret)), &form).await;
        refused(status, &body, repeated.0);
    }
    let (status, body) =
        post_token(&server, None, &[redeem[0], ("client_id", "ledger"), ("client_id", "ledger")]).await;
    refused(status, &body, "client_id");
    // The code was not spent: it is redeemed now, once.
    let (status, body) = post_token(&server, Some(("ledger", &secret)), &redeem).await;
    assert_eq!(status, 200, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let cc = ("grant_type", "client_credentials");
    let (status, body) = post_token(&server, Some(("service", &service)), &[cc]).await;
    assert_eq!(status, 200, "{body}");
    for form in [
        vec![cc, cc],
        vec![cc, ("scope", ""), ("scope", "")],
        vec![cc, ("client_id", "service"), ("client_secret", &service), ("client_secret", &service)],
    ] {
        let auth = if form.iter().any(|(name, _)| *name == "client_id") { None } else { Some(("service", &*service)) };
        let (status, body) = post_token(&server, auth, &form).await;
        refused(status, &body, form.last().unwrap().0);
    }

    // Introspection and revocation read their bodies the same way.
    let post = |path: &str, form: &[(&str, &str)]| {
        http().post(format!("{}{path}", server.base)).basic_auth("ledger", Some(&secret)).form(form).send()
    };
    let twice = [("token", refresh.as_str()), ("token", refresh.as_str())];
    for path in ["/introspect", "/revoke"] {
        let response = post(path, &twice).await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        refused(400, &body, "token");
        let hinted = [("token", refresh.as_str()), ("token_type_hint", "refresh_token"), ("token_type_hint", "x")];
        let body: Value = post(path, &hinted).await.unwrap().json().await.unwrap();
        refused(400, &body, "token_type_hint");
    }
    let introspection: Value = post("/introspect", &twice[..1]).await.unwrap().json().await.unwrap();
    assert_eq!(introspection["active"], true, "the refused revocations revoked nothing");
    // A refresh refused after the token was found (a scope the grant never
    // had) leaves it unspent too.
    let rotate = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
    let (status, body) =
        post_token(&server, Some(("ledger", &secret)), &[rotate[0], rotate[1], ("scope", "phone")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{body}");
    let (status, body) = post_token(&server, Some(("ledger", &secret)), &rotate).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

/// The token endpoint reads only form bodies, of at most 16 KiB, as before
/// its parameters were checked for repeats.
#[actix_web::test]
async fn a_token_request_is_a_small_form() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let service = confidential_client(&server.state, "service", false, "ES256", &["client_credentials"]);
    let token = || http().post(format!("{}/token", server.base)).basic_auth("service", Some(&service));
    let json = token().json(&serde_json::json!({"grant_type": "client_credentials"})).send().await.unwrap();
    assert_eq!(json.status(), 415, "a JSON body is refused");
    let padding = "x".repeat(16 * 1024);
    let large = token().form(&[("grant_type", "client_credentials"), ("padding", &padding)]).send().await.unwrap();
    assert_eq!(large.status(), 413, "a body over 16 KiB is refused");
    let small = token().form(&[("grant_type", "client_credentials"), ("padding", "x")]).send().await.unwrap();
    assert_eq!(small.status(), 200, "an unknown parameter is ignored");
    server.stop().await;
}

/// Signs Maija in to `ledger` (confidential, first-party) with `scopes` and
/// redeems the code; returns the client's secret and the token answer.
async fn signed_in_tokens(server: &TestServer, scopes: &[&str]) -> (String, Value) {
    person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = crate::support::fixtures::relying_party(server, "ledger", Some(&secret)).await;
    let pages = PageClient::new(&server.base);
    let request = crate::support::fixtures::authorization_request(&rp, scopes);
    let (callback, _, _) = crate::support::sign_in::first_sign_in(&pages, &request.url, "maija@example.com").await;
    let code = query_param(&callback, "code").unwrap();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", request.verifier.secret().as_str()),
    ];
    let (status, body) = post_token(server, Some(("ledger", &secret)), &redeem).await;
    assert_eq!(status, 200, "{body}");
    (secret, body)
}

fn scope_set(scope: &Value) -> std::collections::BTreeSet<&str> {
    scope.as_str().unwrap().split(' ').collect()
}

/// RFC 6749 §6: a refresh may ask for fewer scopes. Leaving `offline_access`
/// out narrows this answer's access and ID tokens, and still rotates the
/// refresh token: the one presented is spent, so without a new one the
/// client's next refresh would be taken for a replay and end the sign-in.
async fn a_narrowed_refresh_continues_the_grant(db: &TestDb) {
    let server = db.serve("");
    let (secret, body) = signed_in_tokens(&server, &["email", "offline_access"]).await;
    let first = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String, scope: Option<&'static str>| {
        let server = &server;
        let secret = secret.clone();
        async move {
            let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
            form.extend(scope.map(|scope| ("scope", scope)));
            post_token(server, Some(("ledger", &secret)), &form).await
        }
    };

    let (status, narrowed) = refresh(first.clone(), Some("openid")).await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "openid");
    let access = crate::oidc::payload(narrowed["access_token"].as_str().unwrap());
    assert_eq!(access["scope"], "openid", "the access token is narrowed");
    let id_token = crate::oidc::payload(narrowed["id_token"].as_str().unwrap());
    assert!(id_token.get("email").is_none(), "so is the ID token: {id_token}");
    let next = narrowed["refresh_token"].as_str().expect("a new refresh token, though offline_access was left out");
    assert_ne!(next, first);

    let (status, again) = refresh(next.to_owned(), None).await;
    assert_eq!(status, 200, "the next refresh is no replay: {again}");
    assert_eq!(scope_set(&again["scope"]), ["email", "offline_access", "openid"].into(), "the grant kept its scopes");
    assert!(again["refresh_token"].is_string());
    let (status, replay) = refresh(first, None).await;
    assert_eq!((status, replay["error"].as_str()), (400, Some("invalid_grant")), "a spent token is still refused");
    server.stop().await;
}

#[actix_web::test]
async fn a_narrowed_refresh_continues_the_grant_sqlite() {
    a_narrowed_refresh_continues_the_grant(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn a_narrowed_refresh_continues_the_grant_postgres() {
    if let Some(db) = TestDb::postgres() {
        a_narrowed_refresh_continues_the_grant(&db).await;
    }
}

/// An access token names, beside its client, the audience the resource
/// servers check (`tokens.resource_audience`); the ID token stays the
/// client's alone. Portti's own checks of the token still accept it.
async fn access_tokens_name_the_resource_audience(db: &TestDb) {
    let server = db.serve("[tokens]\nresource_audience = \"https://api.example\"");
    let (secret, body) = signed_in_tokens(&server, &["offline_access"]).await;
    let access_token = body["access_token"].as_str().unwrap();
    let claims = verify_with_jwks(&server, access_token, "at+jwt", "https://api.example").await;
    assert_eq!(claims["aud"], serde_json::json!(["ledger", "https://api.example"]));
    verify_with_jwks(&server, access_token, "at+jwt", "ledger").await;
    let id_token = crate::oidc::payload(body["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], "ledger", "the ID token is for the client only");

    let userinfo = http().get(format!("{}/userinfo", server.base)).bearer_auth(access_token).send().await.unwrap();
    assert_eq!(userinfo.status(), 200);
    let introspection: Value = http()
        .post(format!("{}/introspect", server.base))
        .basic_auth("ledger", Some(&secret))
        .form(&[("token", access_token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["aud"], claims["aud"], "introspection tells the audience too");
    server.stop().await;
}

#[actix_web::test]
async fn access_tokens_name_the_resource_audience_sqlite() {
    access_tokens_name_the_resource_audience(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn access_tokens_name_the_resource_audience_postgres() {
    if let Some(db) = TestDb::postgres() {
        access_tokens_name_the_resource_audience(&db).await;
    }
}

crate::support::served_on_both_backends!(a_compromised_key_is_replaced_at_once_and_retired);

/// `portti keys rotate --now` and `portti keys retire KID` (issue 14, item
/// 8): for a compromised key, the new key signs at once; once retired, the
/// old key leaves JWKS and what it signed stops verifying. Both are audited.
async fn a_compromised_key_is_replaced_at_once_and_retired(db: &TestDb) {
    use portti::crypto::signing::SigningAlg;
    use portti::domain::signing_keys::retire_signing_key;
    let server = db.serve("");
    person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let rp = crate::support::fixtures::relying_party(&server, "ledger", Some(&secret)).await;
    let pages = PageClient::new(&server.base);
    let request = crate::support::fixtures::authorization_request(&rp, &["openid"]);
    let (callback, _, _) = crate::support::sign_in::first_sign_in(&pages, &request.url, "maija@example.com").await;
    let tokens = crate::support::fixtures::exchange(&rp, &callback, &request).await;
    let old_token = openidconnect::OAuth2TokenResponse::access_token(&tokens).secret().clone();
    let kid_of = |jwt: &str| -> String {
        let header =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, jwt.split('.').next().unwrap())
                .unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_owned()
    };
    let state = &server.state;
    let old_kid = kid_of(&old_token);
    assert_eq!(state.key_set().signer(SigningAlg::RS256).unwrap().kid, old_kid);

    let rotated = rotate_signing_keys(&state.store, &state.keys, &state.settings, state.clock.now(), Takeover::Now);
    let new_kid = rotated.unwrap().iter().find(|k| k.alg == SigningAlg::RS256).unwrap().kid.clone();
    state.reload_keys().unwrap();
    assert_eq!(state.key_set().signer(SigningAlg::RS256).unwrap().kid, new_kid, "the new key signs at once");
    let userinfo = |token: String| {
        let base = server.base.clone();
        async move { http().get(format!("{base}/userinfo")).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(userinfo(old_token.clone()).await, 200, "until it is retired, the old key's tokens verify");

    let refused = retire_signing_key(&state.store, state.clock.now(), &new_kid).unwrap_err().to_string();
    assert!(refused.contains("rotate --now"), "the key that signs now is not retired: {refused}");
    retire_signing_key(&state.store, state.clock.now(), &old_kid).unwrap();
    state.reload_keys().unwrap();
    let jwks: Value = http().get(format!("{}/jwks", server.base)).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(!kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    assert_eq!(userinfo(old_token).await, 401, "what the retired key signed no longer verifies");
    let unknown = retire_signing_key(&state.store, state.clock.now(), "no-such-kid").unwrap_err().to_string();
    assert!(unknown.contains("no published signing key"), "{unknown}");

    let actions = crate::support::rows::column_values(db, "audit_events", "action");
    assert!(
        actions.contains(&"signing_keys_rotated".to_owned()) && actions.contains(&"signing_key_retired".to_owned())
    );
    server.stop().await;
}
