//! The claims of an upstream's ID token, once its signature verified:
//! OpenID Connect Core 3.1.3.7 (`iss`, `aud`, `azp`, `exp`, `iat`, `nonce`)
//! and the `acr` asked for.

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::clock::UnixSeconds;
use crate::config::UpstreamConfig;
use crate::crypto::secret::sha256_hex;
use crate::domain::upstream::VerifiedIdentity;

/// How far the provider's clock may be from Portti's.
const CLOCK_SKEW_SECONDS: i64 = 60;
/// The oldest ID token accepted: issued for this trip, minutes ago at most.
const MAX_AGE_SECONDS: i64 = 10 * 60;

/// What the trip that asked for the token expects of it.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The issuer the provider's discovery (or the settings) named.
    pub issuer: &'a str,
    /// The digest of the nonce sent with the trip.
    pub nonce_digest: &'a str,
}

/// Checks the claims of a verified ID token; returns who it identifies.
pub fn check(
    claims: &Map<String, Value>,
    config: &UpstreamConfig,
    expected: Expected<'_>,
    now: UnixSeconds,
) -> Result<VerifiedIdentity, &'static str> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if !text("iss").is_some_and(|iss| super::same_issuer(iss, expected.issuer)) {
        return Err("the ID token's iss is not the provider");
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&config.client_id.as_str()) {
        return Err("the ID token's aud is not Portti");
    }
    let azp = text("azp");
    if (audiences.len() > 1 || azp.is_some()) && azp != Some(config.client_id.as_str()) {
        return Err("the ID token's azp is not Portti");
    }
    let exp = number("exp").ok_or("the ID token has no exp")?;
    if exp.saturating_add(CLOCK_SKEW_SECONDS) <= now {
        return Err("the ID token has expired");
    }
    let iat = number("iat").ok_or("the ID token has no iat")?;
    if iat > now.saturating_add(CLOCK_SKEW_SECONDS) || iat < now.saturating_sub(MAX_AGE_SECONDS) {
        return Err("the ID token's iat is not now");
    }
    let nonce = text("nonce").ok_or("the ID token has no nonce")?;
    if !bool::from(sha256_hex(nonce).as_bytes().ct_eq(expected.nonce_digest.as_bytes())) {
        return Err("the ID token's nonce is not the one sent");
    }
    let acr = text("acr").map(str::to_owned);
    let accepted = config.accepted_acr();
    if !accepted.is_empty() && !acr.as_ref().is_some_and(|acr| accepted.contains(acr)) {
        return Err("the ID token's acr is not one accepted");
    }
    let subject = text("sub").filter(|sub| !sub.is_empty() && sub.len() <= 255).ok_or("the ID token has no sub")?;
    // The person identified for this trip: not at a sign-in the provider
    // kept from before it (a trip lives ten minutes), nor in the future.
    let auth_time = match number("auth_time") {
        Some(at) if at > now.saturating_add(CLOCK_SKEW_SECONDS) => return Err("the ID token's auth_time is ahead"),
        Some(at) if at < now.saturating_sub(MAX_AGE_SECONDS + CLOCK_SKEW_SECONDS) => {
            return Err("the ID token's auth_time is older than the trip");
        }
        other => other,
    };
    Ok(VerifiedIdentity {
        upstream_id: config.id.clone(),
        issuer: expected.issuer.to_owned(),
        subject: subject.to_owned(),
        acr,
        auth_time,
        identity_code: text(&config.link_claim).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const LOA2: &str = "http://ftn.ficora.fi/2017/loa2";

    fn config() -> UpstreamConfig {
        let toml = format!(
            r#"
            id = "bank"
            name = "Finnish bank ID"
            issuer = "https://broker.example"
            client_id = "portti"
            auth = "private_key_jwt"
            acr_values = "{LOA2}"
            link_claim = "personal_identity_code"
            "#
        );
        toml::from_str(&toml).unwrap()
    }

    fn claims() -> Map<String, Value> {
        serde_json::json!({
            "iss": "https://broker.example",
            "aud": "portti",
            "sub": "broker-subject-1",
            "exp": NOW + 300,
            "iat": NOW - 5,
            "auth_time": NOW - 20,
            "nonce": "the-nonce",
            "acr": LOA2,
            "personal_identity_code": "131052-308T",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn checked(claims: &Map<String, Value>) -> Result<VerifiedIdentity, &'static str> {
        let digest = sha256_hex("the-nonce");
        check(claims, &config(), Expected { issuer: "https://broker.example", nonce_digest: &digest }, NOW)
    }

    fn with(name: &str, value: Value) -> Map<String, Value> {
        let mut claims = claims();
        claims.insert(name.into(), value);
        claims
    }

    #[test]
    fn a_right_token_identifies_its_person_with_acr_and_auth_time() {
        let identity = checked(&claims()).unwrap();
        assert_eq!(identity.subject, "broker-subject-1");
        assert_eq!(identity.acr.as_deref(), Some(LOA2));
        assert_eq!(identity.auth_time, Some(NOW - 20));
        assert_eq!(identity.identity_code.as_deref(), Some("131052-308T"));
        assert!(checked(&with("aud", serde_json::json!(["portti", "other"]))).is_err(), "two audiences need azp");
        assert!(checked(&with("aud", serde_json::json!(["portti"]))).is_ok());
    }

    #[test]
    fn every_claim_that_is_wrong_refuses_the_token() {
        let cases = [
            ("iss", Value::from("https://evil.example")),
            ("aud", Value::from("someone-else")),
            ("azp", Value::from("someone-else")),
            ("exp", Value::from(NOW - 61)),
            ("iat", Value::from(NOW + 120)),
            ("iat", Value::from(NOW - 3600)),
            ("nonce", Value::from("another-nonce")),
            ("acr", Value::from("http://ftn.ficora.fi/2017/loa1")),
            ("sub", Value::from("")),
            ("auth_time", Value::from(NOW - 3600)),
            ("auth_time", Value::from(NOW + 120)),
            ("iat", Value::from(i64::MIN)),
        ];
        for (name, value) in cases {
            assert!(checked(&with(name, value.clone())).is_err(), "{name} = {value}");
        }
        for missing in ["exp", "iat", "nonce", "acr", "sub"] {
            let mut claims = claims();
            claims.remove(missing);
            assert!(checked(&claims).is_err(), "without {missing}");
        }
    }
}
