//! The protocol's refusals, as a client or an attacker meets them: a code
//! or refresh token presented by a client it was not issued to, a
//! `redirect_uri` other than the authorization request's, PKCE left out or
//! added after the fact (RFC 9700 §2.1.1), two client authentications at
//! once, a public client sending a secret, introspecting another client's
//! token, and account forms posted without their anti-forgery token. Each
//! refusal is checked for what it must not have done as well: no token
//! issued, nothing spent or changed that the rightful owner still needs.

use std::collections::{BTreeMap, BTreeSet};

use openidconnect::PkceCodeChallenge;
use portti::domain::client::{ClientKind, NewClient, add_client};
use serde_json::{Value, json};

use crate::support::fixtures::{CALLBACK, NEW_PASSWORD, PASSWORD, confidential_client, http, person};
use crate::support::pages::{Landing, PageClient, query_param};
use crate::support::rows::column_values;
use crate::support::sign_in::{first_sign_in, first_sign_in_at};
use crate::support::{TestDb, TestServer, served_on_both_backends};

const EMAIL: &str = "maija@example.com";

served_on_both_backends!(
    a_code_is_redeemed_only_by_its_own_client,
    a_refresh_token_is_used_only_by_its_own_client,
    a_redirect_uri_other_than_the_requests_gets_no_tokens,
    pkce_can_be_neither_added_at_the_token_endpoint_nor_left_out,
    a_client_authenticates_one_way_at_a_time,
    a_public_client_sending_a_secret_is_refused,
    another_clients_token_introspects_as_inactive_and_is_not_revoked,
    every_account_form_refuses_a_missing_or_foreign_csrf_token,
);

/// A PKCE pair: the challenge for `/authorize`, the verifier for `/token`.
struct Pkce {
    challenge: String,
    verifier: String,
}

fn pkce() -> Pkce {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    Pkce { challenge: challenge.as_str().to_owned(), verifier: verifier.secret().to_owned() }
}

/// An authorization request of `client` for `openid offline_access`, back to
/// `redirect_uri`, with this PKCE challenge (S256) or none.
fn authorize_url(server: &TestServer, client: &str, redirect_uri: &str, challenge: Option<&str>) -> String {
    let mut url = url::Url::parse(&format!("{}/authorize", server.base)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid offline_access")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "st")
        .append_pair("nonce", "n");
    if let Some(challenge) = challenge {
        url.query_pairs_mut().append_pair("code_challenge", challenge).append_pair("code_challenge_method", "S256");
    }
    url.to_string()
}

/// The code the request `url` returns: the first request of a browser signs
/// in on the pages, later ones ride its session (first-party clients, so no
/// consent is asked).
async fn code_for(pages: &PageClient, url: &str, redirect_uri: &str) -> String {
    let callback = match pages.open(url).await {
        Landing::Left(callback) => callback,
        Landing::Page { .. } => first_sign_in(pages, url, EMAIL).await.0,
    };
    assert!(callback.starts_with(redirect_uri), "{callback}");
    query_param(&callback, "code").unwrap_or_else(|| panic!("no code in {callback}"))
}

/// A code of `client` back to [`CALLBACK`], asked for with a fresh PKCE
/// challenge, and its PKCE pair.
async fn code_with_pkce(server: &TestServer, pages: &PageClient, client: &str) -> (String, Pkce) {
    let pair = pkce();
    let code = code_for(pages, &authorize_url(server, client, CALLBACK, Some(&pair.challenge)), CALLBACK).await;
    (code, pair)
}

/// Registers a public client (`--public`) redirecting to [`CALLBACK`].
fn public_client(server: &TestServer, id: &str) {
    let new = NewClient::parse(id, ClientKind::Public, &[CALLBACK.to_owned()], &[], &[], true, None).unwrap();
    add_client(&server.state.store, 1, new).unwrap();
}

/// What an OAuth endpoint answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// The JSON body; `null` when there is none (a revocation).
    body: Value,
    www_authenticate: Option<String>,
}

