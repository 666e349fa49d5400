//! The load cases: what each connection does in a loop, and how the answer is
//! checked. Tokens are kept and verified against the JWKS after the run, so
//! that checking them does not take the server's CPU while it is measured.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use hyper::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use portti::crypto::signing::SigningAlg;

use crate::Fail;
use crate::load::{Conn, Reply, Worker};
use crate::seed::{PASSWORD, Person};

pub const CALLBACK: &str = "https://rp.bench.example/callback";

/// `Authorization: Basic …` for a client.
pub fn basic(client_id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}")))
}

fn unexpected(what: &str, reply: &Reply) -> Fail {
    let body = String::from_utf8_lossy(&reply.body);
    format!("{what}: status {}: {}", reply.status, &body[..body.len().min(300)]).into()
}

#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

fn token_response(reply: &Reply) -> Result<TokenResponse, Fail> {
    let tokens: TokenResponse = reply.json()?;
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!("token_type {}", tokens.token_type).into());
    }
    Ok(tokens)
}

/// A GET whose answer must be exactly `expected` (discovery, JWKS).
pub struct StaticGet {
    pub path: &'static str,
    pub expected: Bytes,
}

impl Worker for StaticGet {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        let reply = conn.get(self.path, &[]).await?;
        if reply.status != StatusCode::OK || reply.body != self.expected {
            return Err(unexpected(self.path, &reply));
        }
        Ok(())
    }
}

/// `client_credentials`: a fresh signed access token each time.
pub struct ClientCredentials {
    pub authorization: String,
    pub access_tokens: Vec<String>,
}

impl Worker for ClientCredentials {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        let reply = conn
            .post("/token", &[("authorization", &self.authorization)], "grant_type=client_credentials".into())
            .await?;
        let tokens = token_response(&reply)?;
        self.access_tokens.push(tokens.access_token);
        Ok(())
    }
}

/// `refresh_token`: each answer's refresh token is the next request's.
pub struct Refresh {
    pub authorization: String,
    pub current: String,
    /// Every refresh token this worker has spent, in order.
    pub spent: Vec<String>,
    pub access_tokens: Vec<String>,
}

impl Worker for Refresh {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        let form = serde_urlencoded::to_string([("grant_type", "refresh_token"), ("refresh_token", &self.current)])?;
        let reply = conn.post("/token", &[("authorization", &self.authorization)], form).await?;
        let tokens = token_response(&reply)?;
        let next = tokens.refresh_token.ok_or("no new refresh token")?;
        self.spent.push(std::mem::replace(&mut self.current, next));
        self.access_tokens.push(tokens.access_token);
        Ok(())
    }
}

impl Refresh {
    async fn present(&self, conn: &mut Conn, token: &str) -> Result<Reply, Fail> {
        let form = serde_urlencoded::to_string([("grant_type", "refresh_token"), ("refresh_token", token)])?;
        conn.post("/token", &[("authorization", &self.authorization)], form).await
    }

    /// After the run: no refresh token was handed out twice; each worker's
    /// current token, presented twice at once on two connections, is
    /// accepted exactly once; and that reuse ended the grant, so its last
    /// spent tokens and the one just issued are all refused.
    pub async fn check_rotation(workers: &[Refresh], addr: SocketAddr) -> Result<(), Fail> {
        let mut seen = HashSet::new();
        for token in workers.iter().flat_map(|w| w.spent.iter().chain([&w.current])) {
            if !seen.insert(token) {
                return Err("a refresh token was handed out twice".into());
            }
        }
        let (mut one, mut other) = (Conn::new(addr), Conn::new(addr));
        for worker in workers {
            let (first, second) =
                tokio::join!(worker.present(&mut one, &worker.current), worker.present(&mut other, &worker.current));
            let (first, second) = (first?, second?);
            let issued: Vec<TokenResponse> = [&first, &second]
                .into_iter()
                .filter(|r| r.status == StatusCode::OK)
                .map(token_response)
                .collect::<Result<_, _>>()?;
            let [winner] = issued.as_slice() else {
                return Err(
                    format!("one refresh token presented twice at once was accepted {} times", issued.len()).into()
                );
            };
            let issued_now = winner.refresh_token.as_deref().ok_or("no new refresh token")?;
            let recently_spent = worker.spent.iter().rev().take(3).map(String::as_str);
            for token in recently_spent.chain([worker.current.as_str(), issued_now]) {
                let reply = worker.present(&mut one, token).await?;
                if reply.status != StatusCode::BAD_REQUEST || !reply.body.starts_with(br#"{"error":"invalid_grant""#) {
                    return Err(unexpected("a refresh token of a grant ended by reuse", &reply));
                }
            }
        }
        Ok(())
    }
}

