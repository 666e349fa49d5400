//! The master key and the keys derived from it.
//!
//! One 32-byte master key per deployment (every instance shares it). HKDF
//! derives separate keys for encryption at rest and for each keyed hash, so no
//! key is used for two purposes.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit as HmacKeyInit, Mac};
use sha2::Sha256;

use super::secret::random_bytes;
use crate::config::MasterKeySource;
use crate::error::{Error, Result};

const SEALED_PREFIX: &str = "v1.";

/// The keys Portti derives from its master key.
#[derive(Clone)]
pub struct Keys {
    encryption: [u8; 32],
    national_id: [u8; 32],
    key_check: [u8; 32],
    csrf: [u8; 32],
    codes: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Derives every purpose key from the 32-byte master key.
    pub fn from_master(master: &[u8; 32]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"portti"), master);
        let derive = |purpose: &[u8]| {
            let mut key = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so this cannot fail.
            let _ = hkdf.expand(purpose, &mut key);
            key
        };
        Self {
            encryption: derive(b"encryption at rest v1"),
            national_id: derive(b"national id hmac v1"),
            key_check: derive(b"key check v1"),
            csrf: derive(b"csrf v1"),
            codes: derive(b"verification codes v1"),
        }
    }

    /// Loads the master key from where the settings say, generating it on the
    /// very first start when no key was configured.
    pub fn load(source: &MasterKeySource) -> Result<Self> {
        let master = match source {
            MasterKeySource::Inline(text) => decode_master(text, "master_key")?,
            MasterKeySource::File { path, generate } => {
                if !path.exists() && *generate {
                    generate_key_file(path)?;
                }
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("cannot read the master key file {}: {e}", path.display())))?;
                decode_master(&text, &path.display().to_string())?
            }
        };
        Ok(Self::from_master(&master))
    }

    /// Encrypts `plaintext`, bound to `context` (say, `"totp:<user id>"`) so a
    /// sealed value cannot be moved to another row.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String> {
        let cipher = XChaCha20Poly1305::new((&self.encryption).into());
        let nonce_bytes = random_bytes::<24>();
        let nonce = XNonce::from_slice(&nonce_bytes);
        let ciphertext = cipher
            .encrypt(nonce, Payload { msg: plaintext, aad: context.as_bytes() })
            .map_err(|_| Error::internal("encryption failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts what [`Keys::seal`] produced for the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>> {
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|bytes| bytes.len() > 24)
            .ok_or_else(|| Error::internal("sealed value is malformed"))?;
        let (nonce, ciphertext) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.encryption).into());
        cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| Error::internal("sealed value does not open with this master key"))
    }

    /// The keyed hash under which a personal identity code is stored.
    pub fn national_id_digest(&self, canonical_national_id: &str) -> Result<String> {
        hmac_hex(&self.national_id, canonical_national_id.as_bytes())
    }

    /// The keyed hash under which a short code (a 6-digit SMS code) is stored:
    /// unlike a plain hash, it cannot be reversed by trying every code.
    pub fn code_digest(&self, context: &str, code: &str) -> Result<String> {
        hmac_hex(&self.codes, format!("{context}\n{code}").as_bytes())
    }

    /// The anti-forgery token of every form shown to one browser: a keyed hash
    /// of that browser's cookie, which a forged cross-site form cannot know.
    pub fn csrf_token(&self, browser_id: &str) -> Result<String> {
        hmac_hex(&self.csrf, browser_id.as_bytes())
    }

    /// Whether `token` is the anti-forgery token of this browser (constant time).
    pub fn csrf_token_matches(&self, browser_id: &str, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.csrf_token(browser_id).is_ok_and(|expected| expected.as_bytes().ct_eq(token.as_bytes()).into())
    }

    /// A value that identifies the master key without revealing it; stored in
    /// the database so an instance started with the wrong key refuses to run.
    pub fn key_check(&self) -> Result<String> {
        hmac_hex(&self.key_check, b"portti master key check")
    }
}

fn hmac_hex(key: &[u8; 32], message: &[u8]) -> Result<String> {
    let mut mac = <Hmac<Sha256> as HmacKeyInit>::new_from_slice(key).map_err(Error::internal)?;
    mac.update(message);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

fn decode_master(text: &str, origin: &str) -> Result<[u8; 32]> {
    let bytes =
        STANDARD.decode(text.trim()).map_err(|_| Error::Config(format!("the master key in {origin} is not base64")))?;
    bytes.try_into().map_err(|_| Error::Config(format!("the master key in {origin} must be 32 bytes")))
}

/// Writes a new key beside its final name, then links it into place: a crash
/// never leaves a half-written key, and when two processes start at once the
/// second keeps the first one's key.
fn generate_key_file(path: &Path) -> Result<()> {
    use std::io::Write;
    let fail = |e: std::io::Error| Error::Config(format!("cannot create the master key file {}: {e}", path.display()));
    let partial = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&partial).and_then(|mut file| {
        file.write_all(format!("{}\n", STANDARD.encode(random_bytes::<32>())).as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&partial, path));
    let _ = std::fs::remove_file(&partial);
    match linked {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "generated a new master key; back it up, and give every instance the same one (master_key)"
            );
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_master(&[7u8; 32])
    }

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let keys = keys();
        let sealed = keys.seal("totp:user-1", b"secret").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(keys.open("totp:user-1", &sealed).unwrap(), b"secret");
        assert!(keys.open("totp:user-2", &sealed).is_err());
        assert!(Keys::from_master(&[8u8; 32]).open("totp:user-1", &sealed).is_err());
    }

    #[test]
    fn tampered_values_do_not_open() {
        let keys = keys();
        let sealed = keys.seal("c", b"secret").unwrap();
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(keys.open("c", &String::from_utf8(tampered).unwrap()).is_err());
        assert!(keys.open("c", "v1.").is_err());
        assert!(keys.open("c", "garbage").is_err());
    }

    #[test]
    fn keyed_hashes_depend_on_the_master_key() {
        let a = keys().national_id_digest("131052-308T").unwrap();
        assert_eq!(a, keys().national_id_digest("131052-308T").unwrap());
        assert_ne!(a, Keys::from_master(&[8u8; 32]).national_id_digest("131052-308T").unwrap());
        assert_ne!(keys().key_check().unwrap(), Keys::from_master(&[8u8; 32]).key_check().unwrap());
    }

    #[test]
    fn csrf_tokens_belong_to_one_browser() {
        let keys = keys();
        let token = keys.csrf_token("browser-a").unwrap();
        assert!(keys.csrf_token_matches("browser-a", &token));
        assert!(!keys.csrf_token_matches("browser-b", &token));
        assert!(!keys.csrf_token_matches("browser-a", ""));
    }

    #[test]
    fn generated_key_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portti.key");
        let source = MasterKeySource::File { path: path.clone(), generate: true };
        let first = Keys::load(&source).unwrap().key_check().unwrap();
        assert!(path.exists());
        assert_eq!(Keys::load(&source).unwrap().key_check().unwrap(), first);
    }

    #[test]
    fn bad_master_keys_are_config_errors() {
        assert!(matches!(Keys::load(&MasterKeySource::Inline("not base64!".into())), Err(Error::Config(_))));
        assert!(matches!(Keys::load(&MasterKeySource::Inline(STANDARD.encode([1u8; 16]))), Err(Error::Config(_))));
        let missing = MasterKeySource::File { path: "/nonexistent/portti.key".into(), generate: false };
        assert!(matches!(Keys::load(&missing), Err(Error::Config(_))));
    }
}
