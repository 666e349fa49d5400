//! The `portti` command line: parses, calls the library, prints one JSON
//! object for everything it creates.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Serialize;

use portti::clock::Clock;
use portti::config::{Config, Settings};
use portti::domain::access::{AccessRight, CompanyRole};
use portti::domain::client::{ClientKind, NewClient, SigningAlg, add_client};
use portti::domain::company::add_company;
use portti::domain::contact::{Email, PhoneNumber};
use portti::domain::ids::CompanyId;
use portti::domain::signing_keys::{Takeover, retire_signing_key, rotate_signing_keys};
use portti::domain::upstream_keys::{UpstreamKeySet, ensure_upstream_keys, rotate_upstream_keys};
use portti::domain::user::{MembershipInput, NewUserInput, add_user};
use portti::error::{Error, Result};
use portti::notify::{Message, enqueue};
use portti::{AppState, StartOptions};

#[derive(Parser)]
#[command(name = "portti", version, about = "Portti, an OpenID Connect identity provider")]
struct Cli {
    /// TOML configuration file; every key can also be set as PORTTI_<KEY> (nested keys joined with __).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// What to do; with none, `serve`.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve (the default).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Relying-party applications.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Portti's keys towards its upstream providers (bank ID brokers, Hightrust.id).
    #[command(subcommand, name = "upstream-keys")]
    UpstreamKeys(UpstreamKeysCommand),
    /// The upstream providers of strong identification.
    #[command(subcommand)]
    Upstream(UpstreamCommand),
    /// Companies and accounting offices.
    #[command(subcommand)]
    Company(CompanyCommand),
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// The queue of outgoing email and SMS.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Copy the SQLite database, consistently and while Portti runs, to a new
    /// file (for PostgreSQL, use pg_dump). Keep the master key apart from it.
    Backup {
        /// Where to write the copy; must not exist yet.
        file: std::path::PathBuf,
    },
    /// Print a person's audit trail, oldest first, one JSON object a line.
    Audit {
        /// The person's user id.
        #[arg(long = "user")]
        user: String,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; a confidential client without --secret gets a generated one, printed once.
    Add(ClientAdd),
}

#[derive(Args)]
struct ClientAdd {
    #[arg(long)]
    id: String,
    /// The name people are shown (approval pages, the phone); default the id.
    #[arg(long)]
    name: Option<String>,
    /// The client secret (at least 32 characters).
    #[arg(long, conflicts_with = "public")]
    secret: Option<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    public: bool,
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code
    /// or urn:ietf:params:oauth:grant-type:jwt-bearer (public clients only; the app's device-key sign-in)
    /// (default: the first two).
    #[arg(long = "grant", value_name = "GRANT")]
    grants: Vec<String>,
    /// A first-party application: no consent page.
    #[arg(long)]
    first_party: bool,
    /// RS256 (default), ES256 or EdDSA.
    #[arg(long, value_name = "ALG")]
    alg: Option<String>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new signing key current for every algorithm; the previous ones
    /// stay published until what they signed has expired.
    Rotate {
        /// Sign with the new keys at once (the old ones are compromised), not
        /// after `keys.activation_delay_seconds`.
        #[arg(long)]
        now: bool,
    },
    /// Drop a key from the JWKS at once: the tokens it signed stop verifying.
    /// The key that signs now cannot be retired: rotate with --now first.
    Retire {
        /// The key's `kid`, as the JWKS shows it.
        kid: String,
    },
}

#[derive(Subcommand)]
enum UpstreamKeysCommand {
    /// Make a new signing and encryption key: published now, used from a
    /// day on (brokers cache keys that long); the old ones stay a day more.
    Rotate,
    /// Print the public keys (the JWKS of `/upstream/jwks`).
    Show,
}

#[derive(Subcommand)]
enum UpstreamCommand {
    /// Print Portti's public keys for brokers that register them by hand.
    Keys,
}

#[derive(Subcommand)]
enum CompanyCommand {
    /// Add a company; with --office, as a client company of that accounting office.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "COMPANY_ID")]
        office: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user.
    Add(Box<UserAdd>),
    /// Lift a user's sign-in lock (also one that only a password reset lifts).
    Unlock {
        #[arg(long = "user", value_name = "USER_ID")]
        user: String,
    },
}

#[derive(Args)]
struct UserAdd {
    #[arg(long)]
    email: String,
    #[arg(long)]
    name: String,
    /// Sets both the basic and the communication phone (international form, +358401234567).
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    password: Option<String>,
    /// A company the user belongs to; the --role options after it apply there.
    #[arg(long = "company", value_name = "ID")]
    companies: Vec<String>,
    /// user_admin or office_admin in the --company before it, or the global support.
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    /// Where each --company and --role stood on the command line.
    #[arg(skip)]
    positions: ArgPositions,
    /// An access right in a company, as COMPANY_ID:RIGHT (e.g. …:ledger).
    #[arg(long = "right", value_name = "ID:RIGHT")]
    rights: Vec<String>,
    /// The Finnish personal identity code; stored only as a keyed hash.
    #[arg(long = "national-id", value_name = "HETU")]
    national_id: Option<String>,
}

/// The command-line positions of `--company` and `--role`, which pair them up.
#[derive(Default)]
struct ArgPositions {
    companies: Vec<usize>,
    roles: Vec<usize>,
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Queue a test message, to check mail or SMS delivery end to end.
    Test {
        #[arg(long, conflicts_with = "sms", required_unless_present = "sms")]
        email: Option<String>,
        #[arg(long)]
        sms: Option<String>,
    },
    /// Count the messages pending, sent and given up.
    Status,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let (Some(Command::User(UserCommand::Add(args))), Some(("user", user))) =
        (cli.command.as_mut(), matches.subcommand())
        && let Some(("add", add)) = user.subcommand()
    {
        let positions = |id: &str| add.indices_of(id).map(Iterator::collect).unwrap_or_default();
        args.positions = ArgPositions { companies: positions("companies"), roles: positions("roles") };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let loaded = Config::load(cli.config.as_deref())?;
    portti::telemetry::init(loaded.config.log_format);
    loaded.warn_about_ignored_variables();
    let settings = Settings::from_config(loaded.config)?;
    let clock = Clock::system();
    let open = move || AppState::open(settings, clock);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(open),
        Command::Migrate => {
            open()?;
            print(&serde_json::json!({ "migrated": true }))
        }
        Command::Client(ClientCommand::Add(args)) => {
            let kind = if args.public { ClientKind::Public } else { ClientKind::Confidential { secret: args.secret } };
            let new = NewClient::parse(
                &args.id,
                kind,
                &args.redirect_uris,
                &args.post_logout_redirect_uris,
                &args.grants,
                args.first_party,
                args.alg.as_deref(),
            )?
            .named(args.name.as_deref())?;
            let state = open()?;
            print(&add_client(&state.store, state.clock.now(), new)?)
        }
        Command::Keys(KeysCommand::Rotate { now }) => {
            let state = open()?;
            let takeover = if now { Takeover::Now } else { Takeover::AfterDelay };
            let rotated = rotate_signing_keys(&state.store, &state.keys, &state.settings, state.clock.now(), takeover)?;
            let kid = rotated.iter().find(|key| key.alg == SigningAlg::RS256).map(|key| key.kid.clone());
            print(&serde_json::json!({ "kid": kid, "keys": rotated }))
        }
        Command::Backup { file } => {
            let state = open()?;
            state.store.backup_to(&file)?;
            print(&serde_json::json!({ "backup": file.display().to_string() }))
        }
        Command::Keys(KeysCommand::Retire { kid }) => {
            let state = open()?;
            retire_signing_key(&state.store, state.clock.now(), &kid)?;
            print(&serde_json::json!({ "retired": kid }))
        }
        Command::UpstreamKeys(UpstreamKeysCommand::Rotate) => {
            let state = open()?;
            print(&serde_json::json!({ "keys": rotate_upstream_keys(&state.store, &state.keys, state.clock.now())? }))
        }
        Command::UpstreamKeys(UpstreamKeysCommand::Show) | Command::Upstream(UpstreamCommand::Keys) => {
            let state = open()?;
            let now = state.clock.now();
            ensure_upstream_keys(&state.store, &state.keys, now)?;
            let keys = UpstreamKeySet::load(&state.store, &state.keys, &state.settings.issuer, now)?;
            let jwks: serde_json::Value = serde_json::from_slice(keys.jwks()).map_err(Error::internal)?;
            print(&jwks)
        }
        Command::Company(CompanyCommand::Add { name, office }) => {
            let office = office.as_deref().map(CompanyId::parse).transpose()?;
            let state = open()?;
            print(&add_company(&state.store, state.clock.now(), &name, office.as_ref())?)
        }
        Command::User(UserCommand::Add(args)) => {
            let input = user_input(*args)?;
            let state = open()?;
            print(&add_user(&state.store, &state.keys, state.clock.now(), input)?)
        }
        Command::User(UserCommand::Unlock { user }) => {
            let user = portti::domain::ids::UserId::parse(&user)?;
            let state = open()?;
            let unlocked = portti::domain::throttle::unlock(&state.store, state.clock.now(), &user)?;
            print(&serde_json::json!({ "user_id": user.as_str(), "was_locked": unlocked }))
        }
        Command::Outbox(OutboxCommand::Test { email, sms }) => {
            let message = match (email, sms) {
                (Some(email), _) => Message::Email {
                    to: Email::parse(&email)?,
                    subject: "Portti test message".to_owned(),
                    body: "This message tests the email delivery of Portti.\n".to_owned(),
                },
                (None, Some(phone)) => Message::Sms {
                    to: PhoneNumber::parse(&phone)?,
                    text: "This message tests the SMS delivery of Portti.".to_owned(),
                },
                (None, None) => return Err(Error::InvalidRequest("give --email or --sms".to_owned())),
            };
            let state = open()?;
            let now = state.clock.now();
            let id = state.store.write(|tx| enqueue(tx, &state.keys, now, &message, None))?;
            print(&serde_json::json!({ "id": id, "queued": true }))
        }
        Command::Outbox(OutboxCommand::Status) => print(&open()?.store.read(|r| r.outbox_counts())?),
        Command::Audit { user } => {
            let user = portti::domain::ids::UserId::parse(&user)?;
            portti::domain::audit::events_of(&open()?.store, &user)?.iter().try_for_each(print)
        }
    }
}

/// Turns `--company/--role/--right` into memberships and the support flag: a
/// role belongs to the `--company` written before it.
fn user_input(args: UserAdd) -> Result<NewUserInput> {
    let mut memberships: Vec<MembershipInput> = Vec::new();
    for company in &args.companies {
        memberships.push(MembershipInput {
            company_id: CompanyId::parse(company)?,
            roles: Vec::new(),
            rights: Vec::new(),
        });
    }
    if args.positions.roles.len() != args.roles.len() || args.positions.companies.len() != args.companies.len() {
        return Err(Error::internal("the positions of --company and --role were not recorded"));
    }
    let mut support = false;
    for (role, position) in args.roles.iter().zip(&args.positions.roles) {
        if role == "support" {
            support = true;
            continue;
        }
        let role = CompanyRole::parse(role)?;
        let company = args.positions.companies.iter().rposition(|company| company < position);
        match company.and_then(|index| memberships.get_mut(index)) {
            Some(membership) => membership.roles.push(role),
            None => {
                return Err(Error::InvalidRequest(format!(
                    "--role {} must follow the --company it applies to",
                    role.as_str()
                )));
            }
        }
    }
    for right in &args.rights {
        let (company, name) = right
            .split_once(':')
            .ok_or_else(|| Error::InvalidRequest(format!("--right `{right}` must be COMPANY_ID:RIGHT")))?;
        memberships.push(MembershipInput {
            company_id: CompanyId::parse(company)?,
            roles: Vec::new(),
            rights: vec![AccessRight::parse(name)?],
        });
    }
    Ok(NewUserInput {
        email: args.email,
        name: args.name,
        phone: args.phone,
        password: args.password,
        national_id: args.national_id,
        support,
        memberships,
    })
}

fn print(value: &impl Serialize) -> Result<()> {
    println!("{}", serde_json::to_string(value).map_err(Error::internal)?);
    Ok(())
}

fn serve(open: impl FnOnce() -> Result<AppState>) -> Result<()> {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let started = std::time::Instant::now();
        let state = open()?;
        let bind = state.settings.bind;
        let listener = TcpListener::bind(bind).map_err(|e| Error::Config(format!("cannot listen on {bind}: {e}")))?;
        let running =
            portti::start(state.clone(), listener, StartOptions { handle_signals: true, outbox_worker: true })?;
        tracing::info!(
            address = %format!("http://{}", running.addr),
            issuer = %state.settings.issuer,
            database = %state.store.url().redacted(),
            ready_in_ms = started.elapsed().as_millis() as u64,
            "Portti is listening"
        );
        let rules = &state.settings.sign_in;
        if let (Some(header), true) = (&rules.client_address_header, rules.trusted_proxies.is_empty()) {
            tracing::warn!(
                header = %header,
                "sign_in.client_address_header is believed from any peer, as sign_in.trusted_proxies is empty: \
                 make Portti reachable only through the proxy, or list the proxies, or a client can pick the \
                 address its attempts are counted under"
            );
        }
        let issuer = state.settings.issuer.clone();
        if let Some(link) = portti::domain::first_run::offer_link(&state.store, state.clock.now(), &issuer)? {
            tracing::warn!(
                link = %link,
                "No users yet. Open this link within an hour to create the first customer-service account \
                 (it works once); or add one with `portti user add … --role support`"
            );
        }
        running.wait().await
    })
}
