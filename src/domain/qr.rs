//! QR sign-in to the browser from the phone (DESIGN.md, "QR sign-in to the
//! browser" and "External interface, part 2").
//!
//! The sign-in page shows a QR code of `{issuer}/qr/{qr_id}` and a 2-digit
//! number. The phone, signed in to the app, reads what asks (browser,
//! address, time, application) and three numbers; the person picks the one
//! the computer shows and approves with the device key, whose fresh JWS over
//! `{qr_id, choice, iat, jti, amr}` is what approves — a stolen access token
//! alone approves nothing. The browser that showed the code, and only it,
//! then redeems the approval and its sign-in goes on.
//!
//! The threat is QR phishing (RFC 10027, the cross-device BCP): a page that
//! relays a real code to a victim. The phone says where the request comes
//! from; the number proves the person looks at the asking screen; the code
//! lives two minutes, is used once, and is bound to its browser's cookie.
//!
//! The state lives in the database, so a phone answering through one
//! instance reaches a browser polling another; a poll is one read by
//! primary key and writes nothing.

use serde::{Deserialize, Serialize};

use super::audit::{self, Event, Origin, Subjects};
use super::client::ClientId;
use super::grants::jwt_bearer::{IAT_SKEW_SECONDS, Unlock, device_of, signed_by_device, usable_jti};
use super::ids::UserId;
use super::passkeys::{self, Purpose, Started};
use super::refusal::{Refusal, or_refuse};
use super::throttle::{Lockout, Subject, is_locked};
use super::user_agent;
use crate::clock::UnixSeconds;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::error::{Error, Result};
use crate::store::{Read, Store, StoredQrLogin, Write};
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{PasskeyAuthentication, RequestChallengeResponse};

/// How long a QR code lives.
pub const QR_SECONDS: i64 = 2 * 60;

/// How long an approval given near the end of a code's life still waits for
/// its browser to redeem it.
pub const REDEEM_SECONDS: i64 = 30;

/// The most QR codes one browser may have live at once (tabs, reloads).
pub const LIVE_PER_BROWSER: i64 = 5;

/// The most QR codes made for one client address per minute.
pub const NEW_PER_ADDRESS_PER_MINUTE: i64 = 30;

/// Where a QR code stands, stored as JSON with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum QrState {
    /// Shown, waiting for a phone.
    Pending,
    /// Approved by the person's device; the browser has yet to redeem it.
    Approved {
        user: UserId,
        amr: Vec<String>,
        approved_at: UnixSeconds,
        /// The device that approved, when it was the app.
        device: Option<String>,
    },
    /// The person said it was not them.
    Denied,
    /// The person picked another number than the computer's: it ends here.
    WrongNumber,
    /// The browser took the approval and signed in.
    Redeemed,
}

/// What the computer's page learns by polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrStatus {
    Pending,
    Approved,
    Denied,
    Expired,
}

impl QrStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QrStatus::Pending => "pending",
            QrStatus::Approved => "approved",
            QrStatus::Denied => "denied",
            QrStatus::Expired => "expired",
        }
    }
}

/// A QR code as one request loaded it.
#[derive(Debug, Clone)]
pub struct QrLogin {
    pub stored: StoredQrLogin,
    pub state: QrState,
}

impl QrLogin {
    /// The code with this id, if any. A state this instance cannot read (a
    /// newer version's) is a code that has ended.
    pub fn load(r: &mut Read<'_>, qr_id: &str) -> Result<Option<Self>> {
        let Some(stored) = r.qr_login(&sha256_hex(qr_id))? else { return Ok(None) };
        let state = serde_json::from_str(&stored.state).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a QR code's stored state does not parse");
            QrState::Redeemed
        });
        Ok(Some(Self { stored, state }))
    }

    /// The same, only for the browser that showed it.
    pub fn load_for_browser(r: &mut Read<'_>, qr_id: &str, browser_id: &str) -> Result<Option<Self>> {
        let qr = Self::load(r, qr_id)?;
        Ok(qr.filter(|qr| qr.stored.browser_digest == sha256_hex(browser_id)))
    }

    pub fn status(&self, now: UnixSeconds) -> QrStatus {
        match &self.state {
            QrState::Approved { .. } | QrState::Redeemed if self.stored.expires_at > now => QrStatus::Approved,
            QrState::Denied | QrState::WrongNumber => QrStatus::Denied,
            QrState::Pending if self.stored.expires_at > now => QrStatus::Pending,
            _ => QrStatus::Expired,
        }
    }

    /// Whether a phone may still answer it.
    fn is_pending(&self, now: UnixSeconds) -> bool {
        self.state == QrState::Pending && self.stored.expires_at > now
    }

    /// The number the computer shows.
    pub fn number(&self) -> i32 {
        self.stored.number
    }

    /// Moves on to `state`, living until `expires_at`, provided no other
    /// request moved it first (then the whole step rolls back).
    pub fn advance(&mut self, tx: &mut Write<'_>, state: QrState, expires_at: UnixSeconds) -> Result<()> {
        let json = serde_json::to_string(&state).map_err(Error::internal)?;
        if !tx.update_qr_login(&self.stored.id_digest, self.stored.version, &json, expires_at)? {
            return Err(Refusal::QrExpired.into());
        }
        self.stored.version += 1;
        self.stored.expires_at = expires_at;
        self.state = state;
        Ok(())
    }
}

