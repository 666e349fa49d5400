//! The delivery worker: takes due messages, sends them, records the outcome.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use super::{Content, Transports, sealing_context};
use crate::clock::{Clock, UnixSeconds};
use crate::config::OutboxSettings;
use crate::crypto::Keys;
use crate::error::{Error, Result};
use crate::store::{ClaimedMessage, Store};

/// The most messages one pass delivers before looking at the clock and the
/// shutdown signal again.
const MESSAGES_PER_PASS: usize = 50;

/// Seconds to wait before the next try after `attempts` failed ones:
/// 30 s, doubling, at most an hour.
pub fn backoff_seconds(attempts: i32) -> i64 {
    let exponent = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    (30_i64 << exponent).min(3600)
}

/// Delivers what the outbox holds. Any number of workers (one per instance)
/// may run against one database: a message is leased to one at a time.
#[derive(Clone)]
pub struct OutboxWorker {
    store: Store,
    keys: Keys,
    clock: Clock,
    settings: OutboxSettings,
    transports: Arc<Transports>,
    wake: Arc<Notify>,
    /// Set by [`OutboxWorker::run`]; a pass stops between messages once it turns true.
    shutdown: Option<watch::Receiver<bool>>,
}

impl OutboxWorker {
    pub fn new(
        store: Store,
        keys: Keys,
        clock: Clock,
        settings: OutboxSettings,
        transports: Transports,
        wake: Arc<Notify>,
    ) -> Self {
        Self { store, keys, clock, settings, transports: Arc::new(transports), wake, shutdown: None }
    }

    /// Delivers until `shutdown` turns true, looking for due messages every
    /// poll interval or as soon as `wake` is notified.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        self.shutdown = Some(shutdown.clone());
        tracing::info!("outbox worker started");
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::error!(error = %e, "outbox pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// One pass: tries each due message once. Returns how many were delivered.
    ///
    /// Messages are leased one at a time, just before they are sent, so a slow
    /// server cannot make a lease run out while the message waits its turn
    /// (and another instance then send it a second time).
    pub async fn deliver_due(&self) -> Result<usize> {
        let mut delivered = 0;
        for _ in 0..MESSAGES_PER_PASS {
            if self.shutdown.as_ref().is_some_and(|stop| *stop.borrow()) {
                break;
            }
            let now = self.clock.now();
            let lease_until = now + self.settings.lease_seconds;
            let store = self.store.clone();
            let claimed = blocking(move || store.write(|tx| tx.claim_due_messages(now, lease_until, 1))).await?;
            let Some(message) = claimed.into_iter().next() else {
                break;
            };
            if self.deliver_one(message, now).await? {
                delivered += 1;
            }
        }
        Ok(delivered)
    }

    async fn deliver_one(&self, message: ClaimedMessage, now: UnixSeconds) -> Result<bool> {
        let id = message.id.clone();
        let outcome = if message.expires_at.is_some_and(|expires| expires <= now) {
            Outcome::GiveUp("expired before it could be delivered".to_owned())
        } else {
            match self.open(&message) {
                Ok(content) => match self.transports.deliver(&id, &message.recipient, &content).await {
                    Ok(()) => Outcome::Sent,
                    Err(error) if message.attempts >= self.settings.max_attempts => Outcome::GiveUp(error),
                    Err(error) => Outcome::Retry(error),
                },
                Err(e) => Outcome::GiveUp(format!("content cannot be opened: {e}")),
            }
        };
        let sent = matches!(outcome, Outcome::Sent);
        match &outcome {
            Outcome::Sent => tracing::info!(message_id = %id, channel = message.channel, "message delivered"),
            Outcome::Retry(error) => {
                tracing::warn!(message_id = %id, attempts = message.attempts, %error, "delivery failed; will retry");
            }
            Outcome::GiveUp(error) => tracing::error!(message_id = %id, %error, "message given up"),
        }
        let store = self.store.clone();
        let finished_at = self.clock.now();
        let recorded = blocking(move || {
            store.write(|tx| match outcome {
                Outcome::Sent => tx.mark_message_sent(&message, finished_at),
                Outcome::Retry(error) => {
                    tx.mark_message_retry(&message, finished_at + backoff_seconds(message.attempts), &error)
                }
                Outcome::GiveUp(error) => tx.mark_message_failed(&message, finished_at, &error),
            })
        })
        .await?;
        if !recorded {
            tracing::warn!(message_id = %id, "the lease ran out during delivery; another worker has the message");
        }
        Ok(sent)
    }

    fn open(&self, message: &ClaimedMessage) -> Result<Content> {
        let json = self.keys.open(&sealing_context(&message.id), &message.sealed_content)?;
        serde_json::from_slice(&json).map_err(Error::internal)
    }
}

enum Outcome {
    Sent,
    Retry(String),
    GiveUp(String),
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(Error::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_seconds(1), 30);
        assert_eq!(backoff_seconds(2), 60);
        assert_eq!(backoff_seconds(3), 120);
        assert_eq!(backoff_seconds(7), 1920);
        assert_eq!(backoff_seconds(8), 3600);
        assert_eq!(backoff_seconds(50), 3600);
        assert_eq!(backoff_seconds(0), 30);
    }
}
