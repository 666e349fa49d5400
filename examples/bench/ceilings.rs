//! What the hardware allows, measured on one core in this process before any
//! server starts: signatures per second of the bare signing keys, ES256
//! verifications per second, and Argon2id password hashes per second with
//! Portti's production parameters.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    UnparsedPublicKey,
};
use portti::crypto::password;
use portti::crypto::signing::{SigningAlg, generate_private_key};

use crate::Fail;

/// Operations per second on one core.
pub struct Ceilings {
    pub signatures: Vec<(SigningAlg, f64)>,
    /// ES256 signature verifications.
    pub es256_verify: f64,
    pub argon2id: f64,
}

impl Ceilings {
    pub fn signing(&self, alg: SigningAlg) -> f64 {
        self.signatures.iter().find(|(a, _)| *a == alg).map_or(f64::NAN, |(_, rate)| *rate)
    }

    /// The device-key grant's cryptography: the assertion verified, the
    /// access and ID tokens signed, all ES256.
    pub fn device_key_grant(&self) -> f64 {
        1.0 / (1.0 / self.es256_verify + 2.0 / self.signing(SigningAlg::ES256))
    }
}

/// Runs `operation` for at least `time` (and at least three times); returns
/// how many it did per second.
fn rate(time: Duration, mut operation: impl FnMut() -> Result<(), Fail>) -> Result<f64, Fail> {
    operation()?;
    let started = Instant::now();
    let mut count = 0u32;
    while count < 3 || started.elapsed() < time {
        operation()?;
        count += 1;
    }
    Ok(f64::from(count) / started.elapsed().as_secs_f64())
}

pub fn measure() -> Result<Ceilings, Fail> {
    // The signing input of a typical access token: header and claims, encoded.
    let input = [b'x'; 420];
    let rng = SystemRandom::new();
    let mut signatures = Vec::new();
    for alg in SigningAlg::ALL {
        let der = generate_private_key(alg)?;
        let per_second = match alg {
            SigningAlg::RS256 => {
                let key = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der)?;
                let mut signature = vec![0; key.public_modulus_len()];
                rate(Duration::from_secs(1), || {
                    Ok(key.sign(&RSA_PKCS1_SHA256, &rng, black_box(&input), &mut signature)?)
                })?
            }
            SigningAlg::ES256 => {
                let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)?;
                rate(Duration::from_secs(1), || {
                    black_box(key.sign(&rng, black_box(&input))?);
                    Ok(())
                })?
            }
            SigningAlg::EdDSA => {
                let key = Ed25519KeyPair::from_pkcs8(&der)?;
                rate(Duration::from_secs(1), || {
                    black_box(key.sign(black_box(&input)));
                    Ok(())
                })?
            }
        };
        signatures.push((alg, per_second));
    }
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
    let signature = key.sign(&rng, &input)?;
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref().to_vec());
    let es256_verify =
        rate(Duration::from_secs(1), || Ok(public.verify(black_box(&input), black_box(signature.as_ref()))?))?;
    let argon2id = rate(Duration::from_secs(3), || {
        black_box(password::hash_password("correct horse")?);
        Ok(())
    })?;
    Ok(Ceilings { signatures, es256_verify, argon2id })
}
