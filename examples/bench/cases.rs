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
use crate::seed::{PASSWORD, Person, Phone, SeededPasskey};
use crate::server::{APP_CLIENT, APP_VERSION};

pub const CALLBACK: &str = "https://rp.bench.example/callback";

/// `Authorization: Basic …` for a client.
pub fn basic(client_id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}")))
}

pub fn unexpected(what: &str, reply: &Reply) -> Fail {
    let body: String = String::from_utf8_lossy(&reply.body).chars().take(300).collect();
    format!("{what}: status {}: {body}", reply.status).into()
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

/// The app's device-key sign-in, the JWT bearer grant (RFC 7523): a fresh
/// ES256 assertion by the phone's key each time (signed here, on the
/// client's side), answered with an access, an ID and a refresh token.
pub struct DeviceKeyGrant {
    pub phone: Arc<Phone>,
    /// The token endpoint, the assertions' `aud`.
    pub audience: String,
    pub signed_in: Vec<TokenResponse>,
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

impl DeviceKeyGrant {
    /// A JWS the app would send after the person unlocked the key with a PIN.
    fn assertion(&self) -> Result<String, Fail> {
        let device = &self.phone.device_id;
        let iat = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
        self.phone.jws(&serde_json::json!({
            "iss": device, "sub": self.phone.user_id.as_str(), "aud": self.audience,
            "iat": iat, "exp": iat + 120, "jti": random_text(), "amr": ["pin"],
        }))
    }

    /// After the run: each ID token is the phone's person's, for the app.
    pub fn check_id_tokens(workers: &[DeviceKeyGrant], verifier: &Verifier) -> Result<usize, Fail> {
        let mut checked = 0;
        for worker in workers {
            for tokens in &worker.signed_in {
                let claims = verifier.id_token_of(tokens, APP_CLIENT, worker.phone.user_id.as_str())?;
                if claims.get("amr") != Some(&serde_json::json!(["hwk", "pin", "mfa"])) {
                    return Err(format!("the device-key grant's amr is {:?}", claims.get("amr")).into());
                }
                checked += 1;
            }
        }
        Ok(checked)
    }
}

impl Worker for DeviceKeyGrant {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        let assertion = self.assertion()?;
        let form = serde_urlencoded::to_string([
            ("grant_type", JWT_BEARER),
            ("client_id", APP_CLIENT),
            ("assertion", &assertion),
            ("scope", "openid offline_access"),
        ])?;
        let reply = conn.post("/token", &[("portti-app-version", APP_VERSION)], form).await?;
        let tokens = token_response(&reply)?;
        if tokens.refresh_token.is_none() {
            return Err("the device-key grant gave no refresh token".into());
        }
        self.signed_in.push(tokens);
        Ok(())
    }
}

/// The device authorization grant (RFC 8628) end to end: a TV asks for
/// its codes; a person, signed in already in their browser, opens the code
/// and allows it; the TV's next poll gets its tokens. Each TV and each
/// browser request comes from an address of its own, passed on by the proxy
/// in front (`X-Forwarded-For`), as from many homes.
pub struct DeviceGrant {
    pub browsers: Arc<Browsers>,
    /// The browser's person and the tokens of each grant.
    pub signed_in: Vec<(String, TokenResponse)>,
}

/// The signed-in browsers the device grants are approved in, each used for
/// at most [`APPROVALS_PER_BROWSER`]; when they run out, a worker signs in
/// another.
pub struct Browsers {
    pub signed_in: std::sync::Mutex<Vec<(Browser, usize)>>,
    pub shared: Arc<SignInShared>,
}

/// One approval looks a user code up twice (the page and its answer), and
/// a browser may look up `LOOKUPS_PER_BROWSER` while a code lives.
pub const APPROVALS_PER_BROWSER: usize = portti::domain::device_authorization::LOOKUPS_PER_BROWSER as usize / 2;

/// The TV's public client, with the device code grant.
pub const TV_CLIENT: &str = "bench-tv";

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

impl Browsers {
    /// A browser with an approval left, and whose it is.
    async fn next(&self, conn: &mut Conn) -> Result<Browser, Fail> {
        let kept = {
            let mut browsers = self.signed_in.lock().map_err(|_| "a worker panicked")?;
            while browsers.last().is_some_and(|(_, used)| *used >= APPROVALS_PER_BROWSER) {
                browsers.pop();
            }
            browsers.last_mut().map(|(browser, used)| {
                *used += 1;
                browser.clone()
            })
        };
        match kept {
            Some(browser) => Ok(browser),
            None => self.sign_in_another(conn, 1).await,
        }
    }

    /// Signs the next seeded person in on a browser of its own, kept as
    /// having approved `used` devices already.
    pub async fn sign_in_another(&self, conn: &mut Conn, used: usize) -> Result<Browser, Fail> {
        let index = self.shared.next.fetch_add(1, Ordering::Relaxed);
        let person = self.shared.people.get(index).ok_or("ran out of seeded people; seed more with --people")?;
        let (browser, _) = sign_in_browser(conn, &self.shared, person).await?;
        self.signed_in.lock().map_err(|_| "a worker panicked")?.push((browser.clone(), used));
        Ok(browser)
    }
}

/// A private address (10.0.0.0/8), new each time.
pub fn some_address() -> String {
    let [a, b, c] = rand::random::<[u8; 3]>();
    format!("10.{a}.{b}.{c}")
}

impl Worker for DeviceGrant {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        #[derive(Deserialize)]
        struct Codes {
            device_code: String,
            user_code: String,
        }
        let tv = some_address();
        let form = serde_urlencoded::to_string([("client_id", TV_CLIENT), ("scope", "openid offline_access")])?;
        let reply = conn.post("/device_authorization", &[("x-forwarded-for", &tv)], form).await?;
        let codes: Codes = reply.json()?;

        let browser = self.browsers.next(conn).await?;
        let home = some_address();
        let headers = [("cookie", browser.cookies.as_str()), ("x-forwarded-for", home.as_str())];
        let approval = format!("/device/{}", codes.user_code.replace('-', ""));
        let page = conn.get(&approval, &headers).await?;
        if page.status != StatusCode::OK || !page.body.windows(6).any(|w| w == b">Allow") {
            return Err(unexpected("the device approval page", &page));
        }
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf_of(&page.body)?)
            .append_pair("decision", "allow")
            .finish();
        let allowed = conn.post(&approval, &headers, form).await?;
        if allowed.status != StatusCode::OK {
            return Err(unexpected("allowing the device", &allowed));
        }

        let form = serde_urlencoded::to_string([
            ("grant_type", DEVICE_CODE),
            ("device_code", &codes.device_code),
            ("client_id", TV_CLIENT),
        ])?;
        let reply = conn.post("/token", &[("x-forwarded-for", &tv)], form).await?;
        let tokens = token_response(&reply)?;
        if tokens.refresh_token.is_none() {
            return Err("the device grant gave no refresh token".into());
        }
        self.signed_in.push((browser.sub, tokens));
        Ok(())
    }
}

