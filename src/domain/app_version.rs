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

#[cfg(test)]
mod tests {
    use super::*;

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
