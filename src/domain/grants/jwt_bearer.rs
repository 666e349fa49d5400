//! The JWT bearer grant (RFC 7523 §2.1): the mobile app signs the person in
//! with its device credential. The assertion is an ES256 JWS by the device
//! key (header `kid` = the device id) that the phone makes only once the
//! person has unlocked the key with their PIN, fingerprint or face; it is
//! used once. Honoured only for the app's client (`app.client_id`).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::TokenContext;
use super::{Grant, TokenResponse, invalid_grant, record_grant_tokens, sign_grant_tokens};
use crate::clock::UnixSeconds;
use crate::crypto::secret::sha256_hex;
use crate::domain::audit::{self, Event, Subjects};
use crate::domain::client::{Client, GrantType};
use crate::domain::discovery::ACR_MFA;
use crate::domain::discovery::{ADMIN_SCOPE, SCOPES};
use crate::domain::ids::UserId;
use crate::domain::throttle::{Subject, is_locked};
use crate::error::{Error, Result};
use crate::store::{StoredDevice, StoredGrant};

/// How far an assertion's `iat` may be from Portti's clock.
pub const IAT_SKEW_SECONDS: i64 = 60;

/// The longest an assertion may live (`exp` − `iat`).
pub const MAX_LIFETIME_SECONDS: i64 = 300;

/// The refusal of a person who has not accepted the terms in force; the
/// code before the colon is for the app to act on.
pub const TERMS_NOT_ACCEPTED: &str =
    "terms_not_accepted: the terms of service have changed; sign in through the browser once to accept them";

/// The longest `jti` accepted.
const MAX_JTI_LENGTH: usize = 256;

/// The `jti` of a JWS a device signed, if it has a usable one: not empty,
/// at most [`MAX_JTI_LENGTH`] bytes (it is stored, as a digest, until the
/// JWS expires).
pub fn usable_jti(jti: Option<String>) -> Option<String> {
    jti.filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI_LENGTH)
}

/// The parameters of a `urn:ietf:params:oauth:grant-type:jwt-bearer` request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JwtBearerRequest {
    pub assertion: String,
    pub scope: Option<String>,
}

/// How the person unlocked the device key, as the assertion's `amr` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlock {
    Pin,
    Fingerprint,
    Face,
}

impl Unlock {
    /// The `amr` value (RFC 8176).
    pub fn amr(self) -> &'static str {
        match self {
            Unlock::Pin => "pin",
            Unlock::Fingerprint => "fpt",
            Unlock::Face => "face",
        }
    }

    /// Exactly one of `pin`, `fpt`, `face`.
    pub fn of(amr: &[String]) -> Option<Self> {
        match amr {
            [one] => [Unlock::Pin, Unlock::Fingerprint, Unlock::Face].into_iter().find(|u| u.amr() == one),
            _ => None,
        }
    }
}

/// The claims of a device's assertion.
#[derive(Debug, Clone, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Audience,
    iat: Option<i64>,
    exp: Option<i64>,
    jti: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
}

/// `aud`: one string or an array of them (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names(&self, wanted: &str) -> bool {
        match self {
            Audience::None => false,
            Audience::One(aud) => aud == wanted,
            Audience::Many(auds) => auds.iter().any(|aud| aud == wanted),
        }
    }
}

/// An assertion whose signature and claims hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub jti: String,
    pub exp: UnixSeconds,
    pub unlock: Unlock,
}

/// The device id an assertion names in its header (`kid`), before anything
/// is verified: which key to verify it with.
pub fn device_of(assertion: &str) -> std::result::Result<String, &'static str> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| "the assertion is not a JWS")?;
    if header.alg != Algorithm::ES256 {
        return Err("the assertion must be signed with ES256");
    }
    let kid = header.kid.ok_or("the assertion's header has no kid (the device id)")?;
    uuid::Uuid::parse_str(&kid).map(|id| id.to_string()).map_err(|_| "the device is not registered")
}

/// The claims of a JWS that the device's key signed (ES256); only the
/// signature is checked here, the claims are the caller's to check against
/// Portti's clock.
pub fn signed_by_device<T: serde::de::DeserializeOwned>(
    jws: &str,
    device: &StoredDevice,
) -> std::result::Result<T, &'static str> {
    let key =
        DecodingKey::from_ec_components(&device.key_x, &device.key_y).map_err(|_| "the device key is unusable")?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<T>(jws, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| "the signature is not the device's")
}

