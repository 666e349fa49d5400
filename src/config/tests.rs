//! The configuration's rules, with the environment passed in.

use std::path::Path;

use super::*;

#[test]
fn defaults_are_those_of_the_design() {
    let settings = Settings::from_config(Config::default()).unwrap();
    assert_eq!(settings.issuer, "http://localhost:8080");
    assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
    assert!(matches!(settings.database_url, DatabaseUrl::Sqlite(ref p) if p == Path::new("portti.db")));
    assert!(matches!(settings.mail.transport, MailTransportSettings::Files(ref p) if p == Path::new("outbox/mail")));
    assert!(matches!(settings.sms, SmsSettings::Files(ref p) if p == Path::new("outbox/sms")));
    assert!(
        matches!(settings.master_key, MasterKeySource::File { ref path, generate: true } if path == Path::new("./portti.key"))
    );
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let err = Config::from_toml("isuer = \"http://x\"").unwrap_err().to_string();
    assert!(err.contains("isuer"), "{err}");
    let err = Config::from_toml("[mail]\nsmtp = \"smtp://x\"").unwrap_err().to_string();
    assert!(err.contains("smtp"), "{err}");
}

#[test]
fn nested_keys_and_lists_parse() {
    let config = Config::from_toml(
        r#"
        issuer = "https://login.example.com"
        [mail]
        smtp_url = "smtp://127.0.0.1:2525"
        [[upstream]]
        id = "bank"
        name = "Bank ID"
        issuer = "https://bank.example"
        client_id = "portti"
        client_secret = "upstream-secret"
        link_claim = "hetu"
        [[clients]]
        id = "ledger"
        secret = "0123456789abcdef0123456789abcdef"
        redirect_uris = ["https://ledger.example/callback"]
        "#,
    )
    .unwrap();
    let settings = Settings::from_config(config).unwrap();
    assert!(matches!(settings.mail.transport, MailTransportSettings::Smtp(_)));
    assert_eq!(settings.upstreams[0].scopes, vec!["openid"]);
    assert_eq!(settings.clients[0].id.as_str(), "ledger");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let client_secret_file = dir.path().join("client-secret");
    std::fs::write(&client_secret_file, "file-client-secret-file-client-secret\n").unwrap();
    let upstream_secret_file = dir.path().join("upstream-secret");
    std::fs::write(&upstream_secret_file, "file-upstream-password\n").unwrap();
    let config = Config::from_toml(&format!(
        r#"
        master_key = "c2VjcmV0LWtleS1ieXRlcy1zZWNyZXQta2V5LWJ5dGVzIQ=="
        database_url = "postgres://portti:db-password@db/portti"
        metrics_token = "metrics-token-metrics-token-metrics-token"
        [mail]
        smtp_url = "smtps://portti:mail-password@smtp.example.com"
        [sms]
        webhook_url = "https://sms.example/hook/path-token?key=query-token"
        [[clients]]
        id = "ledger"
        secret = "client-secret-client-secret-client-secret"
        redirect_uris = ["https://ledger.example/cb"]
        [[clients]]
        id = "payroll"
        secret_file = {client_secret_file:?}
        redirect_uris = ["https://payroll.example/cb"]
        [[upstream]]
        id = "bank"
        name = "Bank"
        issuer = "https://bank.example"
        client_id = "portti"
        client_secret = "upstream-password"
        link_claim = "hetu"
        [[upstream]]
        id = "hightrust"
        name = "Hightrust.id"
        issuer = "https://hightrust.example"
        client_id = "portti"
        client_secret_file = {upstream_secret_file:?}
        link_claim = "hetu"
        "#
    ))
    .unwrap();
    let settings = Settings::from_config(config.clone()).unwrap();
    let shown = format!(
        "{config:?} {:?} {:?} {:?} {:?} {settings:?}",
        config.mail, config.sms, config.clients, config.upstream
    );
    for secret in [
        "c2VjcmV0",
        "db-password",
        "mail-password",
        "path-token",
        "query-token",
        "client-secret",
        "upstream-password",
        "metrics-token",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("sms.example"), "the gateway's host is shown: {shown}");
}

/// Loads `toml` as the config file, with `environment` as the process's.
fn load(toml: &str, environment: &[(&str, &str)]) -> Result<Loaded> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portti.toml");
    std::fs::write(&file, toml).unwrap();
    let environment = environment.iter().map(|(name, value)| (name.to_string(), value.to_string()));
    Config::load_with_environment(Some(&file), environment)
}

