//! The computer's side of a QR sign-in: the email step shows a QR code
//! made for this flow and this browser, and once the phone has approved it
//! the same browser redeems it, which authenticates the flow as the phone's
//! person (see [`crate::domain::qr`] for the phone's side).

use super::state::SignInState;
use super::{Authentication, Outcome, SignIn, finish_authentication, load, load_claimed};
use crate::clock::UnixSeconds;
use crate::domain::audit::Event;
use crate::domain::qr::{self, Asker, QrLogin, QrState, ShownQr};
use crate::domain::refusal::{Refusal, settle};
use crate::domain::throttle::{Subject, is_locked};
use crate::error::Result;

/// Makes a QR code for this browser's flow while it asks for the email;
/// `None` at any other step, or when the browser or its address has made
/// its share of codes.
pub fn show_qr(
    ctx: &SignIn<'_>,
    now: UnixSeconds,
    flow_id: &str,
    browser_id: &str,
    asker: Asker,
) -> Result<Option<ShownQr>> {
    ctx.store.write(|tx| {
        let flow = load(tx, now, flow_id, browser_id)?;
        if !matches!(flow.state, SignInState::Email { .. }) {
            return Ok(None);
        }
        let asker = Asker { client_id: flow.request.as_ref().map(|r| r.client_id.as_str().to_owned()), ..asker };
        qr::create(tx, now, browser_id, &flow.id_digest, &asker)
    })
}

/// Redeems the phone's approval of this flow's QR code, once and only in the
/// browser that showed it: the flow is then authenticated with the device's
/// methods (`hwk`, the unlock method, `mfa`) as of the approval, and goes on
/// to the terms, consent and the application.
pub fn redeem_qr(ctx: &SignIn<'_>, now: UnixSeconds, flow_id: &str, browser_id: &str, qr_id: &str) -> Result<Outcome> {
    ctx.store
        .write(|tx| {
            let mut flow = load_claimed(tx, now, flow_id, browser_id)?;
            if !matches!(flow.state, SignInState::Email { .. } | SignInState::Password { .. }) {
                return Err(Refusal::StepAlreadyDone.into());
            }
            let qr = QrLogin::load_for_browser(tx, qr_id, browser_id)?;
            let mut qr = qr.filter(|qr| qr.stored.flow_digest == flow.id_digest).ok_or(Refusal::QrExpired)?;
            let (user, amr, approved_at, device) = match (&qr.state, qr.status(now)) {
                (QrState::Approved { user, amr, approved_at, device }, qr::QrStatus::Approved) => {
                    (user.clone(), amr.clone(), *approved_at, device.clone())
                }
                (_, qr::QrStatus::Pending) => return Ok(Err(Refusal::QrPending)),
                (_, qr::QrStatus::Denied) => return Ok(Err(Refusal::QrDenied)),
                _ => return Ok(Err(Refusal::QrExpired)),
            };
            // The device removed since it approved: its approval goes with it.
            // Its row is locked until this commits, so a removal under way
            // either ends before this looks or waits until it is done.
            if let Some(device) = device
                && !tx.lock_device(&device, &user)?
            {
                return Ok(Err(Refusal::QrExpired));
            }
            let expires_at = qr.stored.expires_at;
            qr.advance(tx, QrState::Redeemed, expires_at)?;
            // Locked meanwhile (the approval came first): nothing is signed in.
            if is_locked(tx.locked_until(Subject::person(&user).key())?, now) {
                ctx.record(tx, now, &flow, Some(&user), Event::SignInFailed { step: "qr" })?;
                return Ok(Err(Refusal::AccountLocked));
            }
            let done = Authentication::own(&user, &amr, approved_at);
            finish_authentication(ctx, tx, now, &mut flow, done).map(Ok)
        })
        .and_then(settle)
}
