use super::*;

fn parse(pairs: &[(&str, &str)]) -> Result<TokenRequest> {
    TokenRequest::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn refused_because(pairs: &[(&str, &str)]) -> String {
    match parse(pairs) {
        Err(Error::InvalidRequest(why)) => why,
        other => panic!("{pairs:?}: expected invalid_request, got {other:?}"),
    }
}

fn scopes(names: &str) -> Vec<String> {
    names.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn each_grant_parses_into_its_own_variant() {
    let code = parse(&[("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "https://a/cb")]);
    assert_eq!(
        code.unwrap(),
        TokenRequest::AuthorizationCode(AuthorizationCodeRequest {
            code: "c".into(),
            redirect_uri: "https://a/cb".into(),
            code_verifier: None,
        })
    );
    let code =
        parse(&[("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "r"), ("code_verifier", "v")]);
    assert!(matches!(code, Ok(TokenRequest::AuthorizationCode(r)) if r.code_verifier.as_deref() == Some("v")));
    assert_eq!(
        parse(&[("grant_type", "refresh_token"), ("refresh_token", "t"), ("scope", "openid")]).unwrap(),
        TokenRequest::RefreshToken(RefreshRequest { refresh_token: "t".into(), scope: Some("openid".into()) })
    );
    assert_eq!(
        parse(&[("grant_type", "client_credentials")]).unwrap(),
        TokenRequest::ClientCredentials(ClientCredentialsRequest { scope: None })
    );
}

/// The serde names of the variants are the names clients are registered
/// with, which [`exchange`] checks and the metrics count.
#[test]
fn the_variants_are_named_as_the_grant_types() {
    let requests = [
        (GrantType::AuthorizationCode, vec![("code", "c"), ("redirect_uri", "r")]),
        (GrantType::RefreshToken, vec![("refresh_token", "t")]),
        (GrantType::ClientCredentials, vec![]),
        (GrantType::JwtBearer, vec![("assertion", "a")]),
        (GrantType::DeviceCode, vec![("device_code", "d")]),
    ];
    for (grant, mut pairs) in requests {
        pairs.push(("grant_type", grant.as_str()));
        let parsed = match parse(&pairs).unwrap() {
            TokenRequest::AuthorizationCode(_) => AuthorizationCodeRequest::TYPE,
            TokenRequest::RefreshToken(_) => RefreshRequest::TYPE,
            TokenRequest::ClientCredentials(_) => ClientCredentialsRequest::TYPE,
            TokenRequest::JwtBearer(_) => super::jwt_bearer::JwtBearerRequest::TYPE,
            TokenRequest::DeviceCode(_) => super::device_code::DeviceCodeRequest::TYPE,
        };
        assert_eq!(parsed, grant);
    }
}

#[test]
fn a_missing_parameter_is_an_invalid_request_naming_it() {
    assert_eq!(refused_because(&[("grant_type", "authorization_code"), ("redirect_uri", "r")]), "code is required");
    assert_eq!(refused_because(&[("grant_type", "authorization_code"), ("code", "c")]), "redirect_uri is required");
    assert_eq!(refused_because(&[("grant_type", "authorization_code")]), "code is required", "the first one missing");
    assert_eq!(refused_because(&[("grant_type", "refresh_token")]), "refresh_token is required");
    assert_eq!(refused_because(&[("grant_type", "refresh_token"), ("scope", "openid")]), "refresh_token is required");
}

#[test]
fn a_parameter_without_a_value_counts_as_omitted() {
    assert_eq!(
        refused_because(&[("grant_type", "authorization_code"), ("code", ""), ("redirect_uri", "r")]),
        "code is required"
    );
    assert_eq!(refused_because(&[("grant_type", "refresh_token"), ("refresh_token", "")]), "refresh_token is required");
    assert_eq!(refused_because(&[("grant_type", "")]), "grant_type is required");
    let empty_verifier =
        parse(&[("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "r"), ("code_verifier", "")]);
    assert!(matches!(empty_verifier, Ok(TokenRequest::AuthorizationCode(r)) if r.code_verifier.is_none()));
    assert_eq!(
        parse(&[("grant_type", "client_credentials"), ("scope", "")]).unwrap(),
        TokenRequest::ClientCredentials(ClientCredentialsRequest { scope: None })
    );
}

#[test]
fn without_grant_type_the_request_is_invalid() {
    assert_eq!(refused_because(&[]), "grant_type is required");
    assert_eq!(refused_because(&[("code", "c"), ("redirect_uri", "r")]), "grant_type is required");
    assert_eq!(refused_because(&[("client_id", "ledger"), ("client_secret", "s")]), "grant_type is required");
}

#[test]
fn an_unknown_grant_type_is_unsupported() {
    for grant in ["password", "implicit", "AUTHORIZATION_CODE", "urn:ietf:params:oauth:grant-type:saml2-bearer", " "] {
        assert!(matches!(parse(&[("grant_type", grant), ("code", "c")]), Err(Error::UnsupportedGrantType)), "{grant}");
    }
    assert!(
        matches!(parse(&[("grant_type", "password")]), Err(Error::UnsupportedGrantType)),
        "before its parameters are looked at"
    );
}

#[test]
fn other_parameters_are_ignored() {
    let request = parse(&[
        ("grant_type", "authorization_code"),
        ("code", "c"),
        ("redirect_uri", "r"),
        ("client_id", "ledger"),
        ("client_secret", "s"),
        ("resource", "https://api.example"),
        ("refresh_token", "belongs to another grant"),
    ]);
    assert!(matches!(request, Ok(TokenRequest::AuthorizationCode(r)) if r.code == "c"));
    let request = parse(&[("grant_type", "client_credentials"), ("client_id", "service"), ("audience", "x")]);
    assert_eq!(request.unwrap(), TokenRequest::ClientCredentials(ClientCredentialsRequest { scope: None }));
}

#[test]
fn a_sign_in_grant_gets_an_id_token_and_offline_access_a_refresh_token() {
    let may_refresh = [GrantType::AuthorizationCode, GrantType::RefreshToken];
    assert_eq!(TokenSet::of(&scopes("openid email"), &may_refresh), TokenSet { id_token: true, refresh_token: false });
    assert_eq!(
        TokenSet::of(&scopes("openid email offline_access"), &may_refresh),
        TokenSet { id_token: true, refresh_token: true }
    );
}

#[test]
fn a_refresh_token_needs_a_client_that_may_refresh() {
    assert_eq!(
        TokenSet::of(&scopes("openid offline_access"), &[GrantType::AuthorizationCode]),
        TokenSet { id_token: true, refresh_token: false }
    );
}

#[test]
fn a_grant_without_openid_gets_no_id_token() {
    assert_eq!(
        TokenSet::of(&scopes("offline_access"), &[GrantType::RefreshToken]),
        TokenSet { id_token: false, refresh_token: true }
    );
}

#[test]
fn each_token_expires_after_its_own_lifetime() {
    let lifetimes = TokensConfig {
        access_token_seconds: 300,
        id_token_seconds: 900,
        refresh_token_seconds: 86_400,
        ..TokensConfig::default()
    };
    let now = 1_800_000_000;
    assert_eq!(Expiry::at(now, &lifetimes), Expiry { access_token: now + 300, id_token: now + 900, expires_in: 300 });
    let defaults = Expiry::at(now, &TokensConfig::default());
    assert_eq!((defaults.access_token, defaults.id_token, defaults.expires_in), (now + 600, now + 600, 600));
}

#[test]
fn at_hash_follows_the_algorithm() {
    // Computed apart (Python's hashlib): the left half of SHA-256, base64url.
    let token = "jHkWEdUXMU1BwAsC4vtUsZwnNZdwSdQhDWnVa2Xq3Wc";
    assert_eq!(at_hash(SigningAlg::RS256, token), "18vTXe-j091rfaUHc3pv2A");
    assert_eq!(at_hash(SigningAlg::ES256, token), "18vTXe-j091rfaUHc3pv2A", "ES256 hashes with SHA-256 too");
    assert_eq!(
        at_hash(SigningAlg::EdDSA, token),
        "FfI6nNu-Jma7hG1IW0tbXt4-LEK2BqXvmd_QEYYF5eQ",
        "Ed25519: the left half of SHA-512, 32 bytes"
    );
}
