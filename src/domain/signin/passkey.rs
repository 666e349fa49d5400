//! Signing a flow in with a passkey, instead of the email, the password and
//! the authenticator code: a discoverable credential names its person
//! itself. The attempt counts against the client address's throttle and the
//! person's lockout, as a password does.

use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{DiscoverableAuthentication, RequestChallengeResponse};

use super::state::SignInState;
use super::{Authentication, Outcome, SignIn, finish_authentication, load, load_claimed};
use crate::clock::UnixSeconds;
use crate::domain::audit::Event;
use crate::domain::passkeys::{self, Purpose, Started};
use crate::domain::refusal::{Refusal, or_refuse, settle};
use crate::domain::throttle::Subject;
use crate::error::Result;
use crate::metrics::SignInOutcome;

/// What the browser sends back from `navigator.credentials.get`.
#[derive(Debug, Clone, Copy)]
pub struct PasskeyAnswer<'a> {
    pub ceremony_id: &'a str,
    /// The `PublicKeyCredential`, as JSON.
    pub credential: &'a str,
}

/// Starts a passkey sign-in of this browser's flow, at its email or
/// password step; counted against the address's throttle, as the answer is.
pub fn start_passkey_sign_in(
    ctx: &SignIn<'_>,
    webauthn: &Webauthn,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    address: Option<&str>,
) -> Result<Started<RequestChallengeResponse>> {
    ctx.store
        .write(|tx| {
            let flow = load(tx, now, flow_id, browser_id)?;
            if !matches!(flow.state, SignInState::Email { .. } | SignInState::Password { .. }) {
                return Err(Refusal::StepAlreadyDone.into());
            }
            or_refuse!(ctx.lockout.check_address(tx, now, address)?);
            passkeys::start_discoverable(tx, webauthn, now, browser_id, &flow.id_digest).map(Ok)
        })
        .and_then(settle)
}

/// Finishes a passkey sign-in: the ceremony is used up whatever the answer,
/// a wrong answer is counted as a failed attempt, and a right one
/// authenticates the flow with `amr` [`hwk` or `swk`, `user`, `mfa`].
pub fn finish_passkey_sign_in(
    ctx: &SignIn<'_>,
    webauthn: &Webauthn,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    answer: PasskeyAnswer<'_>,
    address: Option<&str>,
) -> Result<Outcome> {
    let PasskeyAnswer { ceremony_id, credential } = answer;
    ctx.store
        .write(|tx| {
            let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
            if !matches!(flow.state, SignInState::Email { .. } | SignInState::Password { .. }) {
                return Err(Refusal::StepAlreadyDone.into());
            }
            or_refuse!(ctx.lockout.check_address(tx, now, address)?);
            let state: DiscoverableAuthentication = or_refuse!(passkeys::take_ceremony(
                tx,
                now,
                ceremony_id,
                browser_id,
                Purpose::SignIn,
                &flow.id_digest
            )?);
            let answer = or_refuse!(passkeys::parse_answer(credential));
            let Some(stored) = passkeys::passkey_of_answer(tx, &answer)? else {
                ctx.lockout.metrics.sign_in(SignInOutcome::WrongPassword);
                ctx.record(tx, now, &flow, None, Event::SignInFailed { step: "passkey" })?;
                return Ok(Err(Refusal::PasskeyFailed));
            };
            let user = crate::domain::ids::UserId::from_stored(stored.user_id.clone());
            let subject = Subject::person(&user);
            let attempt = or_refuse!(ctx.lockout.begin_attempt(tx, now, &subject)?);
            let Some(used) = passkeys::verify_discoverable(tx, webauthn, now, state, &answer, &stored)? else {
                ctx.lockout.metrics.sign_in(SignInOutcome::WrongPassword);
                ctx.record(tx, now, &flow, Some(&user), Event::SignInFailed { step: "passkey" })?;
                ctx.lockout.attempt_failed(tx, now, attempt, ctx.texts(&flow), &ctx.origin)?;
                return Ok(Err(Refusal::PasskeyFailed));
            };
            ctx.lockout.signed_in(tx, &subject)?;
            let done = Authentication::own(&used.user, &used.amr, now);
            finish_authentication(ctx, tx, now, &mut flow, done).map(Ok)
        })
        .and_then(settle)
}
