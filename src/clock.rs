//! The current time, injected so that tests can jump forward (24 hours, say).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch: how every time is stored and compared.
pub type UnixSeconds = i64;

/// A source of the current time.
///
/// The system clock in production; in tests the same clock shifted by an offset
/// that the test moves forward.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    /// The real system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current time in seconds since the Unix epoch.
    pub fn now(&self) -> UnixSeconds {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        real.saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward; for tests.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_is_seen_by_clones() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = other.now();
        clock.advance(86_400);
        assert!(other.now() >= before + 86_400);
    }
}
