//! Passkeys in the browser (DESIGN.md, "Passkeys in the browser"): a person
//! registers one from `/account` (user verification required), names it,
//! sees it listed and removes it; the sign-in page offers "Sign in with a
//! passkey" (a discoverable credential, so no email is typed); a phone's
//! browser can approve a QR sign-in with one.
//!
//! webauthn-rs does the ceremonies. Its state between the two steps of a
//! ceremony (the challenge) lives in the database, bound to the browser and
//! to what it is for, used once and for [`CEREMONY_SECONDS`] at most —
//! never in a cookie. WebAuthn needs the issuer's host to be a domain name
//! (`localhost` counts); with an IP address there are no passkeys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn,
    WebauthnBuilder, WebauthnResult,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::audit::{self, Event, Origin, Subjects};
use super::ids::UserId;
use super::refusal::{Refusal, or_refuse};
use crate::clock::UnixSeconds;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::error::{Error, Result};
use crate::store::{Read, Store, StoredCeremony, StoredPasskey, Write};

/// How long a ceremony waits for its second step.
pub const CEREMONY_SECONDS: i64 = 5 * 60;

/// The longest name of a passkey.
pub const MAX_NAME_LENGTH: usize = 60;

/// The most passkeys one person may have.
pub const MAX_PASSKEYS: usize = 10;

/// The relying party of the issuer: `None`, with the reason logged, when
/// the issuer's host is an IP address (WebAuthn refuses one as its id).
pub fn relying_party(issuer: &str) -> Result<Option<Webauthn>> {
    let origin = Url::parse(issuer).map_err(|e| Error::Config(format!("issuer is not a URL: {e}")))?;
    let Some(url::Host::Domain(host)) = origin.host() else {
        tracing::warn!(
            issuer,
            "passkeys are off: WebAuthn needs the issuer's host to be a domain name (localhost counts), not an IP address"
        );
        return Ok(None);
    };
    let host = host.to_owned();
    let webauthn = WebauthnBuilder::new(&host, &origin)
        .and_then(|builder| builder.rp_name("Portti").build())
        .map_err(|e| Error::Config(format!("passkeys for issuer `{issuer}`: {e}")))?;
    Ok(Some(webauthn))
}

/// What a ceremony is for; each kind is finished only as that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Adding a passkey to the signed-in person's account.
    Register,
    /// Signing a flow in with a passkey.
    SignIn,
    /// Approving a QR sign-in from a phone's browser.
    Qr,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::Qr => "qr",
        }
    }
}

/// A ceremony's first step: the id its second step sends back, and what the
/// browser passes to `navigator.credentials`.
#[derive(Debug, Clone)]
pub struct Started<T> {
    pub ceremony_id: String,
    pub options: T,
}

/// Stores a ceremony's state for its second step; returns its id.
pub fn begin_ceremony(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    browser_id: &str,
    purpose: Purpose,
    subject: &str,
    state: &impl serde::Serialize,
) -> Result<String> {
    let ceremony_id = random_token();
    tx.insert_ceremony(&StoredCeremony {
        id_digest: sha256_hex(&ceremony_id),
        browser_digest: sha256_hex(browser_id),
        purpose: purpose.as_str().to_owned(),
        subject: subject.to_owned(),
        state: serde_json::to_string(state).map_err(Error::internal)?,
        created_at: now,
        expires_at: now + CEREMONY_SECONDS,
    })?;
    Ok(ceremony_id)
}

