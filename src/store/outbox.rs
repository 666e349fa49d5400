//! The outbox table: pending messages, their leases and outcomes.

use diesel::prelude::*;

use super::housekeeping::{KEEP_OUTBOX_SECONDS, Sweep};
use super::schema::outbox;
use super::{Read, Write};
use crate::domain::ids::MessageId;
use crate::error::Result;
use crate::notify::Channel;

/// A message leased to this worker for delivery.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub id: MessageId,
    pub channel: &'static str,
    pub recipient: String,
    pub sealed_content: String,
    pub expires_at: Option<i64>,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// Proves this worker still holds the lease when it records the outcome.
    pub lease_token: String,
}

/// How many messages are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

impl Read<'_> {
    pub fn outbox_counts(&mut self) -> Result<OutboxCounts> {
        let pending = outbox::table
            .filter(outbox::sent_at.is_null().and(outbox::failed_at.is_null()))
            .count()
            .get_result(self.conn)?;
        let sent = outbox::table.filter(outbox::sent_at.is_not_null()).count().get_result(self.conn)?;
        let failed = outbox::table.filter(outbox::failed_at.is_not_null()).count().get_result(self.conn)?;
        Ok(OutboxCounts { pending, sent, failed })
    }
}

impl Write<'_> {
    pub fn insert_outbox_message(
        &mut self,
        id: &MessageId,
        channel: Channel,
        recipient: &str,
        sealed_content: &str,
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<()> {
        diesel::insert_into(outbox::table)
            .values((
                outbox::id.eq(id.as_str()),
                outbox::channel.eq(channel.as_str()),
                outbox::recipient.eq(recipient),
                outbox::sealed_content.eq(sealed_content),
                outbox::created_at.eq(now),
                outbox::expires_at.eq(expires_at),
                outbox::next_attempt_at.eq(now),
                outbox::attempts.eq(0),
            ))
            .execute(self.conn)?;
        self.enqueued = true;
        Ok(())
    }

    /// Leases up to `limit` due messages to the caller until `lease_until`,
    /// counting the attempt. A message whose lease is still held by another
    /// worker is left alone; one whose worker died is taken once its lease ends.
    pub fn claim_due_messages(&mut self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<ClaimedMessage>> {
        let available = outbox::lease_until.is_null().or(outbox::lease_until.le(now));
        let pending = outbox::sent_at.is_null().and(outbox::failed_at.is_null());
        let due = outbox::table
            .filter(pending)
            .filter(outbox::next_attempt_at.le(now))
            .filter(available)
            .order(outbox::next_attempt_at)
            .limit(limit)
            .select(outbox::id)
            .load::<String>(self.conn)?;
        let mut claimed = Vec::new();
        for id in due {
            // Conditional, so two instances racing for one message cannot both win it.
            let lease_token = uuid::Uuid::new_v4().to_string();
            let won = diesel::update(outbox::table.find(&id).filter(pending).filter(available))
                .set((
                    outbox::lease_until.eq(lease_until),
                    outbox::lease_token.eq(&lease_token),
                    outbox::attempts.eq(outbox::attempts + 1),
                ))
                .execute(self.conn)?;
            if won == 0 {
                continue;
            }
            let (channel, recipient, sealed, expires_at, attempts) = outbox::table
                .find(&id)
                .select((
                    outbox::channel,
                    outbox::recipient,
                    outbox::sealed_content,
                    outbox::expires_at,
                    outbox::attempts,
                ))
                .get_result::<(String, String, Option<String>, Option<i64>, i32)>(self.conn)?;
            claimed.push(ClaimedMessage {
                id: MessageId::from_stored(id),
                channel: if channel == "sms" { "sms" } else { "email" },
                recipient,
                sealed_content: sealed.unwrap_or_default(),
                expires_at,
                attempts,
                lease_token,
            });
        }
        Ok(claimed)
    }

    /// Records delivery and erases the content. Returns false when the lease
    /// was lost (it ran out and another worker took the message): then nothing
    /// is recorded.
    pub fn mark_message_sent(&mut self, message: &ClaimedMessage, now: i64) -> Result<bool> {
        let updated = diesel::update(leased(message))
            .set((
                outbox::sent_at.eq(now),
                outbox::lease_until.eq(None::<i64>),
                outbox::lease_token.eq(None::<String>),
                outbox::sealed_content.eq(None::<String>),
                outbox::last_error.eq(None::<String>),
            ))
            .execute(self.conn)?;
        Ok(updated == 1)
    }

    /// Records a failed attempt and when to try again; false when the lease was lost.
    pub fn mark_message_retry(&mut self, message: &ClaimedMessage, next_attempt_at: i64, error: &str) -> Result<bool> {
        let updated = diesel::update(leased(message))
            .set((
                outbox::next_attempt_at.eq(next_attempt_at),
                outbox::lease_until.eq(None::<i64>),
                outbox::lease_token.eq(None::<String>),
                outbox::last_error.eq(error),
            ))
            .execute(self.conn)?;
        Ok(updated == 1)
    }

    /// Gives a message up and erases its content; false when the lease was lost.
    pub fn mark_message_failed(&mut self, message: &ClaimedMessage, now: i64, error: &str) -> Result<bool> {
        let updated = diesel::update(leased(message))
            .set((
                outbox::failed_at.eq(now),
                outbox::lease_until.eq(None::<i64>),
                outbox::lease_token.eq(None::<String>),
                outbox::sealed_content.eq(None::<String>),
                outbox::last_error.eq(error),
            ))
            .execute(self.conn)?;
        Ok(updated == 1)
    }
}

/// The row of a claimed message, only while this claim still holds its lease.
fn leased(
    message: &ClaimedMessage,
) -> diesel::dsl::Filter<diesel::dsl::Find<outbox::table, &str>, diesel::dsl::Eq<outbox::lease_token, &str>> {
    outbox::table.find(message.id.as_str()).filter(outbox::lease_token.eq(message.lease_token.as_str()))
}

/// Messages delivered or given up [`KEEP_OUTBOX_SECONDS`] ago, and those that
/// expired that long ago without either (no worker ever took them).
pub(super) const SWEEP: Sweep = Sweep { tables: &["outbox"], run: sweep };

fn sweep(tx: &mut Write<'_>, now: i64) -> Result<usize> {
    let ended = now - KEEP_OUTBOX_SECONDS;
    // Two statements: SQLite reads the whole table for an OR of three columns.
    let finished = diesel::delete(outbox::table.filter(outbox::sent_at.le(ended).or(outbox::failed_at.le(ended))))
        .execute(tx.conn)?;
    let expired = diesel::delete(outbox::table.filter(outbox::expires_at.le(ended))).execute(tx.conn)?;
    Ok(finished + expired)
}
