//! What the hardware allows, measured on one core in this process before any
//! server starts: signatures per second of the bare signing keys, and
//! Argon2id password hashes per second with Portti's production parameters.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256};
use portti::crypto::password;
use portti::crypto::signing::{SigningAlg, generate_private_key};

use crate::Fail;

/// Operations per second on one core.
pub struct Ceilings {
    pub signatures: Vec<(SigningAlg, f64)>,
    pub argon2id: f64,
}

impl Ceilings {
    pub fn signing(&self, alg: SigningAlg) -> f64 {
        self.signatures.iter().find(|(a, _)| *a == alg).map_or(f64::NAN, |(_, rate)| *rate)
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
    let argon2id = rate(Duration::from_secs(3), || {
        black_box(password::hash_password("correct horse")?);
        Ok(())
    })?;
    Ok(Ceilings { signatures, argon2id })
}
