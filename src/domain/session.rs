//! Browser sessions: single sign-on across clients, with idle and absolute
//! time-outs. The cookie carries a random id; the database only its digest.

use crate::AppState;
use crate::clock::UnixSeconds;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::domain::ids::UserId;
use crate::error::Result;
use crate::store::{StoredSession, Write};

/// How one browser session was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The `sid` claim; not the cookie.
    pub public_id: String,
    pub user_id: UserId,
    pub auth_time: UnixSeconds,
    /// Authentication methods (RFC 8176): `pwd`, `otp`, …
    pub amr: Vec<String>,
}

/// Touch a session's idle clock at most this often, to spare the database a
/// write on every request.
const TOUCH_INTERVAL: i64 = 60;

/// The live session behind a session cookie, if any; extends its idle time.
pub fn current(state: &AppState, now: UnixSeconds, cookie: Option<&str>) -> Result<Option<Session>> {
    let Some(cookie) = cookie.filter(|c| !c.is_empty() && c.len() <= 128) else {
        return Ok(None);
    };
    let digest = sha256_hex(cookie);
    let Some(stored) = state.store.read(|r| r.session(&digest))? else {
        return Ok(None);
    };
    let settings = &state.settings.session;
    let alive =
        stored.ended_at.is_none() && now < stored.expires_at && now - stored.last_seen_at < settings.idle_seconds;
    if !alive {
        return Ok(None);
    }
    if now - stored.last_seen_at >= TOUCH_INTERVAL {
        state.store.write(|tx| tx.touch_session(&digest, now))?;
    }
    Ok(Some(from_stored(stored)))
}

fn from_stored(stored: StoredSession) -> Session {
    Session {
        public_id: stored.public_id,
        user_id: UserId::from_stored(stored.user_id),
        auth_time: stored.auth_time,
        amr: stored.amr.split_whitespace().map(str::to_owned).collect(),
    }
}

/// Starts a session; returns it and the cookie value that names it.
pub fn start(
    tx: &mut Write<'_>,
    state: &AppState,
    now: UnixSeconds,
    user_id: &UserId,
    auth_time: UnixSeconds,
    amr: &[String],
) -> Result<(Session, String)> {
    let cookie = random_token();
    let stored = StoredSession {
        id_digest: sha256_hex(&cookie),
        public_id: random_token(),
        user_id: user_id.as_str().to_owned(),
        auth_time,
        amr: amr.join(" "),
        created_at: now,
        last_seen_at: now,
        expires_at: now + state.settings.session.absolute_seconds,
        ended_at: None,
    };
    tx.insert_session(&stored)?;
    Ok((from_stored(stored), cookie))
}

/// Ends the session behind a cookie (sign-out).
pub fn end(state: &AppState, now: UnixSeconds, cookie: &str) -> Result<()> {
    let digest = sha256_hex(cookie);
    state.store.write(|tx| tx.end_session(&digest, now))
}
