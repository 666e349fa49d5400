//! Property tests over the parsers of outside input (issue 14, item 5):
//! whatever a person, a browser or an upstream sends, a parser answers with a
//! value or a clean refusal, never a panic; and what it accepts, it accepts
//! again as it stored it.

use portti::crypto::jose::{self, KeyUse, RsaKey};
use portti::domain::admin::invitations::SignUpCode;
use portti::domain::contact::{Email, PhoneNumber};
use portti::domain::device_authorization::UserCode;
use portti::domain::national_id::NationalId;
use portti::i18n::Lang;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Strings as people and programs send them: any Unicode, and the
/// characters parsers look at most, often.
fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9+ .()\\-A-Za-z@_]{0,40}",
        "[0-9]{6}[-+A-FU-Y][0-9]{3}[0-9A-Y]",
        "[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9.-]{1,20}\\.[a-z]{2,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn identity_codes_parse_or_are_refused_and_a_parsed_code_parses_again(typed in input()) {
        if let Ok(code) = NationalId::parse(&typed) {
            prop_assert_eq!(code.canonical().len(), 11);
            prop_assert_eq!(NationalId::parse(code.canonical()).unwrap(), code);
        }
    }

    #[test]
    fn every_valid_identity_code_is_accepted(day in 1u32..=28, month in 1u32..=12, year in 0u32..100,
                                             century in prop::sample::select(vec!['+', '-', 'A', 'Y', 'B']),
                                             individual in 2u32..1000) {
        const CHECK: &[u8] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
        let number = (day * 10_000 + month * 100 + year) * 1000 + individual;
        let check = char::from(CHECK[(number % 31) as usize]);
        let code = format!("{day:02}{month:02}{year:02}{century}{individual:03}{check}");
        prop_assert!(NationalId::parse(&code).is_ok(), "{}", code);
        prop_assert!(NationalId::parse(&code.to_lowercase()).is_ok(), "case does not matter");
    }

    #[test]
    fn emails_parse_or_are_refused_and_stay_as_stored(typed in input()) {
        if let Ok(email) = Email::parse(&typed) {
            prop_assert!(email.as_str().len() <= 254);
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
        }
    }

    #[test]
    fn phone_numbers_parse_into_international_form_or_are_refused(typed in input()) {
        if let Ok(phone) = PhoneNumber::parse(&typed) {
            let digits = phone.as_str().strip_prefix('+').expect("E.164 starts with +");
            prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()), "{}", phone.as_str());
            prop_assert_eq!(PhoneNumber::parse(phone.as_str()).unwrap(), phone);
        }
    }

    #[test]
    fn user_and_sign_up_codes_parse_or_are_refused(typed in input()) {
        if let Some(code) = UserCode::parse(&typed) {
            prop_assert_eq!(code.as_str().len(), 8);
            prop_assert_eq!(UserCode::parse(code.as_str()), Some(code));
        }
        if let Ok(code) = SignUpCode::parse(&typed) {
            let again = SignUpCode::parse(&code.for_display()).unwrap();
            prop_assert_eq!(again.as_str(), code.as_str());
        }
    }

    #[test]
    fn any_language_header_or_cookie_chooses_a_language(ui in input(), cookie in input(), header in input()) {
        let lang = Lang::negotiate(Some(&ui), Some(&cookie), header.split(','));
        prop_assert!(["en", "fi", "sv"].contains(&lang.code()));
    }
}

/// Tokens an upstream (or anyone) might send: random text, and text of the
/// JWS and JWE shapes with random parts, some of them base64url JSON.
fn token() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[A-Za-z0-9_-]{0,60}",
        any::<String>(),
        prop::collection::hash_map("[a-z]{1,5}", "[A-Za-z0-9 -]{0,12}", 0..4).prop_map(|map| {
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, serde_json::to_vec(&map).unwrap())
        }),
        Just(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"RSA-OAEP","enc":"A128CBC-HS256","kid":"x"}"#
        )),
        Just(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"RS256","kid":"k"}"#
        )),
    ];
    prop_oneof![
        any::<String>(),
        prop::collection::vec(part.clone(), 3).prop_map(|parts| parts.join(".")),
        prop::collection::vec(part, 5).prop_map(|parts| parts.join(".")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn upstream_tokens_of_any_shape_are_refused_cleanly(token in token()) {
        let keys = test_keys();
        let (enc, sig) = (&keys.0, &keys.1);
        prop_assert!(jose::decrypt(&token, &[enc]).is_err());
        let jwks = json!({ "keys": [sig.public_jwk(), enc.public_jwk()] });
        prop_assert!(jose::verify(&token, &jwks).is_err());
    }

    #[test]
    fn id_token_claims_of_any_value_are_checked_without_panicking(
        values in prop::collection::vec(prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
            Just(json!(["portti-rp", 1])),
        ], 9)
    ) {
        let names = ["iss", "aud", "azp", "exp", "iat", "nonce", "acr", "sub", "auth_time"];
        let claims: Map<String, Value> = names.iter().map(|n| (n.to_string(), Value::Null)).zip(values).map(|((n, _), v)| (n, v)).collect();
        let config: portti::config::UpstreamConfig = toml::from_str(
            "id = \"bank\"\nname = \"Bank\"\nissuer = \"https://b.example\"\nclient_id = \"portti-rp\"\nauth = \"private_key_jwt\"\nlink_claim = \"hetu\"\n"
        ).unwrap();
        let expected = portti::upstream::Expected { issuer: "https://b.example", nonce_digest: "digest" };
        prop_assert!(portti::upstream::id_token::check(&claims, &config, expected, 1_800_000_000).is_err());
    }
}

/// One encryption and one signing key for the token properties, made once.
fn test_keys() -> &'static (RsaKey, RsaKey) {
    static KEYS: std::sync::OnceLock<(RsaKey, RsaKey)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let enc = RsaKey::from_der(KeyUse::Enc, &jose::generate_rsa_key().unwrap()).unwrap();
        let sig = RsaKey::from_der(KeyUse::Sig, &jose::generate_rsa_key().unwrap()).unwrap();
        (enc, sig)
    })
}
