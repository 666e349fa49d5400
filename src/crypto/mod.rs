//! Cryptography: the master key and what it derives, random secrets and their
//! digests, and password hashing. Only well-kept crates do the real work.

pub mod keys;
pub mod password;
pub mod secret;
pub mod signing;
pub mod totp;

pub use keys::Keys;
