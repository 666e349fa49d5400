//! Recovery codes: ten one-time codes that stand in for a lost authenticator.
//!
//! Stored as keyed hashes under the master key, bound to their person, as
//! SMS codes are: a stolen table cannot be turned back into codes by trying
//! every one. Codes made before that were stored as plain SHA-256; they
//! still work, once, until the person makes new codes.

use super::ids::UserId;
use crate::crypto::Keys;
use crate::crypto::secret::{random_bytes, sha256_hex};
use crate::error::Result;

/// Codes made at a time.
pub const COUNT: usize = 10;

/// Ten new codes for a person, and the digests under which they are stored.
pub fn generate(keys: &Keys, user: &UserId) -> Result<(Vec<String>, Vec<String>)> {
    let codes: Vec<String> = (0..COUNT).map(|_| new_code()).collect();
    let digests = codes.iter().map(|code| digest(keys, user, code)).collect::<Result<_>>()?;
    Ok((codes, digests))
}

/// The stored digest of a person's code as typed (any case, with or without the dash).
pub fn digest(keys: &Keys, user: &UserId, code: &str) -> Result<String> {
    keys.code_digest(&format!("recovery-code:{user}"), &normalise(code))
}

/// The digest a code made before keyed hashes was stored under.
pub fn legacy_digest(code: &str) -> String {
    sha256_hex(&normalise(code))
}

/// 10 characters from an alphabet without look-alikes, shown as two groups
/// of five (`K7QPM-3XWRT`).
fn new_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = random_bytes::<10>();
    let chars: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

fn normalise(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_typed_loosely_and_keyed_to_their_person() {
        let keys = Keys::from_master(&[7; 32]);
        let (maija, matti) = (UserId::generate(), UserId::generate());
        let (codes, digests) = generate(&keys, &maija).unwrap();
        assert_eq!(codes.len(), COUNT);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert!(!code.contains(['0', 'O', '1', 'I']));
        assert_eq!(digest(&keys, &maija, &code.to_lowercase().replace('-', " ")).unwrap(), digests[0]);
        assert_ne!(digests[0], digests[1]);
        assert_ne!(digest(&keys, &matti, code).unwrap(), digests[0], "bound to the person");
        assert_ne!(legacy_digest(code), digests[0], "not a plain hash");
        assert_ne!(digest(&Keys::from_master(&[8; 32]), &maija, code).unwrap(), digests[0], "keyed");
    }
}