/// `/userinfo` with a bearer access token.
pub struct Userinfo {
    pub authorization: String,
    pub sub: String,
}

impl Worker for Userinfo {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        #[derive(Deserialize)]
        struct Claims {
            sub: String,
        }
        let reply = conn.get("/userinfo", &[("authorization", &self.authorization)]).await?;
        let claims: Claims = reply.json()?;
        if claims.sub != self.sub {
            return Err(format!("userinfo for {}, expected {}", claims.sub, self.sub).into());
        }
        Ok(())
    }
}

/// `/introspect` of an access token by the client it was issued to.
pub struct Introspect {
    pub authorization: String,
    pub form: String,
    pub sub: String,
}

impl Worker for Introspect {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        #[derive(Deserialize)]
        struct Status {
            active: bool,
            sub: Option<String>,
        }
        let reply = conn.post("/introspect", &[("authorization", &self.authorization)], self.form.clone()).await?;
        let status: Status = reply.json()?;
        if !status.active || status.sub.as_deref() != Some(&self.sub) {
            return Err("introspection: token not active for its user".into());
        }
        Ok(())
    }
}

/// What every sign-in worker shares: the people to sign in (each once), the
/// client, and the keys to verify the ID token with.
pub struct SignInShared {
    pub people: Vec<Person>,
    pub next: AtomicUsize,
    pub client_id: String,
    pub authorization: String,
    pub verifier: Arc<Verifier>,
}

/// A whole sign-in: authorize, email, password, authenticator code, back to
/// the application with a code, and the code exchanged for tokens.
pub struct SignIn {
    pub shared: Arc<SignInShared>,
    /// The tokens of each sign-in, with the user's id.
    pub signed_in: Vec<(String, TokenResponse)>,
}

impl Worker for SignIn {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        let index = self.shared.next.fetch_add(1, Ordering::Relaxed);
        let person = self.shared.people.get(index).ok_or("ran out of seeded people; seed more with --people")?;
        let signed_in = sign_in(conn, &self.shared, person).await?;
        self.signed_in.push(signed_in);
        Ok(())
    }
}

/// The cookies a browser would keep during one sign-in.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn keep(&mut self, reply: &Reply) {
        for value in reply.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            let Some((name, rest)) = value.split_once('=') else { continue };
            let value = rest.split(';').next().unwrap_or_default();
            self.0.retain(|(kept, _)| kept != name);
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }
}

fn location(reply: &Reply) -> Result<String, Fail> {
    if reply.status != StatusCode::SEE_OTHER && reply.status != StatusCode::FOUND {
        return Err(unexpected("expected a redirect", reply));
    }
    Ok(reply.header("location").ok_or("a redirect without a location")?.to_owned())
}

/// The value of the anti-forgery field in a page.
fn csrf_of(page: &[u8]) -> Result<String, Fail> {
    let page = std::str::from_utf8(page)?;
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).ok_or("no anti-forgery token in the page")? + marker.len();
    Ok(page[start..].split('"').next().unwrap_or_default().to_owned())
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

