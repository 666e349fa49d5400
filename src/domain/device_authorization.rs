//! The device authorization grant (RFC 8628; DESIGN.md, "Device
//! authorization grant"): a device without a browser (a TV, a command line)
//! asks for a device code and a user code; the person types the user code at
//! `{issuer}/device` on a phone or computer, signs in there, sees the
//! application and what it asks, and allows or denies it; the device polls
//! the token endpoint meanwhile ([`super::grants::device_code`]).
//!
//! The device code is 256 random bits, stored as a digest. The user code is
//! 8 letters from an alphabet without vowels (no words) or look-alikes,
//! about 34 bits: it lives 10 minutes, is stored only as a keyed digest, and
//! the lookups of one address and one browser are limited, so it cannot be
//! guessed in its time.

use serde::{Deserialize, Serialize};

use super::audit::{self, Event, Origin, Subjects};
use super::client::{Client, ClientId, GrantType};
use super::discovery::ADMIN_SCOPE;
use super::grants::jwt_bearer::asked_scopes;
use super::ids::UserId;
use super::refusal::{Refusal, settle};
use super::session::Session;
use super::throttle::{Subject, is_locked};
use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::crypto::secret::{random_bytes, random_token, sha256_hex};
use crate::error::{Error, Result};
use crate::store::{Store, StoredDeviceAuthorization, Write};

/// How long a device code and its user code live.
pub const DEVICE_CODE_SECONDS: i64 = 10 * 60;

/// How often a device may poll at first.
pub const INTERVAL_SECONDS: i32 = 5;

/// How much the interval grows when a device polls too fast (RFC 8628 §3.5).
pub const SLOW_DOWN_SECONDS: i32 = 5;

/// The user code's letters: consonants only (no words can form), without
/// look-alikes of digits.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// The letters of a user code.
pub const USER_CODE_LENGTH: usize = 8;

/// The most device authorizations one address may start per minute.
pub const STARTS_PER_ADDRESS_PER_MINUTE: i32 = 30;

/// The most user codes one address may look up per minute.
pub const LOOKUPS_PER_ADDRESS_PER_MINUTE: i32 = 20;

/// The most user codes one browser may look up while a code lives.
pub const LOOKUPS_PER_BROWSER: i32 = 20;

/// The most wrong user codes, from everyone together, per minute: about 34
/// bits of code and 10 minutes of life leave a guesser who rotates
/// addresses and cookies one chance in millions per live code.
pub const WRONG_CODES_PER_MINUTE: i32 = 1000;

const WRONG_CODES_BUCKET: &str = "device-user-code-wrong";

/// The context a user code's keyed digest is made under.
const USER_CODE_CONTEXT: &str = "device-user-code";

/// Where a device's request stands, stored as JSON with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeviceState {
    /// Waiting for the person.
    Pending,
    /// Allowed by the person, signed in as `amr` at `auth_time` (and `acr`).
    Approved {
        user: UserId,
        amr: Vec<String>,
        auth_time: UnixSeconds,
        #[serde(default = "crate::domain::session::own_acr")]
        acr: Option<String>,
    },
    /// Denied by the person.
    Denied,
    /// The device has its tokens: the code is spent.
    Issued,
}

/// A user code: the 8 letters, canonical (upper case, no dash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// Reads a typed code ignoring case, dashes and spaces; `None` unless it
    /// is 8 letters of the alphabet.
    pub fn parse(input: &str) -> Option<Self> {
        let letters: String = input
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid = letters.len() == USER_CODE_LENGTH && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(Self(letters))
    }

    fn generate() -> Self {
        let mut letters = String::with_capacity(USER_CODE_LENGTH);
        // 240 is the largest multiple of 20 below 256: no letter is likelier.
        while letters.len() < USER_CODE_LENGTH {
            for byte in random_bytes::<16>() {
                if byte < 240 && letters.len() < USER_CODE_LENGTH {
                    letters.push(char::from(USER_CODE_ALPHABET[usize::from(byte % 20)]));
                }
            }
        }
        Self(letters)
    }

    /// The code as shown: `XXXX-XXXX`.
    pub fn shown(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }

    /// The 8 letters, as a path carries them.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn digest(&self, keys: &Keys) -> Result<String> {
        keys.code_digest(USER_CODE_CONTEXT, &self.0)
    }
}

