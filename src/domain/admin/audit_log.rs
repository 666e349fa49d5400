//! A company's audit log as its administrators read it: who did what to
//! whom, from where, newest first, a page at a time.

use serde_json::Value;

use super::{AdminContext, CompanyReach};
use crate::clock::UnixSeconds;
use crate::domain::audit::ACTOR;
use crate::error::{Error, Result};

/// Entries on a page when the request does not say.
pub const DEFAULT_PAGE: i64 = 50;
/// The most entries on one page.
pub const MAX_PAGE: i64 = 200;

/// One entry of a company's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The event's id: the `before` of the next page.
    pub id: String,
    pub at: UnixSeconds,
    /// Who caused it: the administrator, or else the person it is about.
    pub actor: Option<String>,
    pub action: String,
    /// Whom it is about.
    pub target: Option<String>,
    pub ip: Option<String>,
}

/// A page of the company's log, newest first: `limit` entries (at most
/// [`MAX_PAGE`]) older than the event `before`, when given.
pub fn page(
    ctx: &AdminContext<'_>,
    reach: &CompanyReach,
    before: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<AuditEntry>> {
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let events = ctx.store.read(|r| r.company_audit_events(reach.company().as_str(), before, limit))?;
    events
        .into_iter()
        .map(|event| {
            let detail: Option<Value> =
                event.detail.as_deref().map(serde_json::from_str).transpose().map_err(Error::internal)?;
            let actor = detail
                .as_ref()
                .and_then(|d| d.get(ACTOR))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| event.user_id.clone());
            Ok(AuditEntry {
                id: event.id,
                at: event.at,
                actor,
                action: event.action,
                target: event.user_id,
                ip: event.ip,
            })
        })
        .collect()
}