/// Verifies a device's assertion: its ES256 signature by the device's key,
/// `iss` = the device, `sub` = its person, `aud` = the token endpoint,
/// `iat` within [`IAT_SKEW_SECONDS`] of `now`, `exp` not past and at most
/// [`MAX_LIFETIME_SECONDS`] after `iat`, a `jti`, and one unlock method in
/// `amr`. The error says what failed, for the client's developer.
pub fn verify_assertion(
    assertion: &str,
    device: &StoredDevice,
    token_endpoint: &str,
    now: UnixSeconds,
) -> std::result::Result<VerifiedAssertion, &'static str> {
    let claims: AssertionClaims =
        signed_by_device(assertion, device).map_err(|_| "the assertion's signature is not the device's")?;
    if claims.iss.as_deref() != Some(device.id.as_str()) {
        return Err("the assertion's iss is not the device");
    }
    if claims.sub.as_deref() != Some(device.user_id.as_str()) {
        return Err("the assertion's sub is not the device's person");
    }
    if !claims.aud.names(token_endpoint) {
        return Err("the assertion's aud is not this token endpoint");
    }
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err("the assertion needs iat and exp");
    };
    if iat.abs_diff(now) > IAT_SKEW_SECONDS.unsigned_abs() {
        return Err("the assertion's iat is too far from the current time");
    }
    if exp <= now {
        return Err("the assertion has expired");
    }
    if exp > iat.saturating_add(MAX_LIFETIME_SECONDS) {
        return Err("the assertion lives too long (exp at most 300 seconds after iat)");
    }
    let jti = usable_jti(claims.jti).ok_or("the assertion needs a jti")?;
    let unlock = Unlock::of(&claims.amr).ok_or("the assertion's amr must be [\"pin\"], [\"fpt\"] or [\"face\"]")?;
    Ok(VerifiedAssertion { jti, exp, unlock })
}

