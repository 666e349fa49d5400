//! Token signing keys: generation and signing (aws-lc-rs), JWT verification
//! (jsonwebtoken), and their public JWKs.
//!
//! A JWT is signed here, with the key parsed once when it is loaded:
//! jsonwebtoken parses (and for RSA validates) the private key again for
//! every signature, which cost RS256 tokens two thirds of their time.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The algorithm a client's tokens are signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    /// Every algorithm Portti keeps a key for.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(input: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == input).ok_or_else(|| {
            Error::InvalidRequest(format!("`{input}` is not a signing algorithm; use RS256, ES256 or EdDSA"))
        })
    }

    fn jwt_algorithm(self) -> Algorithm {
        match self {
            SigningAlg::RS256 => Algorithm::RS256,
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::EdDSA => Algorithm::EdDSA,
        }
    }
}

/// Generates a new private key for `alg`, as PKCS#8 DER.
pub fn generate_private_key(alg: SigningAlg) -> Result<Vec<u8>> {
    let failed = |e: aws_lc_rs::error::Unspecified| Error::internal(format_args!("key generation: {e}"));
    let der = match alg {
        SigningAlg::RS256 => {
            let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(failed)?;
            key.as_der().map_err(failed)?.as_ref().to_vec()
        }
        SigningAlg::ES256 => {
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?;
            key.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()
        }
        SigningAlg::EdDSA => {
            let key = Ed25519KeyPair::generate().map_err(failed)?;
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key).map_err(failed)?.as_ref().to_vec()
        }
    };
    Ok(der)
}

/// A parsed private key.
enum PrivateKey {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl PrivateKey {
    fn parse(alg: SigningAlg, der: &[u8]) -> Result<Self> {
        let invalid = |e: aws_lc_rs::error::KeyRejected| Error::internal(format_args!("signing key: {e}"));
        Ok(match alg {
            SigningAlg::RS256 => Self::Rsa(aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(invalid)?),
            SigningAlg::ES256 => {
                Self::Ecdsa(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(invalid)?)
            }
            SigningAlg::EdDSA => Self::Ed25519(Ed25519KeyPair::from_pkcs8(der).map_err(invalid)?),
        })
    }

    /// The JWS signature of `input`: PKCS#1 v1.5, or `r || s` for ECDSA (RFC 7518).
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>> {
        let failed = |_| Error::internal("signing failed");
        Ok(match self {
            Self::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut signature).map_err(failed)?;
                signature
            }
            Self::Ecdsa(key) => key.sign(&SystemRandom::new(), input).map_err(failed)?.as_ref().to_vec(),
            Self::Ed25519(key) => key.sign(input).as_ref().to_vec(),
        })
    }
}

/// A private signing key ready to use, with its public half as a JWK.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    private: PrivateKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a PKCS#8 DER private key. The `kid` is the key's RFC 7638 thumbprint.
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self> {
        let invalid = |e: jsonwebtoken::errors::Error| Error::internal(format_args!("signing key: {e}"));
        let encoding = match alg {
            // jsonwebtoken takes RSA keys as PKCS#1 DER, or as PKCS#8 wrapped in PEM.
            SigningAlg::RS256 => EncodingKey::from_rsa_pem(pem::encode(&pem::Pem::new("PRIVATE KEY", der)).as_bytes())
                .map_err(invalid)?,
            SigningAlg::ES256 => EncodingKey::from_ec_der(der),
            SigningAlg::EdDSA => EncodingKey::from_ed_der(der),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt_algorithm()).map_err(invalid)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(invalid)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        let private = PrivateKey::parse(alg, der)?;
        Ok(Self { kid, alg, private, decoding, jwk })
    }

    /// The public key, as published in JWKS.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `claims` as a JWT (JWS compact serialisation) with this key's
    /// `kid` and the given `typ`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'a str,
            typ: &'a str,
            kid: &'a str,
        }
        let header =
            serde_json::to_vec(&Header { alg: self.alg.as_str(), typ, kid: &self.kid }).map_err(Error::internal)?;
        let payload = serde_json::to_vec(claims).map_err(Error::internal)?;
        let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 360);
        URL_SAFE_NO_PAD.encode_string(header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.private.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// Verifies a JWT signed by one of `keys` and of type `typ`, and returns its
/// claims. Expiry is the caller's to check, against its own clock.
pub fn verify<T: DeserializeOwned>(token: &str, typ: &str, keys: &[Arc<SigningKey>]) -> Option<T> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(typ)) {
        return None;
    }
    let key = keys.iter().find(|key| header.kid.as_deref() == Some(key.kid.as_str()))?;
    if header.alg != key.alg.jwt_algorithm() {
        return None;
    }
    let mut validation = Validation::new(key.alg.jwt_algorithm());
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<T>(token, &key.decoding, &validation).ok().map(|data| data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Claims {
        sub: String,
    }

    fn key(alg: SigningAlg) -> Arc<SigningKey> {
        Arc::new(SigningKey::from_pkcs8(alg, &generate_private_key(alg).unwrap()).unwrap())
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in SigningAlg::ALL {
            let key = key(alg);
            let token = key.sign("JWT", &Claims { sub: "u1".into() }).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
            assert_eq!(
                verify::<Claims>(&token, "JWT", std::slice::from_ref(&key)),
                Some(Claims { sub: "u1".into() }),
                "{alg:?}"
            );
            let jwk = serde_json::to_value(key.public_jwk()).unwrap();
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            assert!(jwk.get("d").is_none(), "no private part in the JWK");
        }
    }

    #[test]
    fn wrong_key_type_or_tampering_fails() {
        let a = key(SigningAlg::ES256);
        let b = key(SigningAlg::ES256);
        let token = a.sign("at+jwt", &Claims { sub: "u1".into() }).unwrap();
        assert!(verify::<Claims>(&token, "at+jwt", std::slice::from_ref(&b)).is_none(), "unknown kid");
        assert!(verify::<Claims>(&token, "JWT", std::slice::from_ref(&a)).is_none(), "wrong typ");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"sub":"admin"}"#);
        assert!(verify::<Claims>(&parts.join("."), "at+jwt", &[a]).is_none(), "tampered payload");
    }

    #[test]
    fn kid_is_stable_for_a_key() {
        let der = generate_private_key(SigningAlg::EdDSA).unwrap();
        let one = SigningKey::from_pkcs8(SigningAlg::EdDSA, &der).unwrap();
        let two = SigningKey::from_pkcs8(SigningAlg::EdDSA, &der).unwrap();
        assert_eq!(one.kid, two.kid);
    }
}
