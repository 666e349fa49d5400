//! The invitee's activation through the app API (DESIGN.md, "App API"):
//! the sign-up code from the invitation email, the SMS verification code
//! (10 minutes, 5 wrong tries, 2 resends) or the administrator's, and the
//! emailed link that creates the account password. Over a real socket, on
//! both backends, with the controllable clock.

use diesel::prelude::*;
use portti::AppState;
use portti::domain::access::CompanyRole;
use portti::domain::admin::invitations::{self, Invitation, InvitationContext};
use portti::domain::admin::reach;
use portti::domain::company::add_company;
use portti::domain::ids::{CompanyId, UserId};
use portti::domain::refusal::Refusal;
use portti::i18n::{Lang, Texts};
use portti::store::schema::invitations as invitation_rows;
use serde_json::{Value, json};

use crate::support::fixtures::member_with_password;
use crate::support::messages::{delivered, reset_link};
use crate::support::pages::PageClient;
use crate::support::{TestDb, TestServer, served_on_both_backends};

/// The app API as the tests configure it.
pub const APP_TOML: &str = "[app]\nclient_id = \"app\"\nmin_version = \"2.0.0\"\n";
const APP_VERSION: &str = "2.1.0";

served_on_both_backends!(
    an_invitee_enters_the_codes_and_creates_the_password,
    two_new_sms_codes_and_then_the_administrator,
    five_wrong_codes_end_the_codes,
    ended_and_expired_invitations_have_their_own_errors,
    a_person_with_a_password_is_sent_to_sign_in,
    the_app_api_serves_only_a_recent_app,
    the_activation_works_as_pages_too,
);

/// A company, its user administrator and an invitee (with a password or not).
pub struct Invited {
    pub company: CompanyId,
    pub admin: UserId,
    pub invitee: UserId,
}

pub fn company_with_invitee(state: &AppState, password: Option<&str>) -> Invited {
    let company = add_company(&state.store, 1, "Asiakas Oy", None).unwrap().id;
    let admin = member_with_password(state, "kh@example.com", &company, vec![CompanyRole::UserAdmin], false, None);
    let invitee = member_with_password(state, "john@example.com", &company, vec![], false, password);
    Invited { company, admin, invitee }
}

/// The administrator invites; returns the invitation.
pub fn invite(state: &AppState, invited: &Invited) -> Invitation {
    let ctx = InvitationContext {
        store: &state.store,
        keys: &state.keys,
        issuer: &state.settings.issuer,
        origin: Default::default(),
    };
    let kh = state.store.read(|r| reach(r, &invited.admin, &invited.company)).unwrap().unwrap();
    invitations::invite(&ctx, state.clock.now(), &kh, &invited.invitee, true).unwrap()
}

/// The sign-up code of the last invitation email.
pub async fn sign_up_code(server: &TestServer, db: &TestDb) -> String {
    let (mails, _) = delivered(server, db).await;
    let mail = mails.iter().rev().find(|m| m.contains("sign-up code is ")).expect("an invitation email");
    let start = mail.find("sign-up code is ").unwrap() + "sign-up code is ".len();
    mail[start..start + 19].to_owned()
}

/// The 6-digit code of the last SMS, and how many SMS were sent.
pub async fn last_sms_code(server: &TestServer, db: &TestDb) -> (String, usize) {
    let (_, sms) = delivered(server, db).await;
    let text = sms.last().expect("an SMS");
    let code = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("a 6-digit code in {sms:?}"));
    (code.to_owned(), sms.len())
}