/// Who asks for a QR code: what the phone will be shown about them.
#[derive(Debug, Clone, Default)]
pub struct Asker {
    pub user_agent: String,
    /// The client address, as the phone shows it.
    pub address: Option<String>,
    /// The address as it is throttled (an IPv6 address by its /64).
    pub throttle_key: Option<String>,
    /// The application the sign-in is for (filled in from the flow).
    pub client_id: Option<String>,
}

/// A QR code just made: the id its link carries and the computer's number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownQr {
    pub qr_id: String,
    pub number: i32,
}

/// The link a QR code shows.
pub fn link(issuer: &str, qr_id: &str) -> String {
    format!("{issuer}/qr/{qr_id}")
}

/// Makes a QR code for a sign-in flow of this browser, in the caller's
/// transaction; `None` when the browser or the address has made its share
/// (the page then shows no code, and the person signs in as usual).
pub fn create(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    browser_id: &str,
    flow_digest: &str,
    asker: &Asker,
) -> Result<Option<ShownQr>> {
    let browser_digest = sha256_hex(browser_id);
    if tx.live_qr_logins_of_browser(&browser_digest, now)? >= LIVE_PER_BROWSER {
        return Ok(None);
    }
    if let Some(address) = &asker.throttle_key
        && i64::from(tx.hit_rate_limit(&format!("qr:{address}"), now, 60)?) > NEW_PER_ADDRESS_PER_MINUTE
    {
        return Ok(None);
    }
    let choices = three_numbers();
    let number = choices[usize::from(random_index())];
    let qr_id = random_token();
    tx.insert_qr_login(&StoredQrLogin {
        id_digest: sha256_hex(&qr_id),
        browser_digest,
        flow_digest: flow_digest.to_owned(),
        number,
        choices: choices.iter().map(i32::to_string).collect::<Vec<_>>().join(" "),
        user_agent: user_agent::kept(&asker.user_agent),
        address: asker.address.clone(),
        client_id: asker.client_id.clone(),
        state: serde_json::to_string(&QrState::Pending).map_err(Error::internal)?,
        version: 0,
        created_at: now,
        expires_at: now + QR_SECONDS,
    })?;
    Ok(Some(ShownQr { qr_id, number }))
}

/// Three different numbers from 10 to 99, in random order.
fn three_numbers() -> [i32; 3] {
    use rand::RngExt as _;
    let mut rng = rand::rng();
    let mut numbers = [0; 3];
    let mut filled = 0;
    while filled < numbers.len() {
        let candidate = rng.random_range(10..=99);
        if !numbers[..filled].contains(&candidate) {
            numbers[filled] = candidate;
            filled += 1;
        }
    }
    numbers
}

fn random_index() -> u8 {
    use rand::RngExt as _;
    rand::rng().random_range(0..3)
}

/// Where this browser's QR code stands; a code of another browser, or none,
/// is not found.
pub fn status(store: &Store, now: UnixSeconds, qr_id: &str, browser_id: &str) -> Result<QrStatus> {
    let qr = store.read(|r| QrLogin::load_for_browser(r, qr_id, browser_id))?;
    qr.map(|qr| qr.status(now)).ok_or(Error::NotFound("qr"))
}

