//! The mobile app's device credential (issue 11, item 11): the app signs the
//! person in on the hosted pages (authorization code + PKCE), registers a
//! P-256 key made on the phone within 10 minutes of that sign-in (which
//! completes the person's invitation), and later signs in with the key by
//! the JWT bearer grant. Every refused assertion changes nothing; a removed
//! device is refused at once. The app's version is gated at /token and on
//! the app API. On both backends.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use portti::domain::access::{AccessRight, CompanyRole};
use portti::domain::admin::invitations::{self, InvitationContext};
use portti::domain::admin::reach;
use portti::domain::client::{ClientKind, NewClient, add_client};
use portti::domain::devices::{self, NewDevice};
use portti::domain::ids::UserId;
use portti::domain::user::{MembershipInput, NewUserInput, add_user};
use portti::store::schema::{
    audit_events, device_assertions, devices as device_rows, grants, invitations as rows, terms_acceptances,
};
use serde_json::{Value, json};

use crate::support::fixtures::{CALLBACK, authorization_request, confidential_client, http, person, relying_party};
use crate::support::pages::{PageClient, query_param};
use crate::support::sign_in::first_sign_in;
use crate::support::{TestDb, TestServer, served_on_both_backends};
use crate::tokens::verify_with_jwks;

served_on_both_backends!(
    the_app_registers_its_key_and_signs_in_with_it,
    a_refused_assertion_changes_nothing_and_a_removed_device_is_refused_at_once,
    the_apps_version_is_gated_and_a_device_needs_a_fresh_sign_in,
);

/// The server's app settings: the app's client, and the oldest app it serves.
pub const APP: &str = "[app]\nclient_id = \"app\"\nmin_version = \"2.0.0\"\n";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The version the app under test says it is.
pub const CURRENT: &str = "2.1.0";

/// The phone's hardware-backed key, made in the test.
pub struct Phone {
    pair: EcdsaKeyPair,
}

impl Phone {
    pub fn new() -> Self {
        Self { pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap() }
    }

    /// The public JWK the app registers.
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
    }

    /// A JWS ES256 by this key, with `kid` = `device_id`.
    pub fn sign(&self, device_id: &str, claims: &Value) -> String {
        let der = self.pair.to_pkcs8v1().unwrap();
        let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_ref());
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(device_id.to_owned());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }
}

/// The app, signed in on the hosted pages.
struct SignedInApp {
    server: TestServer,
    user: UserId,
    pages: PageClient,
    /// The answer of the code exchange (access and refresh tokens).
    tokens: Value,
}

impl SignedInApp {
    fn access_token(&self) -> &str {
        self.tokens["access_token"].as_str().unwrap()
    }

    /// An assertion's usual claims, from now by Portti's clock.
    fn claims(&self, device_id: &str, jti: &str) -> Value {
        let now = self.server.state.clock.now();
        json!({
            "iss": device_id, "sub": self.user.as_str(), "aud": format!("{}/token", self.server.base),
            "iat": now, "exp": now + 120, "jti": jti, "amr": ["pin"],
        })
    }

    async fn register(&self, phone: &Phone) -> String {
        let body = json!({"public_key": phone.jwk(), "name": "Maija's phone", "platform": "ios"});
        let (status, answer) =
            api(&self.server, "POST", "/devices", Some(self.access_token()), Some(CURRENT), Some(body)).await;
        assert_eq!(status, 201, "{answer}");
        answer["device_id"].as_str().unwrap().to_owned()
    }
}

/// Starts Portti with the app configured, registers the app's public
/// client (with the device-key grant) and signs Maija in to it with PKCE.
async fn signed_in_app(db: &TestDb) -> SignedInApp {
    let server = db.serve(APP);
    let user = person(&server.state, "maija@example.com");
    let grants: Vec<String> = ["authorization_code", "refresh_token", JWT_BEARER].map(str::to_owned).to_vec();
    let app = NewClient::parse("app", ClientKind::Public, &[CALLBACK.to_owned()], &[], &grants, true, None).unwrap();
    add_client(&server.state.store, 1, app).unwrap();
    let pages = PageClient::new(&server.base);
    let tokens = app_first_sign_in(&server, &pages, "maija@example.com").await;
    SignedInApp { server, user, pages, tokens }
}

