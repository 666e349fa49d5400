//! The origins that browser applications (single-page apps, public clients)
//! call `/token`, `/userinfo` and `/revoke` from: exactly those of the
//! redirect URIs that clients registered for signing in. CORS (in
//! `web::cors`) answers only them.
//!
//! A preflight must be cheap, so the set is read from the database at most
//! once per [`CLIENT_CACHE_SECONDS`], like the clients themselves: a client
//! registered meanwhile (by `portti client add`, on another instance) gets
//! its origin answered within that time, and a removed one loses it as soon.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use url::Url;

use super::client_cache::CLIENT_CACHE_SECONDS;
use crate::error::Result;

/// The origin of a redirect URI as a browser sends it in `Origin`
/// (`https://app.example`, `http://127.0.0.1:3000`): scheme, host and a port
/// that is not the scheme's default. `None` for a URI with no such origin (a
/// native app's `com.example.app:/cb`).
pub fn origin_of(redirect_uri: &str) -> Option<String> {
    let url = Url::parse(redirect_uri).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The registered origins, as recently read.
#[derive(Debug, Default)]
pub struct BrowserOrigins {
    kept: RwLock<Option<(Instant, Arc<HashSet<String>>)>>,
}

impl BrowserOrigins {
    /// Whether `origin` is registered, if the origins were read recently;
    /// `None`: read them again ([`BrowserOrigins::reload`]).
    pub fn fresh_allows(&self, origin: &str) -> Option<bool> {
        let kept = self.kept.read().unwrap_or_else(PoisonError::into_inner);
        let (read_at, origins) = kept.as_ref()?;
        (read_at.elapsed() < Duration::from_secs(CLIENT_CACHE_SECONDS)).then(|| origins.contains(origin))
    }

    /// Reads the origins again from the redirect URIs that `load` returns
    /// (every client's), keeps them, and says whether `origin` is one.
    pub fn reload(&self, origin: &str, load: impl FnOnce() -> Result<Vec<String>>) -> Result<bool> {
        let read_at = Instant::now();
        let origins: HashSet<String> = load()?.iter().filter_map(|uri| origin_of(uri)).collect();
        let allowed = origins.contains(origin);
        let mut kept = self.kept.write().unwrap_or_else(PoisonError::into_inner);
        // A slow read must not replace one that began later.
        if kept.as_ref().is_none_or(|(kept_at, _)| *kept_at < read_at) {
            *kept = Some((read_at, Arc::new(origins)));
        }
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn an_origin_is_scheme_host_and_a_port_that_is_not_the_default() {
        assert_eq!(origin_of("https://app.example/callback?x=1").as_deref(), Some("https://app.example"));
        assert_eq!(origin_of("https://App.Example:443/cb").as_deref(), Some("https://app.example"));
        assert_eq!(origin_of("https://app.example:8443/cb").as_deref(), Some("https://app.example:8443"));
        assert_eq!(origin_of("http://127.0.0.1:3000/callback").as_deref(), Some("http://127.0.0.1:3000"));
        assert_eq!(origin_of("http://[::1]:3000/cb").as_deref(), Some("http://[::1]:3000"));
        assert_eq!(origin_of("com.example.app:/oauth2redirect"), None, "a native app has no origin");
        assert_eq!(origin_of("not a uri"), None);
    }

    #[test]
    fn the_origins_are_read_once_while_fresh() {
        let origins = BrowserOrigins::default();
        let reads = Cell::new(0);
        let load = || {
            reads.set(reads.get() + 1);
            Ok(vec!["https://spa.example/cb".to_owned(), "https://spa.example/other".to_owned()])
        };
        assert_eq!(origins.fresh_allows("https://spa.example"), None, "nothing read yet");
        assert!(origins.reload("https://spa.example", load).unwrap());
        assert_eq!(origins.fresh_allows("https://spa.example"), Some(true));
        assert_eq!(origins.fresh_allows("https://evil.example"), Some(false), "known not to be registered");
        assert_eq!(origins.fresh_allows("https://spa.example/"), Some(false), "an origin has no path");
        assert_eq!(reads.get(), 1);
    }
}
