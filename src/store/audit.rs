//! The audit trail: one row an event, written in the transaction of the
//! event itself, so the record exists exactly when the event does.

use diesel::prelude::*;

use super::schema::audit_events;
use super::{Read, Write};
use crate::domain::ids::UserId;
use crate::error::Result;

/// An audit event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct StoredAuditEvent {
    pub id: String,
    pub at: i64,
    pub action: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub company_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// A JSON object of names (a step, a kind of contact), never a secret.
    pub detail: Option<String>,
}

impl Read<'_> {
    /// A person's audit events, oldest first.
    pub fn audit_events_of(&mut self, user_id: &UserId) -> Result<Vec<StoredAuditEvent>> {
        Ok(audit_events::table
            .filter(audit_events::user_id.eq(user_id.as_str()))
            .order((audit_events::at, audit_events::id))
            .select(StoredAuditEvent::as_select())
            .load(self.conn)?)
    }

    /// A company's audit events, newest first: at most `limit`, and with
    /// `before` (an event's id) only those older than that event.
    pub fn company_audit_events(
        &mut self,
        company_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StoredAuditEvent>> {
        let mut query = audit_events::table
            .filter(audit_events::company_id.eq(company_id))
            .order((audit_events::at.desc(), audit_events::id.desc()))
            .limit(limit)
            .select(StoredAuditEvent::as_select())
            .into_boxed();
        if let Some(before) = before {
            let Some(at) = audit_events::table
                .find(before)
                .filter(audit_events::company_id.eq(company_id))
                .select(audit_events::at)
                .get_result::<i64>(self.conn)
                .optional()?
            else {
                return Ok(Vec::new());
            };
            query = query.filter(
                audit_events::at.lt(at).or(audit_events::at.eq(at).and(audit_events::id.lt(before.to_owned()))),
            );
        }
        Ok(query.load(self.conn)?)
    }
}

impl Write<'_> {
    pub fn insert_audit_event(&mut self, event: &StoredAuditEvent) -> Result<()> {
        diesel::insert_into(audit_events::table).values(event).execute(self.conn)?;
        Ok(())
    }
}