/// This browser's QR code again, while it waits for the phone: what a page
/// shown anew (a "Continue" pressed too early) shows, so that the code the
/// person is scanning stays the one on the screen.
pub fn still_pending(store: &Store, now: UnixSeconds, qr_id: &str, browser_id: &str) -> Result<Option<ShownQr>> {
    let qr = store.read(|r| QrLogin::load_for_browser(r, qr_id, browser_id))?;
    Ok(qr.filter(|qr| qr.is_pending(now)).map(|qr| ShownQr { qr_id: qr_id.to_owned(), number: qr.number() }))
}

/// What the phone shows before the person approves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrRequest {
    pub browser: user_agent::BrowserSummary,
    pub address: Option<String>,
    pub requested_at: UnixSeconds,
    /// The application's name, when the sign-in is for one.
    pub application: Option<String>,
    pub choices: Vec<i32>,
}

/// What a live QR code asks, for the phone of a signed-in person.
pub fn describe(store: &Store, now: UnixSeconds, qr_id: &str) -> Result<QrRequest> {
    store.read(|r| {
        let qr = QrLogin::load(r, qr_id)?.ok_or(Error::NotFound("qr"))?;
        if !qr.is_pending(now) {
            return Err(Refusal::QrExpired.into());
        }
        let application = match &qr.stored.client_id {
            Some(id) => r.client(&ClientId::from_stored(id.clone()))?.map(|c| c.display_name().to_owned()),
            None => None,
        };
        Ok(QrRequest {
            browser: user_agent::summarise(&qr.stored.user_agent),
            address: qr.stored.address.clone(),
            requested_at: qr.stored.created_at,
            application,
            choices: qr.stored.choices.split_whitespace().filter_map(|n| n.parse().ok()).collect(),
        })
    })
}

/// The claims of an approval's proof.
#[derive(Debug, Deserialize)]
struct ProofClaims {
    qr_id: Option<String>,
    choice: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
}

/// A proof whose signature and claims hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct VerifiedProof {
    jti: String,
    iat: UnixSeconds,
    unlock: Unlock,
}

/// Checks a proof's claims: this code, this choice, `iat` within
/// [`IAT_SKEW_SECONDS`], a `jti`, one unlock method. The error says what
/// failed, for the app's developer (logged, never answered in detail).
fn verify_proof(
    proof: &str,
    device: &crate::store::StoredDevice,
    qr_id: &str,
    choice: i64,
    now: UnixSeconds,
) -> std::result::Result<VerifiedProof, &'static str> {
    let claims: ProofClaims = signed_by_device(proof, device)?;
    if claims.qr_id.as_deref() != Some(qr_id) {
        return Err("the proof is for another QR code");
    }
    if claims.choice != Some(choice) {
        return Err("the proof is for another choice");
    }
    let iat = claims.iat.ok_or("the proof needs iat")?;
    if iat.abs_diff(now) > IAT_SKEW_SECONDS.unsigned_abs() {
        return Err("the proof's iat is too far from the current time");
    }
    let jti = usable_jti(claims.jti).ok_or("the proof needs a jti")?;
    let unlock = Unlock::of(&claims.amr).ok_or("the proof's amr must be [\"pin\"], [\"fpt\"] or [\"face\"]")?;
    Ok(VerifiedProof { jti, iat, unlock })
}

/// A phone's approval of a QR code.
#[derive(Debug, Clone)]
pub struct Approval<'a> {
    /// The person the app's access token speaks for.
    pub person: &'a UserId,
    pub qr_id: &'a str,
    pub choice: i64,
    /// A JWS by the device key over `{qr_id, choice, iat, jti, amr}`.
    pub proof: &'a str,
}

/// Approves a QR code with the device credential. A proof that is not a
/// fresh, unused signature of one of the person's devices over this code and
/// choice changes nothing; a wrong number ends the code (and says so).
pub fn approve(store: &Store, now: UnixSeconds, origin: &Origin, approval: Approval<'_>) -> Result<()> {
    let Approval { person, qr_id, choice, proof } = approval;
    let refuse_proof = |why: &str| {
        tracing::info!(reason = why, "a QR approval's proof was refused");
        Error::Refused(Refusal::InvalidProof)
    };
    let device_id = device_of(proof).map_err(refuse_proof)?;
    // Verified before the transaction, so that no other write waits for the
    // signature; the transaction first locks the device's row, still there
    // with the same key (as the device-key grant does).
    let device = store.read(|r| r.device(&device_id))?.filter(|device| device.user_id == person.as_str());
    let device = device.ok_or_else(|| refuse_proof("the device is not one of the person's"))?;
    let verified = verify_proof(proof, &device, qr_id, choice, now).map_err(refuse_proof)?;
    store
        .write(|tx| {
            if !tx.use_device(&device, now)? {
                return Err(refuse_proof("the device is not one of the person's"));
            }
            if !tx.use_device_assertion(
                &device.id,
                &sha256_hex(&verified.jti),
                verified.iat.saturating_add(IAT_SKEW_SECONDS),
            )? {
                return Err(refuse_proof("the proof was used already"));
            }
            let amr = vec!["hwk".to_owned(), verified.unlock.amr().to_owned(), "mfa".to_owned()];
            decide(tx, now, origin, Decision { qr_id, person, choice, amr, device: Some(&device.id) })
        })
        .and_then(super::refusal::settle)
}