/// The app's first sign-in on the hosted pages (password, authenticator
/// enrolment, terms) in `pages`, and its code exchange with PKCE as the
/// public client `app`; the token answer.
pub async fn app_first_sign_in(server: &TestServer, pages: &PageClient, email: &str) -> Value {
    let rp = relying_party(server, "app", None).await;
    let request = authorization_request(&rp, &["offline_access"]);
    let (callback, _, _) = first_sign_in(pages, &request.url, email).await;
    let code = query_param(&callback, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", "app"),
        ("code_verifier", request.verifier.secret().as_str()),
    ];
    let (status, tokens) = token(server, &form, Some(CURRENT)).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// A request to the token endpoint, as the app sends it.
pub async fn token(server: &TestServer, form: &[(&str, &str)], version: Option<&str>) -> (u16, Value) {
    let mut request = http().post(format!("{}/token", server.base)).form(form);
    if let Some(version) = version {
        request = request.header("Portti-App-Version", version);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// A device-key sign-in of the app.
pub async fn jwt_bearer(server: &TestServer, assertion: &str, scope: &str) -> (u16, Value) {
    let form = [("grant_type", JWT_BEARER), ("client_id", "app"), ("assertion", assertion), ("scope", scope)];
    token(server, &form, Some(CURRENT)).await
}

/// A request to the app API; the body of a 204 reads as `null`.
pub async fn api(
    server: &TestServer,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    version: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/api/app/v1{path}", server.base);
    let mut request = match method {
        "POST" => http().post(url),
        "DELETE" => http().delete(url),
        _ => http().get(url),
    };
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(version) = version {
        request = request.header("Portti-App-Version", version);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

fn count(db: &TestDb, table: &str) -> i64 {
    let mut conn = db.connection();
    match table {
        "devices" => device_rows::table.count().get_result(&mut conn),
        "device_assertions" => device_assertions::table.count().get_result(&mut conn),
        "grants" => grants::table.count().get_result(&mut conn),
        _ => audit_events::table.count().get_result(&mut conn),
    }
    .unwrap()
}

/// Invites Maija (as an administrator of her company does) and returns the invitation's id.
fn invite(app: &SignedInApp) -> String {
    let state = &app.server.state;
    let company = state.store.read(|r| r.memberships(&app.user)).unwrap().remove(0).company_id;
    let admin = NewUserInput {
        email: "kh@example.com".to_owned(),
        name: "Kaisa Hallinto".to_owned(),
        phone: Some("+358409876543".to_owned()),
        memberships: vec![MembershipInput {
            company_id: company.clone(),
            roles: vec![CompanyRole::UserAdmin],
            rights: vec![AccessRight::parse("ledger").unwrap()],
        }],
        ..Default::default()
    };
    let admin = add_user(&state.store, &state.keys, 1, admin).unwrap().user.id;
    let kh = state.store.read(|r| reach(r, &admin, &company)).unwrap().unwrap();
    let ctx = InvitationContext {
        store: &state.store,
        keys: &state.keys,
        issuer: &state.settings.issuer,
        origin: Default::default(),
    };
    invitations::invite(&ctx, state.clock.now(), &kh, &app.user, true).unwrap().id
}

async fn the_app_registers_its_key_and_signs_in_with_it(db: &TestDb) {
    let app = signed_in_app(db).await;
    let server = &app.server;
    let invitation = invite(&app);

    // A key that is not a P-256 public key is refused, and nothing is stored.
    let phone = Phone::new();
    let mut bad = phone.jwk();
    bad["y"] = bad["x"].clone();
    for key in [bad, json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}), json!("key")] {
        let body = json!({"public_key": key, "name": "Maija's phone", "platform": "ios"});
        let (status, answer) =
            api(server, "POST", "/devices", Some(app.access_token()), Some(CURRENT), Some(body)).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_key")), "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("P-256"), "{answer}");
    }
    assert_eq!(count(db, "devices"), 0);
    let state_of = || -> (String, Option<i64>) {
        rows::table.find(&invitation).select((rows::state, rows::ended_at)).get_result(&mut db.connection()).unwrap()
    };
    assert_eq!(state_of().0, "sent", "a refused key completes nothing");

    // The app's key is registered; the invitation is completed with it.
    let before = server.state.clock.now();
    let device_id = app.register(&phone).await;
    let (state, ended_at) = state_of();
    assert_eq!(state, "completed");
    assert!(ended_at.unwrap() >= before);
    let actions: Vec<String> = audit_events::table
        .filter(audit_events::user_id.eq(app.user.as_str()))
        .order(audit_events::at)
        .select(audit_events::action)
        .load(&mut db.connection())
        .unwrap();
    assert!(actions.ends_with(&["device_registered".to_owned(), "invitation_completed".to_owned()]), "{actions:?}");

    // Listed, not yet used.
    let (status, listed) = api(server, "GET", "/devices", Some(app.access_token()), Some(CURRENT), None).await;
    assert_eq!(status, 200, "{listed}");
    let entry = &listed[0];
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        (entry["device_id"].as_str(), entry["name"].as_str()),
        (Some(device_id.as_str()), Some("Maija's phone"))
    );
    assert_eq!(entry["platform"], "ios");
    assert!(entry["created_at"].as_str().unwrap().ends_with('Z'), "RFC 3339 UTC: {entry}");
    assert!(entry["last_used_at"].is_null());

    // Later, the device key signs Maija in: access, ID and refresh tokens
    // whose amr says a hardware key unlocked with the PIN.
    let assertion = phone.sign(&device_id, &app.claims(&device_id, "first"));
    // Asked for by a person holding no role, `admin` is simply not granted.
    let (status, answer) = jwt_bearer(server, &assertion, "openid offline_access admin").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["scope"], "openid offline_access", "{answer}");
    let access = verify_with_jwks(server, answer["access_token"].as_str().unwrap(), "at+jwt", "app").await;
    assert_eq!(access["sub"], app.user.as_str());
    assert_eq!(access["amr"], json!(["hwk", "pin", "mfa"]));
    assert_eq!(access["client_id"], "app");
    let id_token = verify_with_jwks(server, answer["id_token"].as_str().unwrap(), "JWT", "app").await;
    assert_eq!((id_token["sub"].as_str(), &id_token["amr"]), (Some(app.user.as_str()), &json!(["hwk", "pin", "mfa"])));
    assert!(answer["refresh_token"].is_string(), "offline_access gives a refresh token: {answer}");

    // With the face: its amr; without openid, no ID token.
    let mut face = app.claims(&device_id, "second");
    face["amr"] = json!(["face"]);
    let (status, answer) = jwt_bearer(server, &phone.sign(&device_id, &face), "").await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["id_token"].is_null() && answer["refresh_token"].is_null(), "{answer}");
    let access = verify_with_jwks(server, answer["access_token"].as_str().unwrap(), "at+jwt", "app").await;
    assert_eq!(access["amr"], json!(["hwk", "face", "mfa"]));

    // The device's last use shows; the sign-ins are in the person's record.
    let (_, listed) = api(server, "GET", "/devices", Some(app.access_token()), Some(CURRENT), None).await;
    assert!(listed[0]["last_used_at"].as_str().unwrap().ends_with('Z'), "{listed}");
    let sign_ins: i64 = audit_events::table
        .filter(audit_events::action.eq("device_sign_in"))
        .filter(audit_events::user_id.eq(app.user.as_str()))
        .count()
        .get_result(&mut db.connection())
        .unwrap();
    assert_eq!(sign_ins, 2);
    app.server.stop().await;
}

