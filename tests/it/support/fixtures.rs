//! The people and clients tests start from, and a relying party to drive
//! Portti with: the `openidconnect` crate over a real loopback socket.

use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType, CoreTokenResponse};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IntrospectionUrl, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RevocationUrl,
    Scope,
};
use portti::AppState;
use portti::domain::access::CompanyRole;
use portti::domain::client::{ClientKind, NewClient, add_client};
use portti::domain::company::add_company;
use portti::domain::ids::{CompanyId, UserId};
use portti::domain::user::{MembershipInput, NewUserInput, add_user};

use super::TestServer;
use super::pages::query_param;

pub const PASSWORD: &str = "lumiukko kahvipannu purjevene";
pub const CALLBACK: &str = "https://rp.example/callback";
/// The password a person changes to, after a reset or on the account page.
pub const NEW_PASSWORD: &str = "kuusi kissaa kiipesi puuhun";

pub type Rp = CoreClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A person in a company, with these roles and the ledger right, the
/// phone +46701234567 and the password [`PASSWORD`]; `support` makes them
/// customer service.
pub fn member(state: &AppState, email: &str, company: &CompanyId, roles: Vec<CompanyRole>, support: bool) -> UserId {
    member_with_password(state, email, company, roles, support, Some(PASSWORD))
}

/// [`member`] with another password, or none (a person who has not set one yet).
pub fn member_with_password(
    state: &AppState,
    email: &str,
    company: &CompanyId,
    roles: Vec<CompanyRole>,
    support: bool,
    password: Option<&str>,
) -> UserId {
    let input = NewUserInput {
        email: email.to_owned(),
        name: email.split('@').next().unwrap().to_owned(),
        phone: Some("+46701234567".to_owned()),
        password: password.map(str::to_owned),
        support,
        memberships: vec![MembershipInput {
            company_id: company.clone(),
            roles,
            rights: vec![portti::domain::access::AccessRight::parse("ledger").unwrap()],
        }],
        ..Default::default()
    };
    add_user(&state.store, &state.keys, 1, input).unwrap().user.id
}

/// A user with a password, a phone and the ledger right in a company.
pub fn person(state: &AppState, email: &str) -> UserId {
    let company = add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    let input = NewUserInput {
        email: email.to_owned(),
        name: "Maija Meikäläinen".to_owned(),
        phone: Some("+358401234567".to_owned()),
        password: Some(PASSWORD.to_owned()),
        memberships: vec![MembershipInput {
            company_id: company.id,
            roles: vec![],
            rights: vec![portti::domain::access::AccessRight::parse("ledger").unwrap()],
        }],
        ..Default::default()
    };
    add_user(&state.store, &state.keys, 1, input).unwrap().user.id
}

/// Registers a confidential client and returns its secret.
pub fn confidential_client(state: &AppState, id: &str, first_party: bool, alg: &str, grants: &[&str]) -> String {
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    let new = NewClient::parse(
        id,
        ClientKind::Confidential { secret: None },
        &[CALLBACK.to_owned()],
        &["https://rp.example/signed-out".to_owned()],
        &grants,
        first_party,
        Some(alg),
    )
    .unwrap();
    add_client(&state.store, 1, new).unwrap().client_secret.unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub async fn relying_party(server: &TestServer, id: &str, secret: Option<&str>) -> Rp {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http()).await.unwrap();
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.to_owned()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(format!("{}/introspect", server.base)).unwrap())
    .set_revocation_url(RevocationUrl::new(format!("{}/revoke", server.base)).unwrap())
}

/// The usual fixture: Maija, with a password, and the first-party client
/// `ledger` as the relying party.
pub async fn maija_and_ledger(server: &TestServer) -> Rp {
    person(&server.state, "maija@example.com");
    confidential_client(&server.state, "ledger", true, "RS256", &[]);
    relying_party(server, "ledger", None).await
}

/// An authorization request: its URL, and what the RP keeps to check the answer.
pub struct Request {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

pub fn authorization_request(rp: &Rp, scopes: &[&str]) -> Request {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut builder = rp.authorize_url(
        AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in scopes {
        builder = builder.add_scope(Scope::new(scope.to_string()));
    }
    let (url, state, nonce) = builder.set_pkce_challenge(challenge).url();
    Request { url: url.to_string(), state, nonce, verifier }
}

/// The relying party's code exchange for the callback of `request`, with its PKCE verifier.
pub async fn exchange(rp: &Rp, callback: &str, request: &Request) -> CoreTokenResponse {
    rp.exchange_code(code_of(callback, request))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(request.verifier.secret().clone()))
        .request_async(&http())
        .await
        .unwrap()
}

pub fn code_of(callback: &str, request: &Request) -> AuthorizationCode {
    assert!(callback.starts_with(CALLBACK), "{callback}");
    assert_eq!(query_param(callback, "state").as_deref(), Some(request.state.secret().as_str()));
    AuthorizationCode::new(query_param(callback, "code").expect("a code"))
}