impl Answer {
    /// Asserts an OAuth error answer that issued nothing.
    #[track_caller]
    fn refused(&self, status: u16, error: &str, why: &str) {
        assert_eq!((self.status, self.body["error"].as_str()), (status, Some(error)), "{why}: {self:?}");
        for token in ["access_token", "id_token", "refresh_token"] {
            assert!(self.body.get(token).is_none(), "{why}: no {token} in {self:?}");
        }
    }

    #[track_caller]
    fn issued(self, why: &str) -> Value {
        assert_eq!(self.status, 200, "{why}: {self:?}");
        assert!(self.body["access_token"].is_string(), "{why}: {self:?}");
        self.body
    }
}

/// POSTs a form to an OAuth endpoint (`/token`, `/introspect`, `/revoke`),
/// with HTTP Basic client authentication when `basic` is given.
async fn post(server: &TestServer, path: &str, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> Answer {
    let mut request = http().post(format!("{}{path}", server.base)).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let www_authenticate = response.headers().get("www-authenticate").map(|value| value.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
    Answer { status, body, www_authenticate }
}

/// The parameters of redeeming `code` (client authentication not included).
fn redeem<'a>(code: &'a str, redirect_uri: &'a str, verifier: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)];
    form.extend(verifier.map(|verifier| ("code_verifier", verifier)));
    form
}

/// Every refresh token stored: none is issued by a refused request.
fn refresh_tokens(db: &TestDb) -> Vec<String> {
    column_values(db, "refresh_tokens", "token_digest")
}

/// RFC 6749 §4.1.3: the server must ensure the code was issued to the
/// authenticated client. A code presented by another client, confidential or
/// public, or by someone who names its client without the secret, issues
/// nothing. Portti refuses such a request before it touches the code: the
/// code is not spent and its grant not revoked, so its own client still
/// redeems it (spending it would let anyone who saw a code cancel the
/// sign-in it belongs to).
async fn a_code_is_redeemed_only_by_its_own_client(db: &TestDb) {
    let server = db.serve("");
    person(&server.state, EMAIL);
    let ledger = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let payroll = confidential_client(&server.state, "payroll", true, "RS256", &[]);
    public_client(&server, "mobile");
    let pages = PageClient::new(&server.base);
    let (code, pair) = code_with_pkce(&server, &pages, "ledger").await;
    let form = redeem(&code, CALLBACK, Some(&pair.verifier));

    post(&server, "/token", Some(("payroll", &payroll)), &form).await.refused(
        400,
        "invalid_grant",
        "another confidential client",
    );
    let mut as_mobile = form.clone();
    as_mobile.push(("client_id", "mobile"));
    post(&server, "/token", None, &as_mobile).await.refused(400, "invalid_grant", "a public client");
    let mut unauthenticated = form.clone();
    unauthenticated.push(("client_id", "ledger"));
    post(&server, "/token", None, &unauthenticated).await.refused(401, "invalid_client", "the client without a secret");
    post(&server, "/token", Some(("ledger", "not the secret")), &form).await.refused(
        401,
        "invalid_client",
        "the client with a wrong secret",
    );
    assert!(refresh_tokens(db).is_empty(), "no refused request stored a refresh token");

    let body = post(&server, "/token", Some(("ledger", &ledger)), &form).await.issued("its own client, afterwards");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(crate::oidc::payload(access)["client_id"], "ledger");
    assert_eq!(crate::oidc::payload(body["id_token"].as_str().unwrap())["aud"], json!("ledger"));

    // Presented again by another client, the spent code is refused as
    // another client's, not as a replay: that would revoke its own client's tokens.
    post(&server, "/token", Some(("payroll", &payroll)), &form).await.refused(
        400,
        "invalid_grant",
        "the spent code, by another client",
    );
    let introspection = post(&server, "/introspect", Some(("ledger", &ledger)), &[("token", access)]).await;
    assert_eq!(introspection.body["active"], true, "{introspection:?}");
    server.stop().await;
}

/// RFC 6749 §6: the server must check that a refresh token was issued to the
/// authenticated client. Another client's refresh issues nothing; the
/// refusal rolls back whatever its transaction did, so the token is neither
/// spent (a rotation) nor counted as a replay (which would revoke its
/// family), and its own client refreshes with it afterwards.
async fn a_refresh_token_is_used_only_by_its_own_client(db: &TestDb) {
    let server = db.serve("");
    person(&server.state, EMAIL);
    let ledger = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let payroll = confidential_client(&server.state, "payroll", true, "ES256", &[]);
    public_client(&server, "mobile");
    let pages = PageClient::new(&server.base);
    let (code, pair) = code_with_pkce(&server, &pages, "ledger").await;
    let tokens = post(&server, "/token", Some(("ledger", &ledger)), &redeem(&code, CALLBACK, Some(&pair.verifier)))
        .await
        .issued("the code");
    let refresh = tokens["refresh_token"].as_str().expect("offline_access gives a refresh token");
    let stored = refresh_tokens(db);

    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    post(&server, "/token", Some(("payroll", &payroll)), &form).await.refused(
        400,
        "invalid_grant",
        "another confidential client",
    );
    post(&server, "/token", None, &[form[0], form[1], ("client_id", "mobile")]).await.refused(
        400,
        "invalid_grant",
        "a public client",
    );
    assert_eq!(refresh_tokens(db), stored, "nothing rotated, nothing new");

    let body = post(&server, "/token", Some(("ledger", &ledger)), &form).await.issued("its own client, afterwards");
    let rotated = body["refresh_token"].as_str().expect("a new refresh token");
    assert_ne!(rotated, refresh);
    assert_eq!(crate::oidc::payload(body["access_token"].as_str().unwrap())["client_id"], "ledger");

    // The spent token presented by another client is not a replay either:
    // the family is not revoked, and the rotated token goes on.
    post(&server, "/token", Some(("payroll", &payroll)), &form).await.refused(
        400,
        "invalid_grant",
        "the spent token, by another client",
    );
    post(&server, "/token", Some(("ledger", &ledger)), &[form[0], ("refresh_token", rotated)])
        .await
        .issued("the rotated token, after another client presented the spent one");
    server.stop().await;
}

/// RFC 6749 §4.1.3: `redirect_uri` at the token endpoint must be identical
/// to the authorization request's (RFC 9700 §4.1.3: exact string matching).
/// One missing is a malformed request, answered before the code is read, so
/// the code stays good. One that differs, even another of the client's own
/// registered addresses, issues nothing; Portti spends the code on that first
/// attempt (a code is tried once), so even the right `redirect_uri` after it
/// gets nothing.
async fn a_redirect_uri_other_than_the_requests_gets_no_tokens(db: &TestDb) {
    let server = db.serve("");
    person(&server.state, EMAIL);
    let other = "https://rp.example/other";
    let new = NewClient::parse(
        "ledger",
        ClientKind::Confidential { secret: None },
        &[CALLBACK.to_owned(), other.to_owned()],
        &[],
        &[],
        true,
        None,
    )
    .unwrap();
    let secret = add_client(&server.state.store, 1, new).unwrap().client_secret.unwrap();
    let ledger = Some(("ledger", secret.as_str()));
    let pages = PageClient::new(&server.base);

    let (first, pair) = code_with_pkce(&server, &pages, "ledger").await;
    let without =
        [("grant_type", "authorization_code"), ("code", first.as_str()), ("code_verifier", pair.verifier.as_str())];
    let answer = post(&server, "/token", ledger, &without).await;
    answer.refused(400, "invalid_request", "no redirect_uri");
    assert!(answer.body["error_description"].as_str().unwrap().contains("redirect_uri"), "{answer:?}");
    post(&server, "/token", ledger, &redeem(&first, CALLBACK, Some(&pair.verifier))).await.issued("then the right one");

    let wrong_ones =
        [other, "https://rp.example/callback/", "https://rp.example/callback?from=token", "https://rp.example"];
    for wrong in wrong_ones {
        let (code, pair) = code_with_pkce(&server, &pages, "ledger").await;
        let stored = refresh_tokens(db);
        post(&server, "/token", ledger, &redeem(&code, wrong, Some(&pair.verifier))).await.refused(
            400,
            "invalid_grant",
            wrong,
        );
        assert_eq!(refresh_tokens(db), stored, "{wrong}: no refresh token stored");
        post(&server, "/token", ledger, &redeem(&code, CALLBACK, Some(&pair.verifier))).await.refused(
            400,
            "invalid_grant",
            "the code was spent by the attempt with the wrong redirect_uri",
        );
    }

    // A code issued to the other registered address is redeemed with that one.
    let pair = pkce();
    let code = code_for(&pages, &authorize_url(&server, "ledger", other, Some(&pair.challenge)), other).await;
    post(&server, "/token", ledger, &redeem(&code, other, Some(&pair.verifier))).await.issued("its own address");
    server.stop().await;
}

/// RFC 9700 §2.1.1: a token request with a `code_verifier` is accepted only
/// if the authorization request had a `code_challenge` (a PKCE downgrade
/// would otherwise let an injected code through), and RFC 7636 §4.6: a code
/// issued with a challenge needs its verifier. A confidential client may
/// still leave PKCE out altogether. Either refusal spends the code in Portti
/// (a code is tried once): the request done right afterwards gets nothing.
async fn pkce_can_be_neither_added_at_the_token_endpoint_nor_left_out(db: &TestDb) {
    let server = db.serve("");
    person(&server.state, EMAIL);
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let ledger = Some(("ledger", secret.as_str()));
    public_client(&server, "mobile");
    let pages = PageClient::new(&server.base);
    let any_verifier = pkce().verifier;

    // Downgrade: no challenge at /authorize, a verifier at /token.
    let without_challenge = authorize_url(&server, "ledger", CALLBACK, None);
    let code = code_for(&pages, &without_challenge, CALLBACK).await;
    post(&server, "/token", ledger, &redeem(&code, CALLBACK, Some(&any_verifier))).await.refused(
        400,
        "invalid_grant",
        "a verifier for a code issued without a challenge",
    );
    post(&server, "/token", ledger, &redeem(&code, CALLBACK, None)).await.refused(
        400,
        "invalid_grant",
        "the downgraded attempt spent the code",
    );
    let code = code_for(&pages, &without_challenge, CALLBACK).await;
    post(&server, "/token", ledger, &redeem(&code, CALLBACK, None)).await.issued("no PKCE at all, confidential");

    // A challenge at /authorize, no verifier at /token: for either kind of client.
    for (client, auth) in [("ledger", ledger), ("mobile", None)] {
        let (code, pair) = code_with_pkce(&server, &pages, client).await;
        let mut form = redeem(&code, CALLBACK, None);
        form.extend(auth.is_none().then_some(("client_id", client)));
        post(&server, "/token", auth, &form).await.refused(400, "invalid_grant", &format!("{client}: no verifier"));
        let mut form = redeem(&code, CALLBACK, Some(&pair.verifier));
        form.extend(auth.is_none().then_some(("client_id", client)));
        post(&server, "/token", auth, &form).await.refused(
            400,
            "invalid_grant",
            &format!("{client}: the attempt without a verifier spent the code"),
        );
    }
    assert_eq!(refresh_tokens(db).len(), 1, "only the request without PKCE at all got a refresh token");
    server.stop().await;
}

/// RFC 6749 §2.3: a client must not use more than one authentication method
/// in a request. HTTP Basic together with `client_secret` in the body is a
/// malformed request (`invalid_request`) at the token, introspection and
/// revocation endpoints alike, whichever of the two secrets is right; it
/// does nothing, so the code and the refresh token stay good. `client_id` in
/// the body beside HTTP Basic only names the client (§3.2.1) and is accepted.
async fn a_client_authenticates_one_way_at_a_time(db: &TestDb) {
    let server = db.serve("");
    person(&server.state, EMAIL);
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let ledger = Some(("ledger", secret.as_str()));
    let pages = PageClient::new(&server.base);
    let (code, pair) = code_with_pkce(&server, &pages, "ledger").await;
    let form = redeem(&code, CALLBACK, Some(&pair.verifier));

    // (the secret in HTTP Basic, the one in the body)
    let pairs = [(secret.as_str(), secret.as_str()), (&secret, "not the secret"), ("not the secret", &secret)];
    for (basic_secret, body_secret) in pairs {
        let mut twice = form.clone();
        twice.extend([("client_id", "ledger"), ("client_secret", body_secret)]);
        let answer = post(&server, "/token", Some(("ledger", basic_secret)), &twice).await;
        answer.refused(400, "invalid_request", "Basic and client_secret");
    }
    let body = post(&server, "/token", ledger, &[form.as_slice(), &[("client_id", "ledger")]].concat())
        .await
        .issued("Basic alone (client_id naming the same client), afterwards");
    let refresh = body["refresh_token"].as_str().unwrap();

    for path in ["/introspect", "/revoke"] {
        for (basic_secret, body_secret) in pairs {
            let form = [("token", refresh), ("client_secret", body_secret)];
            let answer = post(&server, path, Some(("ledger", basic_secret)), &form).await;
            assert_eq!((answer.status, answer.body["error"].as_str()), (400, Some("invalid_request")), "{path}");
            assert!(answer.body.get("active").is_none(), "{path}: {answer:?}");
        }
    }
    let introspection = post(&server, "/introspect", ledger, &[("token", refresh)]).await;
    assert_eq!(introspection.body["active"], true, "the refused revocations revoked nothing: {introspection:?}");
    post(&server, "/token", ledger, &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await
        .issued("the refresh token is still good");
    server.stop().await;
}

/// RFC 6749 §2.1 and §3.2.1: a public client has no secret, so a secret it
/// sends cannot be checked and authenticates nothing; Portti refuses it with
/// `invalid_client` (401, with `WWW-Authenticate` when it came as HTTP Basic,
/// §5.2), at the token endpoint and at introspection (which a public client
/// may not use at all). The refusal comes before the code is read: the same
/// client without the secret redeems it afterwards.
async fn a_public_client_sending_a_secret_is_refused(db: &TestDb) {
    let server = db.serve("");
    person(&server.state, EMAIL);
    public_client(&server, "mobile");
    let pages = PageClient::new(&server.base);
    let (code, pair) = code_with_pkce(&server, &pages, "mobile").await;
    let mut form = redeem(&code, CALLBACK, Some(&pair.verifier));
    form.push(("client_id", "mobile"));

    let in_body =
        post(&server, "/token", None, &[form.as_slice(), &[("client_secret", "a made-up secret")]].concat()).await;
    in_body.refused(401, "invalid_client", "client_secret in the body");
    let basic = post(&server, "/token", Some(("mobile", "a made-up secret")), &form[..form.len() - 1]).await;
    basic.refused(401, "invalid_client", "a secret in HTTP Basic");
    assert!(basic.www_authenticate.as_deref().is_some_and(|value| value.starts_with("Basic")), "{basic:?}");

    let body = post(&server, "/token", None, &form).await.issued("without the secret, afterwards");
    let access = body["access_token"].as_str().unwrap();
    post(&server, "/introspect", None, &[("token", access), ("client_id", "mobile"), ("client_secret", "made up")])
        .await
        .refused(401, "invalid_client", "introspection with a secret");
    post(&server, "/introspect", None, &[("token", access), ("client_id", "mobile")]).await.refused(
        401,
        "invalid_client",
        "introspection without one: public clients may not introspect",
    );
    server.stop().await;
}

/// RFC 7662 §2.2 and §4: a token that the asking client may not see is
/// answered as inactive, with no other member, so that introspection
/// reveals nothing about other clients' tokens or their users. Revoking
/// another client's token (RFC 7009 §2.1) revokes nothing; Portti answers
/// it as it answers an unknown token, with 200.
async fn another_clients_token_introspects_as_inactive_and_is_not_revoked(db: &TestDb) {
    let server = db.serve("");
    person(&server.state, EMAIL);
    let ledger = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let payroll = confidential_client(&server.state, "payroll", true, "EdDSA", &[]);
    let pages = PageClient::new(&server.base);
    let (code, pair) = code_with_pkce(&server, &pages, "ledger").await;
    let tokens = post(&server, "/token", Some(("ledger", &ledger)), &redeem(&code, CALLBACK, Some(&pair.verifier)))
        .await
        .issued("the code");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    for (what, token, hint) in [("access token", access, "access_token"), ("refresh token", refresh, "refresh_token")] {
        let theirs = post(&server, "/introspect", Some(("payroll", &payroll)), &[("token", token)]).await;
        assert_eq!((theirs.status, &theirs.body), (200, &json!({"active": false})), "another client's {what}");
        let with_hint = [("token", token), ("token_type_hint", hint)];
        let hinted = post(&server, "/introspect", Some(("payroll", &payroll)), &with_hint).await;
        assert_eq!(hinted.body, json!({"active": false}), "another client's {what}, hinted");
        let revoked = post(&server, "/revoke", Some(("payroll", &payroll)), &[("token", token)]).await;
        assert_eq!(revoked.status, 200, "another client's {what}: {revoked:?}");
    }
    for (what, token) in [("access token", access), ("refresh token", refresh)] {
        let own = post(&server, "/introspect", Some(("ledger", &ledger)), &[("token", token)]).await;
        assert_eq!(own.body["active"], true, "its own client still sees its {what} active: {own:?}");
        assert_eq!(own.body["client_id"], "ledger");
    }
    post(&server, "/token", Some(("ledger", &ledger)), &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await
        .issued("the refresh token was not revoked");
    server.stop().await;
}

/// What any account form could change, read straight from the database: a
/// forged form must leave every line of it as it was.
fn account_rows(db: &TestDb) -> BTreeMap<&'static str, Vec<String>> {
    [
        ("users", "name || '|' || COALESCE(password_hash, '')"),
        (
            "communication_contacts",
            "email || '|' || CAST(email_verified AS TEXT) || '|' || COALESCE(phone, '') || '|' \
             || CAST(phone_verified AS TEXT)",
        ),
        ("contact_changes", "kind || '|' || new_value || '|' || code_digest || '|' || CAST(attempts AS TEXT)"),
        ("totp_credentials", "sealed_secret || '|' || CAST(last_used_step AS TEXT)"),
        ("recovery_codes", "code_digest || '|' || COALESCE(CAST(used_at AS TEXT), '')"),
        ("consents", "client_id || '|' || scopes"),
        ("browser_sessions", "public_id || '|' || COALESCE(CAST(ended_at AS TEXT), '')"),
        ("grants", "id || '|' || COALESCE(CAST(revoked_at AS TEXT), '')"),
        ("login_flows", "id_digest"),
        ("sign_in_failures", "subject || '|' || CAST(failures AS TEXT)"),
        ("outbox", "id"),
    ]
    .into_iter()
    .map(|(table, columns)| (table, column_values(db, table, columns)))
    .collect()
}

/// The code in the message queued for `recipient` (an email address or a
/// phone number), opened as its transport would.
fn code_sent_to(db: &TestDb, server: &TestServer, recipient: &str) -> String {
    use diesel::prelude::*;
    use portti::store::schema::outbox;
    let (id, sealed): (String, Option<String>) = outbox::table
        .filter(outbox::recipient.eq(recipient))
        .select((outbox::id, outbox::sealed_content))
        .get_result(&mut db.connection())
        .unwrap();
    let text = String::from_utf8(server.state.keys.open(&format!("outbox:{id}"), &sealed.unwrap()).unwrap()).unwrap();
    let start = text.find("code is ").expect("a code") + "code is ".len();
    text[start..start + 6].to_owned()
}

/// The anti-forgery token in a page's forms.
fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("a form with a token") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// A form of the account page: where it posts, what, and the table (of
/// [`account_rows`]) its real use changes.
struct AccountForm<'a> {
    action: &'static str,
    fields: Vec<(&'static str, &'a str)>,
    changes: &'static str,
}

/// Every form of the account page checks its anti-forgery token: posted by
/// the signed-in browser with no token, an empty or made-up one, or the
/// (valid) token of another browser — what a cross-site attacker could get
/// for itself — it answers 400 "This form has expired" and changes nothing.
/// The forged posts carry exactly what the real forms would (the right
/// confirmation codes, the current password and authenticator code), and
/// the same posts with the page's own token do change the account: the
/// refusal is the token's.
async fn every_account_form_refuses_a_missing_or_foreign_csrf_token(db: &TestDb) {
    let server = db.serve("");
    person(&server.state, EMAIL);
    // Not first-party: the consent is listed on the account page, to withdraw.
    confidential_client(&server.state, "ledger", false, "RS256", &[]);
    let pages = PageClient::new(&server.base);
    let url = authorize_url(&server, "ledger", CALLBACK, Some(&pkce().challenge));
    let (callback, authenticator, _, _) = first_sign_in_at(&pages, &url, EMAIL).await;
    assert!(callback.starts_with(CALLBACK), "{callback}");
    let (_, _, page) = pages.open("/account").await.page();
    assert!(page.contains("<strong>ledger</strong>"), "the consent is listed");

    // A fresh authenticator code, of a later time step each time: the
    // step-up that changing where codes go and new recovery codes ask for.
    let fresh_code = || {
        server.state.clock.advance(30);
        portti::crypto::totp::code_at(&authenticator, server.state.clock.now()).unwrap()
    };
    const FRESH: &str = "(a fresh authenticator code)";

    // Contact changes waiting for their codes, so that the confirmations have something to confirm.
    let email_change = [("email", "maija.v@example.org"), ("proof", &fresh_code())];
    let (_, _, page) = pages.submit(&page, "/account/email", &email_change).await.page();
    let email_code = code_sent_to(db, &server, "maija.v@example.org");
    let phone_change = [("phone", "+358 50 7654321"), ("proof", &fresh_code())];
    let (_, _, _) = pages.submit(&page, "/account/phone", &phone_change).await.page();
    let phone_code = code_sent_to(db, &server, "+358507654321");

    // In the order the forms are then really used: confirmations before new
    // changes replace them, signing out everywhere last.
    let form = |action, fields, changes| AccountForm { action, fields, changes };
    let code = |code| vec![("code", code)];
    let forms = [
        form("/account/email/verify", code(email_code.as_str()), "communication_contacts"),
        form("/account/phone/verify", code(phone_code.as_str()), "communication_contacts"),
        form("/account/name", vec![("name", "Mallory")], "users"),
        form("/account/email", vec![("email", "attacker@example.net"), ("proof", FRESH)], "contact_changes"),
        form("/account/phone", vec![("phone", "+358 50 9999999"), ("proof", FRESH)], "contact_changes"),
        form(
            "/account/password",
            vec![("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)],
            "users",
        ),
        form("/account/recovery-codes", vec![("proof", FRESH)], "recovery_codes"),
        form("/account/applications/ledger/revoke", vec![], "consents"),
        // A new authenticator is stored once confirmed; the form starts its enrolment.
        form("/account/authenticator", code(FRESH), "login_flows"),
        form("/account/sign-out-everywhere", vec![], "browser_sessions"),
    ];

    let stranger = PageClient::new(&server.base);
    let (_, _, strangers_page) = stranger.open("/account").await.page();
    let foreign = csrf_of(&strangers_page);
    let (_, _, page) = pages.open("/account").await.page();
    assert_ne!(foreign, csrf_of(&page), "tokens are per browser");
    let on_the_page: BTreeSet<&str> =
        page.split(r#"<form method="post" action=""#).skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    let tested: BTreeSet<&str> = forms.iter().map(|form| form.action).collect();
    assert_eq!(on_the_page, tested, "every form of the account page is tried");
    let before = account_rows(db);
    for AccountForm { action, fields, .. } in &forms {
        for (what, csrf) in [
            ("no", None),
            ("an empty", Some("")),
            ("a made-up", Some("forged")),
            ("another browser's", Some(foreign.as_str())),
        ] {
            let mut form = fields.clone();
            form.extend(csrf.map(|csrf| ("csrf", csrf)));
            let (_, status, body) = pages.post(action, &form).await.page();
            assert_eq!(status, 400, "{action} with {what} token");
            assert!(body.contains("This form has expired"), "{action} with {what} token:\n{body}");
            assert_eq!(account_rows(db), before, "{action} with {what} token changed the account");
        }
    }
    let (path, _, page) = pages.open("/account").await.page();
    assert_eq!(path, "/account", "still signed in");
    assert!(page.contains("Maija Meikäläinen") && page.contains("<strong>ledger</strong>"));

    // The same forms with the page's own token.
    let mut rows = before;
    for AccountForm { action, fields, changes } in &forms {
        let (path, _, page) = pages.open("/account").await.page();
        assert_eq!(path, "/account", "before {action}");
        let fresh = fresh_code();
        let fields: Vec<(&str, &str)> =
            fields.iter().map(|(name, value)| (*name, if *value == FRESH { fresh.as_str() } else { value })).collect();
        let (_, status, _) = pages.submit(&page, action, &fields).await.page();
        assert_eq!(status, 200, "{action} with the page's token");
        let after = account_rows(db);
        assert_ne!(after[changes], rows[changes], "{action} with the page's token changes {changes}");
        rows = after;
    }
    server.stop().await;
}

/// RFC 6749 §3.2: "Parameters sent without a value MUST be treated as if
/// they were omitted from the request." An empty `client_secret` (which some
/// client libraries send for a public client) is no secret: a public client
/// sending one authenticates by its id alone, and beside HTTP Basic it is not
/// a second authentication method. Portti already reads the grant's own
/// parameters this way (`TokenRequest::parse`).
#[actix_web::test]
async fn an_empty_client_secret_is_no_secret() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    person(&server.state, EMAIL);
    public_client(&server, "mobile");
    let secret = confidential_client(&server.state, "ledger", true, "RS256", &[]);
    let pages = PageClient::new(&server.base);

    let (code, pair) = code_with_pkce(&server, &pages, "mobile").await;
    let mut form = redeem(&code, CALLBACK, Some(&pair.verifier));
    form.extend([("client_id", "mobile"), ("client_secret", "")]);
    let public = post(&server, "/token", None, &form).await;

    let (code, pair) = code_with_pkce(&server, &pages, "ledger").await;
    let mut form = redeem(&code, CALLBACK, Some(&pair.verifier));
    form.push(("client_secret", ""));
    let beside_basic = post(&server, "/token", Some(("ledger", &secret)), &form).await;
    assert_eq!((public.status, beside_basic.status), (200, 200), "{public:?}\n{beside_basic:?}");
    public.issued("a public client with an empty client_secret");
    beside_basic.issued("HTTP Basic and an empty client_secret");
    server.stop().await;
}