/// Calls the app API as the app does, with its version header.
pub async fn app_post(server: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/app/v1{path}", server.base))
        .header("Portti-App-Version", APP_VERSION)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn state_of(db: &TestDb, id: &str) -> String {
    invitation_rows::table.find(id).select(invitation_rows::state).get_result(&mut db.connection()).unwrap()
}

async fn an_invitee_enters_the_codes_and_creates_the_password(db: &TestDb) {
    let server = db.serve(APP_TOML);
    let invited = company_with_invitee(&server.state, None);
    let invitation = invite(&server.state, &invited);
    let code = sign_up_code(&server, db).await;

    // Typed loosely: lower case, spaces for dashes.
    let (status, started) =
        app_post(&server, "/activations", json!({"sign_up_code": code.to_lowercase().replace('-', " ")})).await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["company"], "Asiakas Oy");
    assert_eq!(started["invited_by"], "kh");
    assert_eq!(started["phone_hint"], "•••••••••67");
    assert_eq!(started["resends_left"], 2);
    assert_eq!(state_of(db, &invitation.id), "code_entered");
    let (sms_code, sent) = last_sms_code(&server, db).await;
    assert_eq!(sent, 1);
    let activation = started["activation_id"].as_str().unwrap().to_owned();

    // The app restarted: the same code finds the same activation, and sends nothing.
    let (status, again) = app_post(&server, "/activations", json!({"sign_up_code": code})).await;
    assert_eq!((status, &again["activation_id"]), (200, &started["activation_id"]));
    assert_eq!(last_sms_code(&server, db).await.1, 1);

    // A wrong code is refused and changes nothing but the count.
    let wrong = if sms_code == "000000" { "111111" } else { "000000" };
    let (status, refused) =
        app_post(&server, &format!("/activations/{activation}/verify"), json!({"code": wrong})).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_code")), "{refused}");
    assert!(refused["message"].as_str().unwrap().len() > 10);
    assert_eq!(state_of(db, &invitation.id), "code_entered");

    let (status, verified) =
        app_post(&server, &format!("/activations/{activation}/verify"), json!({"code": sms_code})).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified, json!({"next": "create_password", "email": "j•••@example.com"}));
    assert_eq!(state_of(db, &invitation.id), "verified");
    // A code is used once.
    let (status, _) = app_post(&server, &format!("/activations/{activation}/verify"), json!({"code": sms_code})).await;
    assert_eq!(status, 400);

    // The emailed link opens the password reset's page, once, for 24 hours.
    let (mails, _) = delivered(&server, db).await;
    let mail = mails.last().unwrap();
    assert!(mail.contains("Create your password") && mail.contains("24 hours"), "{mail}");
    let link = reset_link(mail, &server.base);
    server.state.clock.advance(23 * 3600);
    let pages = PageClient::new(&server.base);
    let (_, status, page) = pages.open(&link).await.page();
    assert_eq!(status, 200);
    assert!(page.contains(r#"<label for="new_password">New password</label>"#), "{page}");
    let password = "kolme iloista kirahvia";
    let fields = [("new_password", password), ("confirm_password", password)];
    let (_, status, _) = pages.submit(&page, "", &fields).await.page();
    assert_eq!(status, 200);
    assert_eq!(state_of(db, &invitation.id), "password_set");
    let has_password: Option<String> = portti::store::schema::users::table
        .find(invited.invitee.as_str())
        .select(portti::store::schema::users::password_hash)
        .get_result(&mut db.connection())
        .unwrap();
    assert!(has_password.is_some_and(|hash| hash.starts_with("$argon2id$")));
    let (_, status, _) = pages.open(&link).await.page();
    assert_eq!(status, 404, "the link works once");

    // Resumable: the sign-up code again tells the app to sign in.
    let (status, resumed) = app_post(&server, "/activations", json!({"sign_up_code": code})).await;
    assert_eq!((status, &resumed["next"], &resumed["email"]), (200, &json!("sign_in"), &json!("j•••@example.com")));
    server.stop().await;
}

async fn two_new_sms_codes_and_then_the_administrator(db: &TestDb) {
    let server = db.serve(APP_TOML);
    let invited = company_with_invitee(&server.state, None);
    invite(&server.state, &invited);
    let code = sign_up_code(&server, db).await;
    let (_, started) = app_post(&server, "/activations", json!({"sign_up_code": code})).await;
    let activation = started["activation_id"].as_str().unwrap().to_owned();
    let (first, _) = last_sms_code(&server, db).await;

    for left in [1, 0] {
        let (status, body) = app_post(&server, &format!("/activations/{activation}/resend"), json!({})).await;
        assert_eq!((status, body), (200, json!({"resends_left": left})));
    }
    let (status, body) = app_post(&server, &format!("/activations/{activation}/resend"), json!({})).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("resend_limit")));
    assert!(body["message"].as_str().unwrap().contains("administrator"), "{body}");
    let (latest, sent) = last_sms_code(&server, db).await;
    assert_eq!(sent, 3, "the first code and two new ones");

    // A new code replaces the one before.
    if first != latest {
        let (status, _) = app_post(&server, &format!("/activations/{activation}/verify"), json!({"code": first})).await;
        assert_eq!(status, 400);
    }
    let (status, _) = app_post(&server, &format!("/activations/{activation}/verify"), json!({"code": latest})).await;
    assert_eq!(status, 200);
    server.stop().await;
}

