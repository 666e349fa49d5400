//! The invitee's side of an invitation (DESIGN.md, "App API"): the sign-up
//! code from the invitation email, then a 6-digit verification code by SMS
//! (10 minutes, 5 wrong tries, at most 2 new ones) or from the
//! administrator (12 hours), then an emailed link to create the account
//! password (single use, 24 hours) for a person who has none. The app then
//! signs the person in and registers its device key, which completes the
//! invitation.
//!
//! Every step is one transaction: its attempt is counted first (per client
//! address, and per invitation for codes), and a refusal commits only that
//! count. The activation id the app carries between steps names the
//! invitation and is bound to it by a keyed hash, so it cannot be guessed
//! from an invitation id, and the same sign-up code gives the same id again
//! (an app restarted mid-way carries on).

use serde::Serialize;
use subtle::ConstantTimeEq;

use super::admin::invitations::{
    InvitationState, SMS_RESENDS, SignUpCode, admin_code_digest, effective_state, phone_hint, sign_up_code_digest,
};
use super::audit::{self, Event, Origin, Subjects};
use super::contact::{Email, PhoneNumber};
use super::ids::{CompanyId, UserId};
use super::refusal::{Refusal, minutes, or_refuse, settle};
use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::crypto::secret::{random_token, sha256_hex, six_digit_code};
use crate::error::{Error, Result};
use crate::i18n::Texts;
use crate::notify::{Message, enqueue};
use crate::store::{Read, Store, StoredInvitation, StoredReset, Write};

/// How long an SMS verification code works.
pub const SMS_CODE_SECONDS: i64 = 10 * 60;
/// Wrong verification codes that end the codes of an invitation.
pub const CODE_ATTEMPTS: i32 = 5;
/// How long the emailed link to create the account password works.
pub const CREATE_PASSWORD_SECONDS: i64 = 24 * 3600;
/// Calls one client address may make to each activation step per minute
/// (DESIGN.md: at least 20).
pub const CALLS_PER_MINUTE_PER_ADDRESS: i32 = 30;

/// The keyed-hash context of the SMS codes.
pub const SMS_CODE_CONTEXT: &str = "invitation-sms-code";

/// What an activation step reads and writes, and the language of the
/// messages it sends.
#[derive(Clone)]
pub struct ActivationContext<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    pub issuer: &'a str,
    pub texts: Texts,
    pub origin: Origin,
}

/// Where the person goes once the verification code was right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// A link to create the account password was emailed.
    CreatePassword,
    /// The person has a password: sign in in the app.
    SignIn,
}

/// An activation as the app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub id: String,
    /// The company's name.
    pub company: String,
    /// The inviting administrator's name.
    pub invited_by: String,
    pub phone_hint: String,
    pub resends_left: i32,
    /// Whether this call started it (and sent the SMS), or found it started.
    pub started_now: bool,
    /// Once verified: where the person goes on.
    pub verified: Option<Verified>,
}

/// A verification code that was right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub next: Next,
    /// The account's email, masked.
    pub email_hint: String,
}

/// The activation id of an invitation: its id and a keyed hash of it.
pub fn activation_id(keys: &Keys, invitation_id: &str) -> Result<String> {
    let mac = keys.code_digest("activation-id", invitation_id)?;
    Ok(format!("{invitation_id}.{}", &mac[..32]))
}

/// The invitation an activation id names, if it is one Portti made.
fn invitation_id_of(keys: &Keys, activation: &str) -> Result<Option<String>> {
    let Some((invitation_id, _)) = activation.split_once('.') else { return Ok(None) };
    if uuid::Uuid::parse_str(invitation_id).is_err() {
        return Ok(None);
    }
    let expected = activation_id(keys, invitation_id)?;
    let matches: bool = expected.as_bytes().ct_eq(activation.as_bytes()).into();
    Ok(matches.then(|| invitation_id.to_owned()))
}