impl DeviceGrant {
    /// After the run: each ID token is the approving person's, for the TV.
    pub fn check_id_tokens(workers: &[DeviceGrant], verifier: &Verifier) -> Result<usize, Fail> {
        let mut checked = 0;
        for (sub, tokens) in workers.iter().flat_map(|w| &w.signed_in) {
            verifier.id_token_of(tokens, TV_CLIENT, sub)?;
            checked += 1;
        }
        Ok(checked)
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
    let (browser, tokens) = sign_in_browser(conn, shared, person).await?;
    Ok((browser.sub, tokens))
}

/// A browser that a person signed in on: its cookies, and whose it is.
#[derive(Clone)]
pub struct Browser {
    pub sub: String,
    pub cookies: String,
}

/// [`sign_in`], keeping the browser.
pub async fn sign_in_browser(
    conn: &mut Conn,
    shared: &SignInShared,
    person: &Person,
) -> Result<(Browser, TokenResponse), Fail> {
    let mut jar = Jar::default();
    let begun = begin(conn, shared, &mut jar, None).await?;
    let flow = &begun.flow;
    let mut step = async |conn: &mut Conn, action: &str, fields: &[(&str, &str)]| -> Result<String, Fail> {
        let page = conn.get(flow, &[("cookie", &jar.header())]).await?;
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
    let (claims, tokens) = finish(conn, shared, &begun, &callback).await?;
    if claims.get("email").and_then(|e| e.as_str()) != Some(&person.email) {
        return Err("the ID token is not the signed-in person's".into());
    }
    let sub = claims.get("sub").and_then(|s| s.as_str()).ok_or("no sub in the ID token")?.to_owned();
    Ok((Browser { sub, cookies: jar.header() }, tokens))
}

/// A sign-in the web application began at `/authorize`: the flow's path,
/// and what the application keeps to check the answer.
struct Begun {
    flow: String,
    state: String,
    nonce: String,
    verifier: String,
}

/// The web application sends the browser to `/authorize` (from `address`,
/// passed on by the proxy, when given).
async fn begin(conn: &mut Conn, shared: &SignInShared, jar: &mut Jar, address: Option<&str>) -> Result<Begun, Fail> {
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
    let forwarded: Vec<(&str, &str)> = address.map(|a| ("x-forwarded-for", a)).into_iter().collect();
    let reply = conn.get(&format!("/authorize?{query}"), &forwarded).await?;
    jar.keep(&reply);
    let flow = location(&reply)?;
    if !flow.starts_with("/signin/") {
        return Err(format!("authorize went to {flow}").into());
    }
    Ok(Begun { flow, state, nonce, verifier })
}

/// The application's end of a sign-in: the callback's code exchanged, and
/// the ID token verified; returns its claims and the tokens.
async fn finish(
    conn: &mut Conn,
    shared: &SignInShared,
    begun: &Begun,
    callback: &str,
) -> Result<(serde_json::Value, TokenResponse), Fail> {
    if !callback.starts_with(CALLBACK) || query_param(callback, "state").as_deref() != Some(&begun.state) {
        return Err(format!("sign-in ended at {callback}").into());
    }
    let code = query_param(callback, "code").ok_or("no code in the callback")?;
    let form = serde_urlencoded::to_string([
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", &begun.verifier),
    ])?;
    let reply = conn.post("/token", &[("authorization", &shared.authorization)], form).await?;
    let tokens = token_response(&reply)?;
    let id_token = tokens.id_token.as_deref().ok_or("no ID token")?;
    let claims = shared.verifier.verify(id_token, "JWT", Some(&shared.client_id))?;
    if claims.get("nonce").and_then(|n| n.as_str()) != Some(&begun.nonce) {
        return Err("the ID token's nonce is not the request's".into());
    }
    Ok((claims, tokens))
}

/// QR sign-in end to end: a computer's browser opens a sign-in and shows
/// its code; the phone reads what asks and approves with a JWS by its
/// device key; the browser's poll sees the approval, it goes on, and the
/// application exchanges the code. Each computer comes from an address of
/// its own.
pub struct QrSignIn {
    pub shared: Arc<SignInShared>,
    pub phone: Arc<Phone>,
    /// The app's access token, from a device-key sign-in.
    pub app_token: String,
    /// The access tokens the application got, verified after the run.
    pub access_tokens: Vec<String>,
}

impl Worker for QrSignIn {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        let shown = ShownQr::open(conn, &self.shared).await?;
        approve_qr(conn, &self.phone, &self.app_token, &shown.qr_id, shown.number).await?;
        if shown.poll(conn).await? != "approved" {
            return Err("the browser's poll after the approval is not approved".into());
        }
        let callback = shown.go_on(conn).await?;
        let tokens = shown.finish(conn, &self.shared, &callback, &self.phone).await?;
        self.access_tokens.push(tokens.access_token);
        Ok(())
    }
}

/// The text of the element with this id in a page.
fn element_text<'a>(page: &'a str, id: &str) -> Option<&'a str> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let text = &page[at..];
    text.split_once('>').map(|(_, rest)| rest.split('<').next().unwrap_or_default().trim())
}

