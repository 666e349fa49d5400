//! Signing a flow in through an upstream provider (a bank ID, Hightrust.id),
//! instead of the email, the password and the authenticator code: the trip
//! there starts from the email step, and the identity that comes back is
//! matched to a person by the keyed hash of their identity code. Then the
//! confirmation code, sent to the person's communication email and phone,
//! unless their only right is `hours_only`.

use subtle::ConstantTimeEq;

use super::state::{Identified, SentCode, SignInState, with_method};
use super::{Authentication, Flow, Outcome, SignIn, finish_authentication, load, load_claimed};
use crate::clock::UnixSeconds;
use crate::crypto::secret::six_digit_code;
use crate::domain::access::only_logs_hours;
use crate::domain::audit::Event;
use crate::domain::ids::UserId;
use crate::domain::refusal::{Refusal, or_refuse, settle};
use crate::domain::throttle::{Subject, is_locked};
use crate::domain::upstream::{self, Trip, TripPurpose, VerifiedIdentity};
use crate::error::Result;
use crate::i18n::Texts;
use crate::metrics::SignInOutcome;
use crate::notify::{Message, enqueue};
use crate::store::Write;

/// How long a confirmation code is valid: the seed's 90 seconds.
pub const CONFIRMATION_SECONDS: i64 = 90;
/// Wrong tries one confirmation code allows.
pub const CONFIRMATION_TRIES: u8 = 5;
/// Confirmation codes one person may be sent an hour.
const CODES_PER_HOUR: i32 = 10;

/// Starts a trip to an upstream from this browser's flow, at its email or
/// password step; returns the trip's secrets for the authorization request,
/// and the languages the application asked for (`ui_locales`), to pass on.
pub fn start_upstream_sign_in(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    address: Option<&str>,
    upstream_id: &str,
) -> Result<(Trip, Option<String>)> {
    ctx.store
        .write(|tx| {
            let flow = load(tx, now, flow_id, browser_id)?;
            if !matches!(flow.state, SignInState::Email { .. } | SignInState::Password { .. }) {
                return Err(Refusal::StepAlreadyDone.into());
            }
            let purpose = TripPurpose::SignIn { flow_id: flow_id.to_owned() };
            let trip = or_refuse!(upstream::start_trip(tx, ctx.keys, now, browser_id, address, upstream_id, purpose)?);
            Ok(Ok((trip, flow.request.and_then(|r| r.ui_locales))))
        })
        .and_then(settle)
}

/// The upstream identified someone for this browser's flow: the person
/// linked to their identity code goes on to the confirmation code (or,
/// with nothing but `hours_only`, straight in); no linked person is a
/// refusal, audited, with nothing created.
pub fn upstream_identified(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    identity: &VerifiedIdentity,
) -> Result<Outcome> {
    ctx.store
        .write(|tx| {
            let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
            if !matches!(flow.state, SignInState::Email { .. } | SignInState::Password { .. }) {
                return Err(Refusal::StepAlreadyDone.into());
            }
            let user = or_refuse!(upstream::linked_person(tx, ctx.keys, now, &ctx.origin, identity)?);
            if is_locked(tx.locked_until(Subject::person(&user).key())?, now) {
                ctx.record(tx, now, &flow, Some(&user), Event::SignInFailed { step: "upstream" })?;
                return Ok(Err(Refusal::AccountLocked));
            }
            let support = tx.user(&user)?.is_some_and(|person| person.support);
            let amr = vec![identity.upstream_id.clone()];
            let auth_time = identity.auth_time.unwrap_or(now);
            let identified = Identified {
                user,
                upstream_id: identity.upstream_id.clone(),
                issuer: identity.issuer.clone(),
                subject: identity.subject.clone(),
                amr,
                acr: identity.acr.clone(),
                auth_time,
            };
            if only_logs_hours(&tx.memberships(&identified.user)?, support) {
                return signed_in(ctx, tx, now, &mut flow, &identified, &identified.amr).map(Ok);
            }
            let code = or_refuse!(send_code(ctx, tx, now, &flow, &identified.user)?);
            flow.advance(tx, SignInState::Confirmation { identified, code })?;
            Ok(Ok(Outcome::show()))
        })
        .and_then(settle)
}

/// The person an upstream identified is signed in: the link recorded (or
/// its last use), their failures cleared, the session started.
fn signed_in(
    ctx: &SignIn<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    flow: &mut Flow,
    identified: &Identified,
    amr: &[String],
) -> Result<Outcome> {
    let user = &identified.user;
    let identity = (identified.upstream_id.as_str(), identified.issuer.as_str(), identified.subject.as_str());
    upstream::record_link(tx, now, user, identity)?;
    ctx.lockout.signed_in(tx, &Subject::person(user))?;
    let done =
        Authentication { acr: identified.acr.as_deref(), ..Authentication::own(user, amr, identified.auth_time) };
    finish_authentication(ctx, tx, now, flow, done)
}