/// What the device authorization endpoint answers (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i32,
}

/// Where a person enters a user code.
pub fn verification_uri(issuer: &str) -> String {
    format!("{issuer}/device")
}

/// Where a device's request comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requester<'a> {
    /// The address, as the approval page shows it.
    pub address: Option<&'a str>,
    /// The same, as it is throttled.
    pub throttle_key: Option<&'a str>,
}

/// Starts a device's request for `scope`. The client must be registered for
/// the grant (`unauthorized_client` otherwise); the scopes are checked as
/// the token endpoint checks them.
pub fn start(
    store: &Store,
    keys: &Keys,
    issuer: &str,
    now: UnixSeconds,
    client: &Client,
    scope: Option<&str>,
    requester: Requester<'_>,
) -> Result<DeviceAuthorizationResponse> {
    let Requester { address, throttle_key } = requester;
    if !client.grants.contains(&GrantType::DeviceCode) {
        return Err(Error::UnauthorizedClient(format!("the client may not use {}", GrantType::DeviceCode.as_str())));
    }
    let scopes = asked_scopes(scope, client)?;
    // An administrator's token is not handed to a device someone may have
    // talked the administrator into approving (device-code phishing).
    if scopes.iter().any(|s| s == ADMIN_SCOPE) {
        return Err(Error::InvalidScope("admin is not granted to devices".to_owned()));
    }
    let device_code = random_token();
    let mut row = StoredDeviceAuthorization {
        device_code_digest: sha256_hex(&device_code),
        user_code_digest: String::new(),
        client_id: client.id.as_str().to_owned(),
        scopes: scopes.join(" "),
        state: serde_json::to_string(&DeviceState::Pending).map_err(Error::internal)?,
        version: 0,
        interval_seconds: INTERVAL_SECONDS,
        last_polled_at: None,
        address: address.map(str::to_owned),
        created_at: now,
        expires_at: now + DEVICE_CODE_SECONDS,
    };
    let user_code = store
        .write(|tx| {
            if let Some(throttle_key) = throttle_key
                && tx.hit_rate_limit(&format!("device-authorization:{throttle_key}"), now, 60)?
                    > STARTS_PER_ADDRESS_PER_MINUTE
            {
                return Ok(Err(Refusal::TooManyAttempts));
            }
            // A code in use (kept a day for the record) is drawn again.
            for _ in 0..5 {
                let user_code = UserCode::generate();
                row.user_code_digest = user_code.digest(keys)?;
                if tx.device_authorization_by_user_code(&row.user_code_digest)?.is_none() {
                    tx.insert_device_authorization(&row)?;
                    return Ok(Ok(user_code));
                }
            }
            Err(Error::internal("no free user code in five draws"))
        })
        .and_then(settle)?;
    let verification_uri = verification_uri(issuer);
    Ok(DeviceAuthorizationResponse {
        verification_uri_complete: format!("{verification_uri}?user_code={}", user_code.shown()),
        verification_uri,
        device_code,
        user_code: user_code.shown(),
        expires_in: DEVICE_CODE_SECONDS,
        interval: INTERVAL_SECONDS,
    })
}

/// A device's request as one request loaded it.
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub stored: StoredDeviceAuthorization,
    pub state: DeviceState,
}

