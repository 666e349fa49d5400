//! Where the configuration comes from: the TOML file, the `PORTTI_*`
//! environment, and files holding secrets.

use std::path::Path;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};

use super::Config;
use crate::error::{Error, Result};

/// A configuration as loaded, and the environment variables it ignored.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// `PORTTI_*` variables that name no setting, sorted.
    pub ignored_variables: Vec<String>,
}

impl Loaded {
    /// Logs a warning naming each ignored variable (never its value). Called
    /// once the logger is set up, which needs the loaded configuration first.
    pub fn warn_about_ignored_variables(&self) {
        for variable in &self.ignored_variables {
            tracing::warn!(%variable, "ignored an environment variable that names no setting");
        }
    }
}

/// One `PORTTI_*` environment variable, as a figment provider of its own so
/// that an error names the variable.
struct EnvVariable {
    name: String,
    /// The setting it names: `PORTTI_MAIL__SMTP_URL` is `mail.smtp_url`.
    key: String,
    value: String,
}

impl EnvVariable {
    /// The variable, if it is one of Portti's.
    fn portti(name: String, value: String) -> Option<Self> {
        let prefix = name.get(..7)?;
        let rest = name.get(7..)?.trim();
        // PORTTI_TEST_* belong to the test suite, not to a running server.
        if !prefix.eq_ignore_ascii_case("PORTTI_") || rest.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("test_")) {
            return None;
        }
        let key = rest.to_ascii_lowercase().replace("__", ".");
        if key.split('.').any(str::is_empty) {
            return None;
        }
        Some(Self { name, key, value })
    }
}

impl Provider for EnvVariable {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> std::result::Result<Map<Profile, Dict>, figment::Error> {
        // Parsed as figment's own Env provider does: `8`, `true`, `[..]` are values, the rest text.
        let value: figment::value::Value = self.value.parse().unwrap_or_else(|never| match never {});
        let dict = figment::util::nest(&self.key, value).into_dict().unwrap_or_default();
        Ok(Profile::Default.collect(dict))
    }
}

/// The settings that an unknown-key error names, as `mail.smtp_urlx` (the
/// error's path ends with the unknown key).
fn unknown_keys(error: &figment::Error) -> Vec<String> {
    error
        .clone()
        .into_iter()
        .filter(|e| matches!(e.kind, figment::error::Kind::UnknownField(..)))
        .map(|e| e.path.join("."))
        .collect()
}

impl Config {
    /// Reads the optional TOML file, then the `PORTTI_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Loaded> {
        let environment =
            std::env::vars_os().map(|(name, value)| (name.to_string_lossy().into(), value.to_string_lossy().into()));
        Self::load_with_environment(file, environment)
    }

    /// [`Config::load`] with the environment given as (name, value) pairs,
    /// so that tests need not change the process's own.
    pub fn load_with_environment(
        file: Option<&Path>,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.is_file() {
                return Err(Error::Config(format!("config file {} does not exist", file.display())));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        Self::extract(figment, environment)
    }

    /// Extracts the configuration from `file` (a figment of the file, or
    /// empty) with the environment merged over it. A variable that names no
    /// setting is left out and reported; an unknown key of the file stays an
    /// error, even when a variable names the same key.
    fn extract(file: Figment, environment: impl IntoIterator<Item = (String, String)>) -> Result<Loaded> {
        let mut variables: Vec<EnvVariable> =
            environment.into_iter().filter_map(|(name, value)| EnvVariable::portti(name, value)).collect();
        let mut ignored_variables = Vec::new();
        loop {
            let figment = variables.iter().fold(file.clone(), |figment, variable| figment.merge(variable));
            let error = match figment.extract::<Config>() {
                Ok(config) => {
                    ignored_variables.sort();
                    return Ok(Loaded { config, ignored_variables });
                }
                Err(error) => error,
            };
            // serde stops at the first unknown key: leave its variable out and try again.
            let unknown = unknown_keys(&error);
            let (unknown_variables, known): (Vec<EnvVariable>, Vec<EnvVariable>) =
                variables.into_iter().partition(|variable| unknown.contains(&variable.key));
            if unknown_variables.is_empty() {
                return Err(Error::Config(error.to_string()));
            }
            ignored_variables.extend(unknown_variables.into_iter().map(|variable| variable.name));
            variables = known;
        }
    }

    /// Parses configuration from TOML text alone (no environment); for tests and tools.
    pub fn from_toml(text: &str) -> Result<Self> {
        Figment::new().merge(Toml::string(text)).extract().map_err(|e| Error::Config(e.to_string()))
    }
}

/// A secret set inline as `key` or in a file as `{key}_file`, not both. The
/// file's trailing newline is not part of the secret. Errors name the keys
/// and the path, never the content.
pub(super) fn secret(
    key: &str,
    inline: Option<String>,
    file: Option<&Path>,
) -> std::result::Result<Option<String>, String> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(format!("set {key} or {key}_file, not both")),
        (Some(inline), None) => Ok(Some(inline)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{key}_file {}: {e}", path.display()))?;
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                return Err(format!("{key}_file {} is empty", path.display()));
            }
            Ok(Some(text.to_owned()))
        }
        (None, None) => Ok(None),
    }
}
