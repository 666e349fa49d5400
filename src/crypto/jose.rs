//! The JOSE of Portti as an upstream provider's relying party, with
//! `josekit`: RSA keys (RS256 signing, RSA-OAEP decryption), signed request
//! objects and client assertions, JWE ID tokens decrypted before their
//! signature is checked, and signatures checked against a provider's JWKS.
//!
//! Token signing keys are elsewhere ([`super::signing`]); these keys are
//! Portti's own towards its upstreams only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::JoseHeader;
use josekit::jwe::{JweDecrypter, JweHeader};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{JwsHeader, JwsVerifier};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The size of every RSA key made here.
pub const RSA_BITS: u32 = 2048;

/// What a key is for: signing (`sig`, RS256) or decryption (`enc`, RSA-OAEP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUse {
    Sig,
    Enc,
}

impl KeyUse {
    pub const ALL: [KeyUse; 2] = [KeyUse::Sig, KeyUse::Enc];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyUse::Sig => "sig",
            KeyUse::Enc => "enc",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == input)
    }

    /// The algorithm a key of this use is published for.
    fn alg(self) -> &'static str {
        match self {
            KeyUse::Sig => "RS256",
            KeyUse::Enc => "RSA-OAEP",
        }
    }
}

/// A new RSA private key, as PKCS#8 DER.
pub fn generate_rsa_key() -> Result<Vec<u8>> {
    Ok(RsaKeyPair::generate(RSA_BITS).map_err(Error::internal)?.to_der_private_key())
}

/// One of Portti's RSA keys, ready to sign or decrypt.
pub struct RsaKey {
    pub kid: String,
    pub key_use: KeyUse,
    der: Vec<u8>,
    public_jwk: Value,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey").field("kid", &self.kid).field("use", &self.key_use).finish_non_exhaustive()
    }
}

impl RsaKey {
    /// A key from its PKCS#8 DER; its `kid` is derived from the public key,
    /// so it is the same on every instance.
    pub fn from_der(key_use: KeyUse, der: &[u8]) -> Result<Self> {
        let pair = RsaKeyPair::from_der(der).map_err(Error::internal)?;
        if pair.key_len() * 8 < RSA_BITS {
            return Err(Error::internal("an upstream key is shorter than 2048 bits"));
        }
        let public_der = pair.to_der_public_key();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&public_der)[..16]);
        let mut jwk = pair.to_jwk_public_key();
        jwk.set_key_id(kid.clone());
        jwk.set_key_use(key_use.as_str());
        jwk.set_algorithm(key_use.alg());
        let public_jwk = Value::Object(jwk.as_ref().clone());
        Ok(Self { kid, key_use, der: der.to_vec(), public_jwk })
    }

    /// The public key as a JWK, with `kid`, `use` and `alg`.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `claims` as a compact JWS (RS256) with this key's `kid` and `typ`.
    pub fn sign(&self, typ: &str, claims: &Map<String, Value>) -> Result<String> {
        let signer = josekit::jws::RS256.signer_from_der(&self.der).map_err(Error::internal)?;
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(self.kid.clone());
        let payload = serde_json::to_vec(claims).map_err(Error::internal)?;
        josekit::jws::serialize_compact(&payload, &header, &signer).map_err(Error::internal)
    }
}

/// Why a token from an upstream was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFault {
    /// Signed by a key the provider's JWKS does not hold (yet): worth one refetch.
    UnknownKey,
    /// Anything else: the reason, for the log.
    Refused(&'static str),
}

/// The content encryptions accepted in an upstream's JWE.
const ACCEPTED_ENC: [&str; 2] = ["A128CBC-HS256", "A256GCM"];

