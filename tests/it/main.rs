//! Portti's integration tests: one binary, each test with its own database,
//! driving Portti as its users do (HTTP, the command line, SMTP, an SMS gateway).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod account;
mod activation;
mod admin_api;
mod admin_pages;
mod audit;
mod backup;
mod browser;
mod browser_phone;
mod cli;
mod client_address;
mod cors;
mod device_grant;
mod devices;
mod faults;
mod first_run;
mod foreign_user;
mod http;
mod invitations;
mod limits;
mod migrations;
mod newcomer;
mod oidc;
mod outbox;
mod passkeys;
mod password_reset;
mod properties;
mod protocol;
mod qr;
mod schemathesis;
mod signin;
mod store;
mod strong_identification;
mod tokens;
mod upgrade;
