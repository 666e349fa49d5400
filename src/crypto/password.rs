//! Password hashing with Argon2id at the OWASP-recommended cost
//! (19 MiB of memory, 2 passes, 1 lane).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};

fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(Error::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh salt.
pub fn hash_password(password: &str) -> Result<String> {
    let hash = hasher()?.hash_password(password.as_bytes()).map_err(Error::internal)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string. A malformed hash is an
/// internal error, not a mismatch, so corruption is noticed.
pub fn verify_password(password: &str, phc: &str) -> Result<bool> {
    match hasher()?.verify_password(password.as_bytes(), phc) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(Error::internal(format_args!("stored password hash: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_owasp_parameters() {
        let hash = hash_password("a long enough passphrase").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("a long enough passphrase", &hash).unwrap());
        assert!(!verify_password("a long enough passphrasE", &hash).unwrap());
        assert_ne!(hash, hash_password("a long enough passphrase").unwrap(), "salts differ");
    }

    #[test]
    fn corrupt_hash_is_an_error_not_a_mismatch() {
        assert!(verify_password("x", "not a hash").is_err());
    }
}