/// A person's answer to a QR code, already authenticated.
struct Decision<'a> {
    qr_id: &'a str,
    person: &'a UserId,
    choice: i64,
    /// How the person authenticated the approval.
    amr: Vec<String>,
    /// The app's device that approved, if it was one.
    device: Option<&'a str>,
}

/// Approves a live QR code for the person when the number is the
/// computer's; a wrong number ends it (committed, and said). A code that is
/// not waiting, or a locked account, changes nothing.
fn decide(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    origin: &Origin,
    decision: Decision<'_>,
) -> Result<Result<(), Refusal>> {
    let Decision { qr_id, person, choice, amr, device } = decision;
    let mut qr = QrLogin::load(tx, qr_id)?.ok_or(Error::NotFound("qr"))?;
    if !qr.is_pending(now) {
        return Err(Refusal::QrExpired.into());
    }
    if is_locked(tx.locked_until(Subject::person(person).key())?, now) {
        return Err(Refusal::AccountLocked.into());
    }
    let client = qr.stored.client_id.clone();
    let about = Subjects { user: Some(person), client: client.as_deref(), company: None };
    let browser_address = qr.stored.address.clone();
    if i64::from(qr.number()) != choice {
        let expires_at = qr.stored.expires_at;
        qr.advance(tx, QrState::WrongNumber, expires_at)?;
        audit::record(tx, now, origin, about, Event::QrWrongNumber { browser_address })?;
        return Ok(Err(Refusal::WrongNumber));
    }
    let state = QrState::Approved {
        user: person.clone(),
        amr: amr.clone(),
        approved_at: now,
        device: device.map(str::to_owned),
    };
    let expires_at = qr.stored.expires_at.max(now + REDEEM_SECONDS);
    qr.advance(tx, state, expires_at)?;
    audit::record(tx, now, origin, about, Event::QrApproved { amr, browser_address })?;
    Ok(Ok(()))
}

/// The digest of a QR code's id: what a passkey ceremony for it is bound to.
fn ceremony_subject(person: &UserId, qr_id: &str) -> String {
    format!("{person}:{}", sha256_hex(qr_id))
}

/// Starts a passkey approval of a QR code in a phone's browser where the
/// person is signed in: a ceremony for this person and this code.
pub fn start_passkey_approval(
    store: &Store,
    webauthn: &Webauthn,
    now: UnixSeconds,
    browser_id: &str,
    person: &UserId,
    qr_id: &str,
) -> Result<Started<RequestChallengeResponse>> {
    store.write(|tx| {
        let qr = QrLogin::load(tx, qr_id)?.ok_or(Error::NotFound("qr"))?;
        if !qr.is_pending(now) {
            return Err(Refusal::QrExpired.into());
        }
        passkeys::start_for_person(tx, webauthn, now, browser_id, person, &ceremony_subject(person, qr_id))
    })
}

/// A passkey approval of a QR code from a phone's browser.
#[derive(Debug, Clone, Copy)]
pub struct PasskeyApproval<'a> {
    pub person: &'a UserId,
    pub qr_id: &'a str,
    pub choice: i64,
    pub ceremony_id: &'a str,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, as JSON.
    pub credential: &'a str,
    /// The language of a lock notice, should this attempt lock the account.
    pub lang: crate::i18n::Lang,
    /// The phone's address as it is throttled (an IPv6 address by its /64).
    pub throttle_key: Option<&'a str>,
}

