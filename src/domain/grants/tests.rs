use super::*;

fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn each_grant_parses_into_its_own_variant() {
    let code = TokenRequest::parse(&form(&[
        ("grant_type", "authorization_code"),
        ("code", "c"),
        ("redirect_uri", "https://a/cb"),
    ]))
    .unwrap();
    assert!(matches!(code, TokenRequest::AuthorizationCode(AuthorizationCodeRequest { code_verifier: None, .. })));
    let missing = TokenRequest::parse(&form(&[("grant_type", "authorization_code"), ("redirect_uri", "x")]));
    assert!(matches!(missing, Err(Error::InvalidRequest(m)) if m.contains("code")));
    assert!(matches!(TokenRequest::parse(&form(&[("grant_type", "refresh_token")])), Err(Error::InvalidRequest(_))));
    assert!(matches!(TokenRequest::parse(&form(&[("grant_type", "password")])), Err(Error::UnsupportedGrantType)));
    assert!(matches!(TokenRequest::parse(&form(&[])), Err(Error::InvalidRequest(_))));
}

#[test]
fn at_hash_follows_the_algorithm() {
    // OpenID Connect Core example: at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNZdwSdQhDWnVa2Xq3Wc"... computed here.
    let token = "dNZX1hEZ9wBCzNL40Upu646bdzQA";
    let sha256 = Sha256::digest(token.as_bytes());
    assert_eq!(at_hash(SigningAlg::RS256, token), URL_SAFE_NO_PAD.encode(&sha256[..16]));
    assert_eq!(at_hash(SigningAlg::EdDSA, token).len(), 43, "half of SHA-512 is 32 bytes");
}
