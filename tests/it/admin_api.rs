//! The admin JSON API, `/api/admin/v1`, driven as a first-party
//! administration client would: a person signs in on the hosted pages with
//! `openid admin`, and the client calls the API with the access token.
//! Reach (404, recorded), roles (403, recorded), users, rights, the identity
//! code, invitations with the administrator's code, announcements on the
//! sign-in pages, and the OpenAPI document.

use diesel::prelude::*;
use openidconnect::OAuth2TokenResponse;
use portti::domain::access::CompanyRole;
use portti::domain::company::add_company;
use portti::domain::ids::CompanyId;
use portti::store::schema::{audit_events, clients, companies, invitations, users};
use serde_json::{Value, json};

use crate::oidc::payload;
use crate::support::fixtures::{Rp, authorization_request, confidential_client, exchange, http, member, relying_party};
use crate::support::messages::delivered;
use crate::support::pages::PageClient;
use crate::support::sign_in::first_sign_in;
use crate::support::{TestDb, TestServer, now, served_on_both_backends};

served_on_both_backends!(
    reach_roles_and_tokens_are_checked_on_every_request,
    an_administrator_manages_the_users_of_their_company,
    invitations_and_the_administrators_code,
    support_posts_announcements_that_the_sign_in_pages_show,
    support_adds_companies_and_registers_applications,
);

/// The first-party administration client.
pub async fn console(server: &TestServer) -> Rp {
    let secret = confidential_client(&server.state, "console", true, "RS256", &[]);
    relying_party(server, "console", Some(&secret)).await
}

/// Signs `email` in to the console with `openid admin`; the access token.
pub async fn admin_token(server: &TestServer, rp: &Rp, email: &str) -> String {
    let pages = PageClient::new(&server.base);
    let request = authorization_request(rp, &["admin"]);
    let (callback, _, _) = first_sign_in(&pages, &request.url, email).await;
    let tokens = exchange(rp, &callback, &request).await;
    tokens.access_token().secret().clone()
}

