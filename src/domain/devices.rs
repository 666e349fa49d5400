//! The mobile app's device credential (DESIGN.md, "App API"): a P-256 key
//! that never leaves the phone, registered once the person has signed in to
//! the app (which completes their invitation), listed and removed by them,
//! and used to sign in later with the JWT bearer grant
//! ([`super::grants::jwt_bearer`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::access_token::verify_access_token;
use super::audit::{self, Event, Origin, Subjects};
use super::company::parse_name;
use super::grants::TokenContext;
use super::ids::UserId;
use super::refusal::{Refusal, minutes};
use crate::clock::UnixSeconds;
use crate::error::{Error, Result};
use crate::store::{Store, StoredDevice};

/// How recent the sign-in of the access token that registers a device must be.
pub const FRESH_SIGN_IN_SECONDS: i64 = 10 * 60;

/// The longest platform name (`ios`, `android`, `iPadOS 18`) accepted.
pub const MAX_PLATFORM_LENGTH: usize = 40;

/// A device's public key: the JWK `x` and `y` of a point on P-256,
/// base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKey {
    pub x: String,
    pub y: String,
}

impl DeviceKey {
    /// Reads a P-256 public JWK: `kty` EC, `crv` P-256, `x` and `y` base64url
    /// of 32 bytes each, together a point on the curve; never a private key
    /// (`d`). Anything else is [`Refusal::InvalidKey`].
    pub fn from_jwk(jwk: &Value) -> Result<Self, Refusal> {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        if field("kty") != Some("EC") || field("crv") != Some("P-256") || jwk.get("d").is_some() {
            return Err(Refusal::InvalidKey);
        }
        if field("alg").is_some_and(|alg| alg != "ES256") {
            return Err(Refusal::InvalidKey);
        }
        let coordinate = |name: &str| -> Result<Vec<u8>, Refusal> {
            let bytes =
                URL_SAFE_NO_PAD.decode(field(name).ok_or(Refusal::InvalidKey)?).map_err(|_| Refusal::InvalidKey)?;
            if bytes.len() == 32 { Ok(bytes) } else { Err(Refusal::InvalidKey) }
        };
        let (x, y) = (coordinate("x")?, coordinate("y")?);
        let mut point = Vec::with_capacity(65);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        // aws-lc checks that the point is on the curve.
        aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, &point)
            .map_err(|_| Refusal::InvalidKey)?;
        Ok(Self { x: URL_SAFE_NO_PAD.encode(x), y: URL_SAFE_NO_PAD.encode(y) })
    }
}

/// A device as its person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub device_id: String,
    pub name: String,
    pub platform: String,
    pub created_at: UnixSeconds,
    pub last_used_at: Option<UnixSeconds>,
}

impl From<StoredDevice> for Device {
    fn from(stored: StoredDevice) -> Self {
        Self {
            device_id: stored.id,
            name: stored.name,
            platform: stored.platform,
            created_at: stored.created_at,
            last_used_at: stored.last_used_at,
        }
    }
}

/// How recent the sign-in behind an access token must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInAge {
    /// At most [`FRESH_SIGN_IN_SECONDS`] old: to register a device.
    Fresh,
    /// Any, while the token is valid.
    Any,
}

/// The person an access token of the app's client (`app_client_id`) speaks
/// for. A token of another client, or of no person, is `invalid_token`; with
/// [`SignInAge::Fresh`], a sign-in older than [`FRESH_SIGN_IN_SECONDS`] is
/// refused with [`Refusal::FreshSignInRequired`].
pub fn app_person(ctx: &TokenContext<'_>, now: UnixSeconds, token: &str, age: SignInAge) -> Result<UserId> {
    let access = verify_access_token(ctx, now, token)?;
    if ctx.app_client_id != Some(access.client_id.as_str()) || access.gid.is_none() {
        return Err(Error::InvalidToken);
    }
    if age == SignInAge::Fresh && !is_fresh(access.auth_time, now) {
        return Err(Refusal::FreshSignInRequired { minutes: minutes(FRESH_SIGN_IN_SECONDS) }.into());
    }
    Ok(UserId::from_stored(access.sub))
}

/// Whether a sign-in at `auth_time` is recent enough to register a device.
pub fn is_fresh(auth_time: Option<UnixSeconds>, now: UnixSeconds) -> bool {
    auth_time.is_some_and(|at| at <= now + 60 && now - at <= FRESH_SIGN_IN_SECONDS)
}

/// Validates a platform name: 1 to [`MAX_PLATFORM_LENGTH`] characters, no
/// control characters.
pub fn parse_platform(input: &str) -> Result<String> {
    let platform = input.trim();
    if platform.is_empty() || platform.chars().count() > MAX_PLATFORM_LENGTH || platform.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(format!(
            "platform must be 1-{MAX_PLATFORM_LENGTH} characters without control characters (ios, android)"
        )));
    }
    Ok(platform.to_owned())
}

