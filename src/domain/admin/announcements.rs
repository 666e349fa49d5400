//! Announcements: a notice customer service posts (a login disruption, say)
//! that the sign-in pages show while it is in force.

use super::{AdminContext, CustomerService};
use crate::clock::UnixSeconds;
use crate::domain::audit::{self, Event, Subjects};
use crate::domain::refusal::Refusal;
use crate::error::Result;
use crate::store::{Store, StoredAnnouncement};

/// The longest announcement, in characters.
pub const MAX_TEXT_LENGTH: usize = 1000;

/// An announcement and when it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub id: String,
    pub text: String,
    pub starts_at: UnixSeconds,
    pub ends_at: UnixSeconds,
}

impl From<StoredAnnouncement> for Announcement {
    fn from(stored: StoredAnnouncement) -> Self {
        Self { id: stored.id, text: stored.text, starts_at: stored.starts_at, ends_at: stored.ends_at }
    }
}

/// Checks an announcement: a text of 1 to [`MAX_TEXT_LENGTH`] characters,
/// ending after it starts.
pub fn validate(text: &str, starts_at: UnixSeconds, ends_at: UnixSeconds) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_LENGTH {
        return Err(Refusal::AnnouncementTextLength { max: MAX_TEXT_LENGTH });
    }
    if ends_at <= starts_at {
        return Err(Refusal::AnnouncementEndsBeforeStart);
    }
    Ok(text.to_owned())
}

/// Posts an announcement; customer service only.
pub fn post(
    ctx: &AdminContext<'_>,
    now: UnixSeconds,
    support: &CustomerService,
    text: &str,
    starts_at: UnixSeconds,
    ends_at: UnixSeconds,
) -> Result<Announcement> {
    let text = validate(text, starts_at, ends_at)?;
    let stored = StoredAnnouncement {
        id: uuid::Uuid::now_v7().to_string(),
        text,
        starts_at,
        ends_at,
        created_by: Some(support.id().as_str().to_owned()),
        created_at: now,
    };
    ctx.store.write(|tx| {
        tx.insert_announcement(&stored)?;
        audit::record_by(tx, now, &ctx.origin, support.id(), Subjects::person(support.id()), Event::AnnouncementPosted)
    })?;
    Ok(stored.into())
}

/// The announcements in force now and those to come, the earliest first.
pub fn current_and_future(store: &Store, now: UnixSeconds) -> Result<Vec<Announcement>> {
    Ok(store.read(|r| r.announcements_not_ended(now))?.into_iter().map(Announcement::from).collect())
}

/// The text the sign-in pages show now, if any.
pub fn in_force(store: &Store, now: UnixSeconds) -> Result<Option<String>> {
    Ok(store.read(|r| r.announcement_in_force(now))?.map(|a| a.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_has_a_text_and_ends_after_it_starts() {
        assert_eq!(validate("  Logins are slow  ", 10, 20), Ok("Logins are slow".to_owned()));
        assert_eq!(validate(" ", 10, 20), Err(Refusal::AnnouncementTextLength { max: 1000 }));
        assert_eq!(validate(&"a".repeat(1001), 10, 20), Err(Refusal::AnnouncementTextLength { max: 1000 }));
        assert!(validate(&"ä".repeat(1000), 10, 20).is_ok(), "characters, not bytes");
        assert_eq!(validate("x", 20, 20), Err(Refusal::AnnouncementEndsBeforeStart));
    }
}
