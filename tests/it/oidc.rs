//! Portti as an OpenID Provider, driven by a relying party written with the
//! `openidconnect` crate over a real loopback socket, and by a person using
//! the hosted pages.

use openidconnect::core::{CoreIdTokenClaims, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessToken, AccessTokenHash, IssuerUrl, OAuth2TokenResponse, PkceCodeVerifier, TokenIntrospectionResponse,
    TokenResponse,
};

use crate::support::fixtures::{
    authorization_request, code_of, confidential_client, exchange, http, person, relying_party,
};
use crate::support::pages::{PageClient, query_param};
use crate::support::sign_in::first_sign_in;
use crate::support::{TestDb, TestServer};

async fn relying_party_signs_in_refreshes_and_signs_out(db: &TestDb) {
    let server = db.serve("");
    let user_id = person(&server.state, "maija@example.com");
    let secret = confidential_client(&server.state, "ledger", false, "RS256", &[]);
    let rp = relying_party(&server, "ledger", Some(&secret)).await;
    let pages = PageClient::new(&server.base);

    let request = authorization_request(&rp, &["email", "profile", "phone", "companies", "offline_access"]);
    let (callback, _, _) = first_sign_in(&pages, &request.url, "maija@example.com").await;
    assert_eq!(query_param(&callback, "iss").as_deref(), Some(server.base.as_str()), "RFC 9207 iss");
    let code = code_of(&callback, &request);

    let verifier_secret = request.verifier.secret().clone();
    let tokens = rp
        .exchange_code(code.clone())
        .unwrap()
        .set_pkce_verifier(request.verifier)
        .request_async(&http())
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = rp.id_token_verifier();
    let claims: &CoreIdTokenClaims = id_token.claims(&verifier, &request.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), user_id.as_str());
    assert_eq!(claims.email().map(|e| e.as_str()), Some("maija@example.com"));
    assert_eq!(claims.email_verified(), Some(false));
    assert_eq!(claims.phone_number().map(|p| p.as_str()), Some("+358401234567"));
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.to_string()).collect();
    assert_eq!(amr, ["pwd", "otp"]);
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("https://refeds.org/profile/mfa"));
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let raw_id = payload(&id_token.to_string());
    assert_eq!(raw_id["azp"], "ledger");
    assert!(raw_id["sid"].as_str().is_some_and(|sid| sid.len() >= 32), "sid: {raw_id}");

    // The access token is an RFC 9068 JWT, signed like the ID token.
    let header = jsonwebtoken::decode_header(tokens.access_token().secret()).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let access = payload(tokens.access_token().secret());
    assert_eq!(access["client_id"], "ledger");
    assert_eq!(access["sub"], user_id.as_str());
    assert!(access["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    assert_eq!(access["sid"], raw_id["sid"]);
    let scope: Vec<&str> = access["scope"].as_str().unwrap().split(' ').collect();
    assert!(scope.contains(&"openid") && scope.contains(&"companies"), "{scope:?}");

    let info: CoreUserInfoClaims =
        rp.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http()).await.unwrap();
    assert_eq!(info.subject().as_str(), user_id.as_str());
    assert_eq!(info.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Maija Meikäläinen"));

    // Companies with roles and rights reach the application as a claim.
    let raw: serde_json::Value = http()
        .get(format!("{}/userinfo", server.base))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["companies"][0]["name"], "Asiakas Oy");
    let posted: serde_json::Value = http()
        .post(format!("{}/userinfo", server.base))
        .form(&[("access_token", tokens.access_token().secret().as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted, raw, "POST /userinfo with the token in the body answers the same");
    assert_eq!(raw["companies"][0]["rights"], serde_json::json!(["ledger"]));

    // The code works once; a second use fails and revokes what the first issued.
    let replay = rp
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier_secret))
        .request_async(&http())
        .await;
    assert!(replay.is_err(), "a code is single use");
    let dead: Result<CoreUserInfoClaims, _> =
        rp.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http()).await;
    assert!(dead.is_err(), "the replay revoked the access token");
    let replayed = portti::domain::audit::events_of(&server.state.store, &user_id).unwrap();
    let replayed = replayed.iter().find(|e| e.action == "token_replayed").expect("the replay is in the audit trail");
    assert_eq!(replayed.detail.as_ref().unwrap()["token"], "authorization_code");
    assert_eq!(replayed.client_id.as_deref(), Some("ledger"));
    let refresh = tokens.refresh_token().expect("offline_access gives a refresh token").clone();
    assert!(
        rp.exchange_refresh_token(&refresh).unwrap().request_async(&http()).await.is_err(),
        "and the refresh token"
    );

    // A fresh sign-in (single sign-on: no pages) to exercise refresh, introspection, revocation.
    let request = authorization_request(&rp, &["email", "offline_access"]);
    let callback = pages.open(&request.url).await.left();
    let tokens = exchange(&rp, &callback, &request).await;
    let first_refresh = tokens.refresh_token().unwrap().clone();
    let rotated = rp.exchange_refresh_token(&first_refresh).unwrap().request_async(&http()).await.unwrap();
    let second_refresh = rotated.refresh_token().unwrap().clone();
    assert_ne!(first_refresh.secret(), second_refresh.secret(), "refresh tokens rotate");

    let introspection = rp.introspect(rotated.access_token()).request_async(&http()).await.unwrap();
    assert!(introspection.active());
    assert_eq!(introspection.sub(), Some(user_id.as_str()));
    let refresh_as_token = AccessToken::new(second_refresh.secret().clone());
    assert!(rp.introspect(&refresh_as_token).request_async(&http()).await.unwrap().active());

    // Presenting the rotated (used) token revokes the family.
    assert!(rp.exchange_refresh_token(&first_refresh).unwrap().request_async(&http()).await.is_err());
    assert!(
        rp.exchange_refresh_token(&second_refresh).unwrap().request_async(&http()).await.is_err(),
        "family revoked"
    );
    assert!(!rp.introspect(rotated.access_token()).request_async(&http()).await.unwrap().active());

    // Without offline_access there is no refresh token.
    let request = authorization_request(&rp, &["email"]);
    let callback = pages.open(&request.url).await.left();
    let online = exchange(&rp, &callback, &request).await;
    assert!(online.refresh_token().is_none());

    // Revocation (RFC 7009).
    let request = authorization_request(&rp, &["offline_access"]);
    let callback = pages.open(&request.url).await.left();
    let tokens = exchange(&rp, &callback, &request).await;
    // (openidconnect refuses a plain-http revocation URL, so this one is a plain form POST.)
    let revoked = http()
        .post(format!("{}/revoke", server.base))
        .basic_auth("ledger", Some(&secret))
        .form(&[("token", tokens.refresh_token().unwrap().secret().as_str()), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert!(!rp.introspect(tokens.access_token()).request_async(&http()).await.unwrap().active());

    // Logout with the ID token as hint ends the browser session and returns to the application.
    let id_token = tokens.id_token().unwrap().to_string();
    let logout = format!(
        "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
        server.base,
        urlencode("https://rp.example/signed-out")
    );
    let left = pages.open(&logout).await.left();
    assert_eq!(left, "https://rp.example/signed-out?state=bye");
    let request = authorization_request(&rp, &["email"]);
    let (path, _, page) = pages.open(&request.url).await.page();
    assert!(path.starts_with("/signin/") && page.contains("Email"), "signed out: the next sign-in asks again");
    server.stop().await;
}

/// The claims of a JWT, unverified (the verification is the library's job above).
pub fn payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[actix_web::test]
async fn relying_party_flow_sqlite() {
    relying_party_signs_in_refreshes_and_signs_out(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn relying_party_flow_postgres() {
    if let Some(db) = TestDb::postgres() {
        relying_party_signs_in_refreshes_and_signs_out(&db).await;
    }
}

#[actix_web::test]
async fn discovery_and_jwks_describe_the_provider() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http()).await.unwrap();
    assert_eq!(metadata.issuer().as_str(), server.base);
    assert_eq!(metadata.token_endpoint().unwrap().as_str(), format!("{}/token", server.base));
    let jwks: serde_json::Value =
        http().get(format!("{}/jwks", server.base)).send().await.unwrap().json().await.unwrap();
    let algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs.len(), 3);
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} in {algs:?}");
    }
    assert!(jwks.to_string().find("\"d\"").is_none(), "no private key material");
    server.stop().await;
}

