//! The rules of Portti: no actix, no diesel. Functions take what they need —
//! a store handle, the current time, the keys — and nothing global.

pub mod access;
pub mod access_token;
pub mod account;
pub mod authorization;
pub mod claims;
pub mod client;
pub mod client_authentication;
pub mod client_cache;
pub mod company;
pub mod contact;
pub mod discovery;
pub mod grants;
pub mod ids;
pub mod logout;
pub mod national_id;
pub mod password_policy;
pub mod password_reset;
pub mod recovery_codes;
pub mod redirect;
pub mod session;
pub mod signin;
pub mod signing_keys;
pub mod throttle;
pub mod token_status;
pub mod user;
