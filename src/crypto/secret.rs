//! Random secrets, their one-way digests, and constant-time comparison.
//!
//! High-entropy secrets (client secrets, session ids, sign-up codes) are stored
//! only as SHA-256 digests: a slow hash buys nothing when the secret itself
//! cannot be guessed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` random bytes from the operating-system-seeded CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A random token of 256 bits, base64url without padding (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A random 6-digit code (an SMS or email code), with leading zeros.
pub fn six_digit_code() -> String {
    let n = u32::from_le_bytes(random_bytes::<4>()) % 1_000_000;
    format!("{n:06}")
}

/// The hex SHA-256 digest of a secret, as stored.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored_digest`, compared in constant time.
pub fn matches_digest(secret: &str, stored_digest: &str) -> bool {
    let presented = sha256_hex(secret);
    presented.as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn digest_matches_only_its_secret() {
        let digest = sha256_hex("correct horse");
        assert!(matches_digest("correct horse", &digest));
        assert!(!matches_digest("correct horsf", &digest));
        assert!(!matches_digest("", &digest));
    }
}