#[test]
fn variables_a_platform_sets_are_warnings_and_known_ones_still_apply() {
    // What Kubernetes sets for a Service named `portti`.
    let loaded = load(
        "",
        &[
            ("PORTTI_PORT", "tcp://10.0.0.1:8080"),
            ("PORTTI_PORT_8080_TCP", "tcp://10.0.0.1:8080"),
            ("PORTTI_SERVICE_HOST", "10.0.0.1"),
            ("PORTTI_SERVICE_PORT", "8080"),
            ("PORTTI_ISSUER", "https://login.example.com"),
            ("PORTTI_SESSION__IDLE_SECONDS", "600"),
            ("PORTTI_TEST_POSTGRES_URL", "postgres://the-test-suite"),
            ("HOME", "/root"),
        ],
    )
    .unwrap();
    assert_eq!(
        loaded.ignored_variables,
        ["PORTTI_PORT", "PORTTI_PORT_8080_TCP", "PORTTI_SERVICE_HOST", "PORTTI_SERVICE_PORT"],
        "named, sorted; the test suite's own and other programs' variables are not Portti's business"
    );
    assert_eq!(loaded.config.issuer, "https://login.example.com");
    assert_eq!(loaded.config.session.idle_seconds, 600);
    Settings::from_config(loaded.config).unwrap();
}

#[test]
fn an_unknown_nested_variable_is_a_warning() {
    let loaded = load(
        "[mail]\nfrom = \"Portti <portti@example.com>\"\n",
        &[("PORTTI_MAIL__SMTP_URLX", "smtp://relay:25"), ("PORTTI_KEYS__REFRESH_SECONDS", "30")],
    )
    .unwrap();
    assert_eq!(loaded.ignored_variables, ["PORTTI_MAIL__SMTP_URLX"]);
    assert_eq!(loaded.config.mail.from, "Portti <portti@example.com>", "the file still applies");
    assert!(loaded.config.mail.smtp_url.is_none());
    assert_eq!(loaded.config.keys.refresh_seconds, 30);
}

#[test]
fn an_unknown_key_in_the_file_stays_an_error_naming_it() {
    let err = load("isuer = \"https://login.example.com\"\n", &[("PORTTI_PORT", "tcp://10.0.0.1:8080")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("isuer"), "{err}");
    let err = load("[mail]\nsmtp = \"smtp://relay:25\"\n", &[]).unwrap_err().to_string();
    assert!(err.contains("smtp") && err.contains("portti.toml"), "{err}");
    // A variable of the same name does not excuse the file.
    let err = load("port = 8080\n", &[("PORTTI_PORT", "tcp://10.0.0.1:8080")]).unwrap_err().to_string();
    assert!(err.contains("port"), "{err}");
}

#[test]
fn a_known_variable_with_a_bad_value_is_an_error_naming_it() {
    let err = load("", &[("PORTTI_DATABASE_POOL_SIZE", "many")]).unwrap_err().to_string();
    assert!(err.contains("PORTTI_DATABASE_POOL_SIZE"), "{err}");
}

#[test]
fn every_secret_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let smtp = write("smtp-url", "smtps://portti:mail-password@smtp.example.com\n");
    let webhook = write("webhook-url", "https://sms.example/hook?key=token\r\n");
    let client = write("client-secret", "0123456789abcdef0123456789abcdef\n");
    let upstream = write("upstream-secret", "upstream-password");
    let database = write("database-url", "postgres://portti:db-password@db.internal/portti\n");
    let metrics = write("metrics-token", "metrics-token-metrics-token-metrics-token\n");
    let loaded = load(
        &format!(
            r#"
            [[clients]]
            id = "ledger"
            secret_file = {client:?}
            redirect_uris = ["https://ledger.example/cb"]
            [[upstream]]
            id = "bank"
            name = "Bank"
            issuer = "https://bank.example"
            client_id = "portti"
            client_secret_file = {upstream:?}
            link_claim = "hetu"
            "#
        ),
        &[
            ("PORTTI_MAIL__SMTP_URL_FILE", smtp.to_str().unwrap()),
            ("PORTTI_SMS__WEBHOOK_URL_FILE", webhook.to_str().unwrap()),
            ("PORTTI_DATABASE_URL_FILE", database.to_str().unwrap()),
            ("PORTTI_METRICS_TOKEN_FILE", metrics.to_str().unwrap()),
        ],
    )
    .unwrap();
    assert!(loaded.ignored_variables.is_empty(), "{:?}", loaded.ignored_variables);
    let settings = Settings::from_config(loaded.config).unwrap();
    assert!(
        matches!(&settings.mail.transport, MailTransportSettings::Smtp(url) if url == "smtps://portti:mail-password@smtp.example.com"),
        "the trailing newline is not part of the secret"
    );
    assert!(matches!(&settings.sms, SmsSettings::Webhook(url) if url.as_str() == "https://sms.example/hook?key=token"));
    assert!(matches!(
        &settings.clients[0].kind,
        ClientKind::Confidential { secret: Some(secret) } if secret == "0123456789abcdef0123456789abcdef"
    ));
    assert_eq!(settings.upstreams[0].client_secret.as_deref(), Some("upstream-password"));
    assert_eq!(
        settings.database_url,
        crate::store::DatabaseUrl::parse("postgres://portti:db-password@db.internal/portti").unwrap()
    );
    let both = format!("database_url = \"postgres://a@b/c\"\ndatabase_url_file = {database:?}");
    let error = Settings::from_config(Config::from_toml(&both).unwrap()).unwrap_err().to_string();
    assert!(error.contains("database_url") && error.contains("database_url_file"), "{error}");
    assert!(!error.contains("db-password"), "{error}");
    let digest = settings.metrics.token_digest.as_deref().unwrap();
    assert!(crate::crypto::secret::matches_digest("metrics-token-metrics-token-metrics-token", digest));
}