/// One call of the API: its status and JSON body (`null` when empty).
pub async fn call(server: &TestServer, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/api/admin/v1{path}", server.base);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// A company's audit actions with their detail's `reason`, oldest first.
fn refusals_in(db: &TestDb, company: &CompanyId) -> Vec<(String, Option<String>)> {
    audit_events::table
        .filter(audit_events::company_id.eq(company.as_str()))
        .filter(audit_events::action.eq("admin_refused"))
        .order((audit_events::at, audit_events::id))
        .select((audit_events::action, audit_events::detail))
        .load::<(String, Option<String>)>(&mut db.connection())
        .unwrap()
        .into_iter()
        .map(|(action, detail)| {
            let reason = detail
                .and_then(|d| serde_json::from_str::<Value>(&d).ok())
                .and_then(|d| d["reason"].as_str().map(str::to_owned));
            (action, reason)
        })
        .collect()
}

async fn reach_roles_and_tokens_are_checked_on_every_request(db: &TestDb) {
    let server = db.serve("");
    let state = &server.state;
    let office = add_company(&state.store, 1, "Tilitoimisto Oy", None).unwrap();
    let client = add_company(&state.store, 1, "Asiakas Oy", Some(&office.id)).unwrap();
    let other = add_company(&state.store, 1, "Muu Oy", None).unwrap();
    let kh = member(state, "kh@example.com", &client.id, vec![CompanyRole::UserAdmin], false);
    member(state, "tpk@example.com", &office.id, vec![CompanyRole::OfficeAdmin], false);
    member(state, "service@example.com", &other.id, vec![], true);
    member(state, "employee@example.com", &client.id, vec![], false);
    let stranger = member(state, "stranger@example.com", &other.id, vec![], false);
    let rp = console(&server).await;
    let kh_token = admin_token(&server, &rp, "kh@example.com").await;
    let tpk_token = admin_token(&server, &rp, "tpk@example.com").await;
    let support_token = admin_token(&server, &rp, "service@example.com").await;
    assert!(payload(&kh_token)["scope"].as_str().unwrap().split(' ').any(|s| s == "admin"), "a role holder gets admin");

    // Each role against a company it does not administer: not found, and recorded there.
    for token in [&kh_token, &tpk_token] {
        let (status, body) = call(&server, token, "GET", &format!("/companies/{}/users", other.id), None).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{body}");
        let (status, _) = call(&server, token, "GET", &format!("/users/{stranger}"), None).await;
        assert_eq!(status, 404, "a user of another company is not found either");
    }
    let reasons = refusals_in(db, &other.id);
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons.iter().all(|(_, reason)| reason.as_deref() == Some("not_found")));
    // Support administers every company; an absent one is not found alike.
    let absent = CompanyId::generate();
    let (status, body) = call(&server, &support_token, "GET", &format!("/companies/{absent}/users"), None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, body) = call(&server, &support_token, "GET", "/companies", None).await;
    assert_eq!((status, body.as_array().unwrap().len()), (200, 3), "support: all companies");
    // The office's main user administers the office and its client.
    let (_, body) = call(&server, &tpk_token, "GET", "/companies", None).await;
    let names: Vec<&str> = body.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Asiakas Oy", "Tilitoimisto Oy"]);
    assert_eq!(body[0]["office_id"], json!(office.id.as_str()));
    let (status, _) = call(&server, &tpk_token, "GET", &format!("/companies/{}/users", client.id), None).await;
    assert_eq!(status, 200);

    // A forbidden action within reach: a user administrator granting office_admin.
    let (_, listed) =
        call(&server, &kh_token, "GET", &format!("/companies/{}/users?q=employee", client.id), None).await;
    let employee = listed[0]["id"].as_str().unwrap().to_owned();
    let grant = json!({"company_id": client.id.as_str(), "rights": ["ledger"], "roles": ["office_admin"]});
    let (status, body) = call(&server, &kh_token, "PUT", &format!("/users/{employee}/rights"), Some(grant)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "{body}");
    assert_eq!(refusals_in(db, &client.id), [("admin_refused".to_owned(), Some("forbidden".to_owned()))]);
    // …and office_admin is an office's role, not a client company's, even for its main user.
    let grant = json!({"company_id": client.id.as_str(), "rights": [], "roles": ["office_admin"]});
    let (status, body) = call(&server, &tpk_token, "PUT", &format!("/users/{employee}/rights"), Some(grant)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_role")), "{body}");

    // A role removed ends access on the next request: here the administrator's own last one.
    let own = json!({"company_id": client.id.as_str(), "rights": ["ledger"], "roles": []});
    let (status, body) = call(&server, &kh_token, "PUT", &format!("/users/{kh}/rights"), Some(own)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&server, &kh_token, "GET", "/companies", None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "{body}");

    // A person without a role asking for admin gets a token without it, which the API refuses.
    let plain = admin_token(&server, &rp, "employee@example.com").await;
    let claims = payload(&plain);
    let scopes: Vec<&str> = claims["scope"].as_str().unwrap().split(' ').collect();
    assert!(!scopes.contains(&"admin"), "{scopes:?}");
    assert!(scopes.contains(&"openid"));
    let (status, body) = call(&server, &plain, "GET", "/companies", None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")), "{body}");
    let (status, _) = call(&server, "not-a-token", "GET", "/companies", None).await;
    assert_eq!(status, 401);
    let (status, _) = call(&server, "not-a-token", "GET", "/users/not-an-id", None).await;
    assert_eq!(status, 401, "the token is checked before anything in the path");
    let (status, body) = call(&server, &tpk_token, "GET", "/users/not-an-id", None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    // The OpenAPI document, for any client.
    let document: Value =
        http().get(format!("{}/api/admin/v1/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    assert_eq!(document["info"]["title"], "Portti admin API");
    assert!(document["components"]["securitySchemes"]["bearer"].is_object(), "the Bearer scheme is documented");
    for path in [
        "/companies",
        "/companies/{company_id}/users",
        "/companies/{company_id}/audit",
        "/users/{user_id}",
        "/users/{user_id}/communication",
        "/users/{user_id}/rights",
        "/users/{user_id}/national-id",
        "/users/{user_id}/invitations",
        "/invitations/{id}",
        "/invitations/{id}/verification-code",
        "/announcements",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} is documented");
    }
    server.stop().await;
}

async fn an_administrator_manages_the_users_of_their_company(db: &TestDb) {
    let server = db.serve("");
    let state = &server.state;
    let company = add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    member(state, "kh@example.com", &company.id, vec![CompanyRole::UserAdmin], false);
    let rp = console(&server).await;
    let token = admin_token(&server, &rp, "kh@example.com").await;
    let users_path = format!("/companies/{}/users", company.id);

    // A bad phone is refused with the form expected.
    let bad = json!({"name": "John Smith", "email": "john@example.com", "phone": "040-123 4567", "rights": ["ledger"]});
    let (status, body) = call(&server, &token, "POST", &users_path, Some(bad)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_phone")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("+358401234567"), "{body}");

    let john =
        json!({"name": "John Smith", "email": "John@Example.com", "phone": "+46701234567", "rights": ["ledger"]});
    let (status, added) = call(&server, &token, "POST", &users_path, Some(john)).await;
    assert_eq!(status, 201, "{added}");
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["email"], "john@example.com");
    assert_eq!(added["communication"], json!({"email": "john@example.com", "phone": "+46701234567"}));
    assert_eq!((added["rights"].clone(), added["roles"].clone()), (json!(["ledger"]), json!([])));

    // List and search.
    let (status, all) = call(&server, &token, "GET", &users_path, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = all.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["John Smith", "kh"]);
    assert_eq!(all[0]["invitation"], Value::Null);
    assert_eq!(all[1]["roles"], json!(["user_admin"]));
    for q in ["smith", "JOHN@", "example.com"] {
        let (_, found) = call(&server, &token, "GET", &format!("{users_path}?q={q}"), None).await;
        let found: Vec<&str> = found.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert!(found.contains(&id.as_str()), "{q}");
    }
    let (_, none) = call(&server, &token, "GET", &format!("{users_path}?q=nobody"), None).await;
    assert_eq!(none, json!([]));

    // Basic information changes; the communication email follows while the person has set none.
    let change = json!({"name": "John Q. Smith", "email": "jqs@example.com", "phone": "+46709999999"});
    let (status, changed) = call(&server, &token, "PATCH", &format!("/users/{id}"), Some(change)).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!((changed["name"].as_str(), changed["phone"].as_str()), (Some("John Q. Smith"), Some("+46709999999")));
    assert_eq!(changed["communication"], json!({"email": "jqs@example.com", "phone": "+46701234567"}));
    let (status, body) =
        call(&server, &token, "PATCH", &format!("/users/{id}"), Some(json!({"email": "kh@example.com"}))).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("email_taken")), "another user's email");

    // The communication phone is the administrator's to set.
    let phone = json!({"phone": "+358401234567"});
    let (status, body) = call(&server, &token, "PUT", &format!("/users/{id}/communication"), Some(phone)).await;
    assert_eq!((status, body["communication"]["phone"].as_str()), (200, Some("+358401234567")), "{body}");
    let (status, body) =
        call(&server, &token, "PUT", &format!("/users/{id}/communication"), Some(json!({"phone": "0401.234"}))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_phone")));

    // Rights and the user administrator's own role.
    let rights = json!({"company_id": company.id.as_str(), "rights": ["payroll", "ledger"], "roles": ["user_admin"]});
    let (status, body) = call(&server, &token, "PUT", &format!("/users/{id}/rights"), Some(rights)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["rights"].clone(), body["roles"].clone()), (json!(["ledger", "payroll"]), json!(["user_admin"])));
    let (_, read) = call(&server, &token, "GET", &format!("/users/{id}"), None).await;
    assert_eq!(read["rights"], json!(["ledger", "payroll"]));

    // The personal identity code: stored only as its keyed hash.
    let (status, body) =
        call(&server, &token, "PUT", &format!("/users/{id}/national-id"), Some(json!({"national_id": "131052-308X"})))
            .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_national_id")), "{body}");
    let (status, _) =
        call(&server, &token, "PUT", &format!("/users/{id}/national-id"), Some(json!({"national_id": "131052-308t"})))
            .await;
    assert_eq!(status, 204);
    let stored: Option<String> =
        users::table.find(&id).select(users::national_id_digest).get_result(&mut db.connection()).unwrap();
    let stored = stored.expect("linked");
    assert!(!stored.to_uppercase().contains("131052"), "no plain code in the row");
    assert_eq!(stored, state.keys.national_id_digest("131052-308T").unwrap());
    let kh = users::table
        .filter(users::email.eq("kh@example.com"))
        .select(users::id)
        .get_result::<String>(&mut db.connection())
        .unwrap();
    let (status, body) =
        call(&server, &token, "PUT", &format!("/users/{kh}/national-id"), Some(json!({"national_id": "131052-308T"})))
            .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("national_id_taken")), "{body}");

    // All of it is in the company's log, newest first, with who did it and
    // from where; the refused code too, so that probing for codes shows.
    let (status, log) = call(&server, &token, "GET", &format!("/companies/{}/audit?limit=4", company.id), None).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["admin_refused", "national_id_set", "rights_changed", "communication_phone_set"]);
    assert_eq!((log[1]["actor"].as_str(), log[1]["target"].as_str()), (Some(kh.as_str()), Some(id.as_str())));
    assert_eq!(log[1]["ip"], "127.0.0.1");
    let before = log[3]["id"].as_str().unwrap();
    let (_, older) =
        call(&server, &token, "GET", &format!("/companies/{}/audit?before={before}&limit=3", company.id), None).await;
    let actions: Vec<&str> = older.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user_updated", "user_added"]);
    server.stop().await;
}

