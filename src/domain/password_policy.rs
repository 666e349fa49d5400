//! The password policy of NIST SP 800-63B: long enough, not common or
//! guessable, and no composition rules.

use zxcvbn::Score;

use super::refusal::Refusal;

/// The shortest password accepted, in characters.
pub const MIN_LENGTH: usize = 10;
/// The longest password accepted, in characters (bounds the hashing work).
pub const MAX_LENGTH: usize = 256;

/// Accepts a new password, or says what is wrong with it. `personal` holds
/// what an attacker knows about the person (email, name), which must not make
/// the password guessable.
pub fn check_new_password(password: &str, personal: &[&str]) -> Result<(), Refusal> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Refusal::PasswordTooShort { min: MIN_LENGTH });
    }
    if length > MAX_LENGTH {
        return Err(Refusal::PasswordTooLong { max: MAX_LENGTH });
    }
    // zxcvbn matches whole inputs, so "Maija Meikäläinen" must also be given as
    // its words, and an email as its parts.
    let words: Vec<&str> = personal
        .iter()
        .flat_map(|text| std::iter::once(*text).chain(text.split(|c: char| !c.is_alphanumeric())))
        .filter(|word| word.chars().count() >= 3)
        .collect();
    let estimate = zxcvbn::zxcvbn(password, &words);
    if estimate.score() >= Score::Three {
        return Ok(());
    }
    Err(Refusal::PasswordTooEasy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits() {
        assert_eq!(check_new_password("Xq7#pL2", &[]), Err(Refusal::PasswordTooShort { min: 10 }));
        assert!(check_new_password(&"correct horse battery staple ".repeat(10), &[]).is_err());
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        assert_eq!(check_new_password("password123", &[]), Err(Refusal::PasswordTooEasy));
        assert!(check_new_password("maijameikalainen", &["maija@example.com", "Maija Meikalainen"]).is_err());
    }

    #[test]
    fn a_long_unusual_passphrase_passes_without_composition_rules() {
        check_new_password("lumiukko kahvipannu purjevene", &["maija@example.com"]).unwrap();
    }
}
