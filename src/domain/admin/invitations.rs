//! The invitation of a foreign user (someone without Finnish bank
//! credentials), in the seed's numbers: a 16-character sign-up code valid 24
//! hours, an SMS code with at most 2 resends, and an administrator's code
//! valid 12 hours that extends the invitation to at least that long.
//!
//! Sending and cancelling take a [`CompanyReach`], which only the role check
//! makes. The activation (the invitee's side, the app API) and the admin
//! pages and API build on this (issue 11, in progress).

use serde::{Deserialize, Serialize};

use super::{Authority, CompanyReach};
use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::crypto::secret::{random_bytes, six_digit_code};
use crate::domain::audit::{self, Event, Origin, Subjects};
use crate::domain::ids::UserId;
use crate::domain::refusal::Refusal;
use crate::domain::user::User;
use crate::error::{Error, Result};
use crate::i18n::Texts;
use crate::notify::{Message, enqueue};
use crate::store::{Read, Store, StoredInvitation};

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
    /// The state's name, as stored and as the APIs answer it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::CodeEntered => "code_entered",
            Self::Verified => "verified",
            Self::PasswordSet => "password_set",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Replaced => "replaced",
        }
    }

    /// A stored state; an unknown one has ended as far as anyone can tell.
    pub fn from_stored(stored: &str) -> Self {
        const ALL: [InvitationState; 8] = [
            InvitationState::Sent,
            InvitationState::CodeEntered,
            InvitationState::Verified,
            InvitationState::PasswordSet,
            InvitationState::Completed,
            InvitationState::Cancelled,
            InvitationState::Expired,
            InvitationState::Replaced,
        ];
        ALL.into_iter().find(|state| state.as_str() == stored).unwrap_or(Self::Expired)
    }

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

/// What inviting reads and writes.
#[derive(Clone)]
pub struct InvitationContext<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    /// Portti's address: the invitation email links its activation pages.
    pub issuer: &'a str,
    pub origin: Origin,
}

/// An invitation as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub user_id: UserId,
    pub state: InvitationState,
    pub expires_at: UnixSeconds,
}

/// The keyed hash a sign-up code is stored and looked up by.
pub fn sign_up_code_digest(keys: &Keys, code: &SignUpCode) -> Result<String> {
    keys.code_digest("sign-up-code", code.as_str())
}

/// A person's email and phone as they are now, as an invitation records them.
pub fn contacts_now(person: &User) -> InvitedContacts {
    InvitedContacts {
        email: person.email.as_str().to_owned(),
        phone: person.phone.as_ref().map(|p| p.as_str().to_owned()),
        communication_email: person.communication.email.as_str().to_owned(),
        communication_phone: person.communication.phone.as_ref().map(|p| p.as_str().to_owned()),
    }
}

/// Whether the administrator may send the person a new invitation, as
/// [`invite`] decides it: the invitation view hides `Re-invite` and says
/// why when not.
pub fn may_invite(r: &mut Read<'_>, reach: &CompanyReach, person: &User) -> Result<bool> {
    let support = reach.authority() == Authority::Support;
    Ok(match r.last_invitation_of_person(&person.id)? {
        Some(last) => may_reinvite(support, &contacts_of(&last), &contacts_now(person)).is_ok(),
        None => true,
    })
}

fn contacts_of(stored: &StoredInvitation) -> InvitedContacts {
    InvitedContacts {
        email: stored.email.clone(),
        phone: stored.phone.clone(),
        communication_email: stored.communication_email.clone(),
        communication_phone: stored.communication_phone.clone(),
    }
}

/// A new invitation's row, as it is sent: its sign-up code's keyed hash,
/// valid [`INVITATION_SECONDS`], the person's contacts as they are now, and
/// no code entered or used yet.
pub fn sent_invitation(
    user: &UserId,
    company_id: &str,
    invited_by: Option<&UserId>,
    contacts: InvitedContacts,
    code_digest: String,
    now: UnixSeconds,
) -> StoredInvitation {
    StoredInvitation {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.as_str().to_owned(),
        company_id: company_id.to_owned(),
        invited_by: invited_by.map(|id| id.as_str().to_owned()),
        code_digest,
        state: "sent".to_owned(),
        email: contacts.email,
        phone: contacts.phone,
        communication_email: contacts.communication_email,
        communication_phone: contacts.communication_phone,
        created_at: now,
        expires_at: now + INVITATION_SECONDS,
        code_entered_at: None,
        sms_code_digest: None,
        sms_code_expires_at: None,
        sms_attempts: 0,
        resends_used: 0,
        admin_code_digest: None,
        admin_code_expires_at: None,
        ended_at: None,
    }
}