fn random_text() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Signs `person` in on the hosted pages as a browser would, and exchanges
/// the code; returns the user's id (the ID token's `sub`) and the tokens.
pub async fn sign_in(conn: &mut Conn, shared: &SignInShared, person: &Person) -> Result<(String, TokenResponse), Fail> {
    let (state, nonce, verifier) = (random_text(), random_text(), random_text());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", &shared.client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email offline_access"),
        ("state", &state),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ])?;
    let mut jar = Jar::default();
    let reply = conn.get(&format!("/authorize?{query}"), &[]).await?;
    jar.keep(&reply);
    let flow = location(&reply)?;
    if !flow.starts_with("/signin/") {
        return Err(format!("authorize went to {flow}").into());
    }

    let mut step = async |conn: &mut Conn, action: &str, fields: &[(&str, &str)]| -> Result<String, Fail> {
        let page = conn.get(&flow, &[("cookie", &jar.header())]).await?;
        if page.status != StatusCode::OK {
            return Err(unexpected("sign-in page", &page));
        }
        let csrf = csrf_of(&page.body)?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .extend_pairs(fields)
            .finish();
        let reply = conn.post(&format!("{flow}/{action}"), &[("cookie", &jar.header())], form).await?;
        jar.keep(&reply);
        location(&reply)
    };
    step(conn, "email", &[("email", &person.email)]).await?;
    step(conn, "password", &[("password", PASSWORD)]).await?;
    let code = person.code_now()?;
    let callback = step(conn, "code", &[("code", &code)]).await?;

    if !callback.starts_with(CALLBACK) || query_param(&callback, "state").as_deref() != Some(&state) {
        return Err(format!("sign-in ended at {callback}").into());
    }
    let code = query_param(&callback, "code").ok_or("no code in the callback")?;
    let form = serde_urlencoded::to_string([
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", &verifier),
    ])?;
    let reply = conn.post("/token", &[("authorization", &shared.authorization)], form).await?;
    let tokens = token_response(&reply)?;
    let id_token = tokens.id_token.as_deref().ok_or("no ID token")?;
    let claims = shared.verifier.verify(id_token, "JWT", Some(&shared.client_id))?;
    if claims.get("nonce").and_then(|n| n.as_str()) != Some(&nonce) {
        return Err("the ID token's nonce is not the request's".into());
    }
    if claims.get("email").and_then(|e| e.as_str()) != Some(&person.email) {
        return Err("the ID token is not the signed-in person's".into());
    }
    let sub = claims.get("sub").and_then(|s| s.as_str()).ok_or("no sub in the ID token")?.to_owned();
    Ok((sub, tokens))
}

/// Verifies tokens against the server's published keys, as a relying party would.
pub struct Verifier {
    keys: HashMap<String, (DecodingKey, jsonwebtoken::Algorithm)>,
    issuer: String,
}

impl Verifier {
    pub fn from_jwks(jwks: &[u8], issuer: &str) -> Result<Self, Fail> {
        let set: JwkSet = serde_json::from_slice(jwks)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let kid = jwk.common.key_id.clone().ok_or("a JWK without kid")?;
            let alg = jwk.common.key_algorithm.ok_or("a JWK without alg")?;
            let alg: jsonwebtoken::Algorithm = format!("{alg:?}").parse()?;
            keys.insert(kid, (DecodingKey::from_jwk(jwk)?, alg));
        }
        Ok(Self { keys, issuer: issuer.to_owned() })
    }

    /// The claims of a valid, unexpired token of type `typ` from this issuer.
    pub fn verify(&self, token: &str, typ: &str, audience: Option<&str>) -> Result<serde_json::Value, Fail> {
        let header = jsonwebtoken::decode_header(token)?;
        if !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(typ)) {
            return Err(format!("token type {:?}, expected {typ}", header.typ).into());
        }
        let kid = header.kid.ok_or("a token without kid")?;
        let (key, alg) = self.keys.get(&kid).ok_or("a token signed with a key not in the JWKS")?;
        if header.alg != *alg {
            return Err("a token whose alg is not its key's".into());
        }
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(jsonwebtoken::decode::<serde_json::Value>(token, key, &validation)?.claims)
    }

    /// Verifies every access token, on every core, and that each was signed
    /// with `alg`; returns how many.
    pub fn verify_all(&self, tokens: &[&String], alg: SigningAlg) -> Result<usize, Fail> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk = tokens.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let checks: Vec<_> = tokens
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter().try_for_each(|token| -> Result<(), Fail> {
                            self.verify(token, "at+jwt", None)?;
                            match jsonwebtoken::decode_header(token)?.alg {
                                signed if format!("{signed:?}") == alg.as_str() => Ok(()),
                                signed => Err(format!("signed with {signed:?}, not {}", alg.as_str()).into()),
                            }
                        })
                    })
                })
                .collect();
            for check in checks {
                check.join().map_err(|_| "a verifying thread panicked")?.map_err(|e| e.to_string())?;
            }
            Ok::<_, Fail>(())
        })?;
        Ok(tokens.len())
    }
}
