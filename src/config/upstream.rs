//! `[[upstream]]`: the upstream OpenID providers (bank ID brokers under
//! Traficom's FTN profile, Hightrust.id), exactly as DESIGN.md's "Upstream
//! identity providers" shows them, validated when the settings are.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use super::sources::secret;
use crate::error::{Error, Result};

/// The longest upstream id: it is a path segment of the callback.
pub const MAX_ID_LENGTH: usize = 32;

/// How Portti authenticates to an upstream's token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamAuth {
    /// HTTP Basic with `client_secret`.
    #[default]
    ClientSecretBasic,
    /// An RS256 client assertion by Portti's upstream signing key (FTN).
    PrivateKeyJwt,
}

/// An upstream's endpoints, for a broker without discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamEndpoints {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// An upstream OpenID provider (a bank ID broker, Hightrust.id).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `[a-z0-9-]`; the callback is `{issuer}/upstream/{id}/callback`.
    pub id: String,
    /// The sign-in page's button says "Sign in with {name}".
    pub name: String,
    /// `https`, or `http` only for a loopback host (tests).
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub auth: UpstreamAuth,
    pub client_secret: Option<String>,
    /// A file holding `client_secret`, instead of `client_secret`; read
    /// into it when the settings are validated.
    pub client_secret_file: Option<PathBuf>,
    /// Send the authorization request as a signed JWT (`request=`, RS256).
    #[serde(default)]
    pub request_object: bool,
    /// Expect JWE ID tokens (RSA-OAEP or RSA-OAEP-256; A128CBC-HS256 or A256GCM).
    #[serde(default)]
    pub encrypted_id_token: bool,
    #[serde(default = "yes")]
    pub pkce: bool,
    #[serde(default = "default_upstream_scopes")]
    pub scopes: Vec<String>,
    /// Space-separated, sent as `acr_values`.
    pub acr_values: Option<String>,
    /// The `acr` values accepted in the ID token; default: those asked.
    pub accepted_acr: Option<Vec<String>>,
    /// The ID token claim that holds the Finnish personal identity code.
    pub link_claim: String,
    /// Sent with the request (inside the request object when it is signed).
    #[serde(default)]
    pub extra_params: BTreeMap<String, String>,
    /// For a broker without discovery: all three, or none.
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
}

impl UpstreamConfig {
    /// The `acr` values an ID token may carry: `accepted_acr`, else those asked.
    pub fn accepted_acr(&self) -> Vec<String> {
        match &self.accepted_acr {
            Some(accepted) => accepted.clone(),
            None => self.acr_values.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
        }
    }

    /// The endpoints given in the file, for a broker without discovery.
    pub fn endpoints(&self) -> Option<UpstreamEndpoints> {
        match (&self.authorization_endpoint, &self.token_endpoint, &self.jwks_uri) {
            (Some(authorization), Some(token), Some(jwks)) => Some(UpstreamEndpoints {
                authorization_endpoint: authorization.clone(),
                token_endpoint: token.clone(),
                jwks_uri: jwks.clone(),
            }),
            _ => None,
        }
    }
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

fn yes() -> bool {
    true
}

fn default_upstream_scopes() -> Vec<String> {
    vec!["openid".to_owned()]
}

/// Validates the upstreams: every key as DESIGN.md describes it, each id
/// once. A provider that is unreachable is no error here (its discovery is
/// fetched, and retried, when Portti runs).
pub fn validate(mut upstreams: Vec<UpstreamConfig>) -> Result<Vec<UpstreamConfig>> {
    let mut seen = std::collections::HashSet::new();
    for upstream in &mut upstreams {
        let id = upstream.id.clone();
        let wrong = |what: String| Error::Config(format!("upstream `{id}`: {what}"));
        let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if id.is_empty() || id.len() > MAX_ID_LENGTH || !id.chars().all(plain) {
            return Err(wrong(format!("id must be 1-{MAX_ID_LENGTH} of a-z, 0-9 and -")));
        }
        if !seen.insert(id.clone()) {
            return Err(wrong("id is used twice".to_owned()));
        }
        if upstream.name.trim().is_empty() {
            return Err(wrong("name must be set".to_owned()));
        }
        if upstream.client_id.trim().is_empty() {
            return Err(wrong("client_id must be set".to_owned()));
        }
        if upstream.link_claim.trim().is_empty() {
            return Err(wrong("link_claim must be set".to_owned()));
        }
        upstream.client_secret =
            secret("client_secret", upstream.client_secret.take(), upstream.client_secret_file.take().as_deref())
                .map_err(|e| wrong(e.to_string()))?;
        match (upstream.auth, &upstream.client_secret) {
            (UpstreamAuth::ClientSecretBasic, None) => {
                return Err(wrong("auth = \"client_secret_basic\" needs client_secret (or client_secret_file)".into()));
            }
            (UpstreamAuth::PrivateKeyJwt, Some(_)) => {
                return Err(wrong("auth = \"private_key_jwt\" takes no client_secret".into()));
            }
            _ => {}
        }
        if !upstream.scopes.iter().any(|scope| scope == "openid") {
            return Err(wrong("scopes must include openid".to_owned()));
        }
        check_url(&upstream.issuer).map_err(|why| wrong(format!("issuer {why}")))?;
        let given = [&upstream.authorization_endpoint, &upstream.token_endpoint, &upstream.jwks_uri];
        if given.iter().any(|e| e.is_some()) && upstream.endpoints().is_none() {
            return Err(wrong("set all of authorization_endpoint, token_endpoint and jwks_uri, or none".into()));
        }
        for (name, url) in [
            ("authorization_endpoint", &upstream.authorization_endpoint),
            ("token_endpoint", &upstream.token_endpoint),
            ("jwks_uri", &upstream.jwks_uri),
        ] {
            if let Some(url) = url {
                check_url(url).map_err(|why| wrong(format!("{name} {why}")))?;
            }
        }
        if upstream.accepted_acr().iter().any(String::is_empty) {
            return Err(wrong("accepted_acr must not hold an empty value".to_owned()));
        }
        if let Some(reserved) = upstream.extra_params.keys().find(|k| RESERVED_PARAMS.contains(&k.as_str())) {
            return Err(wrong(format!("extra_params cannot set {reserved}: Portti sets it")));
        }
    }
    Ok(upstreams)
}

/// The authorization request's parameters Portti sets itself, which
/// `extra_params` may not replace.
const RESERVED_PARAMS: [&str; 17] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "acr_values",
    "ui_locales",
    "request",
    "request_uri",
    "iss",
    "aud",
    "iat",
    "exp",
    "jti",
];