/// What registering a device says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice<'a> {
    /// The public JWK, as sent.
    pub public_key: &'a Value,
    pub name: &'a str,
    pub platform: &'a str,
}

/// Registers a device of `user`, and completes the person's live
/// invitations: the activation ends with the device credential. Returns the
/// `device_id`.
pub fn register(store: &Store, now: UnixSeconds, origin: &Origin, user: &UserId, new: NewDevice<'_>) -> Result<String> {
    let key = DeviceKey::from_jwk(new.public_key)?;
    let name = parse_name(new.name)?;
    let platform = parse_platform(new.platform)?;
    let device = StoredDevice {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user.as_str().to_owned(),
        key_x: key.x,
        key_y: key.y,
        name,
        platform: platform.clone(),
        created_at: now,
        last_used_at: None,
    };
    store.write(|tx| {
        if tx.user(user)?.is_none() {
            return Err(Error::InvalidToken);
        }
        tx.insert_device(&device)?;
        audit::record(tx, now, origin, Subjects::person(user), Event::DeviceRegistered { platform })?;
        let live = tx.live_invitations_of(user)?;
        tx.complete_invitations_of(user, now)?;
        for invitation in &live {
            let about = Subjects { company: Some(&invitation.company_id), ..Subjects::person(user) };
            audit::record(tx, now, origin, about, Event::InvitationCompleted)?;
        }
        Ok(device.id.clone())
    })
}

/// A person's devices, the first registered first.
pub fn list(store: &Store, user: &UserId) -> Result<Vec<Device>> {
    Ok(store.read(|r| r.devices_of(user))?.into_iter().map(Device::from).collect())
}

/// Removes a device of `user`: it is refused at once, and the tokens its
/// sign-ins gave stop working. Another person's device, or none, is not found.
pub fn remove(store: &Store, now: UnixSeconds, origin: &Origin, user: &UserId, device_id: &str) -> Result<()> {
    store.write(|tx| {
        if !tx.delete_device(device_id, user, now)? {
            return Err(Error::NotFound("device"));
        }
        audit::record(tx, now, origin, Subjects::person(user), Event::DeviceRemoved)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    fn generated() -> (String, String) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..]))
    }

    #[test]
    fn a_p256_public_jwk_is_a_device_key() {
        let (x, y) = generated();
        let key = DeviceKey::from_jwk(&json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})).unwrap();
        assert_eq!((key.x.as_str(), key.y.as_str()), (x.as_str(), y.as_str()));
        assert!(DeviceKey::from_jwk(&json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "alg": "ES256"})).is_ok());
    }

    #[test]
    fn anything_else_is_an_invalid_key() {
        let (x, y) = generated();
        let (other_x, _) = generated();
        let short = URL_SAFE_NO_PAD.encode([1u8; 31]);
        for jwk in [
            json!({"kty": "RSA", "crv": "P-256", "x": x, "y": y}),
            json!({"kty": "EC", "crv": "P-384", "x": x, "y": y}),
            json!({"kty": "EC", "crv": "P-256", "x": x}),
            json!({"kty": "EC", "crv": "P-256", "x": short, "y": y}),
            json!({"kty": "EC", "crv": "P-256", "x": "not base64!", "y": y}),
            json!({"kty": "EC", "crv": "P-256", "x": other_x, "y": y}),
            json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "d": x}),
            json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "alg": "RS256"}),
            json!("a string"),
        ] {
            assert_eq!(DeviceKey::from_jwk(&jwk), Err(Refusal::InvalidKey), "{jwk}");
        }
    }

    #[test]
    fn a_device_is_registered_within_ten_minutes_of_signing_in() {
        let now = 1_800_000_000;
        assert!(is_fresh(Some(now), now));
        assert!(is_fresh(Some(now - FRESH_SIGN_IN_SECONDS), now));
        assert!(!is_fresh(Some(now - FRESH_SIGN_IN_SECONDS - 1), now));
        assert!(!is_fresh(None, now), "a token without auth_time is no fresh sign-in");
        assert!(!is_fresh(Some(now + 3600), now), "nor one from the future");
    }

    #[test]
    fn platforms_are_short_names() {
        assert_eq!(parse_platform(" ios ").unwrap(), "ios");
        assert!(parse_platform("").is_err());
        assert!(parse_platform(&"a".repeat(MAX_PLATFORM_LENGTH + 1)).is_err());
        assert!(parse_platform("ios\n").is_ok(), "trimmed");
        assert!(parse_platform("i\u{7}os").is_err());
    }
}
