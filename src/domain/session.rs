//! Browser sessions: single sign-on across clients, with idle and absolute
//! time-outs. The cookie carries a random id; the database only its digest.

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::config::SessionConfig;
use crate::crypto::secret::{random_token, sha256_hex};
use crate::domain::ids::UserId;
use crate::error::Result;
use crate::store::{Store, StoredSession, Write};

/// How one browser session was authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The `sid` claim; not the cookie.
    pub public_id: String,
    pub user_id: UserId,
    pub auth_time: UnixSeconds,
    /// Authentication methods (RFC 8176): `pwd`, `otp`, …
    pub amr: Vec<String>,
    /// The authentication context class: Portti's own for a password and a
    /// second factor, an upstream's for strong identification (`None` when
    /// it sent none). A session saved before this field has Portti's own.
    #[serde(default = "own_acr")]
    pub acr: Option<String>,
}

pub(crate) fn own_acr() -> Option<String> {
    Some(crate::domain::discovery::ACR_MFA.to_owned())
}

/// Touch a session's idle clock at most this often, to spare the database a
/// write on every request.
const TOUCH_INTERVAL: i64 = 60;

/// Whether a stored session still lives at `now`: not ended, not past its
/// absolute end, not idle too long.
pub fn is_alive(stored: &StoredSession, settings: &SessionConfig, now: UnixSeconds) -> bool {
    stored.ended_at.is_none() && now < stored.expires_at && now - stored.last_seen_at < settings.idle_seconds
}

/// Whether a live session's idle clock is due to be moved on.
fn needs_touch(stored: &StoredSession, now: UnixSeconds) -> bool {
    now - stored.last_seen_at >= TOUCH_INTERVAL
}

/// A cookie value worth looking up: not empty, not absurdly long.
fn plausible(cookie: Option<&str>) -> Option<&str> {
    cookie.filter(|c| !c.is_empty() && c.len() <= 128)
}

/// The live session behind a session cookie, if any; extends its idle time.
pub fn current(
    store: &Store,
    settings: &SessionConfig,
    now: UnixSeconds,
    cookie: Option<&str>,
) -> Result<Option<Session>> {
    let Some(cookie) = plausible(cookie) else { return Ok(None) };
    let digest = sha256_hex(cookie);
    let Some(stored) = store.read(|r| r.session(&digest))? else { return Ok(None) };
    if !is_alive(&stored, settings, now) {
        return Ok(None);
    }
    if needs_touch(&stored, now) {
        store.write(|tx| tx.touch_session(&digest, now))?;
    }
    Ok(Some(from_stored(stored)))
}

fn from_stored(stored: StoredSession) -> Session {
    Session {
        public_id: stored.public_id,
        user_id: UserId::from_stored(stored.user_id),
        auth_time: stored.auth_time,
        amr: stored.amr.split_whitespace().map(str::to_owned).collect(),
        acr: stored.acr,
    }
}

/// Starts a session; returns it and the cookie value that names it.
pub fn start(
    tx: &mut Write<'_>,
    settings: &SessionConfig,
    now: UnixSeconds,
    user_id: &UserId,
    auth_time: UnixSeconds,
    amr: &[String],
    acr: Option<&str>,
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
        expires_at: now + settings.absolute_seconds,
        ended_at: None,
        acr: acr.map(str::to_owned),
    };
    tx.insert_session(&stored)?;
    Ok((from_stored(stored), cookie))
}

/// Whether the session with this public id still lives (the person may have
/// signed out in another tab meanwhile).
pub fn is_live(tx: &mut Write<'_>, settings: &SessionConfig, now: UnixSeconds, public_id: &str) -> Result<bool> {
    Ok(tx.session_by_public_id(public_id)?.is_some_and(|stored| is_alive(&stored, settings, now)))
}

/// Ends the session behind a cookie (sign-out), in the caller's transaction.
pub fn end(tx: &mut Write<'_>, now: UnixSeconds, cookie: &str) -> Result<()> {
    tx.end_session(&sha256_hex(cookie), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(last_seen_at: i64, expires_at: i64, ended_at: Option<i64>) -> StoredSession {
        StoredSession {
            id_digest: "d".into(),
            public_id: "p".into(),
            user_id: UserId::generate().as_str().to_owned(),
            auth_time: 0,
            amr: "pwd otp".into(),
            created_at: 0,
            last_seen_at,
            expires_at,
            ended_at,
            acr: None,
        }
    }

    #[test]
    fn sessions_end_when_idle_past_their_end_or_ended() {
        let settings = SessionConfig { idle_seconds: 1800, absolute_seconds: 12 * 3600 };
        assert!(is_alive(&stored(1000, 50_000, None), &settings, 2000));
        assert!(!is_alive(&stored(1000, 50_000, None), &settings, 2800), "idle for 30 minutes");
        assert!(!is_alive(&stored(49_999, 50_000, None), &settings, 50_000), "past the absolute end");
        assert!(!is_alive(&stored(1000, 50_000, Some(1500)), &settings, 1600), "signed out");
    }

    #[test]
    fn the_idle_clock_moves_at_most_once_a_minute() {
        assert!(!needs_touch(&stored(1000, 50_000, None), 1059));
        assert!(needs_touch(&stored(1000, 50_000, None), 1060));
    }

    #[test]
    fn implausible_cookies_are_not_looked_up() {
        assert_eq!(plausible(Some("")), None);
        assert_eq!(plausible(Some(&"x".repeat(129))), None);
        assert_eq!(plausible(Some("abc")), Some("abc"));
    }
}
