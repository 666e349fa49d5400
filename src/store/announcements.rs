//! Announcements for the sign-in pages.

use diesel::prelude::*;

use super::schema::announcements;
use super::{Read, Write};
use crate::error::Result;

/// An announcement as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = announcements)]
pub struct StoredAnnouncement {
    pub id: String,
    pub text: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
}

impl Read<'_> {
    /// The announcements that have not ended by `now`, the earliest first.
    pub fn announcements_not_ended(&mut self, now: i64) -> Result<Vec<StoredAnnouncement>> {
        Ok(announcements::table
            .filter(announcements::ends_at.gt(now))
            .order((announcements::starts_at, announcements::id))
            .select(StoredAnnouncement::as_select())
            .load(self.conn)?)
    }

    /// The announcement in force at `now`: of several, the one that started last.
    /// (No `LIMIT`: a bound one makes SQLite re-prepare; there are few rows.)
    pub fn announcement_in_force(&mut self, now: i64) -> Result<Option<StoredAnnouncement>> {
        Ok(announcements::table
            .filter(announcements::starts_at.le(now))
            .filter(announcements::ends_at.gt(now))
            .order((announcements::starts_at.desc(), announcements::id.desc()))
            .select(StoredAnnouncement::as_select())
            .load(self.conn)?
            .into_iter()
            .next())
    }
}

impl Write<'_> {
    pub fn insert_announcement(&mut self, announcement: &StoredAnnouncement) -> Result<()> {
        diesel::insert_into(announcements::table).values(announcement).execute(self.conn)?;
        Ok(())
    }
}
