//! The steps of a sign-in, each one write transaction: count the attempt,
//! check it, use up what it uses, save the next state.
//!
//! A wrong password or code is decided inside the transaction and returned
//! as `Ok(Err(refusal))`, so the attempt it counted is committed; a lost race
//! or a stale step is an error, so it rolls back and changes nothing.

use super::state::{SignInState, grown_consent, with_method};
use super::{
    Authentication, Flow, NewFlowId, Next, Outcome, SignIn, finish_authentication, issue_code_and_leave, load,
    load_claimed, signin_path,
};
use crate::clock::UnixSeconds;
use crate::crypto::password::verify_password_or_decoy;
use crate::crypto::{Keys, totp};
use crate::domain::audit::Event;
use crate::domain::contact::Email;
use crate::domain::ids::UserId;
use crate::domain::notices;
use crate::domain::recovery_codes;
use crate::domain::refusal::{Refusal, or_refuse, settle};
use crate::domain::session::Session;
use crate::domain::throttle::Subject;
use crate::error::{Error, Result};
use crate::metrics::SignInOutcome;
use crate::store::Write;

/// The email step.
pub fn submit_email(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    email: &str,
) -> Result<Outcome> {
    ctx.store.write(|tx| {
        let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
        if !matches!(flow.state, SignInState::Email { .. } | SignInState::Password { .. }) {
            return Err(Refusal::StepAlreadyDone.into());
        }
        let email = Email::parse(email)?;
        flow.advance(tx, SignInState::Password { email: email.as_str().to_owned() })?;
        Ok(Outcome::show())
    })
}

/// Goes back to the email step ("not you?").
pub fn change_email(ctx: &SignIn<'_>, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<Outcome> {
    ctx.store.write(|tx| {
        let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
        let SignInState::Password { email } = &flow.state else { return Err(Refusal::StepAlreadyDone.into()) };
        let email = Some(email.clone());
        flow.advance(tx, SignInState::Email { email })?;
        Ok(Outcome::show())
    })
}

/// The password step. An unknown email is checked against a decoy hash, so
/// it takes as long and reads the same as a wrong password, and it locks the
/// same way after repeated failures.
///
/// The one step of two transactions, by design: the attempt is counted and
/// committed before Argon2 runs, so concurrent guesses are all counted and
/// the hash (tens of milliseconds) never holds SQLite's one write turn; the
/// outcome and the next state are then saved together, and only if no other
/// request moved the flow on meanwhile.
pub fn submit_password(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    password: &str,
    address: Option<&str>,
) -> Result<Outcome> {
    let (mut flow, email, user, hash, attempt) = ctx
        .store
        .write(|tx| {
            let flow = load(tx, now, flow_id, browser_id)?;
            let SignInState::Password { email } = &flow.state else { return Err(Refusal::StepAlreadyDone.into()) };
            let email = email.clone();
            or_refuse!(ctx.lockout.check_address(tx, now, address)?);
            let account = tx.password_hash_by_email(&email)?;
            let user = account.as_ref().map(|(id, _)| id.clone());
            let attempt = or_refuse!(ctx.lockout.begin_attempt(tx, now, &Subject::of(user.as_ref(), &email))?);
            Ok(Ok((flow, email, user, account.and_then(|(_, hash)| hash), attempt)))
        })
        .and_then(settle)?;
    let matched = verify_password_or_decoy(password, hash.as_deref())?;
    ctx.store
        .write(|tx| {
            let (true, Some(user)) = (matched, user.clone()) else {
                ctx.lockout.metrics.sign_in(SignInOutcome::WrongPassword);
                ctx.record(tx, now, &flow, user.as_ref(), Event::SignInFailed { step: "password" })?;
                ctx.lockout.attempt_failed(tx, now, attempt, ctx.texts(&flow), &ctx.origin)?;
                return Ok(Err(Refusal::WrongPassword));
            };
            // Earlier failures stay counted (and the metrics count no
            // success) until a second factor is done too.
            ctx.lockout.attempt_passed(tx, attempt)?;
            // A double submit's loser still commits its un-count: a right
            // password must never be left counted as a failure.
            match flow.claim(tx) {
                Err(Error::Refused(refusal)) => return Ok(Err(refusal)),
                other => other?,
            }
            let amr = vec!["pwd".to_owned()];
            let next = if tx.totp(&user)?.is_some() {
                SignInState::SecondFactor { user, email, amr }
            } else {
                let sealed_secret = ctx.keys.seal(&flow.pending_context(), &totp::generate_secret())?;
                SignInState::Enrol { user, email, amr, sealed_secret }
            };
            flow.advance(tx, next)?;
            Ok(Ok(Outcome::show()))
        })
        .and_then(settle)
}

/// The flow at its second factor, with the attempt counted against the
/// person's lockout and the client address's throttle.
struct SecondFactor {
    flow: Flow,
    user: UserId,
    email: String,
    amr: Vec<String>,
    attempt: crate::domain::throttle::Attempt,
    subject: Subject,
}

