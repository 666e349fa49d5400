//! Authenticator codes (TOTP, RFC 6238: SHA-1, 6 digits, 30-second steps,
//! one step of clock drift either way), with totp-rs doing the arithmetic.

use totp_rs::{Algorithm, Secret, Totp};

use crate::error::{Error, Result};

const STEP_SECONDS: u64 = 30;

/// A fresh 160-bit authenticator secret.
pub fn generate_secret() -> Vec<u8> {
    super::secret::random_bytes::<20>().to_vec()
}

fn totp(secret: &[u8], account: &str, issuer: &str) -> Result<Totp> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_account_name(account)
        .with_issuer(Some(issuer))
        .build()
        .map_err(|e| Error::internal(format_args!("TOTP: {e}")))
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(secret: &[u8], account: &str, issuer: &str) -> Result<String> {
    totp(secret, account, issuer)?.to_url().map_err(|e| Error::internal(format_args!("TOTP URI: {e}")))
}

/// The secret as a person types it: base32 in groups of four.
pub fn secret_for_typing(secret: &[u8]) -> String {
    let base32 = Secret::new(secret.to_vec().into_boxed_slice()).to_base32();
    base32.as_bytes().chunks(4).map(|chunk| String::from_utf8_lossy(chunk).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The time step of `code` if it is valid at `now` (± one step), else `None`.
/// The caller records the step so the same code is not accepted twice.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now).ok()?;
    let totp = totp(secret, "-", "-").ok()?;
    totp.check(&code, now).and_then(|step| i64::try_from(step).ok())
}

/// The code of the step that holds `time`; for tests and tools.
pub fn code_at(secret: &[u8], time: i64) -> Result<String> {
    let time = u64::try_from(time).map_err(Error::internal)?;
    Ok(totp(secret, "-", "-")?.generate(time).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1: the secret "12345678901234567890", 8 digits there; 6 here.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors() {
        assert_eq!(code_at(RFC_SECRET, 59).unwrap(), "287082");
        assert_eq!(code_at(RFC_SECRET, 1_111_111_109).unwrap(), "081804");
        assert_eq!(code_at(RFC_SECRET, 1_234_567_890).unwrap(), "005924");
    }

    #[test]
    fn window_is_one_step_either_way() {
        let now = 1_234_567_890;
        let code = code_at(RFC_SECRET, now).unwrap();
        assert_eq!(matching_step(RFC_SECRET, &code, now), Some(now / 30));
        assert!(matching_step(RFC_SECRET, &code, now + 30).is_some(), "a late code still counts");
        assert!(matching_step(RFC_SECRET, &code, now - 30).is_some(), "a fast clock still counts");
        assert_eq!(matching_step(RFC_SECRET, &code, now + 61), None, "two steps late is refused");
        assert_eq!(matching_step(RFC_SECRET, "12345", now), None);
        assert_eq!(matching_step(RFC_SECRET, "abcdef", now), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(matching_step(RFC_SECRET, &spaced, now), Some(now / 30));
    }

    #[test]
    fn uri_and_typed_secret() {
        let uri = otpauth_uri(RFC_SECRET, "maija@example.com", "Portti").unwrap();
        assert!(uri.starts_with("otpauth://totp/Portti:maija%40example.com?"), "{uri}");
        assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert_eq!(secret_for_typing(RFC_SECRET), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
    }
}