/// An email address as the app may show it before the person proved it is
/// theirs: its first character and its domain (`j•••@example.com`).
pub fn email_hint(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

/// Whether an invitation can be carried on, and in which state; an ended
/// or expired one has a refusal of its own.
fn usable(stored: &StoredInvitation, now: UnixSeconds) -> Result<InvitationState, Refusal> {
    match effective_state(stored, now) {
        InvitationState::Cancelled => Err(Refusal::InvitationCancelled),
        InvitationState::Replaced => Err(Refusal::InvitationReplaced),
        InvitationState::Completed => Err(Refusal::InvitationUsed),
        InvitationState::Expired => Err(Refusal::InvitationExpired),
        live => Ok(live),
    }
}

/// Counts a call to an activation step from an address: beyond the limit
/// the step is refused. Calls whose address is unknown share one count,
/// rather than going uncounted.
fn count_call(tx: &mut Write<'_>, now: UnixSeconds, step: &str, address: Option<&str>) -> Result<Result<(), Refusal>> {
    let address = address.unwrap_or("unknown");
    let calls = tx.hit_rate_limit(&format!("activation-{step}:{address}"), now, 60)?;
    Ok(if calls > CALLS_PER_MINUTE_PER_ADDRESS { Err(Refusal::TooManyAttempts) } else { Ok(()) })
}

fn resends_left(stored: &StoredInvitation) -> i32 {
    (SMS_RESENDS - stored.resends_used).max(0)
}

/// The SMS that carries a verification code, in the person's language.
fn code_sms(texts: &Texts, to: &PhoneNumber, code: &str) -> Message {
    Message::Sms {
        to: to.clone(),
        text: texts.fill(
            "message.activation_sms",
            &[("code", code.to_owned()), ("minutes", minutes(SMS_CODE_SECONDS).to_string())],
        ),
    }
}

/// The number an invitation's codes go to: the communication phone it was
/// sent with (its contact details are the ones the administrator checked).
fn phone_of(stored: &StoredInvitation) -> Result<PhoneNumber> {
    let phone =
        stored.communication_phone.as_deref().ok_or_else(|| Error::internal("an invitation without a phone"))?;
    PhoneNumber::parse(phone).map_err(|_| Error::internal("an invitation's phone does not parse"))
}

/// Where a verified person goes on, read from their account now.
fn verified(tx: &mut Write<'_>, stored: &StoredInvitation) -> Result<Verified> {
    let user = tx.user(&UserId::from_stored(stored.user_id.clone()))?.ok_or(Error::NotFound("user"))?;
    let next = if user.has_password { Next::SignIn } else { Next::CreatePassword };
    Ok(Verified { next, email_hint: email_hint(user.email.as_str()) })
}

/// The sign-up code, as typed: an SMS with a verification code goes to the
/// invitation's phone. The same code again finds the same activation, and
/// sends nothing.
pub fn start(ctx: &ActivationContext<'_>, now: UnixSeconds, address: Option<&str>, typed: &str) -> Result<Activation> {
    let sms_code = six_digit_code();
    let sms_digest = ctx.keys.code_digest(SMS_CODE_CONTEXT, &sms_code)?;
    ctx.store
        .write(|tx| {
            or_refuse!(count_call(tx, now, "start", address)?);
            let code = or_refuse!(SignUpCode::parse(typed));
            let found = tx.invitation_by_code(&sign_up_code_digest(ctx.keys, &code)?)?;
            let stored = or_refuse!(found.ok_or(Refusal::WrongCode));
            let state = or_refuse!(usable(&stored, now));
            let phone = phone_of(&stored)?;
            let started_now = state == InvitationState::Sent;
            if started_now {
                if !tx.enter_sign_up_code(&stored.id, &sms_digest, now + SMS_CODE_SECONDS, now)? {
                    return Err(Error::Conflict("The activation was started at the same moment.".to_owned()));
                }
                enqueue(tx, ctx.keys, now, &code_sms(&ctx.texts, &phone, &sms_code), Some(now + SMS_CODE_SECONDS))?;
                let user = UserId::from_stored(stored.user_id.clone());
                let about = Subjects { user: Some(&user), client: None, company: Some(&stored.company_id) };
                audit::record(tx, now, &ctx.origin, about, Event::InvitationCodeEntered)?;
            }
            let verified = match state {
                InvitationState::Verified | InvitationState::PasswordSet => Some(verified(tx, &stored)?),
                _ => None,
            };
            Ok(Ok(Activation { started_now, verified, ..describe(tx, ctx.keys, &stored)? }))
        })
        .and_then(settle)
}

/// An activation as it stands, for the app or the page to show.
fn describe(r: &mut Read<'_>, keys: &Keys, stored: &StoredInvitation) -> Result<Activation> {
    let company = r.company(&CompanyId::from_stored(stored.company_id.clone()))?.map(|c| c.name).unwrap_or_default();
    let invited_by = match &stored.invited_by {
        Some(id) => r.user(&UserId::from_stored(id.clone()))?.map(|u| u.name).unwrap_or_default(),
        None => String::new(),
    };
    Ok(Activation {
        id: activation_id(keys, &stored.id)?,
        company,
        invited_by,
        phone_hint: phone_hint(phone_of(stored)?.as_str()),
        resends_left: resends_left(stored),
        started_now: false,
        verified: None,
    })
}

/// A started activation, while it can be carried on (the page that asks
/// for the verification code shows it again after a refusal).
pub fn find(store: &Store, keys: &Keys, now: UnixSeconds, activation: &str) -> Result<Activation> {
    store.read(|r| {
        let id = invitation_id_of(keys, activation)?.ok_or(Error::NotFound("activation"))?;
        let stored = r.invitation(&id)?.ok_or(Error::NotFound("activation"))?;
        usable(&stored, now)?;
        describe(r, keys, &stored)
    })
}

/// The invitation of an activation id, as the step may use it: an id Portti
/// did not make is not found.
fn load(tx: &mut Write<'_>, keys: &Keys, activation: &str) -> Result<StoredInvitation> {
    let id = invitation_id_of(keys, activation)?.ok_or(Error::NotFound("activation"))?;
    tx.invitation(&id)?.ok_or(Error::NotFound("activation"))
}

/// A new SMS code, at most [`SMS_RESENDS`] per invitation; then the person
/// asks their administrator for a code. Returns the resends left.
pub fn resend(ctx: &ActivationContext<'_>, now: UnixSeconds, address: Option<&str>, activation: &str) -> Result<i32> {
    let sms_code = six_digit_code();
    let sms_digest = ctx.keys.code_digest(SMS_CODE_CONTEXT, &sms_code)?;
    ctx.store
        .write(|tx| {
            or_refuse!(count_call(tx, now, "resend", address)?);
            let stored = load(tx, ctx.keys, activation)?;
            if or_refuse!(usable(&stored, now)) != InvitationState::CodeEntered {
                return Ok(Err(Refusal::StepAlreadyDone));
            }
            if !tx.resend_sms_code(&stored.id, &sms_digest, now + SMS_CODE_SECONDS, SMS_RESENDS)? {
                return Ok(Err(Refusal::ResendLimit));
            }
            let phone = phone_of(&stored)?;
            enqueue(tx, ctx.keys, now, &code_sms(&ctx.texts, &phone, &sms_code), Some(now + SMS_CODE_SECONDS))?;
            let user = UserId::from_stored(stored.user_id.clone());
            let about = Subjects { user: Some(&user), client: None, company: Some(&stored.company_id) };
            audit::record(tx, now, &ctx.origin, about, Event::InvitationCodeResent)?;
            Ok(Ok(resends_left(&stored) - 1))
        })
        .and_then(settle)
}

/// Whether a presented code's digest is the stored one, while it works.
fn is_code(presented: &str, digest: Option<&str>, expires_at: Option<i64>, now: i64) -> bool {
    match (digest, expires_at) {
        (Some(digest), Some(expires_at)) if expires_at > now => presented.as_bytes().ct_eq(digest.as_bytes()).into(),
        _ => false,
    }
}

/// The verification code, from the SMS or from the administrator. Right:
/// the invitation is verified, and a person without an account password is
/// emailed a link to create one. Five wrong codes end the codes.
pub fn verify(
    ctx: &ActivationContext<'_>,
    now: UnixSeconds,
    address: Option<&str>,
    activation: &str,
    typed: &str,
) -> Result<Verified> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let sms_presented = ctx.keys.code_digest(SMS_CODE_CONTEXT, &typed)?;
    let admin_presented = admin_code_digest(ctx.keys, &typed)?;
    let link_id = random_token();
    ctx.store
        .write(|tx| {
            or_refuse!(count_call(tx, now, "verify", address)?);
            let stored = load(tx, ctx.keys, activation)?;
            if or_refuse!(usable(&stored, now)) != InvitationState::CodeEntered {
                return Ok(Err(Refusal::StepAlreadyDone));
            }
            let attempts = tx.count_invitation_attempt(&stored.id)?;
            if attempts > CODE_ATTEMPTS {
                return Ok(Err(Refusal::TooManyWrongCodes));
            }
            let sms = (stored.sms_code_digest.as_deref(), stored.sms_code_expires_at);
            let admin = (stored.admin_code_digest.as_deref(), stored.admin_code_expires_at);
            let live = |(_, expires): (Option<&str>, Option<i64>)| expires.is_some_and(|at| at > now);
            if !live(sms) && !live(admin) {
                return Ok(Err(Refusal::CodeExpired));
            }
            let right = is_code(&sms_presented, sms.0, sms.1, now) | is_code(&admin_presented, admin.0, admin.1, now);
            if !right {
                if attempts == CODE_ATTEMPTS {
                    tx.end_invitation_codes(&stored.id)?;
                    return Ok(Err(Refusal::TooManyWrongCodes));
                }
                return Ok(Err(Refusal::WrongCode));
            }
            tx.end_invitation_codes(&stored.id)?;
            if !tx.advance_invitation(&stored.id, "code_entered", "verified")? {
                return Err(Error::Conflict("The code was used at the same moment.".to_owned()));
            }
            let verified = verified(tx, &stored)?;
            let user = UserId::from_stored(stored.user_id.clone());
            if verified.next == Next::CreatePassword {
                send_create_password_link(ctx, tx, now, &user, &stored.communication_email, &link_id)?;
            }
            let about = Subjects { user: Some(&user), client: None, company: Some(&stored.company_id) };
            audit::record(tx, now, &ctx.origin, about, Event::InvitationVerified)?;
            Ok(Ok(verified))
        })
        .and_then(settle)
}