async fn a_refused_assertion_changes_nothing_and_a_removed_device_is_refused_at_once(db: &TestDb) {
    let app = signed_in_app(db).await;
    let server = &app.server;
    let phone = Phone::new();
    let device_id = app.register(&phone).await;
    let (status, answer) = jwt_bearer(server, &phone.sign(&device_id, &app.claims(&device_id, "used")), "openid").await;
    assert_eq!(status, 200, "{answer}");
    let unchanged = || (count(db, "device_assertions"), count(db, "grants"), count(db, "audit"));
    let before = unchanged();

    let refused = |claims: Value, why: &'static str| (phone.sign(&device_id, &claims), why);
    let mut cases = vec![
        refused(app.claims(&device_id, "used"), "already used"),
        refused(with(app.claims(&device_id, "j1"), "aud", json!("https://elsewhere.example/token")), "aud"),
        refused(with(app.claims(&device_id, "j2"), "exp", json!(server.state.clock.now() + 301)), "too long"),
        refused(with(app.claims(&device_id, "j3"), "iat", json!(server.state.clock.now() - 120)), "iat"),
        refused(with(app.claims(&device_id, "j4"), "sub", json!(UserId::generate().as_str())), "sub"),
        refused(with(app.claims(&device_id, "j5"), "amr", json!(["pwd"])), "amr"),
    ];
    // Signed by another key under this device's id; a device never registered.
    cases.push((Phone::new().sign(&device_id, &app.claims(&device_id, "j6")), "signature"));
    let stranger = uuid::Uuid::new_v4().to_string();
    cases.push((phone.sign(&stranger, &app.claims(&stranger, "j7")), "not registered"));
    for (assertion, why) in &cases {
        let (status, answer) = jwt_bearer(server, assertion, "openid").await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "{why}: {answer}");
        assert!(answer["error_description"].as_str().unwrap().contains(why), "{why}: {answer}");
        assert_eq!(unchanged(), before, "{why}: nothing changed");
    }

    // A scope Portti does not know.
    let (status, answer) =
        jwt_bearer(server, &phone.sign(&device_id, &app.claims(&device_id, "j8")), "openid payroll").await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_scope")), "{answer}");
    assert_eq!(unchanged(), before);

    // A locked-out person is refused.
    let subject = format!("user:{}", app.user);
    let now = server.state.clock.now();
    server
        .state
        .store
        .write(|tx| {
            tx.record_sign_in_attempt(&subject, now, now - 60)?;
            tx.lock_sign_in(&subject, now + 600)
        })
        .unwrap();
    let (status, answer) = jwt_bearer(server, &phone.sign(&device_id, &app.claims(&device_id, "j9")), "openid").await;
    assert_eq!((status, answer["error_description"].as_str()), (400, Some("the account is locked")), "{answer}");
    assert_eq!(unchanged(), before);
    server.state.store.write(|tx| tx.clear_sign_in_failures(&subject)).unwrap();

    // New terms of service (the accepted version is no longer the one in
    // force): no page here can ask, so the app is told to use the browser.
    let accepted = terms_acceptances::table.filter(terms_acceptances::user_id.eq(app.user.as_str()));
    let set_version = |version: &str| {
        diesel::update(accepted).set(terms_acceptances::version.eq(version)).execute(&mut db.connection()).unwrap()
    };
    assert_eq!(set_version("an-older-version"), 1);
    let (status, answer) = jwt_bearer(server, &phone.sign(&device_id, &app.claims(&device_id, "j9")), "openid").await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "{answer}");
    assert!(answer["error_description"].as_str().unwrap().starts_with("terms_not_accepted: "), "{answer}");
    assert_eq!(unchanged(), before);
    set_version(&server.state.settings.terms.version);

    // Another client, even one registered with the grant, is not the app.
    let other =
        NewClient::parse("other-app", ClientKind::Public, &[], &[], &[JWT_BEARER.to_owned()], false, None).unwrap();
    add_client(&server.state.store, 1, other).unwrap();
    let assertion = phone.sign(&device_id, &app.claims(&device_id, "j10"));
    let form = [("grant_type", JWT_BEARER), ("client_id", "other-app"), ("assertion", assertion.as_str())];
    let (status, answer) = token(server, &form, None).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("unauthorized_client")), "{answer}");
    assert_eq!(unchanged(), before);

    // The same assertion is still good for the app: nothing above spent it.
    // Asked for by a person holding no role, `admin` is simply not granted.
    let (status, answer) = jwt_bearer(server, &assertion, "openid offline_access admin").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["scope"], "openid offline_access", "{answer}");
    let device_access = answer["access_token"].as_str().unwrap().to_owned();
    let device_refresh = answer["refresh_token"].as_str().unwrap().to_owned();

    // Another person's device is not found, and stays.
    let someone = person(&server.state, "matti@example.com");
    let theirs = devices::register(
        &server.state.store,
        server.state.clock.now(),
        &Default::default(),
        &someone,
        NewDevice { public_key: &Phone::new().jwk(), name: "Matti's phone", platform: "android" },
    )
    .unwrap();
    let (status, answer) =
        api(server, "DELETE", &format!("/devices/{theirs}"), Some(app.access_token()), Some(CURRENT), None).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")), "{answer}");
    assert_eq!(count(db, "devices"), 2);

    // Removed: its assertions, and the tokens its sign-ins gave, are refused at once.
    let path = format!("/devices/{device_id}");
    let (status, _) = api(server, "DELETE", &path, Some(app.access_token()), Some(CURRENT), None).await;
    assert_eq!(status, 204);
    let (status, listed) = api(server, "GET", "/devices", Some(app.access_token()), Some(CURRENT), None).await;
    assert_eq!((status, listed), (200, json!([])));
    let (status, answer) = jwt_bearer(server, &phone.sign(&device_id, &app.claims(&device_id, "j11")), "openid").await;
    assert_eq!((status, answer["error_description"].as_str()), (400, Some("the device is not registered")));
    let (status, _) = api(server, "GET", "/devices", Some(&device_access), Some(CURRENT), None).await;
    assert_eq!(status, 401, "the device's access token ended with it");
    let form = [("grant_type", "refresh_token"), ("client_id", "app"), ("refresh_token", device_refresh.as_str())];
    let (status, answer) = token(server, &form, Some(CURRENT)).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "{answer}");
    let (status, _) = api(server, "DELETE", &path, Some(app.access_token()), Some(CURRENT), None).await;
    assert_eq!(status, 404, "gone");
    app.server.stop().await;
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