/// A computer's browser at a sign-in's email step, showing its QR code.
pub struct ShownQr {
    /// The computer's address, passed on by the proxy.
    computer: String,
    cookies: String,
    begun: Begun,
    pub qr_id: String,
    /// The number the page shows beside the code.
    pub number: u8,
    csrf: String,
}

impl ShownQr {
    /// The web application sends a new browser to sign in; its page shows a QR code.
    pub async fn open(conn: &mut Conn, shared: &SignInShared) -> Result<Self, Fail> {
        let computer = some_address();
        let mut jar = Jar::default();
        let begun = begin(conn, shared, &mut jar, Some(&computer)).await?;
        let page = conn.get(&begun.flow, &[("cookie", &jar.header()), ("x-forwarded-for", &computer)]).await?;
        let text = std::str::from_utf8(&page.body)?;
        let link = text
            .split("<a id=\"qr-link\" href=\"")
            .nth(1)
            .ok_or_else(|| unexpected("the sign-in page shows no QR code", &page))?;
        let qr_id = link.split('"').next().unwrap_or_default().rsplit("/qr/").next().unwrap_or_default().to_owned();
        let number: u8 = element_text(text, "qr-number").ok_or("no #qr-number")?.parse()?;
        let csrf = csrf_of(&page.body)?;
        Ok(Self { computer, cookies: jar.header(), begun, qr_id, number, csrf })
    }