/// Takes a ceremony for its second step, once: only in the browser that
/// began it, for what it was begun for, while it lives. Anything else is
/// [`Refusal::PasskeyExpired`], returned to be committed: a ceremony taken
/// by a wrong answer stays used.
pub fn take_ceremony<T: serde::de::DeserializeOwned>(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    ceremony_id: &str,
    browser_id: &str,
    purpose: Purpose,
    subject: &str,
) -> Result<Result<T, Refusal>> {
    let taken = tx.take_ceremony(&sha256_hex(ceremony_id))?.filter(|ceremony| {
        ceremony.browser_digest == sha256_hex(browser_id)
            && ceremony.purpose == purpose.as_str()
            && ceremony.subject == subject
            && ceremony.expires_at > now
    });
    // A state this instance cannot read (a newer version's) is a ceremony to begin again.
    match taken.map(|ceremony| serde_json::from_str(&ceremony.state)) {
        Some(Ok(state)) => Ok(Ok(state)),
        _ => Ok(Err(Refusal::PasskeyExpired)),
    }
}

/// The authenticator's answer to a sign-in or an approval, as the browser
/// sent it (JSON); anything else is [`Refusal::PasskeyFailed`].
pub fn parse_answer(json: &str) -> Result<PublicKeyCredential, Refusal> {
    serde_json::from_str(json).map_err(|_| Refusal::PasskeyFailed)
}

/// WebAuthn's user handle of a person: the bytes of their id, a UUID.
fn user_handle(user: &UserId) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(user.as_str()).map_err(Error::internal)
}

fn credential_of(stored: &StoredPasskey) -> Result<Passkey> {
    serde_json::from_str(&stored.credential).map_err(Error::internal)
}

/// A credential id as stored: base64url.
fn credential_id(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice())
}

/// The stored form of the credential id an answer names.
fn answer_credential_id(answer: &PublicKeyCredential) -> String {
    URL_SAFE_NO_PAD.encode(answer.get_credential_id())
}

/// Starts adding a passkey for `user`: user verification required, a
/// discoverable credential asked for (so the sign-in needs no email), and
/// the person's passkeys excluded (one authenticator registers once).
pub fn start_registration(
    store: &Store,
    webauthn: &Webauthn,
    now: UnixSeconds,
    browser_id: &str,
    user: &UserId,
) -> Result<Started<CreationChallengeResponse>> {
    store.write(|tx| {
        let profile = tx.user(user)?.ok_or(Error::NotFound("user"))?;
        let existing = tx.passkeys_of(user)?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(Refusal::TooManyPasskeys { max: MAX_PASSKEYS }.into());
        }
        let exclude =
            existing.iter().map(credential_of).map(|p| p.map(|p| p.cred_id().clone())).collect::<Result<_>>()?;
        let email = profile.email.as_str();
        let shown = if profile.name.is_empty() { email } else { profile.name.as_str() };
        let (mut options, state) = webauthn
            .start_passkey_registration(user_handle(user)?, email, shown, Some(exclude))
            .map_err(Error::internal)?;
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        let ceremony_id = begin_ceremony(tx, now, browser_id, Purpose::Register, user.as_str(), &state)?;
        Ok(Started { ceremony_id, options })
    })
}

/// A passkey's name: 1 to [`MAX_NAME_LENGTH`] characters, no control characters.
pub fn parse_name(input: &str) -> Result<String, Refusal> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LENGTH || name.chars().any(char::is_control) {
        return Err(Refusal::PasskeyNameInvalid { max: MAX_NAME_LENGTH });
    }
    Ok(name.to_owned())
}

/// What finishing a registration gets from the browser.
#[derive(Debug, Clone, Copy)]
pub struct NewPasskey<'a> {
    pub ceremony_id: &'a str,
    pub name: &'a str,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, as JSON.
    pub credential: &'a str,
}

