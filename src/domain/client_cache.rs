//! Clients as recently read, so that a token request does not read the
//! database for its client every time (the client's rows were a third of a
//! `client_credentials` request on SQLite, more on PostgreSQL).
//!
//! A change made elsewhere (by `portti client add`, or on another instance)
//! is seen here within [`CLIENT_CACHE_SECONDS`]: a removed client, or a
//! replaced or removed secret, is still accepted that long, as a rotated
//! signing key takes `keys.refresh_seconds` to be used everywhere. A new
//! client works at once: unknown ids are never kept.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::client::{Client, ClientId};
use crate::error::Result;

/// How long a client read from the database is used without reading it again.
pub const CLIENT_CACHE_SECONDS: u64 = 5;

#[derive(Debug, Default)]
pub struct ClientCache {
    /// Only clients that exist are kept, so the map is no larger than the
    /// clients table; an unknown id is looked up every time.
    entries: RwLock<HashMap<ClientId, (Instant, Arc<Client>)>>,
}

impl ClientCache {
    /// The client with this id, if it was read recently.
    pub fn fresh(&self, id: &ClientId) -> Option<Arc<Client>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let (read_at, client) = entries.get(id)?;
        (read_at.elapsed() < Duration::from_secs(CLIENT_CACHE_SECONDS)).then(|| client.clone())
    }

    /// The client with this id: kept, if read recently; otherwise from `load`.
    pub fn get_or_load(
        &self,
        id: &ClientId,
        load: impl FnOnce() -> Result<Option<Client>>,
    ) -> Result<Option<Arc<Client>>> {
        if let Some(client) = self.fresh(id) {
            return Ok(Some(client));
        }
        // Stamped with when the read began, and never over a later read:
        // a slow read must not keep an older row alive past its 5 seconds.
        let read_at = Instant::now();
        let loaded = load()?.map(Arc::new);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let newer_kept = entries.get(id).is_some_and(|(kept_at, _)| *kept_at > read_at);
        if !newer_kept {
            match &loaded {
                Some(client) => entries.insert(id.clone(), (read_at, client.clone())),
                None => entries.remove(id),
            };
        }
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    use crate::domain::client::{GrantType, SigningAlg};

    fn client(id: &str) -> Client {
        Client {
            id: ClientId::parse(id).unwrap(),
            secret_digest: Some("digest".to_owned()),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grants: vec![GrantType::ClientCredentials],
            first_party: false,
            alg: SigningAlg::ES256,
            name: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_client_is_read_once_while_fresh_and_unknown_ids_every_time() {
        let cache = ClientCache::default();
        let reads = Cell::new(0);
        let id = ClientId::parse("ledger").unwrap();
        let load = || {
            reads.set(reads.get() + 1);
            Ok(Some(client("ledger")))
        };
        assert_eq!(cache.get_or_load(&id, load).unwrap().unwrap().id, id);
        assert_eq!(cache.get_or_load(&id, load).unwrap().unwrap().id, id);
        assert_eq!(reads.get(), 1, "the second request is served from the cache");
        assert_eq!(cache.fresh(&id).unwrap().id, id);

        let unknown = ClientId::parse("nobody").unwrap();
        for _ in 0..2 {
            assert!(
                cache
                    .get_or_load(&unknown, || {
                        reads.set(reads.get() + 1);
                        Ok(None)
                    })
                    .unwrap()
                    .is_none()
            );
        }
        assert_eq!(reads.get(), 3, "an unknown id is looked up each time");
        assert!(cache.fresh(&unknown).is_none());
    }

    #[test]
    fn a_slow_read_does_not_replace_a_later_one() {
        let cache = ClientCache::default();
        let id = ClientId::parse("ledger").unwrap();
        let later = Client { first_party: true, ..client("ledger") };
        cache
            .get_or_load(&id, || {
                // Another request reads the client (changed meanwhile) while this read is slow.
                cache.get_or_load(&id, || Ok(Some(later.clone())))?;
                Ok(Some(client("ledger")))
            })
            .unwrap();
        assert!(cache.fresh(&id).unwrap().first_party, "the read that began later is the one kept");
    }
}