/// An upstream's URL: `https`, or `http` only to a loopback host. Checked
/// for the settings' addresses and for those discovery finds.
pub fn check_url(url: &str) -> std::result::Result<(), String> {
    let parsed = Url::parse(url).map_err(|e| format!("is not a URL: {e}"))?;
    match (parsed.scheme(), parsed.host_str()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some("127.0.0.1" | "[::1]" | "localhost")) => Ok(()),
        _ => Err("must use https (http only to 127.0.0.1, [::1] or localhost)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<Vec<UpstreamConfig>> {
        #[derive(Deserialize)]
        struct File {
            upstream: Vec<UpstreamConfig>,
        }
        let file: File = toml::from_str(toml).map_err(|e| Error::Config(e.to_string()))?;
        validate(file.upstream)
    }

    const FTN: &str = r#"
        [[upstream]]
        id = "bank"
        name = "Finnish bank ID"
        issuer = "https://idp.example"
        client_id = "portti"
        auth = "private_key_jwt"
        request_object = true
        encrypted_id_token = true
        scopes = ["openid", "personal_identity_code"]
        acr_values = "http://ftn.ficora.fi/2017/loa2"
        accepted_acr = ["http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"]
        link_claim = "personal_identity_code"
        extra_params = { ftn_spname = "Ledger" }
    "#;

    #[test]
    fn the_design_examples_parse_with_their_defaults() {
        let ftn = parse(FTN).unwrap().remove(0);
        assert_eq!(ftn.auth, UpstreamAuth::PrivateKeyJwt);
        assert!(ftn.request_object && ftn.encrypted_id_token && ftn.pkce);
        assert_eq!(ftn.accepted_acr().len(), 2);
        assert_eq!(ftn.extra_params.get("ftn_spname").map(String::as_str), Some("Ledger"));
        assert_eq!(ftn.endpoints(), None, "discovery");
        let plain = parse(
            r#"
            [[upstream]]
            id = "hightrust"
            name = "Hightrust.id"
            issuer = "http://127.0.0.1:9000"
            client_id = "portti"
            client_secret = "s3cret"
            acr_values = "substantial high"
            link_claim = "hetu"
            authorization_endpoint = "http://127.0.0.1:9000/authorize"
            token_endpoint = "http://127.0.0.1:9000/token"
            jwks_uri = "http://127.0.0.1:9000/jwks"
            "#,
        )
        .unwrap()
        .remove(0);
        assert_eq!(plain.auth, UpstreamAuth::ClientSecretBasic);
        assert!(!plain.request_object && !plain.encrypted_id_token && plain.pkce);
        assert_eq!(plain.scopes, ["openid"]);
        assert_eq!(plain.accepted_acr(), ["substantial", "high"], "default: the acr values asked");
        assert_eq!(plain.endpoints().unwrap().token_endpoint, "http://127.0.0.1:9000/token");
    }

    #[test]
    fn each_rule_names_the_upstream_and_what_to_fix() {
        let refused = |from: &str, to: &str| {
            let toml = FTN.replace(from, to);
            let error = parse(&toml).unwrap_err().to_string();
            assert!(error.contains("upstream `"), "{error}");
            error
        };
        assert!(refused("id = \"bank\"", "id = \"Bank_1\"").contains("a-z"));
        assert!(refused("issuer = \"https://idp.example\"", "issuer = \"http://idp.example\"").contains("https"));
        assert!(
            refused("auth = \"private_key_jwt\"", "client_secret = \"x\"\n auth = \"private_key_jwt\"")
                .contains("no client_secret")
        );
        assert!(
            refused("auth = \"private_key_jwt\"", "auth = \"client_secret_basic\"").contains("needs client_secret")
        );
        assert!(refused("scopes = [\"openid\", ", "scopes = [").contains("openid"));
        assert!(refused("link_claim = \"personal_identity_code\"", "link_claim = \" \"").contains("link_claim"));
        assert!(refused("request_object = true", "token_endpoint = \"https://idp.example/token\"").contains("all of"));
        let unknown = parse(&FTN.replace("request_object", "request_objects")).unwrap_err().to_string();
        assert!(unknown.contains("request_objects"), "an unknown key is named: {unknown}");
        assert!(refused("ftn_spname = \"Ledger\"", "state = \"fixed\"").contains("cannot set state"));
        let twice = parse(&format!("{FTN}{FTN}")).unwrap_err().to_string();
        assert!(twice.contains("used twice"), "{twice}");
    }
}