/// Decrypts a compact JWE (RSA-OAEP or RSA-OAEP-256; A128CBC-HS256 or
/// A256GCM) with the encryption key its `kid` names (every one, when it
/// names none); returns the plaintext, a nested JWS.
pub fn decrypt(token: &str, keys: &[&RsaKey]) -> std::result::Result<Vec<u8>, TokenFault> {
    let header = jwe_header(token).ok_or(TokenFault::Refused("the ID token is not a JWE"))?;
    let alg = header.algorithm().unwrap_or_default();
    let algorithm = match alg {
        "RSA-OAEP" => josekit::jwe::RSA_OAEP,
        "RSA-OAEP-256" => josekit::jwe::RSA_OAEP_256,
        _ => return Err(TokenFault::Refused("the JWE's alg is not RSA-OAEP or RSA-OAEP-256")),
    };
    if !header.content_encryption().is_some_and(|enc| ACCEPTED_ENC.contains(&enc)) {
        return Err(TokenFault::Refused("the JWE's enc is not A128CBC-HS256 or A256GCM"));
    }
    if header.claim("zip").is_some() {
        return Err(TokenFault::Refused("a compressed JWE is not accepted"));
    }
    let candidates = keys.iter().filter(|k| k.key_use == KeyUse::Enc && header.key_id().is_none_or(|kid| kid == k.kid));
    for key in candidates {
        let decrypter = algorithm.decrypter_from_der(&key.der).map_err(|_| TokenFault::Refused("unusable key"))?;
        let dyn_decrypter: &dyn JweDecrypter = &decrypter;
        if let Ok((plaintext, _)) = josekit::jwe::deserialize_compact(token, dyn_decrypter) {
            return Ok(plaintext);
        }
    }
    Err(TokenFault::Refused("the JWE does not decrypt with Portti's keys"))
}

/// A JWE's protected header, read without decrypting.
fn jwe_header(token: &str) -> Option<JweHeader> {
    let parts: Vec<&str> = token.split('.').collect();
    let [protected, _, _, _, _] = parts.as_slice() else { return None };
    let json = URL_SAFE_NO_PAD.decode(protected).ok()?;
    let map: Map<String, Value> = serde_json::from_slice(&json).ok()?;
    JweHeader::from_map(map).ok()
}

/// The signing algorithms accepted from an upstream.
const ACCEPTED_ALGS: [&str; 3] = ["RS256", "PS256", "ES256"];

/// Checks a compact JWS against a provider's JWKS (the key its `kid`
/// names, or its only key of the algorithm); returns its claims.
pub fn verify(token: &str, jwks: &Value) -> std::result::Result<Map<String, Value>, TokenFault> {
    let header = josekit::jwt::decode_header(token).map_err(|_| TokenFault::Refused("the ID token is not a JWS"))?;
    let alg = header.claim("alg").and_then(Value::as_str).unwrap_or_default().to_owned();
    if !ACCEPTED_ALGS.contains(&alg.as_str()) {
        return Err(TokenFault::Refused("the ID token's alg is not RS256, PS256 or ES256"));
    }
    let kid = header.claim("kid").and_then(Value::as_str).map(str::to_owned);
    let keys: Vec<Jwk> = jwks
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|key| key.as_object().and_then(|map| Jwk::from_map(map.clone()).ok()))
        .filter(|jwk| jwk.key_use().is_none_or(|u| u == "sig"))
        .filter(|jwk| jwk.algorithm().is_none_or(|a| a == alg))
        .collect();
    let matching: Vec<&Jwk> = match &kid {
        Some(kid) => keys.iter().filter(|jwk| jwk.key_id() == Some(kid.as_str())).collect(),
        None => keys.iter().collect(),
    };
    let [jwk] = matching.as_slice() else {
        return Err(match (&kid, matching.is_empty()) {
            (_, true) => TokenFault::UnknownKey,
            (_, false) => TokenFault::Refused("the ID token names no kid and the JWKS has several keys"),
        });
    };
    let verifier: Box<dyn JwsVerifier> = match alg.as_str() {
        "RS256" => Box::new(josekit::jws::RS256.verifier_from_jwk(jwk).map_err(|_| unusable())?),
        "PS256" => Box::new(josekit::jws::PS256.verifier_from_jwk(jwk).map_err(|_| unusable())?),
        _ => Box::new(josekit::jws::ES256.verifier_from_jwk(jwk).map_err(|_| unusable())?),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(token, verifier.as_ref())
        .map_err(|_| TokenFault::Refused("the ID token's signature does not verify"))?;
    Ok(payload.claims_set().clone())
}

