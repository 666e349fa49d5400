//! The people the sign-in cases sign in: written straight into the database
//! through Portti's store, each with a password, an authenticator and the
//! terms accepted, so a sign-in is email, password and code; and their
//! phones, each a registered device key.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portti::config::{Config, Settings};
use portti::crypto::{Keys, password, totp};
use portti::domain::access::{CompanyRole, Membership};
use portti::domain::admin::invitations::{SignUpCode, contacts_now, sent_invitation, sign_up_code_digest};
use portti::domain::audit::Origin;
use portti::domain::company::insert_company;
use portti::domain::contact::{Email, PhoneNumber};
use portti::domain::ids::UserId;
use portti::domain::passkeys::{self, NewPasskey};
use portti::domain::signin::seal_authenticator;
use portti::domain::user::{CommunicationContacts, User};
use portti::store::Store;
use portti::store::StoredDevice;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, PublicKeyCredential, RequestChallengeResponse};

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
                    let email = format!("person{i}.{batch}@bench.example");
                    let user = User { has_password: true, ..new_user(&email, &format!("Person {i}"), None)? };
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

/// A person as an administrator would add them: a verified email, and the
/// phone (if any) their SMS codes go to.
fn new_user(email: &str, name: &str, phone: Option<PhoneNumber>) -> portti::error::Result<User> {
    let email = Email::parse(email)?;
    Ok(User {
        id: UserId::generate(),
        email: email.clone(),
        name: name.to_owned(),
        phone: phone.clone(),
        communication: CommunicationContacts { email, email_verified: true, phone, phone_verified: false },
        support: false,
        has_password: false,
        has_national_id: false,
        created_at: now(),
    })
}

/// The company that invites the invitees.
pub const COMPANY: &str = "Bench Oy";

/// A seeded invitee: a foreign user of the bench's company, invited to
/// activate the app, with the sign-up code of their invitation email and
/// the phone their SMS code goes to. They have no password yet.
pub struct Invitee {
    pub sign_up_code: String,
    /// The phone as the SMS's recipient reads, `+358…`.
    pub phone: String,
}

/// Creates a company, one administrator and `count` invitees in the database
/// of `config`, each with a live invitation as `invitations::invite` writes
/// it (`sent_invitation`), but with a sign-up code the benchmark knows (the
/// invitation email itself is not sent).
pub fn invitees(config: &str, count: usize) -> Result<Vec<Invitee>, Fail> {
    let settings = Settings::from_config(Config::from_toml(config)?)?;
    let keys = Keys::load(&settings.master_key)?;
    let store = Store::connect(&settings.database_url, 1)?;
    let (now, batch) = (now(), std::process::id());
    store
        .write(|tx| {
            let company = insert_company(tx, now, COMPANY, None)?;
            let member = Membership { company_id: company.id.clone(), roles: vec![], rights: vec![] };
            let admin = new_user(&format!("admin.{batch}@bench.example"), "Bench Admin", None)?;
            tx.insert_user(&admin, None, None)?;
            let admin_role = Membership { roles: vec![CompanyRole::UserAdmin], ..member.clone() };
            tx.insert_membership(&admin.id, &admin_role, now)?;
            (0..count)
                .map(|i| {
                    let phone = PhoneNumber::parse(&format!("+35840{i:07}"))?;
                    let email = format!("invitee{i}.{batch}@bench.example");
                    let user = new_user(&email, &format!("Invitee {i}"), Some(phone.clone()))?;
                    tx.insert_user(&user, None, None)?;
                    tx.insert_membership(&user.id, &member, now)?;
                    let code = SignUpCode::generate();
                    let digest = sign_up_code_digest(&keys, &code)?;
                    tx.insert_invitation(&sent_invitation(
                        &user.id,
                        company.id.as_str(),
                        Some(&admin.id),
                        contacts_now(&user),
                        digest,
                        now,
                    ))?;
                    Ok(Invitee { sign_up_code: code.for_display(), phone: phone.as_str().to_owned() })
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

/// What the seeded browsers' passkey ceremonies are bound to.
const PASSKEY_BROWSER: &str = "bench-browser";

/// A person's passkey: a software authenticator of their own, registered
/// through Portti's own ceremony (`passkeys::start_registration` and
/// `register`), as the account page's `Add a passkey` does.
pub struct SeededPasskey {
    pub user_id: UserId,
    authenticator: SoftPasskey,
    credential_id: Vec<u8>,
}

impl SeededPasskey {
    /// The authenticator's answer to a discoverable sign-in's options from `origin`.
    pub fn answer(&mut self, options: RequestChallengeResponse, origin: &Url) -> Result<PublicKeyCredential, Fail> {
        let mut request = options;
        // SoftPasskey keeps no resident keys: it is told which credential a
        // resident-key authenticator would find itself, and answers the handle
        // such an authenticator returns.
        request.public_key.allow_credentials =
            vec![AllowCredentials { type_: "public-key".into(), id: self.credential_id.clone(), transports: None }];
        let mut answer = self
            .authenticator
            .do_authentication(origin.clone(), request)
            .map_err(|e| format!("the authenticator's answer: {e:?}"))?;
        answer.response.user_handle = Some(uuid::Uuid::parse_str(self.user_id.as_str())?.as_bytes().to_vec());
        Ok(answer)
    }
}

/// Registers a passkey for each of `people` on the issuer of `config`.
pub fn passkeys(config: &str, people: &[Person]) -> Result<Vec<SeededPasskey>, Fail> {
    let settings = Settings::from_config(Config::from_toml(config)?)?;
    let webauthn = passkeys::relying_party(&settings.issuer)?.ok_or("passkeys need an issuer with a domain name")?;
    let origin = Url::parse(&settings.issuer)?;
    let store = Store::connect(&settings.database_url, 1)?;
    people
        .iter()
        .map(|person| {
            let started = passkeys::start_registration(&store, &webauthn, now(), PASSKEY_BROWSER, &person.id)?;
            let mut creation = started.options;
            if let Some(selection) = creation.public_key.authenticator_selection.as_mut() {
                selection.require_resident_key = false;
            }
            let mut authenticator = SoftPasskey::new(true);
            let made = authenticator
                .do_registration(origin.clone(), creation)
                .map_err(|e| format!("the authenticator's registration: {e:?}"))?;
            let credential = serde_json::to_string(&made)?;
            let new = NewPasskey { ceremony_id: &started.ceremony_id, name: "Bench laptop", credential: &credential };
            store
                .write(|tx| {
                    passkeys::register(tx, &webauthn, now(), &Origin::default(), PASSKEY_BROWSER, &person.id, new)
                })?
                .map_err(|refusal| format!("registering a passkey: {refusal:?}"))?;
            Ok(SeededPasskey { user_id: person.id.clone(), authenticator, credential_id: made.raw_id.clone() })
        })
        .collect()
}
