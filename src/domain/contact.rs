//! Contact details: email addresses and phone numbers, validated and
//! normalised with messages a person can act on.

use phonenumber::{Mode, Type as PhoneNumberType, country};
use serde::Serialize;

use crate::error::{Error, Result};

/// An email address in valid form, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates an address as a person typed it.
    pub fn parse(input: &str) -> Result<Self> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Error::InvalidRequest("Enter an email address.".to_owned()));
        }
        let invalid = || {
            Error::InvalidRequest(format!("`{trimmed}` is not a valid email address. Use the form name@example.com."))
        };
        if trimmed.len() > 254 {
            return Err(Error::InvalidRequest("The email address is too long (at most 254 characters).".to_owned()));
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

const EXPECTED_PHONE_FORM: &str = "Use the international form: +, the country code and the number without its leading zero, for example +358401234567.";

impl PhoneNumber {
    /// Validates a mobile number. Digits and spaces are accepted, with an
    /// optional leading `+`; a Finnish number may start with its trunk `0`.
    /// Any other character (`.`, `-`, brackets) is refused.
    pub fn parse(input: &str) -> Result<Self> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Error::InvalidRequest(format!("Enter a phone number. {EXPECTED_PHONE_FORM}")));
        }
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_digit() && *c != ' ') {
            return Err(Error::InvalidRequest(format!(
                "The phone number `{trimmed}` contains `{bad}`, which is not allowed. {EXPECTED_PHONE_FORM}"
            )));
        }
        let invalid =
            || Error::InvalidRequest(format!("`{trimmed}` is not a valid phone number. {EXPECTED_PHONE_FORM}"));
        let parsed = phonenumber::parse(Some(country::Id::FI), trimmed).map_err(|_| invalid())?;
        if !phonenumber::is_valid(&parsed) {
            return Err(invalid());
        }
        match parsed.number_type(&phonenumber::metadata::DATABASE) {
            PhoneNumberType::Mobile | PhoneNumberType::FixedLineOrMobile => {}
            _ => {
                return Err(Error::InvalidRequest(format!(
                    "`{trimmed}` is not a mobile number; verification codes are sent to it by SMS."
                )));
            }
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

    fn message(result: Result<impl std::fmt::Debug>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn emails_are_validated_and_lowercased() {
        assert_eq!(Email::parse("  Maija.Meikalainen@Example.COM ").unwrap().as_str(), "maija.meikalainen@example.com");
        for bad in ["", "maija", "maija@", "@example.com", "maija@localhost", "Maija <m@example.com>", "m@@x.fi"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(message(Email::parse("maija@")).contains("name@example.com"));
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
        let err = message(PhoneNumber::parse("040-123.4567"));
        assert!(err.contains("`-`"), "{err}");
        assert!(err.contains("+358401234567"), "{err}");
        assert!(message(PhoneNumber::parse("+358 (40) 1234567")).contains("`(`"));
        assert!(message(PhoneNumber::parse("+358.40.1234567")).contains("`.`"));
    }

    #[test]
    fn invalid_and_landline_numbers_are_refused() {
        assert!(message(PhoneNumber::parse("+3584")).contains("not a valid phone number"));
        assert!(message(PhoneNumber::parse("")).contains("Enter a phone number"));
        // A Helsinki landline cannot receive SMS.
        assert!(message(PhoneNumber::parse("+35891234567")).contains("not a mobile number"));
    }
}