/// Sends a person of the company an invitation to activate the mobile app:
/// a new sign-up code by email (in English, as the seed says), valid 24
/// hours. The administrator must have checked the invitee's identity. A live
/// invitation before it is replaced, which only support may do once the
/// contact details changed. All of it is one transaction.
pub fn invite(
    ctx: &InvitationContext<'_>,
    now: UnixSeconds,
    reach: &CompanyReach,
    user: &UserId,
    identity_verified: bool,
) -> Result<Invitation> {
    if !identity_verified {
        return Err(Refusal::IdentityNotVerified.into());
    }
    let code = SignUpCode::generate();
    let digest = sign_up_code_digest(ctx.keys, &code)?;
    let company_id = reach.company().as_str().to_owned();
    let sent = ctx.store.write(|tx| {
        // A person out of the administrator's reach is not found, as if absent.
        let in_company = tx.memberships(user)?.iter().any(|m| m.company_id == *reach.company());
        let person = tx.user(user)?.filter(|_| in_company).ok_or(Error::NotFound("user"))?;
        // The activation sends its verification code by SMS.
        if person.communication.phone.is_none() {
            return Err(Refusal::PhoneMissing.into());
        }
        let company = tx.company(reach.company())?.ok_or(Error::NotFound("company"))?;
        let inviter = tx.user(reach.actor())?.map(|u| u.name).unwrap_or_default();
        let contacts = contacts_now(&person);
        // Compared with the person's last invitation, to whichever company and
        // whatever became of it: a changed contact must be checked again, by
        // customer service (an administrator of another company must not
        // redirect someone's codes by inviting them afresh).
        if let Some(last) = tx.last_invitation_of_person(user)?
            && let Err(refusal) = may_reinvite(reach.authority() == Authority::Support, &contacts_of(&last), &contacts)
        {
            return Ok(Err(refusal));
        }
        for live in tx.live_invitations_of(user)?.into_iter().filter(|i| i.company_id == company_id) {
            tx.end_invitation(&live.id, "replaced", now)?;
        }
        let stored = sent_invitation(user, &company_id, Some(reach.actor()), contacts, digest.clone(), now);
        tx.insert_invitation(&stored)?;
        let english = Texts::english();
        let message = Message::Email {
            to: person.communication.email.clone(),
            subject: english.fill("message.invitation_subject", &[("company", company.name.clone())]),
            body: english.fill(
                "message.invitation_body",
                &[
                    ("inviter", inviter),
                    ("company", company.name),
                    ("code", code.for_display()),
                    ("hours", (INVITATION_SECONDS / 3600).to_string()),
                    ("link", format!("{}/activate", ctx.issuer)),
                ],
            ),
        };
        enqueue(tx, ctx.keys, now, &message, Some(stored.expires_at))?;
        let about = Subjects { user: Some(user), client: None, company: Some(&company_id) };
        audit::record_by(tx, now, &ctx.origin, reach.actor(), about, Event::InvitationSent)?;
        Ok(Ok(Invitation {
            id: stored.id,
            user_id: user.clone(),
            state: InvitationState::Sent,
            expires_at: stored.expires_at,
        }))
    })?;
    match sent {
        Ok(invitation) => Ok(invitation),
        // Refused after nothing was written; the attempt to send someone's
        // codes to changed contacts is recorded in the company's log.
        Err(refusal) => {
            ctx.store.write(|tx| {
                let about = Subjects { user: Some(user), client: None, company: Some(&company_id) };
                let event = Event::AdminRefused { reason: refusal.code() };
                audit::record_by(tx, now, &ctx.origin, reach.actor(), about, event)
            })?;
            Err(refusal.into())
        }
    }
}

/// Cancels an invitation of the company at once; one of another company is
/// not found. Cancelling one that has ended changes nothing.
pub fn cancel(ctx: &InvitationContext<'_>, now: UnixSeconds, reach: &CompanyReach, invitation_id: &str) -> Result<()> {
    ctx.store.write(|tx| {
        let stored = tx
            .invitation(invitation_id)?
            .filter(|i| i.company_id == reach.company().as_str())
            .ok_or(Error::NotFound("invitation"))?;
        if tx.end_invitation(&stored.id, "cancelled", now)? {
            let user = UserId::from_stored(stored.user_id);
            let about = Subjects { user: Some(&user), client: None, company: Some(&stored.company_id) };
            audit::record_by(tx, now, &ctx.origin, reach.actor(), about, Event::InvitationCancelled)?;
        }
        Ok(())
    })
}

/// An administrator's verification code, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCode {
    /// Six digits; only its keyed hash is stored.
    pub code: String,
    pub expires_at: UnixSeconds,
}

