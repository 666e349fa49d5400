//! The people the sign-in cases sign in: written straight into the database
//! through Portti's store, each with a password, an authenticator and the
//! terms accepted, so a sign-in is email, password and code; and their
//! phones, each a registered device key.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portti::config::{Config, Settings};
use portti::crypto::{Keys, password, totp};
use portti::domain::contact::Email;
use portti::domain::ids::UserId;
use portti::domain::signin::seal_authenticator;
use portti::domain::user::{CommunicationContacts, User};
use portti::store::Store;
use portti::store::StoredDevice;

use crate::Fail;

pub const PASSWORD: &str = "kuusi kärpästä keittiön katossa";

/// A seeded person: their id, sign-in email and authenticator secret.
pub struct Person {
    pub id: UserId,
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
                    Ok(Person { id: user.id, email: user.email.as_str().to_owned(), totp_secret })
                })
                .collect()
        })
        .map_err(Into::into)
}

/// A seeded phone: a person's registered device and its key.
pub struct Phone {
    pub device_id: String,
    pub user_id: UserId,
    pub key: EcdsaKeyPair,
}

impl Phone {
    /// A JWS ES256 by the device key over `claims`, `kid` the device id.
    pub fn jws(&self, claims: &serde_json::Value) -> Result<String, Fail> {
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.device_id});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.key.sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }
}

/// Registers a device with a new P-256 key for each of `people`, straight
/// in the database, as `POST /api/app/v1/devices` would.
pub fn phones(config: &str, people: &[Person]) -> Result<Vec<Phone>, Fail> {
    let settings = Settings::from_config(Config::from_toml(config)?)?;
    let store = Store::connect(&settings.database_url, 1)?;
    let phones = people
        .iter()
        .map(|person| {
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
            Ok(Phone { device_id: uuid::Uuid::new_v4().to_string(), user_id: person.id.clone(), key })
        })
        .collect::<Result<Vec<_>, Fail>>()?;
    store.write(|tx| {
        for phone in &phones {
            let point = phone.key.public_key().as_ref();
            tx.insert_device(&StoredDevice {
                id: phone.device_id.clone(),
                user_id: phone.user_id.as_str().to_owned(),
                key_x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                key_y: URL_SAFE_NO_PAD.encode(&point[33..]),
                name: "Bench phone".to_owned(),
                platform: "ios".to_owned(),
                created_at: now(),
                last_used_at: None,
            })?;
        }
        Ok(())
    })?;
    Ok(phones)
}
