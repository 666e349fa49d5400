//! Contact details: email addresses and phone numbers, validated and
//! normalised with messages a person can act on.

use phonenumber::{Mode, Type as PhoneNumberType, country};
use serde::Serialize;

use super::refusal::Refusal;

/// The longest email address accepted (RFC 5321's limit for a path).
pub const MAX_EMAIL_LENGTH: usize = 254;

/// An email address in valid form, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates an address as a person typed it.
    pub fn parse(input: &str) -> Result<Self, Refusal> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Refusal::EmailMissing);
        }
        let invalid = || Refusal::EmailInvalid { input: trimmed.to_owned() };
        if trimmed.len() > MAX_EMAIL_LENGTH {
            return Err(Refusal::EmailTooLong);
        }
        let options = email_address::Options::default().without_display_text().without_domain_literal();
        let parsed = email_address::EmailAddress::parse_with_options(trimmed, options).map_err(|_| invalid())?;
        let domain = parsed.domain();
        // A deliverable address has a dotted domain; `name@localhost` is a typo in practice.
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(invalid());
        }
        Ok(Self(parsed.as_str().to_lowercase()))
    }

    /// Wraps an address read back from the database.
    pub(crate) fn from_stored(email: String) -> Self {
        Self(email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mobile phone number in E.164 form (`+358401234567`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Validates a mobile number. Digits and spaces are accepted, with an
    /// optional leading `+`; a Finnish number may start with its trunk `0`.
    /// Any other character (`.`, `-`, brackets) is refused.
    pub fn parse(input: &str) -> Result<Self, Refusal> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Refusal::PhoneMissing);
        }
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_digit() && *c != ' ') {
            return Err(Refusal::PhoneCharacter { input: trimmed.to_owned(), character: bad });
        }
        let invalid = || Refusal::PhoneInvalid { input: trimmed.to_owned() };
        let parsed = phonenumber::parse(Some(country::Id::FI), trimmed).map_err(|_| invalid())?;
        if !phonenumber::is_valid(&parsed) {
            return Err(invalid());
        }
        match parsed.number_type(&phonenumber::metadata::DATABASE) {
            PhoneNumberType::Mobile | PhoneNumberType::FixedLineOrMobile => {}
            _ => return Err(Refusal::PhoneNotMobile { input: trimmed.to_owned() }),
        }
        Ok(Self(parsed.format().mode(Mode::E164).to_string()))
    }

    /// Wraps a number read back from the database.
    pub(crate) fn from_stored(phone: String) -> Self {
        Self(phone)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_validated_and_lowercased() {
        assert_eq!(Email::parse("  Maija.Meikalainen@Example.COM ").unwrap().as_str(), "maija.meikalainen@example.com");
        for bad in ["", "maija", "maija@", "@example.com", "maija@localhost", "Maija <m@example.com>", "m@@x.fi"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(Email::parse("maija@"), Err(Refusal::EmailInvalid { input: "maija@".into() }));
        assert_eq!(Email::parse(" "), Err(Refusal::EmailMissing));
    }

    #[test]
    fn phones_normalise_to_e164() {
        for input in ["+358401234567", "+358 40 1234567", "0401234567", "040 123 4567"] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), "+358401234567", "{input}");
        }
        assert_eq!(PhoneNumber::parse("+46701234567").unwrap().as_str(), "+46701234567");
    }

    #[test]
    fn special_characters_are_refused_with_the_expected_form() {
        let character = |input: &str| match PhoneNumber::parse(input) {
            Err(Refusal::PhoneCharacter { character, .. }) => character,
            other => panic!("{input}: {other:?}"),
        };
        assert_eq!(character("040-123.4567"), '-');
        assert_eq!(character("+358 (40) 1234567"), '(');
        assert_eq!(character("+358.40.1234567"), '.');
        let text = crate::i18n::Texts::english().refusal(&PhoneNumber::parse("040-123.4567").unwrap_err());
        assert!(text.contains("+358401234567") && text.contains("“-”"), "{text}");
    }

    #[test]
    fn invalid_and_landline_numbers_are_refused() {
        assert_eq!(PhoneNumber::parse("+3584"), Err(Refusal::PhoneInvalid { input: "+3584".into() }));
        assert_eq!(PhoneNumber::parse(""), Err(Refusal::PhoneMissing));
        // A Helsinki landline cannot receive SMS.
        assert_eq!(PhoneNumber::parse("+35891234567"), Err(Refusal::PhoneNotMobile { input: "+35891234567".into() }));
    }
}
