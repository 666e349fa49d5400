//! Strong identification through upstream providers, the synchronous side:
//! a trip there (its `state`, nonce and PKCE verifier, bound to the browser
//! and used once), and the identity that comes back, matched by the keyed
//! hash of its personal identity code to a user. The network calls are in
//! [`crate::upstream`]; what arrives here is already verified.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::audit::{self, Event, Origin, Subjects};
use super::ids::UserId;
use super::national_id::NationalId;
use super::notices;
use super::refusal::{Refusal, minutes};
use super::session::Session;
use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::error::{Error, Result};
use crate::i18n::Texts;
use crate::store::{StoredUpstreamLink, StoredUpstreamLogin, Write};

/// How long a person has at the upstream before the trip expires.
pub const TRIP_SECONDS: i64 = 10 * 60;
/// Trips one client address may start a minute.
pub const TRIPS_PER_ADDRESS_PER_MINUTE: i32 = 20;
/// Trips one browser may start while they live.
pub const TRIPS_PER_BROWSER: i32 = 10;

/// The secrets of one trip, as the authorization request carries them.
#[derive(Debug, Clone)]
pub struct Trip {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// What a trip is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TripPurpose {
    /// Signing in: the sign-in flow to go on with.
    SignIn { flow_id: String },
    /// A signed-in person linking the identification to their account.
    Link { user: UserId },
}

/// A trip whose answer came back, taken (and so used up).
#[derive(Debug, Clone)]
pub struct TakenTrip {
    pub purpose: TripPurpose,
    pub nonce_digest: String,
    pub pkce_verifier: String,
}

/// Who the upstream identified: its ID token's claims, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub upstream_id: String,
    pub issuer: String,
    pub subject: String,
    /// The `acr` it sent, if any.
    pub acr: Option<String>,
    /// When the person authenticated there, if it said.
    pub auth_time: Option<UnixSeconds>,
    /// The value of the provider's `link_claim`, not yet validated.
    pub identity_code: Option<String>,
}

/// The secrets sealed in a trip's row.
#[derive(Serialize, Deserialize)]
struct Sealed {
    pkce_verifier: String,
    flow_id: Option<String>,
}

fn sealing_context(state_digest: &str) -> String {
    format!("upstream-trip:{state_digest}")
}

const PURPOSE_SIGN_IN: &str = "sign_in";
const PURPOSE_LINK: &str = "link";

/// Starts a trip to `upstream_id` for this browser, in the caller's
/// transaction: counted against the address's and the browser's limits.
pub fn start_trip(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    browser_id: &str,
    address: Option<&str>,
    upstream_id: &str,
    purpose: TripPurpose,
) -> Result<std::result::Result<Trip, Refusal>> {
    if let Some(address) = address
        && tx.hit_rate_limit(&format!("upstream-trip:{address}"), now, 60)? > TRIPS_PER_ADDRESS_PER_MINUTE
    {
        return Ok(Err(Refusal::TooManySignIns));
    }
    let browser_digest = sha256_hex(browser_id);
    if tx.hit_rate_limit(&format!("upstream-trip-browser:{browser_digest}"), now, TRIP_SECONDS)? > TRIPS_PER_BROWSER {
        return Ok(Err(Refusal::TooManySignIns));
    }
    let trip = Trip { state: random_token(), nonce: random_token(), pkce_verifier: random_token() };
    let state_digest = sha256_hex(&trip.state);
    let (purpose_name, user_id, flow_id) = match purpose {
        TripPurpose::SignIn { flow_id } => (PURPOSE_SIGN_IN, None, Some(flow_id)),
        TripPurpose::Link { user } => (PURPOSE_LINK, Some(user.as_str().to_owned()), None),
    };
    let sealed = Sealed { pkce_verifier: trip.pkce_verifier.clone(), flow_id };
    let sealed = serde_json::to_vec(&sealed).map_err(Error::internal)?;
    tx.insert_upstream_login(&StoredUpstreamLogin {
        sealed_secrets: keys.seal(&sealing_context(&state_digest), &sealed)?,
        state_digest,
        upstream_id: upstream_id.to_owned(),
        browser_digest,
        nonce_digest: sha256_hex(&trip.nonce),
        purpose: purpose_name.to_owned(),
        user_id,
        created_at: now,
        expires_at: now + TRIP_SECONDS,
    })?;
    Ok(Ok(trip))
}

/// The longest `state` looked up.
const MAX_STATE_LENGTH: usize = 128;

