//! A relying party that signs a person in through Portti with the
//! `openidconnect` crate: authorization code + PKCE, ID token validation,
//! userinfo.
//!
//! ```sh
//! cargo run --release &                          # Portti on http://localhost:8080
//! portti client add --id demo --redirect-uri http://127.0.0.1:3000/callback
//! cargo run --example sign_in -- demo <the secret it printed>
//! ```
//!
//! Open the address it prints, sign in, and the example prints who you are.

use std::sync::Mutex;

use actix_web::{App, HttpResponse, HttpServer, web};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the application keeps between sending the browser away and its return.
struct Pending {
    state: CsrfToken,
    nonce: Nonce,
    verifier: Option<PkceCodeVerifier>,
}

#[actix_web::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let (Some(client_id), Some(secret)) = (args.next(), args.next()) else {
        eprintln!("usage: sign_in CLIENT_ID CLIENT_SECRET [ISSUER]");
        std::process::exit(2);
    };
    let issuer = args.next().unwrap_or_else(|| "http://localhost:8080".to_owned());

    // Never follow redirects from the provider's endpoints.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer)?, &http).await?;
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(client_id), Some(ClientSecret::new(secret)))
            .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:3000/callback".to_owned())?);

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .add_scope(Scope::new("companies".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    println!("Open this address in a browser:\n\n  {url}\n");

    let shared = web::Data::new((client, http, Mutex::new(Pending { state, nonce, verifier: Some(verifier) })));
    HttpServer::new(move || App::new().app_data(shared.clone()).route("/callback", web::get().to(callback)))
        .bind("127.0.0.1:3000")?
        .run()
        .await?;
    Ok(())
}

type Shared = (
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    reqwest::Client,
    Mutex<Pending>,
);

async fn callback(
    shared: web::Data<Shared>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    match finish(&shared, &query).await {
        Ok(who) => {
            println!("{who}");
            HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(who)
        }
        Err(e) => {
            HttpResponse::BadRequest().content_type("text/plain; charset=utf-8").body(format!("Sign-in failed: {e}"))
        }
    }
}

async fn finish(shared: &Shared, query: &std::collections::HashMap<String, String>) -> Result<String, Error> {
    let (client, http, pending) = shared;
    if let Some(error) = query.get("error") {
        return Err(format!("{error}: {}", query.get("error_description").map_or("", String::as_str)).into());
    }
    let (nonce, verifier) = {
        let mut pending = pending.lock().map_err(|_| "lock poisoned")?;
        // The state ties this answer to the request this application made (CSRF).
        if query.get("state") != Some(pending.state.secret()) {
            return Err("state does not match".into());
        }
        (pending.nonce.clone(), pending.verifier.take().ok_or("this sign-in was finished already")?)
    };
    let code = AuthorizationCode::new(query.get("code").ok_or("no code")?.clone());
    let tokens = client.exchange_code(code)?.set_pkce_verifier(verifier).request_async(http).await?;
    let id_token = tokens.id_token().ok_or("no ID token")?;
    let claims = id_token.claims(&client.id_token_verifier(), &nonce)?;
    let info: CoreUserInfoClaims = client.user_info(tokens.access_token().clone(), None)?.request_async(http).await?;
    Ok(format!(
        "Signed in: sub {} email {} name {}",
        claims.subject().as_str(),
        claims.email().map_or("-", |e| e.as_str()),
        info.name().and_then(|n| n.get(None)).map_or("-", |n| n.as_str()),
    ))
}