fn begin_second_factor(
    ctx: &SignIn<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    address: Option<&str>,
) -> Result<Result<SecondFactor, Refusal>> {
    let flow = load_claimed(tx, now, flow_id, browser_id)?;
    let SignInState::SecondFactor { user, email, amr } = flow.state.clone() else {
        return Err(Refusal::StepAlreadyDone.into());
    };
    or_refuse!(ctx.lockout.check_address(tx, now, address)?);
    let subject = Subject::person(&user);
    let attempt = or_refuse!(ctx.lockout.begin_attempt(tx, now, &subject)?);
    Ok(Ok(SecondFactor { flow, user, email, amr, attempt, subject }))
}

/// A wrong second factor after a right password: counted, audited, told to
/// the person (someone may have their password), and locking at the limit.
fn second_factor_refused(
    ctx: &SignIn<'_>,
    tx: &mut Write<'_>,
    now: UnixSeconds,
    flow: &Flow,
    user: &UserId,
    attempt: crate::domain::throttle::Attempt,
    step: &'static str,
) -> Result<()> {
    ctx.lockout.metrics.sign_in(SignInOutcome::WrongCode);
    ctx.record(tx, now, flow, Some(user), Event::SignInFailed { step })?;
    ctx.lockout.second_factor_failed(tx, now, user, ctx.texts(flow))?;
    ctx.lockout.attempt_failed(tx, now, attempt, ctx.texts(flow), &ctx.origin)
}

/// The authenticator step. A code is accepted once: replaying it within its
/// time step fails.
pub fn submit_code(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    code: &str,
    address: Option<&str>,
) -> Result<Outcome> {
    ctx.store
        .write(|tx| {
            let SecondFactor { mut flow, user, amr, attempt, subject, .. } =
                or_refuse!(begin_second_factor(ctx, tx, now, flow_id, browser_id, address)?);
            if !authenticator_code_matches(tx, ctx.keys, now, &user, code)? {
                second_factor_refused(ctx, tx, now, &flow, &user, attempt, "authenticator_code")?;
                return Ok(Err(Refusal::WrongAuthenticatorCode));
            }
            ctx.lockout.signed_in(tx, &subject)?;
            let amr = with_method(amr, "otp");
            let done = Authentication::own(&user, &amr, now);
            finish_authentication(ctx, tx, now, &mut flow, done).map(Ok)
        })
        .and_then(settle)
}

/// A recovery code instead of the authenticator code; each works once. The
/// authenticator is lost, so a new one is set up before going on; the code
/// is spent in the same transaction that moves the flow there.
pub fn submit_recovery_code(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    code: &str,
    address: Option<&str>,
) -> Result<Outcome> {
    ctx.store
        .write(|tx| {
            let SecondFactor { mut flow, user, email, amr, attempt, subject } =
                or_refuse!(begin_second_factor(ctx, tx, now, flow_id, browser_id, address)?);
            let keyed = recovery_codes::digest(ctx.keys, &user, code)?;
            let used = tx.use_recovery_code(&user, &keyed, now)?
                || tx.use_recovery_code(&user, &recovery_codes::legacy_digest(code), now)?;
            if !used {
                second_factor_refused(ctx, tx, now, &flow, &user, attempt, "recovery_code")?;
                return Ok(Err(Refusal::WrongRecoveryCode));
            }
            ctx.record(tx, now, &flow, Some(&user), Event::RecoveryCodeUsed)?;
            let texts = ctx.texts(&flow);
            notices::tell(tx, ctx.keys, now, &user, |to| {
                notices::about(&texts, to, now, "message.recovery_code_used_subject", "message.recovery_code_used_body")
            })?;
            ctx.lockout.signed_in(tx, &subject)?;
            let sealed_secret = ctx.keys.seal(&flow.pending_context(), &totp::generate_secret())?;
            let amr = with_method(amr, "otp");
            flow.advance(tx, SignInState::Reenrol { user, email, amr, sealed_secret, replaces: None })?;
            Ok(Ok(Outcome::show()))
        })
        .and_then(settle)
}

/// Whether `code` is the person's current authenticator code, not used
/// before (using it now, in the caller's transaction).
pub fn authenticator_code_matches(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    user_id: &UserId,
    code: &str,
) -> Result<bool> {
    let Some(stored) = tx.totp(user_id)? else { return Ok(false) };
    let secret = keys.open(&totp_context(user_id), &stored.sealed_secret)?;
    match totp::matching_step(&secret, code, now) {
        Some(step) => tx.use_totp_step(user_id, step),
        None => Ok(false),
    }
}

/// Starts the setting-up of a new authenticator for a signed-in person (from
/// the account pages, after they proved the current one), in the caller's
/// transaction. Returns its path.
pub fn start_reenrolment(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    browser_id: &str,
    session: &Session,
) -> Result<String> {
    let email = tx.user(&session.user_id)?.map(|u| u.email.as_str().to_owned()).unwrap_or_default();
    // The secret is sealed under the flow's id: made first.
    let new_id = NewFlowId::generate();
    let state = SignInState::Reenrol {
        user: session.user_id.clone(),
        email,
        amr: session.amr.clone(),
        sealed_secret: keys.seal(&new_id.pending_context(), &totp::generate_secret())?,
        replaces: Some(session.public_id.clone()),
    };
    let (_, stored, flow_id) = Flow::with_id(new_id, now, browser_id, None, state)?;
    tx.insert_flow(&stored)?;
    Ok(signin_path(&flow_id))
}