/// The scopes asked for: each one Portti knows (else `invalid_scope`);
/// `offline_access` only for a client that may refresh (otherwise left out,
/// as at the authorization endpoint).
pub fn asked_scopes(scope: Option<&str>, client: &Client) -> Result<Vec<String>> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in scope.unwrap_or("").split_whitespace() {
        if !SCOPES.contains(&scope) {
            return Err(Error::InvalidScope(format!("unknown scope {scope}")));
        }
        if scope == ADMIN_SCOPE && !client.first_party {
            return Err(Error::InvalidScope("only first-party applications may ask for admin".to_owned()));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if !client.grants.contains(&GrantType::RefreshToken) {
        scopes.retain(|s| s != "offline_access");
    }
    Ok(scopes)
}

impl Grant for JwtBearerRequest {
    const TYPE: GrantType = GrantType::JwtBearer;

    /// Verifies the assertion, spends its `jti` and starts a grant of the
    /// device's person, with `amr` ["hwk", the unlock method, "mfa"]. A
    /// refusal changes nothing.
    fn issue(self, ctx: &TokenContext<'_>, now: UnixSeconds, client: &Client) -> Result<TokenResponse> {
        if ctx.app_client_id != Some(client.id.as_str()) {
            return Err(Error::UnauthorizedClient("only the mobile app's client may use the device-key grant".into()));
        }
        let Self { assertion, scope } = self;
        let scopes = asked_scopes(scope.as_deref(), client)?;
        let device_id = device_of(&assertion).map_err(invalid_grant)?;
        let token_endpoint = format!("{}/token", ctx.issuer);
        // The key is taken before the transaction: once it commits, nothing but
        // the signature itself may fail.
        let signer = ctx.signing.signer(client.alg)?.clone();
        // The signature is checked before the transaction too, so that no
        // other write waits for it; the transaction first locks the device's
        // row, still there with the same key, so that its removal cannot
        // miss the grant this starts.
        let not_registered = || invalid_grant("the device is not registered");
        let device = ctx.store.read(|r| r.device(&device_id))?.ok_or_else(not_registered)?;
        let verified = verify_assertion(&assertion, &device, &token_endpoint, now).map_err(invalid_grant)?;
        ctx.store
            .write(|tx| {
                if !tx.use_device(&device, now)? {
                    return Err(not_registered());
                }
                let user = UserId::from_stored(device.user_id.clone());
                if is_locked(tx.locked_until(Subject::person(&user).key())?, now) {
                    return Err(invalid_grant("the account is locked"));
                }
                // No page here can ask for new terms: the app signs the person
                // in through the browser once, where they are asked.
                if !tx.has_accepted_terms(&user, ctx.terms_version)? {
                    return Err(invalid_grant(TERMS_NOT_ACCEPTED));
                }
                if !tx.use_device_assertion(&device.id, &sha256_hex(&verified.jti), verified.exp)? {
                    return Err(invalid_grant("the assertion was already used"));
                }
                let scopes = crate::domain::admin::granted_scopes(tx, &user, &scopes)?;
                let method = verified.unlock.amr();
                let grant = StoredGrant {
                    id: uuid::Uuid::now_v7().to_string(),
                    user_id: device.user_id.clone(),
                    client_id: client.id.as_str().to_owned(),
                    session_public_id: None,
                    scopes: scopes.join(" "),
                    auth_time: now,
                    amr: format!("hwk {method} mfa"),
                    created_at: now,
                    expires_at: now + ctx.tokens.refresh_token_seconds,
                    revoked_at: None,
                    acr: Some(ACR_MFA.to_owned()),
                };
                tx.insert_grant(&grant)?;
                tx.insert_device_grant(&grant.id, &device.id)?;
                let about = Subjects::person(&user).with_client(client.id.as_str());
                audit::record(tx, now, &ctx.origin, about, Event::DeviceSignedIn { method })?;
                record_grant_tokens(tx, now, client, grant, None, None)
            })
            .and_then(|tokens| sign_grant_tokens(ctx, now, client, &signer, tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    const NOW: i64 = 1_800_000_000;
    const ENDPOINT: &str = "https://login.example/token";

    struct Phone {
        pair: EcdsaKeyPair,
        device: StoredDevice,
    }

    fn phone() -> Phone {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let device = StoredDevice {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: uuid::Uuid::new_v4().to_string(),
            key_x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            key_y: URL_SAFE_NO_PAD.encode(&point[33..]),
            name: "Maija's phone".into(),
            platform: "ios".into(),
            created_at: 0,
            last_used_at: None,
        };
        Phone { pair, device }
    }

    impl Phone {
        fn claims(&self) -> Value {
            json!({
                "iss": self.device.id, "sub": self.device.user_id, "aud": ENDPOINT,
                "iat": NOW, "exp": NOW + 60, "jti": "j1", "amr": ["pin"],
            })
        }

        fn sign(&self, claims: &Value) -> String {
            let der = self.pair.to_pkcs8v1().unwrap();
            let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_ref());
            let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
            header.kid = Some(self.device.id.clone());
            jsonwebtoken::encode(&header, claims, &key).unwrap()
        }

        fn verify(&self, claims: Value) -> std::result::Result<VerifiedAssertion, &'static str> {
            verify_assertion(&self.sign(&claims), &self.device, ENDPOINT, NOW)
        }
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    #[test]
    fn a_device_signed_assertion_is_verified() {
        let phone = phone();
        let verified = phone.verify(phone.claims()).unwrap();
        assert_eq!(verified, VerifiedAssertion { jti: "j1".into(), exp: NOW + 60, unlock: Unlock::Pin });
        assert_eq!(device_of(&phone.sign(&phone.claims())).unwrap(), phone.device.id);
        let face = phone.verify(with(phone.claims(), "amr", json!(["face"]))).unwrap();
        assert_eq!(face.unlock.amr(), "face");
        assert!(phone.verify(with(phone.claims(), "aud", json!([ENDPOINT, "other"]))).is_ok());
    }

    #[test]
    fn each_claim_is_checked() {
        let phone = phone();
        let other = self::phone();
        let refused = |claims: Value| phone.verify(claims).unwrap_err();
        let base = phone.claims();
        assert!(refused(with(base.clone(), "iss", json!(other.device.id))).contains("iss"));
        assert!(refused(with(base.clone(), "sub", json!(other.device.user_id))).contains("sub"));
        assert!(refused(with(base.clone(), "aud", json!("https://elsewhere.example/token"))).contains("aud"));
        assert!(refused(with(base.clone(), "iat", json!(NOW - 61))).contains("iat"));
        assert!(refused(with(base.clone(), "iat", json!(NOW + 61))).contains("iat"));
        assert!(phone.verify(with(base.clone(), "iat", json!(NOW - 60))).is_ok(), "60 s of skew is allowed");
        assert!(refused(with(base.clone(), "exp", json!(NOW))).contains("expired"));
        let long = with(with(base.clone(), "iat", json!(NOW - 10)), "exp", json!(NOW + 291));
        assert!(refused(long).contains("too long"));
        assert!(refused(with(base.clone(), "jti", json!(""))).contains("jti"));
        assert!(refused(with(base.clone(), "amr", json!(["pwd"]))).contains("amr"));
        assert!(refused(with(base.clone(), "amr", json!(["pin", "face"]))).contains("amr"));
        // Signed by another key: the signature is not the device's.
        let forged = other.sign(&base);
        assert!(verify_assertion(&forged, &phone.device, ENDPOINT, NOW).unwrap_err().contains("signature"));
    }

    #[test]
    fn the_header_names_the_device_and_es256() {
        assert!(device_of("not a jws").is_err());
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &json!({}),
            &jsonwebtoken::EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert_eq!(device_of(&hs).unwrap_err(), "the assertion must be signed with ES256");
    }
}