impl DeviceAuthorization {
    fn from_stored(stored: StoredDeviceAuthorization) -> Self {
        // A state this instance cannot read (a newer version's) is spent.
        let state = serde_json::from_str(&stored.state).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a device authorization's stored state does not parse");
            DeviceState::Issued
        });
        Self { stored, state }
    }

    /// The request whose device code this is.
    pub fn by_device_code(tx: &mut Write<'_>, device_code: &str) -> Result<Option<Self>> {
        Ok(tx.device_authorization(&sha256_hex(device_code))?.map(Self::from_stored))
    }

    fn is_pending(&self, now: UnixSeconds) -> bool {
        self.state == DeviceState::Pending && self.stored.expires_at > now
    }

    /// Moves on to `state`, provided no other request moved it first; false
    /// when one did (then nothing was saved).
    pub fn advance(&mut self, tx: &mut Write<'_>, state: DeviceState) -> Result<bool> {
        let json = serde_json::to_string(&state).map_err(Error::internal)?;
        if !tx.update_device_authorization(&self.stored.device_code_digest, self.stored.version, &json)? {
            return Ok(false);
        }
        self.stored.version += 1;
        self.state = state;
        Ok(true)
    }

    /// Notes a poll at `now`: one sooner than the interval grows the
    /// interval by [`SLOW_DOWN_SECONDS`]. Returns whether it was too soon.
    pub fn note_poll(&mut self, tx: &mut Write<'_>, now: UnixSeconds) -> Result<bool> {
        let too_fast = polls_too_fast(self.stored.last_polled_at, self.stored.interval_seconds, now);
        if too_fast {
            self.stored.interval_seconds += SLOW_DOWN_SECONDS;
        }
        self.stored.last_polled_at = Some(now);
        tx.note_device_poll(&self.stored.device_code_digest, self.stored.interval_seconds, now)?;
        Ok(too_fast)
    }
}

/// Whether a poll at `now` comes sooner than the interval after the last.
pub fn polls_too_fast(last_polled_at: Option<UnixSeconds>, interval_seconds: i32, now: UnixSeconds) -> bool {
    last_polled_at.is_some_and(|last| now - last < i64::from(interval_seconds))
}

/// What the approval page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDevice {
    pub user_code: UserCode,
    pub application: String,
    pub scopes: Vec<String>,
    /// Where the device asked from, and when: a person approving a code
    /// someone else sent them sees that it is not their device.
    pub requested_from: Option<String>,
    pub requested_at: UnixSeconds,
}

/// Looks a typed user code up, counting the lookup against this address and
/// this browser. A code that is malformed, unknown, expired or answered is
/// [`Refusal::UserCodeWrong`]; over a limit, [`Refusal::TooManyAttempts`].
pub fn find(
    store: &Store,
    keys: &Keys,
    now: UnixSeconds,
    typed: &str,
    browser_id: &str,
    address: Option<&str>,
) -> Result<PendingDevice> {
    store
        .write(|tx| {
            let (user_code, request) = match counted_lookup(tx, keys, now, typed, browser_id, address)? {
                Ok(found) => found,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let Some(client) = tx.client(&ClientId::from_stored(request.stored.client_id.clone()))? else {
                return Ok(Err(Refusal::UserCodeWrong));
            };
            let scopes = request.stored.scopes.split_whitespace().map(str::to_owned).collect();
            Ok(Ok(PendingDevice {
                user_code,
                application: client.display_name().to_owned(),
                scopes,
                requested_from: request.stored.address.clone(),
                requested_at: request.stored.created_at,
            }))
        })
        .and_then(settle)
}

/// A user code typed by someone, looked up under the limits: every lookup
/// counts against its address and its browser, and a wrong one against all
/// wrong ones everywhere, which bounds the guesses any one live code can
/// get whatever addresses and cookies a guesser rotates. A refusal is
/// returned to be committed with its counts, never rolled back with them.
fn counted_lookup(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    typed: &str,
    browser_id: &str,
    address: Option<&str>,
) -> Result<Result<(UserCode, DeviceAuthorization), Refusal>> {
    if let Some(address) = address
        && tx.hit_rate_limit(&format!("device-user-code:{address}"), now, 60)? > LOOKUPS_PER_ADDRESS_PER_MINUTE
    {
        return Ok(Err(Refusal::TooManyAttempts));
    }
    let browser = format!("device-user-code-browser:{}", sha256_hex(browser_id));
    if tx.hit_rate_limit(&browser, now, DEVICE_CODE_SECONDS)? > LOOKUPS_PER_BROWSER {
        return Ok(Err(Refusal::TooManyAttempts));
    }
    if tx.rate_limit_hits(WRONG_CODES_BUCKET, now, 60)? >= WRONG_CODES_PER_MINUTE {
        return Ok(Err(Refusal::TooManyAttempts));
    }
    match pending(tx, keys, now, typed) {
        Ok(found) => Ok(Ok(found)),
        Err(Error::Refused(refusal)) => {
            tx.hit_rate_limit(WRONG_CODES_BUCKET, now, 60)?;
            Ok(Err(refusal))
        }
        Err(e) => Err(e),
    }
}

/// The pending request of a typed user code.
fn pending(tx: &mut Write<'_>, keys: &Keys, now: UnixSeconds, typed: &str) -> Result<(UserCode, DeviceAuthorization)> {
    let user_code = UserCode::parse(typed).ok_or(Refusal::UserCodeWrong)?;
    let stored = tx.device_authorization_by_user_code(&user_code.digest(keys)?)?;
    let request = stored.map(DeviceAuthorization::from_stored).filter(|r| r.is_pending(now));
    Ok((user_code, request.ok_or(Refusal::UserCodeWrong)?))
}

/// A person's answer at `/device/{user_code}`.
#[derive(Debug, Clone, Copy)]
pub struct DeviceAnswer<'a> {
    pub origin: &'a Origin,
    pub session: &'a Session,
    /// The user code, as the path carries it.
    pub typed: &'a str,
    pub browser_id: &'a str,
    /// The address as it is throttled.
    pub address: Option<&'a str>,
    pub allow: bool,
}

