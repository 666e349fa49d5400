//! The Finnish personal identity code (henkilötunnus, "hetu").
//!
//! Validated here and then only ever stored as a keyed hash: the clear code is
//! never written to the database or the log.

use crate::error::{Error, Result};

const CHECK_CHARACTERS: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
const EXAMPLE: &str = "for example 131052-308T";

/// A personal identity code that passed format, date and checksum validation.
#[derive(Clone, PartialEq, Eq)]
pub struct NationalId(String);

impl std::fmt::Debug for NationalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NationalId(<redacted>)")
    }
}

impl NationalId {
    /// Validates a code: `DDMMYY`, a century sign (`+` 1800s; `-` `Y` `X` `W`
    /// `V` `U` 1900s; `A` `B` `C` `D` `E` `F` 2000s), an individual number
    /// `002`–`999`, and the check character.
    pub fn parse(input: &str) -> Result<Self> {
        let code = input.trim().to_ascii_uppercase();
        let invalid = |what: &str| Error::InvalidRequest(format!("The personal identity code {what} ({EXAMPLE})."));
        let bytes = code.as_bytes();
        if bytes.len() != 11 || !code.is_ascii() {
            return Err(invalid("must be 11 characters"));
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = code.get(range)?;
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten()
        };
        let (Some(day), Some(month), Some(year), Some(individual)) =
            (digits(0..2), digits(2..4), digits(4..6), digits(7..10))
        else {
            return Err(invalid("has letters where digits belong"));
        };
        let century = match bytes[6] {
            b'+' => 1800,
            b'-' | b'Y' | b'X' | b'W' | b'V' | b'U' => 1900,
            b'A' | b'B' | b'C' | b'D' | b'E' | b'F' => 2000,
            _ => return Err(invalid("has an unknown century sign")),
        };
        if !is_valid_date(century + year, month, day) {
            return Err(invalid("does not start with a valid date"));
        }
        if individual < 2 {
            return Err(invalid("has an invalid individual number"));
        }
        let number = (day * 10_000 + month * 100 + year) * 1000 + individual;
        let expected = CHECK_CHARACTERS[(number % 31) as usize];
        if bytes[10] != expected {
            return Err(invalid("has a wrong check character"));
        }
        Ok(Self(code))
    }

    /// The canonical (upper-case) code, to be fed to the keyed hash and nowhere else.
    pub fn canonical(&self) -> &str {
        &self.0
    }
}

fn is_valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(input: &str) -> String {
        NationalId::parse(input).unwrap_err().to_string()
    }

    #[test]
    fn valid_codes_in_every_century() {
        for code in ["131052-308T", "131052Y308T", "010101A123N", "010101F123N", "311299+999E", "290200A5557"] {
            assert!(NationalId::parse(code).is_ok(), "{code}");
        }
        assert_eq!(NationalId::parse(" 131052-308t ").unwrap().canonical(), "131052-308T");
    }

    #[test]
    fn wrong_check_character_is_named() {
        assert!(error("131052-308U").contains("wrong check character"));
    }

    #[test]
    fn malformed_codes_say_why() {
        assert!(error("131052-308").contains("11 characters"));
        assert!(error("131052G308T").contains("century sign"));
        assert!(error("1310a2-308T").contains("digits"));
        assert!(error("310452-308T").contains("valid date"), "31 April");
        assert!(error("290201A5557").contains("valid date"), "29 Feb 2001");
        assert!(error("131052-001T").contains("individual number"));
    }

    #[test]
    fn debug_never_shows_the_code() {
        let id = NationalId::parse("131052-308T").unwrap();
        assert!(!format!("{id:?}").contains("131052"));
    }
}