async fn five_wrong_codes_end_the_codes(db: &TestDb) {
    let server = db.serve(APP_TOML);
    let invited = company_with_invitee(&server.state, None);
    invite(&server.state, &invited);
    let code = sign_up_code(&server, db).await;
    let (_, started) = app_post(&server, "/activations", json!({"sign_up_code": code})).await;
    let activation = started["activation_id"].as_str().unwrap().to_owned();
    let (right, _) = last_sms_code(&server, db).await;
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let path = format!("/activations/{activation}/verify");
    let verify = |code: &str| app_post(&server, &path, json!({"code": code}));

    for _ in 0..4 {
        assert_eq!(verify(wrong).await.1["error"], "invalid_code");
    }
    let (status, body) = verify(wrong).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_attempts")));
    let (status, _) = verify(&right).await;
    assert_eq!(status, 429, "the right code no longer works");

    // A new SMS code starts again.
    app_post(&server, &format!("/activations/{activation}/resend"), json!({})).await;
    let (fresh, _) = last_sms_code(&server, db).await;
    assert_eq!(verify(&fresh).await.0, 200);
    server.stop().await;
}

async fn ended_and_expired_invitations_have_their_own_errors(db: &TestDb) {
    let server = db.serve(APP_TOML);
    let state = &server.state;
    let invited = company_with_invitee(state, None);
    let start = |code: String| app_post(&server, "/activations", json!({"sign_up_code": code}));

    // Malformed, unknown.
    assert_eq!(start("not a code".into()).await.1["error"], "invalid_code");
    assert_eq!(start("ABCD-EFGH-JKMN-PQRS".into()).await.1["error"], "invalid_code");
    let (status, body) = app_post(&server, "/activations/x.y/verify", json!({"code": "123456"})).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    // Replaced by a re-invite, then cancelled.
    let first = invite(state, &invited);
    let first_code = sign_up_code(&server, db).await;
    let second = invite(state, &invited);
    let second_code = sign_up_code(&server, db).await;
    let (status, body) = start(first_code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invitation_replaced")));
    assert_eq!(state_of(db, &first.id), "replaced");
    let ctx = InvitationContext {
        store: &state.store,
        keys: &state.keys,
        issuer: &state.settings.issuer,
        origin: Default::default(),
    };
    let kh = state.store.read(|r| reach(r, &invited.admin, &invited.company)).unwrap().unwrap();
    invitations::cancel(&ctx, state.clock.now(), &kh, &second.id).unwrap();
    assert_eq!(start(second_code).await.1["error"], "invitation_cancelled");

    // The SMS code lasts 10 minutes; the invitation 24 hours.
    invite(state, &invited);
    let code = sign_up_code(&server, db).await;
    let (_, started) = start(code.clone()).await;
    let activation = started["activation_id"].as_str().unwrap().to_owned();
    let (sms_code, _) = last_sms_code(&server, db).await;
    state.clock.advance(10 * 60 + 1);
    let (status, body) =
        app_post(&server, &format!("/activations/{activation}/verify"), json!({"code": sms_code})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("code_expired")));
    state.clock.advance(24 * 3600);
    let (status, body) = start(code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invitation_expired")));
    let (status, body) = app_post(&server, &format!("/activations/{activation}/resend"), json!({})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invitation_expired")));
    server.stop().await;
}

async fn a_person_with_a_password_is_sent_to_sign_in(db: &TestDb) {
    let server = db.serve(APP_TOML);
    let invited = company_with_invitee(&server.state, Some("kolme iloista kirahvia"));
    let invitation = invite(&server.state, &invited);
    let code = sign_up_code(&server, db).await;
    let (_, started) = app_post(&server, "/activations", json!({"sign_up_code": code})).await;
    let activation = started["activation_id"].as_str().unwrap().to_owned();
    let (sms_code, _) = last_sms_code(&server, db).await;
    let mails_before = delivered(&server, db).await.0.len();
    let (status, verified) =
        app_post(&server, &format!("/activations/{activation}/verify"), json!({"code": sms_code})).await;
    assert_eq!((status, verified), (200, json!({"next": "sign_in", "email": "j•••@example.com"})));
    assert_eq!(delivered(&server, db).await.0.len(), mails_before, "no link to create a password");
    assert_eq!(state_of(db, &invitation.id), "verified");
    server.stop().await;
}

async fn the_app_api_serves_only_a_recent_app(db: &TestDb) {
    let server = db.serve(APP_TOML);
    let url = format!("{}/api/app/v1/activations", server.base);
    let http = reqwest::Client::new();
    for version in [None, Some("1.9.9"), Some("nonsense")] {
        let mut request = http.post(&url).json(&json!({"sign_up_code": "x"}));
        if let Some(version) = version {
            request = request.header("Portti-App-Version", version);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 426, "{version:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "app_update_required");
        assert!(body["message"].as_str().unwrap().contains("Update the app"), "{body}");
    }
    let response = http.post(&url).header("Portti-App-Version", "2.0.0").json(&json!({"sign_up_code": "x"}));
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 400, "a recent app is served");
    let english: Value = response.json().await.unwrap();
    // The message is in the language the phone asks for; the code stays.
    let asked = |version: &'static str, lang: &'static str| {
        let request = http.post(&url).header("Portti-App-Version", version).header("Accept-Language", lang);
        async move { request.json(&json!({"sign_up_code": "x"})).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let swedish = asked("2.0.0", "sv-FI,sv;q=0.9").await;
    assert_eq!(swedish["error"], english["error"]);
    assert_eq!(swedish["message"].as_str(), Some(Texts::new(Lang::Sv).refusal(&Refusal::WrongCode).as_str()));
    assert_ne!(swedish["message"], english["message"]);
    let finnish = asked("1.0.0", "fi").await;
    assert_eq!(finnish["error"], "app_update_required");
    assert_eq!(finnish["message"].as_str(), Some(Texts::new(Lang::Fi).refusal(&Refusal::AppUpdateRequired).as_str()));
    // A body that is not the expected JSON is a clear invalid_request.
    let response = http.post(&url).header("Portti-App-Version", "2.0.0").body("{").send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_request");
    // The OpenAPI document is generated, version 3.1, and lists the activation.
    let document: Value =
        http.get(format!("{}/api/app/v1/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{document}");
    assert!(document["paths"]["/activations/{activation_id}/verify"]["post"].is_object());
    // Discovery names the device-key grant while there is an app.
    let discovery: Value = http
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants = discovery["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!("urn:ietf:params:oauth:grant-type:jwt-bearer")), "{discovery}");
    server.stop().await;

    // Without app.client_id there is no app API.
    let server = db.serve("");
    let response = http.post(format!("{}/api/app/v1/activations", server.base)).header("Portti-App-Version", "2.0.0");
    assert_eq!(response.json(&json!({})).send().await.unwrap().status(), 404);
    let discovery: Value = http
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants = discovery["grant_types_supported"].as_array().unwrap();
    assert!(!grants.contains(&json!("urn:ietf:params:oauth:grant-type:jwt-bearer")), "{discovery}");
    server.stop().await;
}

async fn the_activation_works_as_pages_too(db: &TestDb) {
    // The pages do not need the app API (nor its version header).
    let server = db.serve("");
    let invited = company_with_invitee(&server.state, None);
    let invitation = invite(&server.state, &invited);
    let code = sign_up_code(&server, db).await;
    let (mails, _) = delivered(&server, db).await;
    assert!(mails.last().unwrap().contains(&format!("{}/activate", server.base)), "the email links the pages");
    let pages = PageClient::new(&server.base);

    let (_, status, page) = pages.open("/activate").await.page();
    assert_eq!(status, 200);
    assert!(page.contains(r#"<label for="sign_up_code">Sign-up code</label>"#), "{page}");
    let (_, status, refused) =
        pages.submit(&page, "/activate", &[("sign_up_code", "ABCD-EFGH-JKMN-PQRS")]).await.page();
    assert_eq!(status, 400);
    assert!(refused.contains(r#"role="alert""#), "{refused}");

    let (_, status, page) = pages.submit(&page, "/activate", &[("sign_up_code", &code)]).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("kh invited you to Asiakas Oy."), "{page}");
    assert!(page.contains(r#"<label for="code">Verification code</label>"#));
    assert!(page.contains("•••••••••67"));
    assert_eq!(state_of(db, &invitation.id), "code_entered");

    let (sms_code, _) = last_sms_code(&server, db).await;
    let wrong = if sms_code == "000000" { "111111" } else { "000000" };
    let (_, status, page) = pages.submit(&page, "/activate/verify", &[("code", wrong)]).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("wrong") || page.contains("not right") || page.contains("incorrect"), "{page}");

    let (_, status, page) = pages.submit(&page, "/activate/resend", &[]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("A new code is on its way.") && page.contains("order 1 more"), "{page}");
    let (fresh, sent) = last_sms_code(&server, db).await;
    assert_eq!(sent, 2);

    let (_, status, page) = pages.submit(&page, "/activate/verify", &[("code", &fresh)]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("We sent a link to j•••@example.com"), "{page}");
    assert_eq!(state_of(db, &invitation.id), "verified");

    // In Finnish too.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("accept-language", "fi".parse().unwrap());
    let (_, _, page) = PageClient::with_headers(&server.base, headers).open("/activate").await.page();
    assert!(page.contains("Rekisteröitymiskoodi") && page.contains(r#"<html lang="fi""#), "{page}");
    server.stop().await;
}
