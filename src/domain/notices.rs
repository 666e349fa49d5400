//! The emails that tell a person something happened to their account, in
//! case it was not them. Written in the transaction of the change.

use super::contact::Email;
use super::ids::UserId;
use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::error::Result;
use crate::i18n::{Texts, date_time};
use crate::notify::{Message, enqueue};
use crate::store::Write;

/// "Your {what} changed", to `to`; `what` is the catalogue key naming the thing.
pub fn changed(texts: &Texts, to: &Email, now: UnixSeconds, what: &str) -> Message {
    let what = texts.get(what).to_owned();
    Message::Email {
        to: to.clone(),
        subject: texts.fill("message.changed_subject", &[("what", what.clone())]),
        body: texts.fill("message.changed_body", &[("what", what), ("when", date_time(now))]),
    }
}

/// Queues `notice(address)` for a person's communication email, in the
/// caller's transaction; nothing for a person who is gone.
pub fn tell(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    user: &UserId,
    notice: impl FnOnce(&Email) -> Message,
) -> Result<()> {
    let Some(person) = tx.user(user)? else { return Ok(()) };
    enqueue(tx, keys, now, &notice(&person.communication.email), None).map(|_| ())
}

/// An email of one subject and body from the catalogue, filled with the time.
pub fn about(texts: &Texts, to: &Email, now: UnixSeconds, subject: &str, body: &str) -> Message {
    Message::Email {
        to: to.clone(),
        subject: texts.get(subject).to_owned(),
        body: texts.fill(body, &[("when", date_time(now))]),
    }
}