/// The keyed hash an administrator's verification code is stored as.
pub fn admin_code_digest(keys: &Keys, code: &str) -> Result<String> {
    keys.code_digest("admin-verification-code", code)
}

/// The state an invitation is in at `now`: a live one past its time reads `expired`.
pub fn effective_state(stored: &StoredInvitation, now: UnixSeconds) -> InvitationState {
    let state = InvitationState::from_stored(&stored.state);
    if state.is_live() && stored.expires_at <= now { InvitationState::Expired } else { state }
}

/// "Didn't the invitee receive the verification code?": once the invitee
/// has entered the sign-up code, the administrator generates a 6-digit code,
/// shown once and valid 12 hours, that stands in for the SMS. It replaces
/// any earlier administrator's code, does not count against the SMS
/// resends, and keeps the invitation alive at least as long as it.
pub fn generate_admin_code(
    ctx: &InvitationContext<'_>,
    now: UnixSeconds,
    reach: &CompanyReach,
    invitation_id: &str,
) -> Result<AdminCode> {
    let code = six_digit_code();
    let digest = admin_code_digest(ctx.keys, &code)?;
    ctx.store.write(|tx| {
        let stored = tx
            .invitation(invitation_id)?
            .filter(|i| i.company_id == reach.company().as_str())
            .ok_or(Error::NotFound("invitation"))?;
        match effective_state(&stored, now) {
            InvitationState::CodeEntered => {}
            InvitationState::Expired => return Err(Refusal::InvitationExpired.into()),
            InvitationState::Cancelled => return Err(Refusal::InvitationCancelled.into()),
            InvitationState::Replaced => return Err(Refusal::InvitationReplaced.into()),
            _ => return Err(Refusal::CodeNotEntered.into()),
        }
        let expires_at = now + ADMIN_CODE_SECONDS;
        tx.set_admin_code(&stored.id, &digest, expires_at, extended_for_admin_code(stored.expires_at, now))?;
        let user = UserId::from_stored(stored.user_id);
        let about = Subjects { user: Some(&user), client: None, company: Some(&stored.company_id) };
        audit::record_by(tx, now, &ctx.origin, reach.actor(), about, Event::AdminCodeGenerated)?;
        Ok(AdminCode { code, expires_at })
    })
}

/// An invitation as the administrator's view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationDetail {
    pub id: String,
    pub user_id: String,
    pub company_id: String,
    pub state: InvitationState,
    pub expires_at: UnixSeconds,
    /// New SMS codes the invitee may still order.
    pub resends_left: i32,
    pub code_entered_at: Option<UnixSeconds>,
}

/// The administrator's view of a stored invitation at `now`.
pub fn detail(stored: &StoredInvitation, now: UnixSeconds) -> InvitationDetail {
    InvitationDetail {
        id: stored.id.clone(),
        user_id: stored.user_id.clone(),
        company_id: stored.company_id.clone(),
        state: effective_state(stored, now),
        expires_at: stored.expires_at,
        resends_left: (SMS_RESENDS - stored.resends_used).max(0),
        code_entered_at: stored.code_entered_at,
    }
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
    fn a_live_invitation_past_its_time_reads_expired() {
        let stored = |state: &str, expires_at: i64| StoredInvitation {
            id: "i".into(),
            user_id: "u".into(),
            company_id: "c".into(),
            invited_by: None,
            code_digest: "d".into(),
            state: state.into(),
            email: "e".into(),
            phone: None,
            communication_email: "e".into(),
            communication_phone: None,
            created_at: 0,
            expires_at,
            code_entered_at: None,
            sms_code_digest: None,
            sms_code_expires_at: None,
            sms_attempts: 0,
            resends_used: 1,
            admin_code_digest: None,
            admin_code_expires_at: None,
            ended_at: None,
        };
        assert_eq!(effective_state(&stored("code_entered", 100), 99), InvitationState::CodeEntered);
        assert_eq!(effective_state(&stored("code_entered", 100), 100), InvitationState::Expired);
        assert_eq!(effective_state(&stored("cancelled", 100), 200), InvitationState::Cancelled, "ended stays ended");
        assert_eq!(detail(&stored("sent", 100), 0).resends_left, SMS_RESENDS - 1);
        for state in
            ["sent", "code_entered", "verified", "password_set", "completed", "cancelled", "expired", "replaced"]
        {
            assert_eq!(InvitationState::from_stored(state).as_str(), state);
            let named = serde_json::to_value(InvitationState::from_stored(state)).unwrap();
            assert_eq!(named, state, "the serde name is the same");
        }
    }

    #[test]
    fn the_phone_hint_shows_only_the_last_two_digits() {
        assert_eq!(phone_hint("+358401234567"), "••••••••••67");
        assert_eq!(phone_hint("+7"), "7");
    }
}