/// The confirmation code: right, and the flow is signed in with `amr`
/// [upstream, `otp`]; wrong, and one of its tries is used up, counted
/// against the person's lockout and the address's throttle as a wrong
/// authenticator code is.
pub fn submit_confirmation_code(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    code: &str,
    address: Option<&str>,
) -> Result<Outcome> {
    ctx.store
        .write(|tx| {
            let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
            let SignInState::Confirmation { identified, code: sent } = flow.state.clone() else {
                return Err(Refusal::StepAlreadyDone.into());
            };
            if sent.expires_at <= now {
                return Ok(Err(Refusal::CodeExpired));
            }
            if sent.tries_left == 0 {
                return Ok(Err(Refusal::TooManyWrongCodes));
            }
            or_refuse!(ctx.lockout.check_address(tx, now, address)?);
            let attempt = or_refuse!(ctx.lockout.begin_attempt(tx, now, &Subject::person(&identified.user))?);
            let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            let presented = ctx.keys.code_digest(&code_context(&flow), &typed)?;
            if !bool::from(presented.as_bytes().ct_eq(sent.digest.as_bytes())) {
                ctx.lockout.metrics.sign_in(SignInOutcome::WrongCode);
                let user = Some(&identified.user);
                ctx.record(tx, now, &flow, user, Event::SignInFailed { step: "confirmation_code" })?;
                ctx.lockout.attempt_failed(tx, now, attempt, ctx.texts(&flow), &ctx.origin)?;
                let code = SentCode { tries_left: sent.tries_left - 1, ..sent };
                let refusal = if code.tries_left == 0 { Refusal::TooManyWrongCodes } else { Refusal::WrongCode };
                flow.advance(tx, SignInState::Confirmation { identified, code })?;
                return Ok(Err(refusal));
            }
            let amr = with_method(identified.amr.clone(), "otp");
            signed_in(ctx, tx, now, &mut flow, &identified, &amr).map(Ok)
        })
        .and_then(settle)
}

/// A new confirmation code, once the last one has expired (and within the
/// person's codes an hour); its tries start again.
pub fn resend_confirmation_code(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
) -> Result<Outcome> {
    ctx.store
        .write(|tx| {
            let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
            let SignInState::Confirmation { identified, code } = flow.state.clone() else {
                return Err(Refusal::StepAlreadyDone.into());
            };
            if code.expires_at > now {
                return Ok(Err(Refusal::CodeStillValid));
            }
            let code = or_refuse!(send_code(ctx, tx, now, &flow, &identified.user)?);
            flow.advance(tx, SignInState::Confirmation { identified, code })?;
            Ok(Ok(Outcome::show()))
        })
        .and_then(settle)
}

/// The context a flow's confirmation code is hashed under: good for that flow only.
fn code_context(flow: &Flow) -> String {
    format!("upstream-confirmation:{}", flow.id_digest)
}

/// Makes a confirmation code and queues it for the person's communication
/// email and phone (whichever exist), in the step's transaction: counted
/// against the person's codes an hour, and not delivered once it has expired.
fn send_code(
    ctx: &SignIn<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    flow: &Flow,
    user: &UserId,
) -> Result<std::result::Result<SentCode, Refusal>> {
    if tx.hit_rate_limit(&format!("confirmation-code:{user}"), now, 3600)? > CODES_PER_HOUR {
        return Ok(Err(Refusal::ResendLimit));
    }
    let code = six_digit_code();
    let texts = ctx.texts(flow);
    let expires_at = now + CONFIRMATION_SECONDS;
    if let Some(person) = tx.user(user)? {
        let to = &person.communication;
        enqueue(tx, ctx.keys, now, &code_email(&texts, &to.email, &code), Some(expires_at))?;
        if let Some(phone) = &to.phone {
            let sms = Message::Sms { to: phone.clone(), text: filled(&texts, "message.confirmation_sms", &code) };
            enqueue(tx, ctx.keys, now, &sms, Some(expires_at))?;
        }
    }
    ctx.record(tx, now, flow, Some(user), Event::ConfirmationCodeSent)?;
    let digest = ctx.keys.code_digest(&code_context(flow), &code)?;
    Ok(Ok(SentCode { digest, expires_at, tries_left: CONFIRMATION_TRIES }))
}

fn code_email(texts: &Texts, to: &crate::domain::contact::Email, code: &str) -> Message {
    Message::Email {
        to: to.clone(),
        subject: texts.get("message.confirmation_subject").to_owned(),
        body: filled(texts, "message.confirmation_body", code),
    }
}

/// The catalogue text `key`, with the code filled in.
fn filled(texts: &Texts, key: &str, code: &str) -> String {
    texts.fill(key, &[("code", code.to_owned())])
}