/// Finishes adding a passkey, in the caller's transaction: the
/// authenticator's answer must verify against the ceremony (its challenge,
/// this origin, user verification), and the credential must be no one's
/// yet. The ceremony is used up whatever the answer (a refusal is returned
/// to be committed). The caller has checked that the person may add one
/// (see [`crate::domain::account::add_passkey`]).
pub fn register(
    tx: &mut Write<'_>,
    webauthn: &Webauthn,
    now: UnixSeconds,
    origin: &Origin,
    browser_id: &str,
    user: &UserId,
    new: NewPasskey<'_>,
) -> Result<Result<(), Refusal>> {
    let name = or_refuse!(parse_name(new.name));
    let state: PasskeyRegistration =
        or_refuse!(take_ceremony(tx, now, new.ceremony_id, browser_id, Purpose::Register, user.as_str())?);
    let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(new.credential) else {
        return Ok(Err(Refusal::PasskeyFailed));
    };
    let passkey = match webauthn.finish_passkey_registration(&answer, &state) {
        Ok(passkey) => passkey,
        Err(e) => {
            tracing::info!(error = %e, "a passkey registration did not verify");
            return Ok(Err(Refusal::PasskeyFailed));
        }
    };
    let stored = StoredPasskey {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.as_str().to_owned(),
        credential_id: credential_id(&passkey),
        name,
        credential: serde_json::to_string(&passkey).map_err(Error::internal)?,
        created_at: now,
        last_used_at: None,
    };
    if !tx.insert_passkey(&stored)? {
        return Ok(Err(Refusal::PasskeyFailed));
    }
    audit::record(tx, now, origin, Subjects::person(user), Event::PasskeyAdded)?;
    Ok(Ok(()))
}

/// A passkey as its person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyEntry {
    pub id: String,
    pub name: String,
    pub created_at: UnixSeconds,
    pub last_used_at: Option<UnixSeconds>,
}

/// The person's passkeys, the first registered first.
pub fn list(r: &mut Read<'_>, user: &UserId) -> Result<Vec<PasskeyEntry>> {
    Ok(r.passkeys_of(user)?
        .into_iter()
        .map(|p| PasskeyEntry { id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at })
        .collect())
}

/// Removes one of the person's passkeys: it signs nobody in from now on.
pub fn remove(store: &Store, now: UnixSeconds, origin: &Origin, user: &UserId, id: &str) -> Result<()> {
    store.write(|tx| {
        if !tx.delete_passkey(id, user)? {
            return Err(Error::NotFound("passkey"));
        }
        audit::record(tx, now, origin, Subjects::person(user), Event::PasskeyRemoved)
    })
}

/// Starts a sign-in with a discoverable passkey for `subject` (a flow): no
/// credentials are named, the authenticator offers the person's own.
pub fn start_discoverable(
    tx: &mut Write<'_>,
    webauthn: &Webauthn,
    now: UnixSeconds,
    browser_id: &str,
    subject: &str,
) -> Result<Started<RequestChallengeResponse>> {
    let (mut options, state) = webauthn.start_discoverable_authentication().map_err(Error::internal)?;
    // A button asks for it, not the email field's autofill.
    options.mediation = None;
    let ceremony_id = begin_ceremony(tx, now, browser_id, Purpose::SignIn, subject, &state)?;
    Ok(Started { ceremony_id, options })
}

/// Starts an approval with one of `user`'s passkeys (a QR code seen in a
/// phone's browser where the person is signed in), bound to `subject`.
pub fn start_for_person(
    tx: &mut Write<'_>,
    webauthn: &Webauthn,
    now: UnixSeconds,
    browser_id: &str,
    user: &UserId,
    subject: &str,
) -> Result<Started<RequestChallengeResponse>> {
    let passkeys = tx.passkeys_of(user)?.iter().map(credential_of).collect::<Result<Vec<_>>>()?;
    if passkeys.is_empty() {
        return Err(Refusal::NoPasskey.into());
    }
    let (options, state) = webauthn.start_passkey_authentication(&passkeys).map_err(Error::internal)?;
    let ceremony_id = begin_ceremony(tx, now, browser_id, Purpose::Qr, subject, &state)?;
    Ok(Started { ceremony_id, options })
}

/// A passkey that answered: whose it is, and the methods it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUse {
    pub user: UserId,
    /// `hwk` for a device-bound credential, `swk` for a synced one (its
    /// backup-eligible flag), then `user` (verified) and `mfa`.
    pub amr: Vec<String>,
}