/// The person's answer to a device, from their signed-in session: allowed,
/// the device gets tokens of this sign-in (its `amr` and `auth_time`) on
/// its next poll; denied, `access_denied`. A locked account allows nothing.
pub fn decide(store: &Store, keys: &Keys, now: UnixSeconds, answer: DeviceAnswer<'_>) -> Result<()> {
    let DeviceAnswer { origin, session, typed, browser_id, address, allow } = answer;
    store
        .write(|tx| {
            let (_, mut request) = match counted_lookup(tx, keys, now, typed, browser_id, address)? {
                Ok(found) => found,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let user = &session.user_id;
            let (state, event) = if allow {
                if is_locked(tx.locked_until(Subject::person(user).key())?, now) {
                    return Ok(Err(Refusal::AccountLocked));
                }
                let approved = DeviceState::Approved {
                    user: user.clone(),
                    amr: session.amr.clone(),
                    auth_time: session.auth_time,
                    acr: session.acr.clone(),
                };
                (approved, Event::DeviceAuthorizationAllowed)
            } else {
                (DeviceState::Denied, Event::DeviceAuthorizationDenied)
            };
            // A concurrent answer (another tab) came first: this one is too late.
            if !request.advance(tx, state)? {
                return Err(Refusal::UserCodeWrong.into());
            }
            let client_id = request.stored.client_id.clone();
            audit::record(tx, now, origin, Subjects::person(user).with_client(&client_id), event)?;
            Ok(Ok(()))
        })
        .and_then(settle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_consonants_shown_in_two_halves() {
        for _ in 0..100 {
            let code = UserCode::generate();
            assert_eq!(code.as_str().len(), USER_CODE_LENGTH);
            assert!(code.as_str().bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{code:?}");
            let shown = code.shown();
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
            assert_eq!(UserCode::parse(&shown), Some(code.clone()));
        }
    }

    #[test]
    fn a_typed_code_ignores_case_dashes_and_spaces_but_nothing_else() {
        let code = UserCode::parse("BCDF-GHJK").unwrap();
        assert_eq!(UserCode::parse("bcdfghjk"), Some(code.clone()));
        assert_eq!(UserCode::parse(" bcdf ghjk "), Some(code.clone()));
        assert_eq!(UserCode::parse("bcdf\u{2013}ghjk"), Some(code));
        for wrong in ["", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1", "BCDF_GHJK", "ßCDF-GHJK"] {
            assert_eq!(UserCode::parse(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn polling_sooner_than_the_interval_is_too_fast() {
        assert!(!polls_too_fast(None, 5, 100));
        assert!(polls_too_fast(Some(96), 5, 100));
        assert!(!polls_too_fast(Some(95), 5, 100));
        assert!(polls_too_fast(Some(91), 10, 100));
    }
}