    fn headers(&self) -> [(&str, &str); 2] {
        [("cookie", &self.cookies), ("x-forwarded-for", &self.computer)]
    }

    /// The page's poll (`qr.js`): the code's state.
    pub async fn poll(&self, conn: &mut Conn) -> Result<String, Fail> {
        #[derive(Deserialize)]
        struct Status {
            state: String,
        }
        let status = conn.get(&format!("/qr/{}/status", self.qr_id), &self.headers()).await?;
        Ok(status.json::<Status>()?.state)
    }

    /// The page goes on after the approval; returns where the browser is sent
    /// back to the application.
    pub async fn go_on(&self, conn: &mut Conn) -> Result<String, Fail> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &self.csrf)
            .append_pair("qr", &self.qr_id)
            .finish();
        location(&conn.post(&format!("{}/qr", self.begun.flow), &self.headers(), form).await?)
    }

    /// The application's end: the code exchanged; the ID token must be the
    /// approving phone's person's, signed in with its key.
    pub async fn finish(
        &self,
        conn: &mut Conn,
        shared: &SignInShared,
        callback: &str,
        phone: &Phone,
    ) -> Result<TokenResponse, Fail> {
        let (claims, tokens) = finish(conn, shared, &self.begun, callback).await?;
        if claims.get("sub").and_then(|s| s.as_str()) != Some(phone.user_id.as_str()) {
            return Err("the QR sign-in's ID token is not the phone's person's".into());
        }
        let amr = claims.get("amr").and_then(|a| a.as_array()).ok_or("no amr")?;
        if amr.first().and_then(|m| m.as_str()) != Some("hwk") {
            return Err(format!("the QR sign-in's amr is {amr:?}").into());
        }
        Ok(tokens)
    }
}