/// Two instances on one database sign with the same keys, and one picks up a
/// rotation made elsewhere on its own (its periodic reload).
async fn instances_share_keys_and_pick_up_rotations(db: &TestDb) {
    let extra = "[keys]\nrefresh_seconds = 1\nactivation_delay_seconds = 1";
    let first = db.serve(extra);
    let second = db.serve(extra);
    let jwks = |server: &TestServer| {
        let url = format!("{}/jwks", server.base);
        async move {
            let body: serde_json::Value = http().get(url).send().await.unwrap().json().await.unwrap();
            let mut kids: Vec<String> =
                body["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
            kids.sort();
            kids
        }
    };
    assert_eq!(jwks(&first).await, jwks(&second).await, "one set of keys for every instance");

    let state = &first.state;
    let rotated = portti::domain::signing_keys::rotate_signing_keys(
        &state.store,
        &state.keys,
        &state.settings,
        state.clock.now(),
        portti::domain::signing_keys::Takeover::AfterDelay,
    )
    .unwrap();
    let new_kid = rotated[0].kid.clone();
    let picked_up =
        crate::support::eventually(10, || second.state.key_set().published().iter().any(|key| key.kid == new_kid))
            .await;
    assert!(picked_up, "the other instance reloaded the rotated keys by itself");
    first.stop().await;
    second.stop().await;
}

#[actix_web::test]
async fn instances_share_keys_sqlite() {
    instances_share_keys_and_pick_up_rotations(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn instances_share_keys_postgres() {
    if let Some(db) = TestDb::postgres() {
        instances_share_keys_and_pick_up_rotations(&db).await;
    }
}
