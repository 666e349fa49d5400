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
    ];
    for (grant, mut pairs) in requests {
        pairs.push(("grant_type", grant.as_str()));
        let parsed = match parse(&pairs).unwrap() {
            TokenRequest::AuthorizationCode(_) => AuthorizationCodeRequest::TYPE,
            TokenRequest::RefreshToken(_) => RefreshRequest::TYPE,
            TokenRequest::ClientCredentials(_) => ClientCredentialsRequest::TYPE,
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
    for grant in ["password", "implicit", "AUTHORIZATION_CODE", "urn:ietf:params:oauth:grant-type:device_code", " "] {
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
fn at_hash_follows_the_algorithm() {
    // OpenID Connect Core example: at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNZdwSdQhDWnVa2Xq3Wc"... computed here.
    let token = "dNZX1hEZ9wBCzNL40Upu646bdzQA";
    let sha256 = Sha256::digest(token.as_bytes());
    assert_eq!(at_hash(SigningAlg::RS256, token), URL_SAFE_NO_PAD.encode(&sha256[..16]));
    assert_eq!(at_hash(SigningAlg::EdDSA, token).len(), 43, "half of SHA-512 is 32 bytes");
}
