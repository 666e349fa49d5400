//! An upstream OpenID provider for tests, on a real loopback socket: a
//! bank ID broker of Traficom's FTN profile when asked (it checks Portti's
//! signed request object and `private_key_jwt` assertion against Portti's
//! `/upstream/jwks`, and encrypts the ID token to Portti's encryption key),
//! or a plain provider with a client secret. Its "person" is whatever the
//! test sets; each behaviour a test needs to see refused is a switch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use josekit::jwe::JweHeader;
use josekit::jwk::Jwk;
use portti::crypto::jose::{self, KeyUse, RsaKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "portti-rp";
pub const CLIENT_SECRET: &str = "a-client-secret-of-the-plain-provider";
pub const LOA2: &str = "http://ftn.ficora.fi/2017/loa2";

/// What the provider does; tests flip these between sign-ins.
#[derive(Default)]
pub struct Behaviour {
    /// The identity code the next ID token carries (`None`: no such claim).
    pub identity_code: Option<String>,
    pub subject: String,
    pub auth_time: Option<i64>,
    /// Answer the authorization request with `error=access_denied`.
    pub cancel: bool,
    /// Put another nonce in the ID token.
    pub wrong_nonce: bool,
    /// Break the ID token's signature.
    pub bad_signature: bool,
    /// Encrypt the ID token to a key that is not Portti's.
    pub encrypt_to_other_key: bool,
    /// Sign the next ID token with a new key, published only from then on.
    pub rotate_signing_key: bool,
    /// Sign with a key it never publishes (under a kid of its own).
    pub unpublished_key: bool,
    /// Name another issuer in the authorization response (RFC 9207).
    pub wrong_iss: bool,
    /// Vouch at this `acr` instead of the one asked for.
    pub acr: Option<String>,
}

#[derive(Default)]
struct Provider {
    base: Mutex<String>,
    portti: Mutex<String>,
    ftn: bool,
    behaviour: Mutex<Behaviour>,
    keys: Mutex<Vec<Arc<RsaKey>>>,
    /// code → the authorization request's parameters.
    codes: Mutex<HashMap<String, HashMap<String, String>>>,
    last_authorization: Mutex<HashMap<String, String>>,
    last_token_request: Mutex<HashMap<String, String>>,
    jwks_fetches: AtomicUsize,
    token_requests: AtomicUsize,
    /// Seconds its clock runs ahead of the system's, as Portti's test clock does.
    clock_offset: AtomicI64,
}

pub struct UpstreamProvider {
    pub base: String,
    provider: Arc<Provider>,
    server: actix_web::dev::ServerHandle,
}

fn new_key() -> Arc<RsaKey> {
    Arc::new(RsaKey::from_der(KeyUse::Sig, &jose::generate_rsa_key().unwrap()).unwrap())
}

impl UpstreamProvider {
    /// A provider of the FTN profile (`ftn`), or a plain one.
    pub fn start(ftn: bool) -> Self {
        let provider = Arc::new(Provider { ftn, ..Default::default() });
        provider.keys.lock().unwrap().push(new_key());
        provider.behaviour.lock().unwrap().subject = "upstream-subject-1".to_owned();
        let data = web::Data::new(provider.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        *provider.base.lock().unwrap() = base.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/.well-known/openid-configuration", web::get().to(discovery))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/jwks", web::get().to(jwks))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { base, provider, server: handle }
    }

    /// Tells the provider where Portti is (for its `/upstream/jwks`).
    pub fn trust(&self, portti_base: &str) {
        *self.provider.portti.lock().unwrap() = portti_base.to_owned();
    }

    /// The `[[upstream]]` block that points Portti here.
    pub fn config(&self) -> String {
        let base = &self.base;
        if self.provider.ftn {
            format!(
                r#"
[[upstream]]
id = "bank"
name = "Testipankki"
issuer = "{base}"
client_id = "{CLIENT_ID}"
auth = "private_key_jwt"
request_object = true
encrypted_id_token = true
scopes = ["openid", "personal_identity_code"]
acr_values = "{LOA2}"
link_claim = "personal_identity_code"
extra_params = {{ ftn_spname = "Ledger" }}
"#
            )
        } else {
            format!(
                r#"
[[upstream]]
id = "hightrust"
name = "Hightrust.id"
issuer = "{base}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
link_claim = "hetu"
"#
            )
        }
    }

    /// Moves the provider's clock on with Portti's.
    pub fn advance(&self, seconds: i64) {
        self.provider.clock_offset.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn behave(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.provider.behaviour.lock().unwrap());
    }

    pub fn last_authorization(&self) -> HashMap<String, String> {
        self.provider.last_authorization.lock().unwrap().clone()
    }

    pub fn last_token_request(&self) -> HashMap<String, String> {
        self.provider.last_token_request.lock().unwrap().clone()
    }

    pub fn jwks_fetches(&self) -> usize {
        self.provider.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn token_requests(&self) -> usize {
        self.provider.token_requests.load(Ordering::SeqCst)
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

async fn discovery(provider: web::Data<Arc<Provider>>) -> HttpResponse {
    let base = provider.base.lock().unwrap().clone();
    HttpResponse::Ok().json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(provider: web::Data<Arc<Provider>>) -> HttpResponse {
    provider.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = provider.keys.lock().unwrap().iter().map(|k| k.public_jwk().clone()).collect();
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

/// Portti's published upstream keys.
async fn portti_jwks(provider: &Provider) -> Value {
    let portti = provider.portti.lock().unwrap().clone();
    reqwest::get(format!("{portti}/upstream/jwks")).await.unwrap().json().await.unwrap()
}

async fn authorize(provider: web::Data<Arc<Provider>>, req: HttpRequest) -> HttpResponse {
    let mut params: HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    if provider.ftn {
        // FTN: the whole request is a request object signed by Portti's key.
        let Some(request) = params.get("request") else { return HttpResponse::BadRequest().body("no request object") };
        let claims = match jose::verify(request, &portti_jwks(&provider).await) {
            Ok(claims) => claims,
            Err(e) => return HttpResponse::BadRequest().body(format!("request object: {e:?}")),
        };
        let outside = params.clone();
        params =
            claims.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or(v.to_string()))).collect();
        params.insert("request_object_verified".into(), "yes".into());
        params.insert("outside_client_id".into(), outside.get("client_id").cloned().unwrap_or_default());
    }
    *provider.last_authorization.lock().unwrap() = params.clone();
    let redirect_uri = params.get("redirect_uri").cloned().unwrap_or_default();
    let state = params.get("state").cloned().unwrap_or_default();
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    let iss = if provider.behaviour.lock().unwrap().wrong_iss {
        "https://another-provider.example".to_owned()
    } else {
        provider.base.lock().unwrap().clone()
    };
    back.query_pairs_mut().append_pair("iss", &iss);
    if provider.behaviour.lock().unwrap().cancel {
        back.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", &state);
    } else {
        let code = portti::crypto::secret::random_token();
        provider.codes.lock().unwrap().insert(code.clone(), params);
        back.query_pairs_mut().append_pair("code", &code).append_pair("state", &state);
    }
    HttpResponse::SeeOther().insert_header(("Location", back.to_string())).finish()
}

async fn token(provider: web::Data<Arc<Provider>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    provider.token_requests.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    *provider.last_token_request.lock().unwrap() = form.clone();
    let base = provider.base.lock().unwrap().clone();
    let now = super::now() + provider.clock_offset.load(Ordering::SeqCst);
    // Client authentication: the FTN assertion, or HTTP Basic.
    if provider.ftn {
        let Some(assertion) = form.get("client_assertion") else { return invalid_client("no client assertion") };
        let Ok(claims) = jose::verify(assertion, &portti_jwks(&provider).await) else {
            return invalid_client("the assertion does not verify");
        };
        let right = claims["iss"] == CLIENT_ID
            && claims["sub"] == CLIENT_ID
            && claims["aud"] == format!("{base}/token").as_str()
            && claims["exp"].as_i64().is_some_and(|exp| exp > now && exp <= now + 300)
            && claims["jti"].as_str().is_some_and(|jti| jti.len() >= 16);
        if !right {
            return invalid_client("the assertion's claims are wrong");
        }
    } else {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        );
        if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return invalid_client("wrong client secret");
        }
    }
    let Some(asked) = form.get("code").and_then(|code| provider.codes.lock().unwrap().remove(code)) else {
        return HttpResponse::BadRequest().json(json!({ "error": "invalid_grant" }));
    };
    if let Some(challenge) = asked.get("code_challenge") {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if &computed != challenge {
            return HttpResponse::BadRequest().json(json!({ "error": "invalid_grant", "error_description": "pkce" }));
        }
    }
    let b = std::mem::take(&mut *provider.behaviour.lock().unwrap());
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::from(base.as_str()));
    claims.insert("aud".into(), Value::from(CLIENT_ID));
    claims.insert("sub".into(), Value::from(b.subject.as_str()));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now + 300));
    let nonce = if b.wrong_nonce { "another-nonce".to_owned() } else { asked["nonce"].clone() };
    claims.insert("nonce".into(), Value::from(nonce));
    if let Some(auth_time) = b.auth_time {
        claims.insert("auth_time".into(), Value::from(auth_time));
    }
    if let Some(acr) = b.acr.as_ref().or(asked.get("acr_values")) {
        claims.insert("acr".into(), Value::from(acr.as_str()));
    }
    if let Some(code) = &b.identity_code {
        let claim = if provider.ftn { "personal_identity_code" } else { "hetu" };
        claims.insert(claim.into(), Value::from(code.as_str()));
    }
    let signer = if b.unpublished_key {
        new_key()
    } else {
        if b.rotate_signing_key {
            provider.keys.lock().unwrap().push(new_key());
        }
        provider.keys.lock().unwrap().last().unwrap().clone()
    };
    let mut id_token = signer.sign("JWT", &claims).unwrap();
    if b.bad_signature {
        let last = id_token.pop().unwrap();
        id_token.push(if last == 'A' { 'B' } else { 'A' });
    }
    if provider.ftn {
        let to = if b.encrypt_to_other_key {
            RsaKey::from_der(KeyUse::Enc, &jose::generate_rsa_key().unwrap()).unwrap().public_jwk().clone()
        } else {
            let portti = portti_jwks(&provider).await;
            portti["keys"].as_array().unwrap().iter().find(|k| k["use"] == "enc").unwrap().clone()
        };
        id_token = encrypt(&id_token, &to);
    }
    // The behaviour stays as the test set it, for the next sign-in.
    *provider.behaviour.lock().unwrap() = b;
    HttpResponse::Ok().json(json!({ "access_token": "at", "token_type": "Bearer", "id_token": id_token }))
}

/// A JWE (RSA-OAEP, A128CBC-HS256) of `plaintext` to the public JWK `to`.
fn encrypt(plaintext: &str, to: &Value) -> String {
    let jwk = Jwk::from_map(to.as_object().unwrap().clone()).unwrap();
    let encrypter = josekit::jwe::RSA_OAEP.encrypter_from_jwk(&jwk).unwrap();
    let mut header = JweHeader::new();
    header.set_content_encryption("A128CBC-HS256");
    header.set_content_type("JWT");
    if let Some(kid) = jwk.key_id() {
        header.set_key_id(kid);
    }
    josekit::jwe::serialize_compact(plaintext.as_bytes(), &header, &encrypter).unwrap()
}

fn invalid_client(why: &str) -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({ "error": "invalid_client", "error_description": why }))
}
