//! Cryptography: the master key and what it derives, random secrets and their
//! digests, and password hashing. Only well-kept crates do the real work.

pub mod jose;
pub mod keys;
pub mod password;
pub mod secret;
pub mod signing;
pub mod totp;

pub use keys::Keys;

/// Makes *ring* the process-wide TLS provider of rustls (SMTP over TLS, the
/// SMS gateway, upstream providers). Without this, a build that links both of
/// rustls' providers (as the test build does) cannot pick one. Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