/// A config with `key` and `{key}_file` set where they belong, for each secret.
fn with_secret(key: &str, inline: Option<&str>, file: Option<&Path>) -> String {
    let mut settings = String::new();
    if let Some(inline) = inline {
        settings += &format!("{key} = {inline:?}\n");
    }
    if let Some(file) = file {
        settings += &format!("{key}_file = {:?}\n", file.display().to_string());
    }
    match key {
        "smtp_url" => format!("[mail]\n{settings}"),
        "webhook_url" => format!("[sms]\n{settings}"),
        "metrics_token" => settings,
        "secret" => {
            format!("[[clients]]\nid = \"ledger\"\nredirect_uris = [\"https://ledger.example/cb\"]\n{settings}")
        }
        _ => format!(
            "[[upstream]]\nid = \"bank\"\nname = \"Bank\"\nissuer = \"https://bank.example\"\n\
             client_id = \"portti\"\nlink_claim = \"hetu\"\n{settings}"
        ),
    }
}

const SECRET_KEYS: [(&str, &str, &str); 5] = [
    ("metrics_token", "metrics_token", "metrics-token-metrics-token-metrics-token"),
    ("smtp_url", "mail.smtp_url", "smtp://relay:25"),
    ("webhook_url", "sms.webhook_url", "https://sms.example/hook"),
    ("secret", "client `ledger`: secret", "0123456789abcdef0123456789abcdef"),
    ("client_secret", "upstream `bank`: client_secret", "upstream-password"),
];

#[test]
fn a_secret_and_its_file_together_are_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    for (key, named, value) in SECRET_KEYS {
        let file = dir.path().join(key);
        std::fs::write(&file, value).unwrap();
        let config = Config::from_toml(&with_secret(key, Some(value), Some(&file))).unwrap();
        let err = Settings::from_config(config).unwrap_err().to_string();
        let (context, key) = named.rsplit_once(' ').map_or(("", named), |(c, k)| (c, k));
        assert!(err.contains(context) && err.contains(&format!("{key} or {key}_file")), "{err}");
        assert!(!err.contains(value), "the secret is not in the error: {err}");
    }
}

#[test]
fn a_missing_or_unreadable_secret_file_is_an_error_naming_the_key_and_path() {
    let dir = tempfile::tempdir().unwrap();
    for (key, named, _) in SECRET_KEYS {
        let missing = dir.path().join(format!("missing-{key}"));
        let config = Config::from_toml(&with_secret(key, None, Some(&missing))).unwrap();
        let err = Settings::from_config(config).unwrap_err().to_string();
        let file_key = format!("{}_file", named.rsplit(' ').next().unwrap());
        assert!(err.contains(&file_key) && err.contains(&missing.display().to_string()), "{err}");
        // A directory cannot be read as a file either.
        let config = Config::from_toml(&with_secret(key, None, Some(dir.path()))).unwrap();
        let err = Settings::from_config(config).unwrap_err().to_string();
        assert!(err.contains(&file_key) && err.contains(&dir.path().display().to_string()), "{err}");
    }
    // A file whose content is wrong is refused without showing it.
    let file = dir.path().join("smtp-url");
    std::fs::write(&file, "not a url: secret-password\n").unwrap();
    let config = Config::from_toml(&with_secret("smtp_url", None, Some(&file))).unwrap();
    let err = Settings::from_config(config).unwrap_err().to_string();
    assert!(err.contains("mail.smtp_url") && !err.contains("secret-password"), "{err}");
    // And an empty one is no secret.
    std::fs::write(&file, "\n").unwrap();
    let config = Config::from_toml(&with_secret("smtp_url", None, Some(&file))).unwrap();
    let err = Settings::from_config(config).unwrap_err().to_string();
    assert!(err.contains("mail.smtp_url_file") && err.contains("empty"), "{err}");
}

