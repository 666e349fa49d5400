//! Recovery codes: ten one-time codes that stand in for a lost authenticator.

use crate::crypto::secret::{random_bytes, sha256_hex};

/// Codes made at a time.
pub const COUNT: usize = 10;

/// Ten new codes, and the digests under which they are stored.
pub fn generate() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..COUNT).map(|_| new_code()).collect();
    let digests = codes.iter().map(|code| digest(code)).collect();
    (codes, digests)
}

/// The stored digest of a code as typed (any case, with or without the dash).
/// 50 random bits each, so a plain hash is enough.
pub fn digest(code: &str) -> String {
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
    fn codes_are_readable_and_typed_loosely() {
        let (codes, digests) = generate();
        assert_eq!(codes.len(), COUNT);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert!(!code.contains(['0', 'O', '1', 'I']));
        assert_eq!(digest(&code.to_lowercase().replace('-', " ")), digests[0]);
        assert_ne!(digests[0], digests[1]);
    }
}
