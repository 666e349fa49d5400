//! The invitation of a foreign user (someone without Finnish bank
//! credentials), in the seed's numbers: a 16-character sign-up code valid 24
//! hours, an SMS code with at most 2 resends, and an administrator's code
//! valid 12 hours that extends the invitation to at least that long.
//!
//! These are the invitation's pure rules; the store, the admin API and the
//! app API build on them (issue 11, in progress).

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::crypto::secret::random_bytes;
use crate::domain::refusal::Refusal;

/// How long an invitation's sign-up code works.
pub const INVITATION_SECONDS: i64 = 24 * 3600;
/// How long an administrator's verification code works, and how long it
/// keeps the invitation alive at least.
pub const ADMIN_CODE_SECONDS: i64 = 12 * 3600;
/// New SMS codes an invitee may order, per invitation.
pub const SMS_RESENDS: i32 = 2;

/// The sign-up code's alphabet: Crockford's base 32, without the letters
/// I, L, O and U, so no two characters look alike; each carries 5 bits, 16
/// of them 80. A typed I or L reads as 1, an O as 0.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a sign-up code.
pub const SIGN_UP_CODE_LENGTH: usize = 16;

/// A sign-up code as the invitee types it back, normalised: case, spaces
/// and dashes do not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUpCode(String);

impl SignUpCode {
    /// A new random code.
    pub fn generate() -> Self {
        let bytes = random_bytes::<SIGN_UP_CODE_LENGTH>();
        Self(bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect())
    }

    /// A code as typed; refused unless it could be one Portti made.
    pub fn parse(typed: &str) -> Result<Self, Refusal> {
        let code: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| match c.to_ascii_uppercase() {
                'I' | 'L' => '1',
                'O' => '0',
                other => other,
            })
            .collect();
        let well_formed = code.len() == SIGN_UP_CODE_LENGTH && code.bytes().all(|b| ALPHABET.contains(&b));
        if well_formed { Ok(Self(code)) } else { Err(Refusal::WrongCode) }
    }

    /// The normalised code, as its keyed hash is computed from.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as the email shows it: groups of four (`ABCD-EFGH-JKMN-PQRS`).
    pub fn for_display(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-")
    }
}

/// Where an invitation stands (DESIGN.md's `state` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    Sent,
    CodeEntered,
    Verified,
    PasswordSet,
    Completed,
    Cancelled,
    Expired,
    Replaced,
}

impl InvitationState {
    /// Whether the invitation can still be carried on.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Sent | Self::CodeEntered | Self::Verified | Self::PasswordSet)
    }

    /// Whether the administrator may generate a verification code: only once
    /// the invitee has entered the sign-up code.
    pub fn admin_code_allowed(self) -> bool {
        matches!(self, Self::CodeEntered)
    }
}

/// When an invitation with an administrator's code made at `now` ends: at
/// least [`ADMIN_CODE_SECONDS`] from now, never earlier than it would have.
pub fn extended_for_admin_code(expires_at: UnixSeconds, now: UnixSeconds) -> UnixSeconds {
    expires_at.max(now + ADMIN_CODE_SECONDS)
}

/// The contact details an invitation was sent with, basic and for codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitedContacts {
    pub email: String,
    pub phone: Option<String>,
    pub communication_email: String,
    pub communication_phone: Option<String>,
}

/// Who may re-invite: an administrator while the person's contact details
/// are those of the last invitation; after any change, only customer
/// service (the seed: the contact details must be checked again).
pub fn may_reinvite(is_support: bool, invited: &InvitedContacts, now: &InvitedContacts) -> Result<(), Refusal> {
    if is_support || invited == now { Ok(()) } else { Err(Refusal::SupportMustReinvite) }
}

/// The phone number as the app shows it before the SMS: masked but for its
/// last two digits (`•••••••••67`).
pub fn phone_hint(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let shown = digits.len().saturating_sub(2);
    digits.iter().enumerate().map(|(i, c)| if i < shown { '•' } else { *c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_up_codes_are_sixteen_characters_of_eighty_bits_without_look_alikes() {
        assert_eq!(ALPHABET.len(), 32, "5 bits a character, 80 in all");
        let code = SignUpCode::generate();
        assert_eq!(code.as_str().len(), SIGN_UP_CODE_LENGTH);
        assert!(!code.as_str().contains(['O', 'I', 'L', 'U']), "{code:?}");
        assert_ne!(SignUpCode::generate(), code);
    }

    #[test]
    fn sign_up_codes_are_shown_in_fours_and_typed_loosely() {
        let code = SignUpCode::parse("ABCD-EFGH-JKMN-PQRS").unwrap();
        assert_eq!(code.for_display(), "ABCD-EFGH-JKMN-PQRS");
        assert_eq!(SignUpCode::parse(" abcd efgh jkmn pqrs ").unwrap(), code);
        assert_eq!(SignUpCode::parse("abcdefghjkmnpqrs").unwrap(), code);
        let digits = SignUpCode::parse("0123-4567-89AB-CDEF").unwrap();
        assert_eq!(SignUpCode::parse("OI23-4567-89AB-CDEF").unwrap(), digits, "O reads as 0, I as 1");
        assert_eq!(SignUpCode::parse("ol23-4567-89ab-cdef").unwrap(), digits, "and l as 1");
        for bad in ["", "ABCD-EFGH-JKMN-PQR", "ABCD-EFGH-JKMN-PQRST", "ABCD-EFGH-JKMN-PQRU", "ABCD-EFGH-JKMN-PQR!"] {
            assert_eq!(SignUpCode::parse(bad), Err(Refusal::WrongCode), "{bad:?}");
        }
    }

    #[test]
    fn an_admin_code_keeps_the_invitation_for_at_least_twelve_hours() {
        let now = 1_000_000;
        assert_eq!(extended_for_admin_code(now + 3600, now), now + 12 * 3600);
        assert_eq!(extended_for_admin_code(now + 20 * 3600, now), now + 20 * 3600, "never shortened");
        assert!(InvitationState::CodeEntered.admin_code_allowed());
        assert!(!InvitationState::Sent.admin_code_allowed(), "not before the sign-up code is entered");
        assert!(InvitationState::Verified.is_live() && !InvitationState::Replaced.is_live());
    }

    #[test]
    fn after_a_contact_change_only_support_re_invites() {
        let invited = InvitedContacts {
            email: "john@example.com".into(),
            phone: Some("+46701234567".into()),
            communication_email: "john@example.com".into(),
            communication_phone: Some("+46701234567".into()),
        };
        assert_eq!(may_reinvite(false, &invited, &invited.clone()), Ok(()));
        let changed = InvitedContacts { communication_phone: Some("+46709999999".into()), ..invited.clone() };
        assert_eq!(may_reinvite(false, &invited, &changed), Err(Refusal::SupportMustReinvite));
        assert_eq!(may_reinvite(true, &invited, &changed), Ok(()));
    }

    #[test]
    fn the_phone_hint_shows_only_the_last_two_digits() {
        assert_eq!(phone_hint("+358401234567"), "••••••••••67");
        assert_eq!(phone_hint("+7"), "7");
    }
}