/// Approves a QR code with one of the person's passkeys, with the same
/// number matching as the app. The ceremony is used up whatever the
/// answer; an answer that does not verify approves nothing and is counted
/// against the person's lockout and the address's throttle.
pub fn approve_with_passkey(
    store: &Store,
    webauthn: &Webauthn,
    lockout: &Lockout<'_>,
    now: UnixSeconds,
    origin: &Origin,
    browser_id: &str,
    approval: PasskeyApproval<'_>,
) -> Result<()> {
    let PasskeyApproval { person, qr_id, choice, ceremony_id, credential, lang, throttle_key } = approval;
    store
        .write(|tx| {
            or_refuse!(lockout.check_address(tx, now, throttle_key)?);
            let subject = ceremony_subject(person, qr_id);
            let state: PasskeyAuthentication =
                or_refuse!(passkeys::take_ceremony(tx, now, ceremony_id, browser_id, Purpose::Qr, &subject)?);
            let answer = or_refuse!(passkeys::parse_answer(credential));
            let attempt = or_refuse!(lockout.begin_attempt(tx, now, &Subject::person(person))?);
            let Some(used) = passkeys::verify_for_person(tx, webauthn, now, &state, &answer, person)? else {
                lockout.attempt_failed(tx, now, attempt, crate::i18n::Texts::new(lang), origin)?;
                return Ok(Err(Refusal::PasskeyFailed));
            };
            lockout.attempt_passed(tx, attempt)?;
            decide(tx, now, origin, Decision { qr_id, person, choice, amr: used.amr, device: None })
        })
        .and_then(super::refusal::settle)
}

/// The person says the QR sign-in is not theirs: it ends.
pub fn deny(store: &Store, now: UnixSeconds, origin: &Origin, person: &UserId, qr_id: &str) -> Result<()> {
    store.write(|tx| {
        let mut qr = QrLogin::load(tx, qr_id)?.ok_or(Error::NotFound("qr"))?;
        if !qr.is_pending(now) {
            return Err(Refusal::QrExpired.into());
        }
        let expires_at = qr.stored.expires_at;
        qr.advance(tx, QrState::Denied, expires_at)?;
        let client = qr.stored.client_id.clone();
        let about = Subjects { user: Some(person), client: client.as_deref(), company: None };
        let browser_address = qr.stored.address.clone();
        audit::record(tx, now, origin, about, Event::QrDenied { browser_address })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qr(state: QrState, expires_at: i64) -> QrLogin {
        QrLogin {
            stored: StoredQrLogin {
                id_digest: "d".into(),
                browser_digest: "b".into(),
                flow_digest: "f".into(),
                number: 42,
                choices: "17 42 88".into(),
                user_agent: String::new(),
                address: None,
                client_id: None,
                state: String::new(),
                version: 0,
                created_at: expires_at - QR_SECONDS,
                expires_at,
            },
            state,
        }
    }

    #[test]
    fn the_numbers_are_three_different_two_digit_ones() {
        for _ in 0..200 {
            let numbers = three_numbers();
            assert!(numbers.iter().all(|n| (10..=99).contains(n)), "{numbers:?}");
            assert!(numbers[0] != numbers[1] && numbers[1] != numbers[2] && numbers[0] != numbers[2]);
            assert!(random_index() < 3);
        }
    }

    #[test]
    fn the_computer_sees_pending_approved_denied_or_expired() {
        let now = 1_000;
        assert_eq!(qr(QrState::Pending, now + 1).status(now), QrStatus::Pending);
        assert_eq!(qr(QrState::Pending, now).status(now), QrStatus::Expired);
        let approved =
            QrState::Approved { user: UserId::generate(), amr: vec!["hwk".into()], approved_at: now, device: None };
        assert_eq!(qr(approved.clone(), now + 1).status(now), QrStatus::Approved);
        assert_eq!(qr(approved, now).status(now), QrStatus::Expired, "an approval not taken in time");
        assert_eq!(qr(QrState::Denied, now + 1).status(now), QrStatus::Denied);
        assert_eq!(qr(QrState::WrongNumber, now - 5).status(now), QrStatus::Denied);
        assert!(!qr(QrState::Denied, now + 60).is_pending(now));
    }

    #[test]
    fn states_round_trip_through_json() {
        let state = QrState::Approved {
            user: UserId::generate(),
            amr: vec!["hwk".into(), "face".into(), "mfa".into()],
            approved_at: 7,
            device: Some("d".into()),
        };
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.contains("\"state\":\"approved\""), "{json}");
        assert_eq!(serde_json::from_str::<QrState>(&json).unwrap(), state);
        assert_eq!(serde_json::to_string(&QrState::Pending).unwrap(), r#"{"state":"pending"}"#);
    }
}