#[test]
fn invalid_values_name_their_key() {
    let config = Config { database_url: "mysql://x".to_owned(), ..Default::default() };
    let err = Settings::from_config(config).unwrap_err().to_string();
    assert!(err.contains("database_url"), "{err}");

    let config = Config { bind: "localhost".to_owned(), ..Default::default() };
    assert!(Settings::from_config(config).unwrap_err().to_string().contains("bind"));

    let config = Config::from_toml("[[clients]]\nid = \"x\"\nredirect_uris = [\"https://a/cb\"]").unwrap();
    assert!(Settings::from_config(config).unwrap_err().to_string().contains("client `x`"));

    for (rules, key) in [
        ("max_consecutive_failures = 0", "sign_in.max_consecutive_failures"),
        ("max_consecutive_failures = 101", "sign_in.max_consecutive_failures"),
        ("max_failures = 0", "sign_in.max_failures"),
        ("sign_ins_per_browser = 0", "sign_ins_per_browser"),
    ] {
        let config = Config::from_toml(&format!("[sign_in]\n{rules}")).unwrap();
        let err = Settings::from_config(config).unwrap_err().to_string();
        assert!(err.contains(key), "{rules}: {err}");
    }
}

#[test]
fn the_resource_audience_defaults_to_the_issuer() {
    let settings = Settings::from_config(Config::default()).unwrap();
    assert_eq!(settings.resource_audience(), "http://localhost:8080");
    let config = Config::from_toml("[tokens]\nresource_audience = \"https://api.example\"").unwrap();
    assert_eq!(Settings::from_config(config).unwrap().resource_audience(), "https://api.example");
    for blank in ["", " ", " https://api.example"] {
        let config = Config::from_toml(&format!("[tokens]\nresource_audience = {blank:?}")).unwrap();
        let err = Settings::from_config(config).unwrap_err().to_string();
        assert!(err.contains("tokens.resource_audience"), "{blank:?}: {err}");
    }
}

#[test]
fn metrics_may_have_an_address_of_their_own_and_a_token() {
    let defaults = Settings::from_config(Config::default()).unwrap();
    assert!(defaults.metrics.bind.is_none() && defaults.metrics.token_digest.is_none());
    let token = "metrics-token-metrics-token-metrics-token";
    let config = Config::from_toml(&format!("metrics_bind = \"127.0.0.1:9100\"\nmetrics_token = {token:?}")).unwrap();
    let settings = Settings::from_config(config).unwrap();
    assert_eq!(settings.metrics.bind.map(|a| a.to_string()).as_deref(), Some("127.0.0.1:9100"));
    assert!(crate::crypto::secret::matches_digest(token, settings.metrics.token_digest.as_deref().unwrap()));

    let config = Config::from_toml("metrics_bind = \"localhost\"").unwrap();
    assert!(Settings::from_config(config).unwrap_err().to_string().contains("metrics_bind"));
    let config = Config::from_toml("metrics_token = \"short\"").unwrap();
    let err = Settings::from_config(config).unwrap_err().to_string();
    assert!(err.contains("metrics_token") && err.contains("32") && !err.contains("short"), "{err}");
}

#[test]
fn trusted_proxies_are_addresses_or_networks_and_need_the_header() {
    let config = Config::from_toml(
        "[sign_in]\nclient_address_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]",
    )
    .unwrap();
    let settings = Settings::from_config(config).unwrap();
    let proxies = &settings.sign_in.trusted_proxies;
    assert_eq!(proxies.len(), 2);
    assert!(proxies[0].contains("10.20.30.40".parse().unwrap()) && proxies[1].contains("::1".parse().unwrap()));

    let err = Config::from_toml("[sign_in]\nclient_address_header = \"X\"\ntrusted_proxies = [\"10.0.0.0/33\"]")
        .unwrap_err()
        .to_string();
    assert!(err.contains("trusted_proxies") && err.contains("10.0.0.0/33"), "{err}");
    let config = Config::from_toml("[sign_in]\ntrusted_proxies = [\"10.0.0.0/8\"]").unwrap();
    let err = Settings::from_config(config).unwrap_err().to_string();
    assert!(err.contains("sign_in.client_address_header"), "{err}");
}