async fn the_apps_version_is_gated_and_a_device_needs_a_fresh_sign_in(db: &TestDb) {
    let app = signed_in_app(db).await;
    let server = &app.server;
    let phone = Phone::new();

    // The app API answers an old or silent app 426, before anything else.
    for version in [None, Some("1.9.9"), Some("two")] {
        let (status, answer) = api(server, "GET", "/devices", Some(app.access_token()), version, None).await;
        assert_eq!((status, answer["error"].as_str()), (426, Some("app_update_required")), "{version:?}");
        assert!(answer["message"].as_str().unwrap().contains("Update the app"), "{answer}");
        let body = json!({"public_key": phone.jwk(), "name": "Phone", "platform": "ios"});
        let (status, _) = api(server, "POST", "/devices", Some(app.access_token()), version, Some(body)).await;
        assert_eq!(status, 426);
    }
    assert_eq!(count(db, "devices"), 0);
    // The OpenAPI document, for any app, describes the devices.
    let (status, document) = api(server, "GET", "/openapi.json", None, None, None).await;
    assert_eq!(status, 200);
    assert!(
        document["paths"]["/devices"]["post"].is_object()
            && document["paths"]["/devices/{device_id}"]["delete"].is_object()
    );
    // So does /token, in OAuth's terms, for the app's client only.
    let refresh = app.tokens["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("client_id", "app"), ("refresh_token", refresh.as_str())];
    for version in [None, Some("1.0.0")] {
        let (status, answer) = token(server, &form, version).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_request")), "{answer}");
        let description = answer["error_description"].as_str().unwrap();
        assert!(description.starts_with("app_update_required: ") && description.contains("Update the app"), "{answer}");
    }
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &["client_credentials"]);
    let (status, answer) = token(
        server,
        &[("grant_type", "client_credentials"), ("client_id", "ledger"), ("client_secret", &secret)],
        None,
    )
    .await;
    assert_eq!(status, 200, "another client needs no app version: {answer}");

    // The device is listed on /account, and removed there.
    let device_id = app.register(&phone).await;
    let (_, _, page) = app.pages.open("/account").await.page();
    assert!(page.contains("<h2 id=\"devices\">Devices</h2>") && page.contains("Maija&#39;s phone"), "{page}");
    assert!(page.contains("not used yet"), "{page}");
    let (_, status, page) = app.pages.submit(&page, &format!("/account/devices/{device_id}/remove"), &[]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("No devices yet"), "{page}");
    assert_eq!(count(db, "devices"), 0);
    let removed: i64 = audit_events::table
        .filter(audit_events::action.eq("device_removed"))
        .count()
        .get_result(&mut db.connection())
        .unwrap();
    assert_eq!(removed, 1);

    // Over 10 minutes after the sign-in, a fresh token of the same sign-in
    // no longer registers a device.
    server.state.clock.advance(601);
    let (status, fresh) = token(server, &form, Some(CURRENT)).await;
    assert_eq!(status, 200, "{fresh}");
    let body = json!({"public_key": phone.jwk(), "name": "Phone", "platform": "ios"});
    let (status, answer) =
        api(server, "POST", "/devices", fresh["access_token"].as_str(), Some(CURRENT), Some(body)).await;
    assert_eq!((status, answer["error"].as_str()), (403, Some("fresh_sign_in_required")), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("10 minutes"), "{answer}");
    assert_eq!(count(db, "devices"), 0);
    // A token of another client is no token of the app.
    let (_, service) = token(
        server,
        &[("grant_type", "client_credentials"), ("client_id", "ledger"), ("client_secret", &secret)],
        None,
    )
    .await;
    let (status, answer) = api(server, "GET", "/devices", service["access_token"].as_str(), Some(CURRENT), None).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_token")), "{answer}");
    app.server.stop().await;
}
