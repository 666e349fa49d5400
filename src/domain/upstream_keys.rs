//! Portti's keys as the relying party of its upstream providers: an RS256
//! signing key (request objects, client assertions) and an RSA-OAEP
//! encryption key (the JWE ID tokens of FTN brokers). Separate from the
//! token signing keys, stored sealed, published at `/upstream/jwks`.
//!
//! Brokers cache these keys for up to a day, so a rotated key is published
//! a day before it is used, and the key it replaces stays published (and,
//! for decryption, usable) for a day after.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::UnixSeconds;
use crate::crypto::Keys;
use crate::crypto::jose::{self, KeyUse, RsaKey};
use crate::error::{Error, Result};
use crate::store::{Store, StoredUpstreamKey};

/// How long brokers may cache Portti's keys: a new key waits this long
/// before it is used, and an old one stays this long after.
pub const CACHE_SECONDS: i64 = 24 * 3600;

fn sealing_context(key_use: KeyUse) -> String {
    format!("upstream-key:{}", key_use.as_str())
}

fn new_key(keys: &Keys, key_use: KeyUse, used_from: UnixSeconds) -> Result<StoredUpstreamKey> {
    let der = jose::generate_rsa_key()?;
    let kid = RsaKey::from_der(key_use, &der)?.kid;
    Ok(StoredUpstreamKey {
        kid,
        key_use,
        sealed_private_key: keys.seal(&sealing_context(key_use), &der)?,
        used_from,
        used_until: None,
    })
}

/// Creates a key for every use that has none (the first start with an upstream).
pub fn ensure_upstream_keys(store: &Store, keys: &Keys, now: UnixSeconds) -> Result<()> {
    for key_use in KeyUse::ALL {
        if store.read(|r| r.has_current_upstream_key(key_use))? {
            continue;
        }
        let key = new_key(keys, key_use, now)?;
        store.write(|tx| tx.insert_upstream_key(&key, now))?;
        tracing::info!(kid = %key.kid, key_use = key_use.as_str(), "created an upstream key");
    }
    Ok(())
}

/// A key made by a rotation.
#[derive(Debug, Clone, Serialize)]
pub struct RotatedUpstreamKey {
    #[serde(rename = "use")]
    pub key_use: &'static str,
    pub kid: String,
    /// When it starts being used: a day from now.
    pub used_from: UnixSeconds,
}

/// Makes a new signing and encryption key, published now and used from a
/// day on; the keys they replace are used until then and published a day longer.
pub fn rotate_upstream_keys(store: &Store, keys: &Keys, now: UnixSeconds) -> Result<Vec<RotatedUpstreamKey>> {
    let takes_over = now + CACHE_SECONDS;
    let mut fresh = Vec::new();
    for key_use in KeyUse::ALL {
        // With no key yet, there is nothing for brokers to have cached: used at once.
        let first = !store.read(|r| r.has_current_upstream_key(key_use))?;
        fresh.push(new_key(keys, key_use, if first { now } else { takes_over })?);
    }
    store.write(|tx| {
        tx.delete_unpublished_upstream_keys(now)?;
        for key in &fresh {
            tx.retire_upstream_keys(key.key_use, takes_over, takes_over + CACHE_SECONDS)?;
            tx.insert_upstream_key(key, now)?;
        }
        Ok(())
    })?;
    Ok(fresh
        .into_iter()
        .map(|key| RotatedUpstreamKey { key_use: key.key_use.as_str(), kid: key.kid, used_from: key.used_from })
        .collect())
}

/// The upstream keys one instance works with.
#[derive(Debug)]
pub struct UpstreamKeySet {
    /// Every published key, oldest first.
    published: Vec<Arc<RsaKey>>,
    /// The signing key in use now.
    signer: Option<Arc<RsaKey>>,
    jwks: bytes::Bytes,
    signed_jwks: Option<bytes::Bytes>,
}

impl UpstreamKeySet {
    /// No keys: Portti has no upstreams.
    pub fn empty() -> Self {
        Self { published: Vec::new(), signer: None, jwks: bytes::Bytes::new(), signed_jwks: None }
    }

    /// Loads the keys published at `now`; `issuer` signs the signed JWKS.
    pub fn load(store: &Store, keys: &Keys, issuer: &str, now: UnixSeconds) -> Result<Self> {
        let stored = store.read(|r| r.published_upstream_keys(now))?;
        let mut published = Vec::new();
        let mut signer = None;
        for stored in stored {
            let der = keys.open(&sealing_context(stored.key_use), &stored.sealed_private_key)?;
            let key = Arc::new(RsaKey::from_der(stored.key_use, &der)?);
            let in_use = stored.used_from <= now && stored.used_until.is_none_or(|until| until > now);
            if in_use && stored.key_use == KeyUse::Sig {
                // Oldest first, so the newest key in use wins.
                signer = Some(key.clone());
            }
            published.push(key);
        }
        let public: Vec<Value> = published.iter().map(|key| key.public_jwk().clone()).collect();
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": public })).map_err(Error::internal)?;
        // OpenID Federation's signed JWKS: the set as claims of a JWT by the signing key.
        let signed_jwks = match &signer {
            Some(signer) => {
                let mut claims = Map::new();
                claims.insert("iss".into(), Value::from(issuer));
                claims.insert("sub".into(), Value::from(issuer));
                claims.insert("iat".into(), Value::from(now));
                claims.insert("keys".into(), Value::from(public));
                Some(signer.sign("jwk-set+jwt", &claims)?.into())
            }
            None => None,
        };
        Ok(Self { published, signer, jwks: jwks.into(), signed_jwks })
    }

    /// The key that signs request objects and client assertions now.
    pub fn signer(&self) -> Result<&RsaKey> {
        self.signer.as_deref().ok_or_else(|| Error::internal("no current upstream signing key"))
    }

    /// Every published encryption key, to decrypt ID tokens with.
    pub fn decryption_keys(&self) -> Vec<&RsaKey> {
        self.published.iter().filter(|k| k.key_use == KeyUse::Enc).map(|k| k.as_ref()).collect()
    }

    /// `/upstream/jwks`, serialised.
    pub fn jwks(&self) -> &bytes::Bytes {
        &self.jwks
    }

    /// `/upstream/signed-jwks`, serialised; `None` without keys.
    pub fn signed_jwks(&self) -> Option<&bytes::Bytes> {
        self.signed_jwks.as_ref()
    }

    /// Whether there are keys at all.
    pub fn is_empty(&self) -> bool {
        self.published.is_empty()
    }
}
