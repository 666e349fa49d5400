//! The rules of Portti: no actix, no diesel. Functions take what they need —
//! a store handle, the current time, the keys — and nothing global.

pub mod access;
pub mod client;
pub mod company;
pub mod contact;
pub mod ids;
pub mod national_id;
pub mod password_policy;
pub mod user;