/// Confirms the enrolment of an authenticator with its first code; the
/// recovery codes are made then and shown once. All of it, and the session
/// it starts, is one transaction: a double submit stores one authenticator,
/// the one whose codes the page shows.
pub fn confirm_enrolment(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    code: &str,
) -> Result<Outcome> {
    ctx.store
        .write(|tx| {
            let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
            // Replacing an authenticator is a step of its own; a first enrolment never replaces one.
            let (user, amr, sealed_secret, replaces, replacing) = match flow.state.clone() {
                SignInState::Enrol { user, amr, sealed_secret, .. } => (user, amr, sealed_secret, None, false),
                SignInState::Reenrol { user, amr, sealed_secret, replaces, .. } => {
                    (user, amr, sealed_secret, replaces, true)
                }
                _ => return Err(Refusal::StepAlreadyDone.into()),
            };
            let secret = ctx.keys.open(&flow.pending_context(), &sealed_secret)?;
            let Some(step) = totp::matching_step(&secret, code, now) else {
                return Ok(Err(Refusal::WrongAuthenticatorCode));
            };
            // Another flow (a second tab) may have enrolled meanwhile: never replace that.
            if !replacing && tx.totp(&user)?.is_some() {
                return Ok(Err(Refusal::AuthenticatorExists));
            }
            tx.set_totp(&user, &seal_authenticator(ctx.keys, &user, &secret)?, step, now)?;
            if replacing {
                ctx.record(tx, now, &flow, Some(&user), Event::AuthenticatorReplaced)?;
                let texts = ctx.texts(&flow);
                notices::tell(tx, ctx.keys, now, &user, |to| {
                    notices::changed(&texts, to, now, "message.what_authenticator")
                })?;
            }
            let (codes, digests) = recovery_codes::generate(ctx.keys, &user)?;
            tx.replace_recovery_codes(&user, &digests)?;
            ctx.lockout.signed_in(tx, &Subject::person(&user))?;
            let amr = with_method(amr, "otp");
            let done = Authentication {
                replaces: replaces.as_deref(),
                recovery_codes: Some(codes),
                ..Authentication::own(&user, &amr, now)
            };
            finish_authentication(ctx, tx, now, &mut flow, done).map(Ok)
        })
        .and_then(settle)
}

/// The person saved their recovery codes.
pub fn acknowledge_recovery_codes(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
) -> Result<Outcome> {
    ctx.store.write(|tx| {
        let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
        let SignInState::RecoveryCodes { session } = flow.state.clone() else {
            return Err(Refusal::StepAlreadyDone.into());
        };
        flow.state = SignInState::Terms { session };
        Ok(Outcome::next(super::after_authentication(ctx, tx, now, &mut flow)?))
    })
}

/// Accepts the terms of service in force.
pub fn accept_terms(ctx: &SignIn<'_>, now: UnixSeconds, flow_id: &str, browser_id: &str) -> Result<Outcome> {
    ctx.store.write(|tx| {
        let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
        let SignInState::Terms { session } = &flow.state else { return Err(Refusal::StepAlreadyDone.into()) };
        tx.accept_terms(&session.user_id, &ctx.terms.version, now)?;
        Ok(Outcome::next(super::after_authentication(ctx, tx, now, &mut flow)?))
    })
}

/// Allows or denies the client what it asked for.
pub fn decide_consent(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    allow: bool,
) -> Result<Outcome> {
    ctx.store.write(|tx| {
        let flow = load_claimed(tx, now, flow_id, browser_id)?;
        let SignInState::Consent { session } = flow.state.clone() else {
            return Err(Refusal::StepAlreadyDone.into());
        };
        if !allow {
            flow.finish(tx)?;
            let url = flow.error_redirect(ctx.issuer, "access_denied", "the person denied the request");
            return Ok(Outcome::next(Next::Redirect(url)));
        }
        let request = flow.client_request()?;
        // Remember what was allowed before too: consent only ever grows here.
        let earlier = tx.consented_scopes(&session.user_id, request.client_id.as_str())?;
        let scopes = grown_consent(earlier.as_deref(), &request.scopes);
        tx.set_consent(&session.user_id, request.client_id.as_str(), &scopes, now)?;
        ctx.record(tx, now, &flow, Some(&session.user_id), Event::ConsentGiven { scopes: request.scopes.join(" ") })?;
        Ok(Outcome::next(issue_code_and_leave(ctx, tx, now, &flow, &session)?))
    })
}

fn totp_context(user_id: &UserId) -> String {
    format!("totp:{user_id}")
}

/// An authenticator secret sealed for storage with `set_totp`; bound to its user.
pub fn seal_authenticator(keys: &Keys, user_id: &UserId, secret: &[u8]) -> Result<String> {
    keys.seal(&totp_context(user_id), secret)
}
