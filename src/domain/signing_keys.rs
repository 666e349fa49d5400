//! Which keys sign tokens and which are published, and their rotation.
//!
//! Keys live in the database (sealed), so every instance signs with the same
//! ones. A new key is published at once but signs only after the activation
//! delay, by when every instance has reloaded it into its JWKS; the key it
//! replaces stays published until the last token it signed has expired.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::audit::{self, Event, Origin, Subjects};
use crate::clock::UnixSeconds;
use crate::config::Settings;
use crate::crypto::Keys;
use crate::crypto::signing::{SigningAlg, SigningKey, generate_private_key};
use crate::error::{Error, Result};
use crate::store::{Store, StoredSigningKey};

fn sealing_context(alg: SigningAlg) -> String {
    format!("signing-key:{}", alg.as_str())
}

fn new_key(keys: &Keys, alg: SigningAlg, signs_from: UnixSeconds) -> Result<StoredSigningKey> {
    let der = generate_private_key(alg)?;
    let kid = SigningKey::from_pkcs8(alg, &der)?.kid;
    Ok(StoredSigningKey {
        kid,
        alg,
        sealed_private_key: keys.seal(&sealing_context(alg), &der)?,
        signs_from,
        signs_until: None,
    })
}

/// Creates a key for every algorithm that has none (the very first start).
pub fn ensure_signing_keys(store: &Store, keys: &Keys, now: UnixSeconds) -> Result<()> {
    for alg in SigningAlg::ALL {
        if store.read(|r| r.has_current_signing_key(alg))? {
            continue;
        }
        let key = new_key(keys, alg, now)?;
        store.write(|tx| tx.insert_signing_key(&key, now))?;
        tracing::info!(kid = %key.kid, alg = alg.as_str(), "created a signing key");
    }
    Ok(())
}

/// A key made current by a rotation.
#[derive(Debug, Clone, Serialize)]
pub struct RotatedKey {
    pub alg: SigningAlg,
    pub kid: String,
    /// When it starts signing.
    pub signs_from: UnixSeconds,
}

/// When the keys a rotation makes start signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// After `keys.activation_delay_seconds`, once every instance publishes them.
    AfterDelay,
    /// At once (`--now`): the old key is compromised. Tokens another instance
    /// signs before its next reload still verify, with the old key.
    Now,
}

/// Makes a new key current for every algorithm. Each old key signs until the
/// new one takes over and is published until its last token has expired.
/// The operator's rotation is audited.
pub fn rotate_signing_keys(
    store: &Store,
    keys: &Keys,
    settings: &Settings,
    now: UnixSeconds,
    takeover: Takeover,
) -> Result<Vec<RotatedKey>> {
    let takes_over = match takeover {
        Takeover::AfterDelay => now + settings.keys.activation_delay_seconds,
        Takeover::Now => now,
    };
    // An instance may keep signing with the old key until its next reload.
    let reload_lag = i64::try_from(settings.keys.refresh_seconds).unwrap_or(i64::MAX);
    let published_until = takes_over + reload_lag + settings.longest_signed_token_seconds();
    let fresh = SigningAlg::ALL.into_iter().map(|alg| new_key(keys, alg, takes_over)).collect::<Result<Vec<_>>>()?;
    store.write(|tx| {
        tx.delete_unpublished_signing_keys(now)?;
        for key in &fresh {
            tx.retire_signing_keys(key.alg, takes_over, published_until)?;
            tx.insert_signing_key(key, now)?;
        }
        let event = Event::SigningKeysRotated {
            kids: fresh.iter().map(|key| key.kid.clone()).collect(),
            at_once: takeover == Takeover::Now,
        };
        audit::record(tx, now, &Origin::default(), Subjects::default(), event)
    })?;
    Ok(fresh.into_iter().map(|key| RotatedKey { alg: key.alg, kid: key.kid, signs_from: key.signs_from }).collect())
}

/// Drops a key from the JWKS at once (every instance, at its next reload):
/// the tokens it signed stop verifying. The key that signs now is refused:
/// rotate with [`Takeover::Now`] first. Audited.
pub fn retire_signing_key(store: &Store, now: UnixSeconds, kid: &str) -> Result<()> {
    store.write(|tx| {
        let published = tx.published_signing_keys(now)?;
        let Some(key) = published.iter().find(|key| key.kid == kid) else {
            return Err(Error::InvalidRequest(format!("no published signing key has the kid {kid}")));
        };
        if key.signs_from <= now && key.signs_until.is_none_or(|until| until > now) {
            return Err(Error::InvalidRequest(format!(
                "{kid} is the {} key that signs now: run `portti keys rotate --now` first",
                key.alg.as_str()
            )));
        }
        tx.retire_signing_key_now(kid, now)?;
        let event = Event::SigningKeyRetired { kid: kid.to_owned() };
        audit::record(tx, now, &Origin::default(), Subjects::default(), event)
    })
}

/// The keys one instance works with: those it signs with, those it publishes.
#[derive(Debug)]
pub struct KeySet {
    published: Vec<Arc<SigningKey>>,
    signers: HashMap<SigningAlg, Arc<SigningKey>>,
    jwks: bytes::Bytes,
}

impl KeySet {
    /// Loads the keys valid at `now` and precomputes the JWKS document.
    pub fn load(store: &Store, keys: &Keys, now: UnixSeconds) -> Result<Self> {
        let stored = store.read(|r| r.published_signing_keys(now))?;
        let mut published = Vec::new();
        let mut signers = HashMap::new();
        for stored in stored {
            let der = keys.open(&sealing_context(stored.alg), &stored.sealed_private_key)?;
            let key = Arc::new(SigningKey::from_pkcs8(stored.alg, &der)?);
            let signing_now = stored.signs_from <= now && stored.signs_until.is_none_or(|until| until > now);
            if signing_now {
                // Oldest first, so the newest key that may sign wins.
                signers.insert(stored.alg, key.clone());
            }
            published.push(key);
        }
        let jwks = serde_json::to_vec(&serde_json::json!({
            "keys": published.iter().map(|key| key.public_jwk()).collect::<Vec<_>>()
        }))
        .map_err(Error::internal)?;
        Ok(Self { published, signers, jwks: jwks.into() })
    }

    /// The key that signs tokens of `alg` now.
    pub fn signer(&self, alg: SigningAlg) -> Result<&Arc<SigningKey>> {
        self.signers.get(&alg).ok_or_else(|| Error::internal(format_args!("no current {} signing key", alg.as_str())))
    }

    /// Every published key, to verify tokens with.
    pub fn published(&self) -> &[Arc<SigningKey>] {
        &self.published
    }

    /// The JWKS document, serialised.
    pub fn jwks(&self) -> &bytes::Bytes {
        &self.jwks
    }
}