/// Emails the link that creates the account password: the password reset's
/// page, by a link that works once, in any browser, for 24 hours.
fn send_create_password_link(
    ctx: &ActivationContext<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    user_id: &UserId,
    to: &str,
    link_id: &str,
) -> Result<()> {
    // To the address the invitation was sent to, which the administrator
    // checked: not one changed since.
    let to = Email::parse(to).map_err(|_| Error::internal("an invitation's email does not parse"))?;
    tx.insert_password_reset(&StoredReset {
        id_digest: sha256_hex(link_id),
        // An emailed link is not bound to a browser.
        browser_digest: sha256_hex(&random_token()),
        user_id: Some(user_id.as_str().to_owned()),
        method: "email".to_owned(),
        code_digest: None,
        attempts: 0,
        verified_at: None,
        request: None,
        created_at: now,
        expires_at: now + CREATE_PASSWORD_SECONDS,
        used_at: None,
    })?;
    let message = Message::Email {
        to,
        subject: ctx.texts.get("message.create_password_subject").to_owned(),
        body: ctx.texts.fill(
            "message.create_password_body",
            &[
                ("link", format!("{}/password/reset/{link_id}", ctx.issuer)),
                ("hours", (CREATE_PASSWORD_SECONDS / 3600).to_string()),
            ],
        ),
    };
    enqueue(tx, ctx.keys, now, &message, Some(now + CREATE_PASSWORD_SECONDS))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_master(&[7; 32])
    }

    #[test]
    fn an_activation_id_names_its_invitation_and_cannot_be_made_up() {
        let keys = keys();
        let invitation = uuid::Uuid::now_v7().to_string();
        let id = activation_id(&keys, &invitation).unwrap();
        assert_eq!(invitation_id_of(&keys, &id).unwrap(), Some(invitation.clone()));
        assert_eq!(activation_id(&keys, &invitation).unwrap(), id, "the same invitation, the same id");
        let other = uuid::Uuid::now_v7().to_string();
        let forged = format!("{other}.{}", id.split_once('.').unwrap().1);
        assert_eq!(invitation_id_of(&keys, &forged).unwrap(), None);
        for bad in ["", "x", &invitation, &format!("{invitation}."), "not-a-uuid.0123"] {
            assert_eq!(invitation_id_of(&keys, bad).unwrap(), None, "{bad:?}");
        }
        assert_eq!(invitation_id_of(&Keys::from_master(&[8; 32]), &id).unwrap(), None, "another key");
    }

    #[test]
    fn the_email_hint_shows_the_first_letter_and_the_domain() {
        assert_eq!(email_hint("john.smith@example.com"), "j•••@example.com");
        assert_eq!(email_hint("broken"), "•••");
    }
}
