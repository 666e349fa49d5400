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

/// A parameter's value: absent, empty, plausible, or anything.
fn parameter() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(String::new())),
        "[a-z_ :/.0-9-]{1,30}".prop_map(Some),
        any::<String>().prop_map(Some),
        Just(Some("https://rp.example/callback".to_owned())),
        Just(Some("openid email".to_owned())),
        Just(Some("code".to_owned())),
        Just(Some("S256".to_owned())),
        Just(Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned())),
    ]
}

/// A parameter that is mostly `usual`, sometimes anything.
fn mostly(usual: &'static str) -> impl Strategy<Value = Option<String>> {
    prop_oneof![3 => Just(Some(usual.to_owned())), 1 => parameter()]
}

fn authorization_params() -> impl Strategy<Value = portti::domain::authorization::AuthorizationParams> {
    let usual = (
        mostly("https://rp.example/callback"),
        mostly("code"),
        mostly("openid email"),
        mostly("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        mostly("S256"),
    );
    let rarely = prop_oneof![3 => Just(None), 1 => parameter()];
    (usual, prop::collection::vec(rarely, 11)).prop_map(|(usual, mut v)| {
        let (redirect_uri, response_type, scope, code_challenge, code_challenge_method) = usual;
        let mut next = || v.pop().flatten();
        portti::domain::authorization::AuthorizationParams {
            client_id: Some("ledger".to_owned()),
            redirect_uri,
            response_type,
            response_mode: next(),
            scope,
            state: next(),
            nonce: next(),
            code_challenge,
            code_challenge_method,
            prompt: next(),
            max_age: next(),
            login_hint: next(),
            ui_locales: next(),
            request: next(),
            request_uri: next(),
            id_token_hint: next(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_authorization_request_is_accepted_only_when_sound(params in authorization_params(), public in any::<bool>()) {
        use portti::domain::client::{Client, ClientId, GrantType, SigningAlg};
        let client = Client {
            id: ClientId::parse("ledger").unwrap(),
            secret_digest: (!public).then(|| "digest".to_owned()),
            redirect_uris: vec!["https://rp.example/callback".to_owned()],
            post_logout_redirect_uris: Vec::new(),
            grants: vec![GrantType::AuthorizationCode],
            first_party: false,
            alg: SigningAlg::RS256,
            name: None,
            created_at: 0,
        };
        let decided = portti::domain::authorization::validate(&params, Some(&client));
        if let Ok(request) = decided {
            prop_assert_eq!(request.redirect_uri.as_str(), "https://rp.example/callback");
            prop_assert_eq!(params.response_type.as_deref(), Some("code"));
            prop_assert!(request.scopes.iter().any(|s| s == "openid"), "{:?}", request.scopes);
            if public {
                prop_assert!(request.code_challenge.is_some(), "a public client must use PKCE");
            }
        }
    }

    #[test]
    fn a_token_request_of_any_parameters_parses_or_is_refused(
        parameters in prop::collection::hash_map(
            prop_oneof![
                Just("grant_type".to_owned()), Just("code".to_owned()), Just("redirect_uri".to_owned()),
                Just("refresh_token".to_owned()), Just("assertion".to_owned()), Just("device_code".to_owned()),
                Just("code_verifier".to_owned()), Just("scope".to_owned()), "[a-z_]{1,12}",
            ],
            prop_oneof![
                Just("authorization_code".to_owned()), Just("refresh_token".to_owned()),
                Just("client_credentials".to_owned()), Just("urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned()),
                Just("urn:ietf:params:oauth:grant-type:device_code".to_owned()), any::<String>(),
            ],
            0..6,
        )
    ) {
        let _ = portti::domain::grants::TokenRequest::parse(&parameters);
    }
}

/// A claim's value in a device's assertion: the right one, or anything.
fn claim(right: Value) -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(right),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::from(i64::MIN)),
        1 => Just(Value::from(i64::MAX)),
        1 => any::<String>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => Just(json!(["pin", "fpt"])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The app's device-key assertions (and the QR approvals, which share
    /// their checks): any claims a device key signed are verified by the
    /// rules, or refused, never a panic on an odd time.
    #[test]
    fn device_assertions_of_any_claims_are_verified_by_the_rules_or_refused(
        iss in claim(json!("DEVICE")), sub in claim(json!("USER")), aud in claim(json!(ENDPOINT)),
        iat in claim(json!(NOW)), exp in claim(json!(NOW + 120)), jti in claim(json!("a-jti-of-sixteen-chars")),
        amr in claim(json!(["pin"])), garbage in token(),
    ) {
        use portti::domain::grants::jwt_bearer::verify_assertion;
        let (phone, device) = test_device();
        let fill = |v: Value| match v.as_str() {
            Some("DEVICE") => Value::from(device.id.as_str()),
            Some("USER") => Value::from(device.user_id.as_str()),
            _ => v,
        };
        let claims = json!({
            "iss": fill(iss), "sub": fill(sub), "aud": aud, "iat": iat, "exp": exp, "jti": jti, "amr": amr,
        });
        let assertion = phone.sign(&device.id, &claims);
        if verify_assertion(&assertion, device, ENDPOINT, NOW).is_ok() {
            prop_assert_eq!(&claims["iss"], &Value::from(device.id.as_str()));
            prop_assert_eq!(&claims["sub"], &Value::from(device.user_id.as_str()));
            let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
            prop_assert!((NOW - 60..=NOW + 60).contains(&iat) && exp > NOW && exp <= iat + 300);
        }
        prop_assert!(verify_assertion(&garbage, device, ENDPOINT, NOW).is_err());
    }
}

const NOW: i64 = 1_800_000_000;
const ENDPOINT: &str = "https://id.example/token";

/// A phone's device key and its registered device, made once.
fn test_device() -> &'static (crate::devices::Phone, portti::store::StoredDevice) {
    static DEVICE: std::sync::OnceLock<(crate::devices::Phone, portti::store::StoredDevice)> =
        std::sync::OnceLock::new();
    DEVICE.get_or_init(|| {
        let phone = crate::devices::Phone::new();
        let jwk = phone.jwk();
        let device = portti::store::StoredDevice {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: uuid::Uuid::new_v4().to_string(),
            key_x: jwk["x"].as_str().unwrap().to_owned(),
            key_y: jwk["y"].as_str().unwrap().to_owned(),
            name: "phone".to_owned(),
            platform: "ios".to_owned(),
            created_at: 0,
            last_used_at: None,
        };
        (phone, device)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A browser's `Accept-Language` header and `lang` cookie, as the pages
    /// read them: any value chooses one of the three languages, and a plain
    /// preference for one of them is honoured.
    #[test]
    fn any_accept_language_and_lang_cookie_choose_a_page_language(
        header in prop_oneof!["[ -~]{0,60}", "((fi|sv|en|de|\\*)(-[A-Z]{2})?(;q=[0-9.a-z]{0,5})?, ?){0,4}"],
        cookie in "[!#-+\\--:<-\\[\\]-~]{0,20}",
        ui_locales in prop::option::of("[ -~]{0,20}"),
    ) {
        let value = actix_web::http::header::HeaderValue::from_str(&header);
        prop_assume!(value.is_ok());
        let req = actix_web::test::TestRequest::default()
            .insert_header(("Accept-Language", header.as_str()))
            .cookie(actix_web::cookie::Cookie::new("lang", cookie.clone()))
            .to_http_request();
        let lang = portti::web::page::lang_of(&req, ui_locales.as_deref());
        prop_assert!(["en", "fi", "sv"].contains(&lang.code()));
        let plain = actix_web::test::TestRequest::default().insert_header(("Accept-Language", "sv")).to_http_request();
        prop_assert_eq!(portti::web::page::lang_of(&plain, None).code(), "sv");
    }
}

/// A store with one person signed in, and the cookie of that session.
fn signed_in_store() -> &'static (crate::support::TestDb, portti::AppState, String) {
    static STORE: std::sync::OnceLock<(crate::support::TestDb, portti::AppState, String)> = std::sync::OnceLock::new();
    STORE.get_or_init(|| {
        let db = crate::support::TestDb::sqlite();
        let state = db.open("");
        let user = crate::support::fixtures::person(&state, "maija@example.com");
        let now = state.clock.now();
        let settings = state.settings.session.clone();
        let (_, cookie) = state
            .store
            .write(|tx| portti::domain::session::start(tx, &settings, now, &user, now, &["pwd".to_owned()], None))
            .unwrap();
        (db, state, cookie)
    })
}

/// The cookie of a real session with one character changed, cut short or
/// lengthened: near misses, as a forger would try them.
fn near_miss(real: String) -> impl Strategy<Value = String> {
    let length = real.len();
    prop_oneof![
        (0..length, any::<char>()).prop_map({
            let real = real.clone();
            move |(at, c)| real.chars().enumerate().map(|(i, x)| if i == at { c } else { x }).collect()
        }),
        (0..length).prop_map({
            let real = real.clone();
            move |keep| real[..keep].to_owned()
        }),
        "[A-Za-z0-9_-]{1,200}".prop_map(move |tail| format!("{real}{tail}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A session cookie of any value names the live session it was given
    /// for, or none: a near miss of a real cookie, garbage, or a value far
    /// too long is no session, never an error.
    #[test]
    fn a_session_cookie_of_any_value_is_its_session_or_none(
        cookie in prop_oneof![input(), near_miss(signed_in_store().2.clone()), "[ -~]{100,300}"],
    ) {
        let (_, state, real) = signed_in_store();
        let now = state.clock.now();
        let found = portti::domain::session::current(&state.store, &state.settings.session, now, Some(&cookie));
        prop_assert!(found.is_ok(), "{found:?}");
        prop_assert_eq!(found.unwrap().is_some(), &cookie == real);
        let real_one = portti::domain::session::current(&state.store, &state.settings.session, now, Some(real));
        prop_assert!(real_one.unwrap().is_some(), "the real cookie still names its session");
    }

    /// A `Cookie` header of any bytes a header may hold is read without a
    /// panic by the pages, whatever cookies it seems to hold.
    #[test]
    fn a_cookie_header_of_any_shape_is_read_without_panicking(
        header in prop_oneof!["[ -~]{0,200}", "((lang|__Host-portti_browser|portti_session)=[!#-+\\--:<-\\[\\]-~]{0,30}; ?){0,5}"],
    ) {
        let value = actix_web::http::header::HeaderValue::from_str(&header);
        prop_assume!(value.is_ok());
        let req = actix_web::test::TestRequest::default().insert_header(("Cookie", header.as_str())).to_http_request();
        let lang = portti::web::page::lang_of(&req, None);
        prop_assert!(["en", "fi", "sv"].contains(&lang.code()));
    }
}