/// The phone reads what asks to sign in, which must offer the computer's
/// number, and approves it with a JWS by its device key.
pub async fn approve_qr(conn: &mut Conn, phone: &Phone, app_token: &str, qr_id: &str, number: u8) -> Result<(), Fail> {
    #[derive(Deserialize)]
    struct Asked {
        choices: Vec<u8>,
    }
    let bearer = format!("Bearer {app_token}");
    let app = [("authorization", bearer.as_str()), ("portti-app-version", APP_VERSION)];
    let asked = conn.get(&format!("/api/app/v1/qr/{qr_id}"), &app).await?;
    if !asked.json::<Asked>()?.choices.contains(&number) {
        return Err("the phone is not offered the computer's number".into());
    }
    let iat = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let claims =
        serde_json::json!({"qr_id": qr_id, "choice": number, "iat": iat, "jti": random_text(), "amr": ["pin"]});
    let body = serde_json::json!({"choice": number, "proof": phone.jws(&claims)?}).to_string();
    let approved = conn.post_json(&format!("/api/app/v1/qr/{qr_id}/approve"), &app, body).await?;
    if approved.status != StatusCode::NO_CONTENT {
        return Err(unexpected("the phone's approval", &approved));
    }
    Ok(())
}

/// A passkey sign-in on a new browser each time: the sign-in page's `Sign
/// in with a passkey`, the person's authenticator answering its options, the
/// answer verified, and the code exchanged. The ID token must be the
/// passkey's person's, with `amr` `[hwk, user, mfa]`.
pub struct PasskeySignIn {
    pub shared: Arc<SignInShared>,
    pub passkey: SeededPasskey,
    /// The issuer's origin, where the authenticator is asked.
    pub origin: url::Url,
    pub access_tokens: Vec<String>,
}

impl Worker for PasskeySignIn {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        #[derive(Deserialize)]
        struct Ceremony {
            ceremony: String,
            options: webauthn_rs_proto::RequestChallengeResponse,
        }
        let mut jar = Jar::default();
        let begun = begin(conn, &self.shared, &mut jar, None).await?;
        let cookies = jar.header();
        let page = conn.get(&begun.flow, &[("cookie", &cookies)]).await?;
        if page.status != StatusCode::OK || !page.body.windows(24).any(|w| w == b">Sign in with a passkey<") {
            return Err(unexpected("the sign-in page offers no passkey", &page));
        }
        let csrf = csrf_of(&page.body)?;
        let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("csrf", &csrf).finish();
        let options = conn.post(&format!("{}/passkey/options", begun.flow), &[("cookie", &cookies)], form).await?;
        let Ceremony { ceremony, options } = options.json()?;
        let answer = serde_json::to_string(&self.passkey.answer(options, &self.origin)?)?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .append_pair("ceremony", &ceremony)
            .append_pair("credential", &answer)
            .finish();
        let reply = conn.post(&format!("{}/passkey", begun.flow), &[("cookie", &cookies)], form).await?;
        let (claims, tokens) = finish(conn, &self.shared, &begun, &location(&reply)?).await?;
        if claims.get("sub").and_then(|s| s.as_str()) != Some(self.passkey.user_id.as_str()) {
            return Err("the passkey sign-in's ID token is not the passkey's person's".into());
        }
        if claims.get("amr") != Some(&serde_json::json!(["hwk", "user", "mfa"])) {
            return Err(format!("the passkey sign-in's amr is {:?}", claims.get("amr")).into());
        }
        self.access_tokens.push(tokens.access_token);
        Ok(())
    }
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

    /// The claims of the ID token of `tokens`, which must be valid, for
    /// `client`, and of the person `sub`.
    fn id_token_of(&self, tokens: &TokenResponse, client: &str, sub: &str) -> Result<serde_json::Value, Fail> {
        let id_token = tokens.id_token.as_deref().ok_or("no ID token")?;
        let claims = self.verify(id_token, "JWT", Some(client))?;
        if claims.get("sub").and_then(|s| s.as_str()) != Some(sub) {
            return Err(format!("an ID token for {client} is not its person's").into());
        }
        Ok(claims)
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
