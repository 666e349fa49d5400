//! The rules of Portti: no actix, no diesel. Functions take what they need —
//! a store handle, the current time, the keys — and nothing global.

pub mod access;
pub mod access_token;
pub mod account;
pub mod activation;
pub mod admin;
pub mod app_version;
pub mod audit;
pub mod authorization;
pub mod browser_origins;
pub mod claims;
pub mod client;
pub mod client_address;
pub mod client_authentication;
pub mod client_cache;
pub mod company;
pub mod contact;
pub mod device_authorization;
pub mod devices;
pub mod discovery;
pub mod first_run;
pub mod grants;
pub mod ids;
pub mod logout;
pub mod national_id;
pub mod notices;
pub mod passkeys;
pub mod password_policy;
pub mod password_reset;
pub mod qr;
pub mod recovery_codes;
pub mod redirect;
pub mod refusal;
pub mod session;
pub mod signin;
pub mod signing_keys;
pub mod throttle;
pub mod token_status;
pub mod upstream;
pub mod upstream_keys;
pub mod user;
pub mod user_agent;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// `.ok()` turns every error into "absent": on a store call a database
    /// outage then reads as "no such token" (Vaultwarden's issue #7133; our
    /// `/revoke` once answered 200 and revoked nothing, and the password
    /// pages lost the way back to the application). In the domain, the
    /// store and the web layer it may only end the parsing of untrusted
    /// input (`parse(`, a header's `to_str()`) or a task-local's `try_with`.
    #[test]
    fn errors_are_never_swallowed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        for dir in ["domain", "store", "web"] {
            let mut pending = vec![root.join(dir)];
            while let Some(dir) = pending.pop() {
                for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        pending.push(path);
                        continue;
                    }
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (number, line) in text.lines().enumerate() {
                        let parsing = ["parse(", "to_str()", "try_with("].iter().any(|ok| line.contains(ok));
                        if line.contains(concat!(".ok", "()")) && !parsing && !line.trim_start().starts_with("//") {
                            offenders.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "match the absent case instead: {offenders:?}");
    }
}
