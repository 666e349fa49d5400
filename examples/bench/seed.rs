//! The people the sign-in cases sign in: written straight into the database
//! through Portti's store, each with a password, an authenticator and the
//! terms accepted, so a sign-in is email, password and code.

use portti::config::{Config, Settings};
use portti::crypto::{Keys, password, totp};
use portti::domain::contact::Email;
use portti::domain::ids::UserId;
use portti::domain::signin::seal_authenticator;
use portti::domain::user::{CommunicationContacts, User};
use portti::store::Store;

use crate::Fail;

pub const PASSWORD: &str = "kuusi kärpästä keittiön katossa";

/// A seeded person: their sign-in email and authenticator secret.
pub struct Person {
    pub email: String,
    totp_secret: Vec<u8>,
}

impl Person {
    /// The authenticator code of this moment.
    pub fn code_now(&self) -> Result<String, Fail> {
        Ok(totp::code_at(&self.totp_secret, now())?)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Creates `count` people in the database of `config` (a Portti config file's
/// text). They share one password hash, made with the production parameters,
/// so seeding takes one hash and every sign-in verifies a real one.
pub fn people(config: &str, count: usize) -> Result<Vec<Person>, Fail> {
    let settings = Settings::from_config(Config::from_toml(config)?)?;
    let keys = Keys::load(&settings.master_key)?;
    let store = Store::connect(&settings.database_url, 1)?;
    let password_hash = password::hash_password(PASSWORD)?;
    let now = now();
    let batch = std::process::id();
    store
        .write(|tx| {
            (0..count)
                .map(|i| {
                    let email = Email::parse(&format!("person{i}.{batch}@bench.example"))?;
                    let user = User {
                        id: UserId::generate(),
                        email: email.clone(),
                        name: format!("Person {i}"),
                        phone: None,
                        communication: CommunicationContacts {
                            email,
                            email_verified: true,
                            phone: None,
                            phone_verified: false,
                        },
                        support: false,
                        has_password: true,
                        has_national_id: false,
                        created_at: now,
                    };
                    tx.insert_user(&user, Some(&password_hash), None)?;
                    let totp_secret = totp::generate_secret();
                    tx.set_totp(&user.id, &seal_authenticator(&keys, &user.id, &totp_secret)?, 0, now)?;
                    tx.accept_terms(&user.id, &settings.terms.version, now)?;
                    Ok(Person { email: user.email.as_str().to_owned(), totp_secret })
                })
                .collect()
        })
        .map_err(Into::into)
}