/// Takes the trip an answer's `state` names: used up whether or not it is
/// this browser's, live and of this upstream (a state is good once).
pub fn take_trip(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    state: &str,
    browser_id: &str,
    upstream_id: &str,
) -> Result<std::result::Result<TakenTrip, Refusal>> {
    if state.is_empty() || state.len() > MAX_STATE_LENGTH {
        return Ok(Err(Refusal::UpstreamRefused));
    }
    let state_digest = sha256_hex(state);
    let Some(stored) = tx.take_upstream_login(&state_digest)? else { return Ok(Err(Refusal::UpstreamRefused)) };
    let same_browser: bool = stored.browser_digest.as_bytes().ct_eq(sha256_hex(browser_id).as_bytes()).into();
    if !same_browser || stored.upstream_id != upstream_id || stored.expires_at <= now {
        return Ok(Err(Refusal::UpstreamRefused));
    }
    let sealed = keys.open(&sealing_context(&state_digest), &stored.sealed_secrets)?;
    let sealed: Sealed = serde_json::from_slice(&sealed).map_err(Error::internal)?;
    let purpose = match (stored.purpose.as_str(), sealed.flow_id, stored.user_id) {
        (PURPOSE_SIGN_IN, Some(flow_id), _) => TripPurpose::SignIn { flow_id },
        (PURPOSE_LINK, _, Some(user)) => TripPurpose::Link { user: UserId::from_stored(user) },
        _ => return Err(Error::internal("an upstream trip of no known purpose")),
    };
    Ok(Ok(TakenTrip { purpose, nonce_digest: stored.nonce_digest, pkce_verifier: sealed.pkce_verifier }))
}

/// The keyed hash of the identity's personal identity code; `None` when
/// the provider sent none, or one that is not a valid code.
pub fn identity_digest(keys: &Keys, identity: &VerifiedIdentity) -> Result<Option<String>> {
    let Some(code) = identity.identity_code.as_deref() else { return Ok(None) };
    match NationalId::parse(code) {
        Ok(valid) => keys.national_id_digest(valid.canonical()).map(Some),
        Err(_) => Ok(None),
    }
}

/// The person an identity is linked to, by the keyed hash of its identity
/// code; no match is audited, and nothing is created. (The link itself is
/// recorded, with [`record_link`], once the person is signed in.)
pub fn linked_person(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    origin: &Origin,
    identity: &VerifiedIdentity,
) -> Result<std::result::Result<UserId, Refusal>> {
    let found = match identity_digest(keys, identity)? {
        Some(digest) => tx.user_id_by_national_id_digest(&digest)?,
        None => None,
    };
    let Some(user) = found else {
        let event = Event::UpstreamUnlinked { upstream: identity.upstream_id.clone() };
        audit::record(tx, now, origin, Subjects::default(), event)?;
        return Ok(Err(Refusal::NoLinkedAccount));
    };
    Ok(Ok(user))
}

/// Records that an upstream identity (its provider, issuer and subject)
/// signed `user` in, or was linked to them.
pub fn record_link(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    user: &UserId,
    (upstream_id, issuer, subject): (&str, &str, &str),
) -> Result<()> {
    tx.record_upstream_link(&StoredUpstreamLink {
        user_id: user.as_str().to_owned(),
        upstream_id: upstream_id.to_owned(),
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        linked_at: now,
        last_used_at: now,
    })
}

fn fresh_sign_in_required() -> Refusal {
    Refusal::FreshSignInRequired { minutes: minutes(super::devices::FRESH_SIGN_IN_SECONDS) }
}

/// Starts a trip to link an upstream to a signed-in person's account: only
/// within minutes of their sign-in (a session taken over later cannot tie
/// someone else's bank ID to the account).
pub fn start_link(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    session: &Session,
    browser_id: &str,
    address: Option<&str>,
    upstream_id: &str,
) -> Result<std::result::Result<Trip, Refusal>> {
    if !super::devices::is_fresh(Some(session.auth_time), now) {
        return Ok(Err(fresh_sign_in_required()));
    }
    let purpose = TripPurpose::Link { user: session.user_id.clone() };
    start_trip(tx, keys, now, browser_id, address, upstream_id, purpose)
}

/// Links an identity to a signed-in person (an invited foreign user who got
/// strong identification later): their account takes its identity code,
/// unless it has another already or the code is another user's. The person
/// is told by email. Only while the browser is still signed in as the trip's
/// person, freshly: signing out in between (or "sign out everywhere" after
/// a takeover) stops the link.
pub fn link_to_account(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    origin: &Origin,
    texts: &Texts,
    (user, session): (&UserId, Option<&Session>),
    identity: &VerifiedIdentity,
) -> Result<std::result::Result<(), Refusal>> {
    match session {
        Some(session) if &session.user_id == user => {
            if !super::devices::is_fresh(Some(session.auth_time), now) {
                return Ok(Err(fresh_sign_in_required()));
            }
        }
        _ => return Ok(Err(Refusal::SignInExpired)),
    }
    let Some(digest) = identity_digest(keys, identity)? else { return Ok(Err(Refusal::UpstreamRefused)) };
    match tx.user_id_by_national_id_digest(&digest)? {
        Some(owner) if &owner == user => {}
        Some(_) => return Ok(Err(Refusal::NationalIdTaken)),
        None => {
            if tx.user(user)?.ok_or(Refusal::SignInExpired)?.has_national_id {
                return Ok(Err(Refusal::OtherIdentityLinked));
            }
            tx.set_national_id_digest(user, &digest, now)?;
        }
    }
    record_link(tx, now, user, (&identity.upstream_id, &identity.issuer, &identity.subject))?;
    let event = Event::UpstreamLinked { upstream: identity.upstream_id.clone() };
    audit::record(tx, now, origin, Subjects::person(user), event)?;
    notices::tell(tx, keys, now, user, |to| notices::changed(texts, to, now, "message.what_upstream"))?;
    Ok(Ok(()))
}