/// Moves an invitation on to `code_entered` in the database, standing in
/// for the invitee where the test is about the administrator's side only
/// (the activation itself: tests/it/activation.rs).
fn sign_up_code_entered(db: &TestDb, invitation: &str) {
    diesel::update(invitations::table.find(invitation))
        .set((invitations::state.eq("code_entered"), invitations::code_entered_at.eq(now())))
        .execute(&mut db.connection())
        .unwrap();
}

async fn invitations_and_the_administrators_code(db: &TestDb) {
    let server = db.serve(crate::activation::APP_TOML);
    let state = &server.state;
    let company = add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    let elsewhere = add_company(&state.store, 1, "Muu Oy", None).unwrap();
    member(state, "kh@example.com", &company.id, vec![CompanyRole::UserAdmin], false);
    member(state, "service@example.com", &elsewhere.id, vec![], true);
    let invitee = member(state, "john@example.com", &company.id, vec![], false);
    let rp = console(&server).await;
    let token = admin_token(&server, &rp, "kh@example.com").await;
    let support = admin_token(&server, &rp, "service@example.com").await;
    let invite_path = format!("/users/{invitee}/invitations");
    let (mails_before, _) = delivered(&server, db).await;

    let (status, body) =
        call(&server, &token, "POST", &invite_path, Some(json!({"company_id": company.id.as_str()}))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("identity_not_verified")), "{body}");
    let ask = json!({"company_id": company.id.as_str(), "identity_verified": true});
    let (status, sent) = call(&server, &token, "POST", &invite_path, Some(ask.clone())).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["state"], "sent");
    let id = sent["id"].as_str().unwrap().to_owned();
    let (mails, _) = delivered(&server, db).await;
    assert_eq!(mails.len(), mails_before.len() + 1);
    let mail = mails.iter().find(|m| m.contains("Your invitation to Asiakas Oy")).expect("the invitation email");
    assert!(mail.contains("john@example.com"), "{mail}");

    let (status, read) = call(&server, &token, "GET", &format!("/invitations/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(read["user_id"], json!(invitee.as_str()));
    assert_eq!(read["company_id"], json!(company.id.as_str()));
    assert_eq!((read["state"].as_str(), read["resends_left"].as_i64()), (Some("sent"), Some(2)));
    assert_eq!(
        (read["expires_at"].clone(), read["code_entered_at"].clone()),
        (sent["expires_at"].clone(), Value::Null)
    );
    let (_, listed) = call(&server, &token, "GET", &format!("/companies/{}/users?q=john", company.id), None).await;
    assert_eq!(listed[0]["invitation"], json!({"id": id, "state": "sent"}));

    // The administrator's code only once the sign-up code was entered.
    let code_path = format!("/invitations/{id}/verification-code");
    let (status, body) = call(&server, &token, "POST", &code_path, None).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("code_not_entered")), "{body}");
    // The invitee enters the sign-up code in the app.
    let sign_up_code = crate::activation::sign_up_code(&server, db).await;
    let (status, started) =
        crate::activation::app_post(&server, "/activations", json!({"sign_up_code": sign_up_code})).await;
    assert_eq!(status, 201, "{started}");
    let (status, code) = call(&server, &token, "POST", &code_path, None).await;
    assert_eq!(status, 201, "{code}");
    let digits = code["code"].as_str().unwrap();
    assert!(digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()), "{digits}");
    let (stored, expires_at): (Option<String>, i64) = invitations::table
        .find(&id)
        .select((invitations::admin_code_digest, invitations::expires_at))
        .get_result(&mut db.connection())
        .unwrap();
    assert_ne!(stored.as_deref(), Some(digits), "only a keyed hash is stored");
    assert!(expires_at >= now() + 12 * 3600 - 5, "the invitation lasts at least 12 hours more");
    let (_, read) = call(&server, &token, "GET", &format!("/invitations/{id}"), None).await;
    assert_eq!((read["state"].as_str(), read["resends_left"].as_i64()), (Some("code_entered"), Some(2)));
    assert!(read["code_entered_at"].is_string());
    let (_, again) = call(&server, &token, "POST", &code_path, None).await;
    let (replaced, _): (Option<String>, i64) = invitations::table
        .find(&id)
        .select((invitations::admin_code_digest, invitations::expires_at))
        .get_result(&mut db.connection())
        .unwrap();
    assert_ne!(replaced, stored, "a new code replaces the previous one: {again}");
    // The invitee types the administrator's code in the app: only the newest works.
    let verify = format!("/activations/{}/verify", started["activation_id"].as_str().unwrap());
    let newest = again["code"].as_str().unwrap();
    if newest != digits {
        let (status, _) = crate::activation::app_post(&server, &verify, json!({"code": digits})).await;
        assert_eq!(status, 400, "the replaced code");
    }
    let (status, verified) = crate::activation::app_post(&server, &verify, json!({"code": newest})).await;
    assert_eq!((status, &verified["next"]), (200, &json!("sign_in")), "{verified}");
    let (_, read) = call(&server, &token, "GET", &format!("/invitations/{id}"), None).await;
    assert_eq!(read["state"], "verified");

    // After a contact change only support re-invites; the re-invite replaces the live one.
    let phone = json!({"phone": "+46709999999"});
    let (status, _) = call(&server, &token, "PUT", &format!("/users/{invitee}/communication"), Some(phone)).await;
    assert_eq!(status, 200);
    let (status, body) = call(&server, &token, "POST", &invite_path, Some(ask.clone())).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("support_must_reinvite")), "{body}");
    let (status, resent) = call(&server, &support, "POST", &invite_path, Some(ask.clone())).await;
    assert_eq!(status, 201, "{resent}");
    let new_id = resent["id"].as_str().unwrap().to_owned();
    let (_, read) = call(&server, &token, "GET", &format!("/invitations/{id}"), None).await;
    assert_eq!(read["state"], "replaced");
    let (status, body) = call(&server, &token, "POST", &code_path, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invitation_replaced")));

    // Cancelled at once; cancelled stays cancelled, and gets no code.
    let (status, body) = call(&server, &token, "DELETE", &format!("/invitations/{new_id}"), None).await;
    assert_eq!((status, body), (204, Value::Null));
    let (_, read) = call(&server, &token, "GET", &format!("/invitations/{new_id}"), None).await;
    assert_eq!(read["state"], "cancelled");
    let (status, body) = call(&server, &token, "POST", &format!("/invitations/{new_id}/verification-code"), None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invitation_cancelled")));

    // A live invitation past its time reads expired, and gets no code.
    let (_, last) = call(&server, &support, "POST", &invite_path, Some(ask)).await;
    let last = last["id"].as_str().unwrap().to_owned();
    sign_up_code_entered(db, &last);
    diesel::update(invitations::table.find(&last))
        .set(invitations::expires_at.eq(now() - 1))
        .execute(&mut db.connection())
        .unwrap();
    let (_, read) = call(&server, &token, "GET", &format!("/invitations/{last}"), None).await;
    assert_eq!(read["state"], "expired");
    let (status, body) = call(&server, &token, "POST", &format!("/invitations/{last}/verification-code"), None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invitation_expired")));

    // Another company's administrator does not find the invitation; that is recorded.
    let outsider_company = add_company(&state.store, 1, "Kolmas Oy", None).unwrap();
    member(state, "kh3@example.com", &outsider_company.id, vec![CompanyRole::UserAdmin], false);
    let outsider = admin_token(&server, &rp, "kh3@example.com").await;
    let (status, body) = call(&server, &outsider, "GET", &format!("/invitations/{last}"), None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let refused = |reason: &str| ("admin_refused".to_owned(), Some(reason.to_owned()));
    assert_eq!(
        refusals_in(db, &company.id),
        [refused("support_must_reinvite"), refused("not_found")],
        "the re-invite to changed contacts, then the outsider"
    );
    server.stop().await;
}

async fn support_posts_announcements_that_the_sign_in_pages_show(db: &TestDb) {
    let server = db.serve("");
    let state = &server.state;
    let company = add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    member(state, "kh@example.com", &company.id, vec![CompanyRole::UserAdmin], false);
    member(state, "service@example.com", &company.id, vec![], true);
    let rp = console(&server).await;
    let kh = admin_token(&server, &rp, "kh@example.com").await;
    let support = admin_token(&server, &rp, "service@example.com").await;
    let at = |offset: i64| portti::domain::audit::rfc3339(now() + offset);
    let text = "Bank ID sign-in is disrupted until 18:00.";

    let notice = json!({"text": text, "starts_at": at(-60), "ends_at": at(3600)});
    let (status, body) = call(&server, &kh, "POST", "/announcements", Some(notice.clone())).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "support only");
    for bad in [
        json!({"text": "", "starts_at": at(0), "ends_at": at(60)}),
        json!({"text": "x".repeat(1001), "starts_at": at(0), "ends_at": at(60)}),
        json!({"text": "x", "starts_at": at(60), "ends_at": at(0)}),
    ] {
        let (status, body) = call(&server, &support, "POST", "/announcements", Some(bad)).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_announcement")), "{body}");
    }
    let (status, body) = call(
        &server,
        &support,
        "POST",
        "/announcements",
        Some(json!({"text": "x", "starts_at": "tomorrow", "ends_at": at(60)})),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    let (status, posted) = call(&server, &support, "POST", "/announcements", Some(notice)).await;
    assert_eq!(status, 201, "{posted}");
    let later = json!({"text": "Maintenance on Sunday.", "starts_at": at(86_400), "ends_at": at(90_000)});
    let (status, _) = call(&server, &support, "POST", "/announcements", Some(later)).await;
    assert_eq!(status, 201);
    let (status, listed) = call(&server, &kh, "GET", "/announcements", None).await;
    assert_eq!(status, 200);
    let texts: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["text"].as_str().unwrap()).collect();
    assert_eq!(texts, [text, "Maintenance on Sunday."], "the current one, then the future one");

    // The sign-in page shows the one in force now.
    let pages = PageClient::new(&server.base);
    let (_, _, page) = pages.open(&authorization_request(&rp, &[]).url).await.page();
    assert!(page.contains(r#"<div id="announcement" role="status""#), "{page}");
    assert!(page.contains(text));
    assert!(!page.contains("Maintenance on Sunday."));
    // Once it has ended, it is gone.
    server.state.clock.advance(3600);
    let (_, _, page) = pages.open(&authorization_request(&rp, &[]).url).await.page();
    assert!(!page.contains("id=\"announcement\""), "{page}");
    server.stop().await;
}

async fn support_adds_companies_and_registers_applications(db: &TestDb) {
    let server = db.serve("");
    let state = &server.state;
    let office = add_company(&state.store, 1, "Tilitoimisto Oy", None).unwrap();
    member(state, "tpk@example.com", &office.id, vec![CompanyRole::OfficeAdmin], false);
    let service = member(state, "service@example.com", &office.id, vec![], true);
    let rp = console(&server).await;
    let tpk = admin_token(&server, &rp, "tpk@example.com").await;
    let support = admin_token(&server, &rp, "service@example.com").await;
    let companies = || companies::table.count().get_result::<i64>(&mut db.connection()).unwrap();
    let clients = || clients::table.count().get_result::<i64>(&mut db.connection()).unwrap();
    let before = (companies(), clients());

    // Only customer service; an office's main user is refused, and nothing is added.
    let client_of_office = json!({"name": "Asiakas Oy", "office_id": office.id.as_str()});
    let (status, body) = call(&server, &tpk, "POST", "/companies", Some(client_of_office.clone())).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "{body}");
    let crm = json!({"client_id": "crm", "redirect_uris": ["https://crm.example/callback"]});
    let (status, body) = call(&server, &tpk, "POST", "/clients", Some(crm.clone())).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "{body}");
    assert_eq!((companies(), clients()), before);

    let (status, added) = call(&server, &support, "POST", "/companies", Some(client_of_office)).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!((added["name"].as_str(), added["office_id"].as_str()), (Some("Asiakas Oy"), Some(office.id.as_str())));
    // The office's main user reaches the new client company at once.
    let (_, listed) = call(&server, &tpk, "GET", "/companies", None).await;
    assert!(listed.as_array().unwrap().iter().any(|c| c["id"] == added["id"]), "{listed}");
    // An office's client cannot have clients; an unknown office is not found.
    let nested = json!({"name": "Ali Oy", "office_id": added["id"]});
    let (status, body) = call(&server, &support, "POST", "/companies", Some(nested)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_office")), "{body}");
    let unknown = json!({"name": "Ali Oy", "office_id": uuid::Uuid::now_v7().to_string()});
    let (status, body) = call(&server, &support, "POST", "/companies", Some(unknown)).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{body}");
    let (status, body) = call(&server, &support, "POST", "/companies", Some(json!({"name": " "}))).await;
    assert_eq!(status, 400, "{body}");

    // An application: the secret once, only its digest stored.
    let (status, registered) = call(&server, &support, "POST", "/clients", Some(crm.clone())).await;
    assert_eq!(status, 201, "{registered}");
    assert_eq!(registered["grants"], json!(["authorization_code", "refresh_token"]));
    let secret = registered["client_secret"].as_str().expect("a generated secret").to_owned();
    let digest: Option<String> =
        clients::table.find("crm").select(clients::secret_digest).get_result(&mut db.connection()).unwrap();
    assert!(digest.is_some_and(|d| d != secret));
    let (status, body) = call(&server, &support, "POST", "/clients", Some(crm)).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")), "{body}");
    let public = json!({"client_id": "spa", "redirect_uris": ["http://127.0.0.1:5173/cb"], "public": true});
    let (status, registered) = call(&server, &support, "POST", "/clients", Some(public)).await;
    assert_eq!((status, registered.get("client_secret")), (201, None), "{registered}");
    let bad = json!({"client_id": "web", "redirect_uris": ["http://web.example/cb"]});
    let (status, body) = call(&server, &support, "POST", "/clients", Some(bad)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");

    // The audit trail names who did it.
    let actions: Vec<String> = audit_events::table
        .filter(audit_events::action.eq_any(["company_added", "client_registered"]))
        .select(audit_events::action)
        .load(&mut db.connection())
        .unwrap();
    assert_eq!(actions.len(), 3, "{actions:?}");
    // An application belongs to no company: it is found under who registered it.
    let registered_by: Vec<Option<String>> = audit_events::table
        .filter(audit_events::action.eq("client_registered"))
        .select(audit_events::user_id)
        .load(&mut db.connection())
        .unwrap();
    assert_eq!(registered_by, vec![Some(service.as_str().to_owned()); 2]);
    server.stop().await;
}
