//! The app version gate: the app API serves no app older than
//! `app.min_version` (the seed's first advice when app sign-in fails is to
//! update the app).

use semver::Version;

use super::refusal::Refusal;

/// The header every app request carries: `Portti-App-Version: 2.4.0`.
pub const HEADER: &str = "Portti-App-Version";

/// Whether an app that sent `sent` (the header's value, if any) may use the
/// API. With no minimum configured, any app may; with one, an app that does
/// not say its version, or says one that is not semver, is treated as older.
pub fn check(min: Option<&Version>, sent: Option<&str>) -> Result<(), Refusal> {
    let Some(min) = min else { return Ok(()) };
    match sent.map(|v| Version::parse(v.trim())) {
        Some(Ok(version)) if version >= *min => Ok(()),
        _ => Err(Refusal::AppUpdateRequired),
    }
}

/// The gate at `/token`: a request of the app's client (`app_client_id`)
/// from an app below `min` is `invalid_request` whose description starts
/// `app_update_required: ` and says to update the app (DESIGN.md, "App
/// API"); any other client's request passes.
pub fn check_token_request(
    app_client_id: Option<&str>,
    min: Option<&Version>,
    client_id: Option<&str>,
    sent: Option<&str>,
) -> crate::error::Result<()> {
    if app_client_id.is_none() || app_client_id != client_id {
        return Ok(());
    }
    check(min, sent).map_err(|refusal| {
        let sentence = crate::i18n::Texts::english().refusal(&refusal);
        crate::error::Error::InvalidRequest(format!("{}: {sentence}", refusal.code()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_endpoint_gates_the_apps_client_only() {
        let min = Version::new(2, 0, 0);
        assert!(check_token_request(Some("app"), Some(&min), Some("app"), Some("2.0.0")).is_ok());
        assert!(check_token_request(Some("app"), Some(&min), Some("ledger"), None).is_ok(), "another client");
        assert!(check_token_request(None, Some(&min), Some("app"), None).is_ok(), "no app configured");
        match check_token_request(Some("app"), Some(&min), Some("app"), Some("1.9.9")) {
            Err(crate::error::Error::InvalidRequest(why)) => {
                assert!(why.starts_with("app_update_required: Th"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_app_below_the_minimum_or_without_a_version_must_update() {
        let min = Version::new(2, 4, 0);
        assert_eq!(check(Some(&min), Some("2.4.0")), Ok(()));
        assert_eq!(check(Some(&min), Some(" 3.0.1 ")), Ok(()));
        for old in [Some("2.3.9"), Some("2.4.0-beta.1"), Some("two"), Some(""), None] {
            assert_eq!(check(Some(&min), old), Err(Refusal::AppUpdateRequired), "{old:?}");
        }
        assert_eq!(check(None, None), Ok(()), "no minimum: any app");
    }
}