fn unusable() -> TokenFault {
    TokenFault::Refused("the provider's key does not fit the ID token's alg")
}

/// Whether a token is a JWE (five parts) rather than a JWS (three).
pub fn is_encrypted(token: &str) -> bool {
    token.split('.').count() == 5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key_use: KeyUse) -> RsaKey {
        RsaKey::from_der(key_use, &generate_rsa_key().unwrap()).unwrap()
    }

    fn jwks_of(keys: &[&RsaKey]) -> Value {
        serde_json::json!({ "keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>() })
    }

    fn claims() -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from("someone"));
        claims
    }

    fn encrypt(plaintext: &str, to: &RsaKey, alg: &str, enc: &str) -> String {
        // The published key says RSA-OAEP; a sender of RSA-OAEP-256 uses the key without it.
        let mut map = to.public_jwk().as_object().unwrap().clone();
        map.remove("alg");
        let jwk = Jwk::from_map(map).unwrap();
        let encrypter = match alg {
            "RSA-OAEP" => josekit::jwe::RSA_OAEP.encrypter_from_jwk(&jwk).unwrap(),
            _ => josekit::jwe::RSA_OAEP_256.encrypter_from_jwk(&jwk).unwrap(),
        };
        let mut header = JweHeader::new();
        header.set_content_encryption(enc);
        header.set_key_id(to.kid.clone());
        josekit::jwe::serialize_compact(plaintext.as_bytes(), &header, &encrypter).unwrap()
    }

    #[test]
    fn a_signed_token_verifies_with_its_key_and_not_another() {
        let (signer, other) = (key(KeyUse::Sig), key(KeyUse::Sig));
        let token = signer.sign("JWT", &claims()).unwrap();
        assert_eq!(verify(&token, &jwks_of(&[&other, &signer])).unwrap()["sub"], "someone");
        assert_eq!(verify(&token, &jwks_of(&[&other])), Err(TokenFault::UnknownKey));
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'x');
        assert!(matches!(verify(&tampered, &jwks_of(&[&signer])), Err(TokenFault::Refused(_))));
    }

    #[test]
    fn a_jwe_decrypts_with_the_key_it_names_in_every_accepted_combination() {
        let (enc, other) = (key(KeyUse::Enc), key(KeyUse::Enc));
        for (alg, content) in [("RSA-OAEP", "A128CBC-HS256"), ("RSA-OAEP-256", "A256GCM")] {
            let token = encrypt("inner.jws.here", &enc, alg, content);
            assert!(is_encrypted(&token));
            assert_eq!(decrypt(&token, &[&other, &enc]).unwrap(), b"inner.jws.here");
            assert!(decrypt(&token, &[&other]).is_err(), "another key cannot read it");
        }
        let weak = encrypt("x", &enc, "RSA-OAEP", "A128GCM");
        assert!(decrypt(&weak, &[&enc]).is_err(), "A128GCM is not accepted");
    }

    #[test]
    fn keys_are_2048_bits_with_a_stable_kid_and_their_use() {
        let der = generate_rsa_key().unwrap();
        let (a, b) = (RsaKey::from_der(KeyUse::Enc, &der).unwrap(), RsaKey::from_der(KeyUse::Enc, &der).unwrap());
        assert_eq!(a.kid, b.kid);
        assert_eq!(a.public_jwk()["use"], "enc");
        assert_eq!(a.public_jwk()["alg"], "RSA-OAEP");
        assert!(a.public_jwk().get("d").is_none(), "no private part is published");
        assert_eq!(URL_SAFE_NO_PAD.decode(a.public_jwk()["n"].as_str().unwrap()).unwrap().len(), 256);
    }
}
