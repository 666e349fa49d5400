//! The outbox: messages (email and SMS) written in the same transaction as the
//! codes they carry, and a worker that delivers them with retries.
//!
//! Delivery is at least once: a message whose sender died mid-delivery is
//! taken again by any instance once its lease runs out.

mod transport;
mod worker;

use serde::{Deserialize, Serialize};

pub use transport::Transports;
pub use worker::{OutboxWorker, backoff_seconds};

use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::domain::contact::{Email, PhoneNumber};
use crate::domain::ids::MessageId;
use crate::error::Result;
use crate::store::Write;

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Email { to: Email, subject: String, body: String },
    Sms { to: PhoneNumber, text: String },
}

/// The part of a message that may carry a secret: sealed at rest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Content {
    Email { subject: String, body: String },
    Sms { text: String },
}

/// Which way a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

fn sealing_context(id: &MessageId) -> String {
    format!("outbox:{id}")
}

/// Puts a message in the outbox inside the caller's transaction, so it exists
/// exactly when whatever it carries does. A message with `expires_at` (one
/// carrying a short-lived code) is dropped rather than delivered late.
pub fn enqueue(
    tx: &mut Write<'_>,
    keys: &Keys,
    now: UnixSeconds,
    message: &Message,
    expires_at: Option<UnixSeconds>,
) -> Result<MessageId> {
    let id = MessageId::generate();
    let (channel, recipient, content) = match message {
        Message::Email { to, subject, body } => {
            (Channel::Email, to.as_str(), Content::Email { subject: subject.clone(), body: body.clone() })
        }
        Message::Sms { to, text } => (Channel::Sms, to.as_str(), Content::Sms { text: text.clone() }),
    };
    let json = serde_json::to_vec(&content).map_err(crate::error::Error::internal)?;
    let sealed = keys.seal(&sealing_context(&id), &json)?;
    tx.insert_outbox_message(&id, channel, recipient, &sealed, now, expires_at)?;
    Ok(id)
}