/// The `amr` of a passkey's use.
pub fn methods(result: &AuthenticationResult) -> Vec<String> {
    let key = if result.backup_eligible() { "swk" } else { "hwk" };
    vec![key.to_owned(), "user".to_owned(), "mfa".to_owned()]
}

/// The stored passkey an answer names, and the person it belongs to
/// (`None` when it is no one's, or names another person than its handle).
pub fn passkey_of_answer(tx: &mut Write<'_>, answer: &PublicKeyCredential) -> Result<Option<StoredPasskey>> {
    // The user handle is what the authenticator stored at registration: the
    // person's id as 16 bytes.
    let handle = answer.get_user_unique_id().map(uuid::Uuid::from_slice);
    let Some(Ok(handle)) = handle else { return Ok(None) };
    let stored = tx.passkey_by_credential(&answer_credential_id(answer))?;
    Ok(stored.filter(|p| handle.to_string() == p.user_id))
}

/// Checks a discoverable sign-in's answer against its ceremony and the
/// stored passkey, and saves the passkey's new counter. `Ok(None)` when it
/// does not verify (or the person was not verified).
pub fn verify_discoverable(
    tx: &mut Write<'_>,
    webauthn: &Webauthn,
    now: UnixSeconds,
    state: DiscoverableAuthentication,
    answer: &PublicKeyCredential,
    stored: &StoredPasskey,
) -> Result<Option<PasskeyUse>> {
    let passkey = credential_of(stored)?;
    let outcome = webauthn.finish_discoverable_authentication_v2(answer, state, &passkey);
    used(tx, now, stored, passkey, outcome)
}

/// Checks an answer to [`start_for_person`] (one of the person's passkeys).
pub fn verify_for_person(
    tx: &mut Write<'_>,
    webauthn: &Webauthn,
    now: UnixSeconds,
    state: &PasskeyAuthentication,
    answer: &PublicKeyCredential,
    user: &UserId,
) -> Result<Option<PasskeyUse>> {
    let stored = tx.passkey_by_credential(&answer_credential_id(answer))?;
    let Some(stored) = stored.filter(|p| p.user_id == user.as_str()) else { return Ok(None) };
    let passkey = credential_of(&stored)?;
    let outcome = webauthn.finish_passkey_authentication(answer, state);
    used(tx, now, &stored, passkey, outcome)
}

/// A passkey's use, once its answer verified with the person verified;
/// saves the passkey's counter and flags. `None` otherwise.
fn used(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    stored: &StoredPasskey,
    mut passkey: Passkey,
    outcome: WebauthnResult<AuthenticationResult>,
) -> Result<Option<PasskeyUse>> {
    let result = match outcome {
        Ok(result) if result.user_verified() => result,
        Ok(_) => return Ok(None),
        Err(e) => {
            tracing::info!(error = %e, "a passkey's answer did not verify");
            return Ok(None);
        }
    };
    passkey.update_credential(&result);
    let credential = serde_json::to_string(&passkey).map_err(Error::internal)?;
    tx.update_passkey_after_use(&stored.id, &credential, now)?;
    Ok(Some(PasskeyUse { user: UserId::from_stored(stored.user_id.clone()), amr: methods(&result) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkeys_need_a_domain_name_as_the_issuers_host() {
        assert!(relying_party("http://127.0.0.1:8080").unwrap().is_none());
        assert!(relying_party("http://[::1]:8080").unwrap().is_none());
        assert!(relying_party("http://localhost:8080").unwrap().is_some());
        assert!(relying_party("https://login.example.fi").unwrap().is_some());
    }

    #[test]
    fn a_name_is_one_to_sixty_plain_characters() {
        assert_eq!(parse_name("  Työkannettava  ").unwrap(), "Työkannettava");
        assert!(parse_name(" ").is_err());
        assert!(parse_name(&"x".repeat(61)).is_err());
        assert!(parse_name("a\nb").is_err());
    }
}
