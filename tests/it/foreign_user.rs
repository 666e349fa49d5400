//! The whole story of a foreign user (issue 11, the seed's "Inviting a
//! foreign user"): the administrator invites through the admin API, the
//! invitee enters the sign-up code and the SMS code in the app, creates the
//! password from the emailed link, signs in in the app (authenticator
//! enrolment, terms), registers the device key — which completes the
//! invitation — and signs in with the key from then on. On both backends.

use diesel::prelude::*;
use portti::domain::client::{ClientKind, NewClient, add_client};
use portti::store::schema::invitations as invitation_rows;
use serde_json::{Value, json};

use crate::activation::{app_post, company_with_invitee, last_sms_code, sign_up_code};
use crate::admin_api;
use crate::devices::{APP, CURRENT, JWT_BEARER, Phone, api, app_first_sign_in, jwt_bearer};
use crate::support::fixtures::{CALLBACK, PASSWORD};
use crate::support::messages::{delivered, reset_link};
use crate::support::pages::PageClient;
use crate::support::{TestDb, served_on_both_backends};

served_on_both_backends!(an_invited_foreign_user_ends_up_signing_in_with_the_phone);

async fn an_invited_foreign_user_ends_up_signing_in_with_the_phone(db: &TestDb) {
    let server = db.serve(APP);
    let state = &server.state;
    let grants: Vec<String> = ["authorization_code", "refresh_token", JWT_BEARER].map(str::to_owned).to_vec();
    let app = NewClient::parse("app", ClientKind::Public, &[CALLBACK.to_owned()], &[], &grants, true, None).unwrap();
    add_client(&state.store, 1, app).unwrap();
    let invited = company_with_invitee(state, None);

    // The administrator, in their first-party console: the invitation, through the admin API.
    let user_admin = vec![portti::domain::access::CompanyRole::UserAdmin];
    crate::support::fixtures::member(state, "kh2@example.com", &invited.company, user_admin, false);
    let console = admin_api::console(&server).await;
    let admin = admin_api::admin_token(&server, &console, "kh2@example.com").await;
    let path = format!("/users/{}/invitations", invited.invitee.as_str());
    let ask = json!({"company_id": invited.company.as_str(), "identity_verified": true});
    let (status, invitation) = admin_api::call(&server, &admin, "POST", &path, Some(ask)).await;
    assert_eq!((status, invitation["state"].as_str()), (201, Some("sent")), "{invitation}");
    let invitation_id = invitation["id"].as_str().unwrap().to_owned();
    let state_of = || -> String {
        invitation_rows::table
            .find(&invitation_id)
            .select(invitation_rows::state)
            .get_result(&mut db.connection())
            .unwrap()
    };

    // The invitee, in the app: the sign-up code, then the SMS code.
    let code = sign_up_code(&server, db).await;
    let (status, started) = app_post(&server, "/activations", json!({"sign_up_code": code})).await;
    assert_eq!(status, 201, "{started}");
    let activation = started["activation_id"].as_str().unwrap().to_owned();
    let (sms_code, _) = last_sms_code(&server, db).await;
    let (status, verified) =
        app_post(&server, &format!("/activations/{activation}/verify"), json!({"code": sms_code})).await;
    assert_eq!((status, &verified["next"]), (200, &json!("create_password")));

    // The emailed link creates the password.
    let (mails, _) = delivered(&server, db).await;
    let link = reset_link(mails.last().unwrap(), &server.base);
    let pages = PageClient::new(&server.base);
    let (_, _, page) = pages.open(&link).await.page();
    pages.submit(&page, "", &[("new_password", PASSWORD), ("confirm_password", PASSWORD)]).await;
    assert_eq!(state_of(), "password_set");

    // The app signs in on the hosted pages: password, authenticator enrolment, terms.
    let tokens = app_first_sign_in(&server, &pages, "john@example.com").await;

    // The device key: registering it completes the invitation.
    let phone = Phone::new();
    let body = json!({"public_key": phone.jwk(), "name": "John's phone", "platform": "android"});
    let bearer = tokens["access_token"].as_str().unwrap();
    let (status, registered) = api(&server, "POST", "/devices", Some(bearer), Some(CURRENT), Some(body)).await;
    assert_eq!(status, 201, "{registered}");
    assert_eq!(state_of(), "completed");
    let (status, again) =
        app_post(&server, "/activations", json!({"sign_up_code": sign_up_code(&server, db).await})).await;
    assert_eq!((status, again["error"].as_str()), (400, Some("invitation_expired")), "a used code: {again}");

    // From now on the app signs in with the key.
    let device_id = registered["device_id"].as_str().unwrap();
    let now = state.clock.now();
    let claims = json!({
        "iss": device_id, "sub": invited.invitee.as_str(), "aud": format!("{}/token", server.base),
        "iat": now, "exp": now + 60, "jti": "first", "amr": ["fpt"],
    });
    let assertion = phone.sign(device_id, &claims);
    let (status, answer): (u16, Value) = jwt_bearer(&server, &assertion, "openid").await;
    assert_eq!(status, 200, "{answer}");
    let id_token = answer["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (claims["sub"].as_str(), &claims["amr"]),
        (Some(invited.invitee.as_str()), &json!(["hwk", "fpt", "mfa"]))
    );
    // An assertion is used once.
    let (status, replayed) = jwt_bearer(&server, &assertion, "openid").await;
    assert_eq!((status, replayed["error"].as_str()), (400, Some("invalid_grant")));
    server.stop().await;
}
