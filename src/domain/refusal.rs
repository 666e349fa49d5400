//! Why Portti says no to a person: one value per reason, with a stable code
//! for the JSON APIs and a text per language in the catalogue
//! (`locales/*.toml`, section `refusal`). The domain decides *that* and
//! *why*; the web layer says it, in the person's language.

use crate::clock::UnixSeconds;
use crate::error::Error;

/// Settles a decision made inside a transaction. A step that counts an
/// attempt returns a refusal as `Ok(Err(refusal))`, so the transaction still
/// commits what it counted; once it has, the refusal becomes the error it is:
/// `store.write(|tx| …).and_then(settle)`. (A refusal that must change
/// nothing is returned as `Err(refusal.into())` instead, and rolls back.)
pub fn settle<T>(decision: Result<T, Refusal>) -> crate::error::Result<T> {
    decision.map_err(Error::Refused)
}

/// Unwraps a decision inside a transaction, or leaves the transaction with
/// its refusal, committed: `let attempt = or_refuse!(lockout.begin_attempt(tx, …)?);`.
macro_rules! or_refuse {
    ($decision:expr) => {
        match $decision {
            Ok(value) => value,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}
pub(crate) use or_refuse;

/// A refusal a person can act on. Its text is `refusal.<key>` in the
/// catalogue, filled with [`Refusal::arguments`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A form's anti-forgery token does not belong to this browser.
    FormExpired,
    /// The sign-in expired, never existed, or is another browser's.
    SignInExpired,
    /// The password reset expired, was used, or is another browser's.
    ResetExpired,
    /// The first run's link expired, was used, or users exist already.
    SetupLinkExpired,
    /// The step was already done (a double submit, an old tab).
    StepAlreadyDone,
    /// The email or password is wrong; the same words for an unknown email.
    WrongPassword,
    /// The authenticator code is wrong or was used already.
    WrongAuthenticatorCode,
    /// The recovery code is wrong or was used already.
    WrongRecoveryCode,
    /// A code sent by email or SMS is wrong.
    WrongCode,
    /// A code sent by email or SMS has expired (or there is none).
    CodeExpired,
    /// Too many wrong codes for this code: ask for a new one.
    TooManyWrongCodes,
    /// Too many attempts: the account is locked for a while, or the address throttled.
    TooManyAttempts,
    /// Locked after too many failures in a row, until a password reset lifts it.
    AccountLocked,
    /// Too many sign-ins started from this address or browser (an `/authorize` flood).
    TooManySignIns,
    /// The administrator did not confirm checking the invitee's identity.
    IdentityNotVerified,
    /// The invitee's contact details changed since the last invitation: only
    /// customer service may invite again.
    SupportMustReinvite,
    /// A first enrolment found an authenticator already set up (another tab).
    AuthenticatorExists,
    /// The application the sign-in is for was removed meanwhile.
    ApplicationGone,
    /// The application that sent the person is not known.
    UnknownApplication,
    /// The application did not say where to return the person.
    MissingRedirect,
    /// The application asked to return the person to an unregistered address.
    UnregisteredRedirect,
    /// A logout's `id_token_hint` is not an ID token of this service.
    InvalidLogoutHint,
    /// A logout's `client_id` is not the hint's audience.
    LogoutClientMismatch,
    /// The application is not among the person's consented ones.
    ApplicationNotFound,
    /// The current password given on the account page is wrong.
    WrongCurrentPassword,
    /// The new password and its confirmation differ.
    PasswordsDiffer,
    /// The new password is shorter than the policy's minimum.
    PasswordTooShort { min: usize },
    /// The new password is longer than the policy's maximum.
    PasswordTooLong { max: usize },
    /// The new password is common or guessable.
    PasswordTooEasy,
    /// No email address was given.
    EmailMissing,
    /// The email address is not in valid form.
    EmailInvalid { input: String },
    /// The email address is longer than 254 characters.
    EmailTooLong,
    /// No phone number was given.
    PhoneMissing,
    /// The phone number has a character other than digits, spaces and a leading `+`.
    PhoneCharacter { input: String, character: char },
    /// The phone number is not a valid number.
    PhoneInvalid { input: String },
    /// The phone number cannot receive SMS.
    PhoneNotMobile { input: String },
    /// No name was given.
    NameMissing,
    /// The name is over 200 characters.
    NameTooLong,
    /// The name has control characters.
    NameControlCharacters,
    /// The app is older than `app.min_version` (or did not say its version): update it.
    AppUpdateRequired,
    /// The invitation's time ran out: ask the administrator for a new one.
    InvitationExpired,
    /// The administrator cancelled the invitation.
    InvitationCancelled,
    /// The invitation was used to activate the app already: sign in instead.
    InvitationUsed,
    /// A newer invitation replaced this one: use the code of the newest email.
    InvitationReplaced,
    /// The invitation's two new SMS codes are used: ask the administrator for a code.
    ResendLimit,
    /// The administrator's code can be made only once the invitee entered the sign-up code.
    CodeNotEntered,
    /// The administrator's role does not allow this action on a user within reach.
    Forbidden,
    /// A device key is not a P-256 public JWK of a point on the curve.
    InvalidKey,
    /// A device is registered only within `minutes` of signing in: sign in again.
    FreshSignInRequired { minutes: i64 },
    /// The personal identity code is malformed (format, date or check character).
    NationalIdInvalid,
    /// The personal identity code is already another user's.
    NationalIdTaken,
    /// `office_admin` was asked for in a client company: it is a role of an accounting office.
    OfficeAdminOnClientCompany,
    /// An announcement's text is empty or longer than `max` characters.
    AnnouncementTextLength { max: usize },
    /// An announcement would end before (or when) it starts.
    AnnouncementEndsBeforeStart,
    /// An announcement's start or end is not a time.
    AnnouncementTimeInvalid,
    /// Another user has this email address (the sign-in name).
    EmailTaken,
    /// Not a company role.
    RoleUnknown { input: String },
    /// Not an access right's name.
    RightNameInvalid { input: String },
    /// The accounting office asked for is itself a client company of one.
    OfficeIsAClient { office: String },
    /// The QR code expired, was used, or was answered already: show a new one.
    QrExpired,
    /// The phone has not approved the QR sign-in yet.
    QrPending,
    /// The QR sign-in was declined on the phone (or a wrong number was picked).
    QrDenied,
    /// The number picked on the phone is not the computer's: the QR code ends.
    WrongNumber,
    /// The approval's proof is not a fresh signature by one of the person's devices.
    InvalidProof,
    /// A device's user code is malformed, unknown, expired or answered already.
    UserCodeWrong,
    /// The passkey ceremony expired, was used, or is another browser's: try again.
    PasskeyExpired,
    /// The passkey's answer did not verify (or is not registered here).
    PasskeyFailed,
    /// The person has `max` passkeys already.
    TooManyPasskeys { max: usize },
    /// A passkey's name is empty, over `max` characters, or has control characters.
    PasskeyNameInvalid { max: usize },
    /// The person has no passkey to approve with.
    NoPasskey,
    /// No upstream provider of this id is configured.
    UpstreamUnknown,
    /// The upstream provider cannot be reached now, or answered as no provider does.
    UpstreamUnavailable,
    /// The upstream's answer was refused (bad signature, wrong nonce, an
    /// `acr` not accepted, a replayed or unknown state).
    UpstreamRefused,
    /// The person cancelled at the upstream, or it declined to identify them.
    UpstreamCancelled,
    /// No account is linked to the identity the upstream vouched for.
    NoLinkedAccount,
    /// The confirmation code is still valid: a new one only once it has expired.
    CodeStillValid,
    /// The account is linked to another personal identity code.
    OtherIdentityLinked,
    /// The request's body is larger than Portti reads (`max` KiB).
    BodyTooLarge { max: usize },
    /// The request's address or headers are longer than Portti reads.
    HeadTooLarge,
    /// The request's body did not arrive in time.
    BodyTooSlow,
    /// The request's body does not say its length (it is chunked).
    LengthRequired,
}

impl Refusal {
    /// The stable snake_case code the JSON APIs answer; several refusals of
    /// one kind share a code (every bad phone number is `invalid_phone`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::FormExpired => "form_expired",
            Refusal::SignInExpired => "sign_in_expired",
            Refusal::ResetExpired => "reset_expired",
            Refusal::SetupLinkExpired => "setup_link_expired",
            Refusal::StepAlreadyDone => "step_already_done",
            Refusal::WrongPassword => "wrong_password",
            Refusal::WrongAuthenticatorCode | Refusal::WrongRecoveryCode | Refusal::WrongCode => "invalid_code",
            Refusal::CodeExpired => "code_expired",
            Refusal::TooManyWrongCodes | Refusal::TooManyAttempts => "too_many_attempts",
            Refusal::AccountLocked => "account_locked",
            Refusal::TooManySignIns => "too_many_sign_ins",
            Refusal::SupportMustReinvite => "support_must_reinvite",
            Refusal::IdentityNotVerified => "identity_not_verified",
            Refusal::AuthenticatorExists => "authenticator_exists",
            Refusal::ApplicationGone | Refusal::UnknownApplication => "unknown_application",
            Refusal::MissingRedirect | Refusal::UnregisteredRedirect => "invalid_redirect",
            Refusal::InvalidLogoutHint | Refusal::LogoutClientMismatch => "invalid_logout_request",
            Refusal::ApplicationNotFound => "not_found",
            Refusal::WrongCurrentPassword => "wrong_password",
            Refusal::PasswordsDiffer => "passwords_differ",
            Refusal::PasswordTooShort { .. } | Refusal::PasswordTooLong { .. } | Refusal::PasswordTooEasy => {
                "weak_password"
            }
            Refusal::EmailMissing | Refusal::EmailInvalid { .. } | Refusal::EmailTooLong => "invalid_email",
            Refusal::PhoneMissing
            | Refusal::PhoneCharacter { .. }
            | Refusal::PhoneInvalid { .. }
            | Refusal::PhoneNotMobile { .. } => "invalid_phone",
            Refusal::NameMissing | Refusal::NameTooLong | Refusal::NameControlCharacters => "invalid_name",
            Refusal::AppUpdateRequired => "app_update_required",
            Refusal::InvitationExpired => "invitation_expired",
            Refusal::InvitationCancelled => "invitation_cancelled",
            Refusal::InvitationUsed => "invitation_expired",
            Refusal::InvitationReplaced => "invitation_replaced",
            Refusal::ResendLimit => "resend_limit",
            Refusal::CodeNotEntered => "code_not_entered",
            Refusal::Forbidden => "forbidden",
            Refusal::InvalidKey => "invalid_key",
            Refusal::FreshSignInRequired { .. } => "fresh_sign_in_required",
            Refusal::NationalIdInvalid => "invalid_national_id",
            Refusal::NationalIdTaken => "national_id_taken",
            Refusal::OfficeAdminOnClientCompany => "invalid_role",
            Refusal::AnnouncementTextLength { .. }
            | Refusal::AnnouncementEndsBeforeStart
            | Refusal::AnnouncementTimeInvalid => "invalid_announcement",
            Refusal::EmailTaken => "email_taken",
            Refusal::RoleUnknown { .. } => "invalid_role",
            Refusal::RightNameInvalid { .. } => "invalid_right",
            Refusal::OfficeIsAClient { .. } => "invalid_office",
            Refusal::QrExpired => "qr_expired",
            Refusal::QrPending => "qr_pending",
            Refusal::QrDenied => "qr_denied",
            Refusal::WrongNumber => "wrong_number",
            Refusal::InvalidProof => "invalid_proof",
            Refusal::UserCodeWrong => "invalid_user_code",
            Refusal::PasskeyExpired => "passkey_expired",
            Refusal::PasskeyFailed => "passkey_failed",
            Refusal::TooManyPasskeys { .. } => "too_many_passkeys",
            Refusal::PasskeyNameInvalid { .. } => "invalid_name",
            Refusal::NoPasskey => "no_passkey",
            Refusal::UpstreamUnknown => "upstream_unknown",
            Refusal::UpstreamUnavailable => "upstream_unavailable",
            Refusal::UpstreamRefused => "upstream_refused",
            Refusal::UpstreamCancelled => "upstream_cancelled",
            Refusal::NoLinkedAccount => "no_linked_account",
            Refusal::CodeStillValid => "code_still_valid",
            Refusal::OtherIdentityLinked => "other_identity_linked",
            Refusal::BodyTooLarge { .. } => "request_too_large",
            Refusal::HeadTooLarge => "request_too_large",
            Refusal::BodyTooSlow => "request_timeout",
            Refusal::LengthRequired => "length_required",
        }
    }

    /// The catalogue key of its text, without the `refusal.` section.
    pub fn key(&self) -> &'static str {
        match self {
            Refusal::FormExpired => "form_expired",
            Refusal::SignInExpired => "sign_in_expired",
            Refusal::ResetExpired => "reset_expired",
            Refusal::SetupLinkExpired => "setup_link_expired",
            Refusal::StepAlreadyDone => "step_already_done",
            Refusal::WrongPassword => "wrong_password",
            Refusal::WrongAuthenticatorCode => "wrong_authenticator_code",
            Refusal::WrongRecoveryCode => "wrong_recovery_code",
            Refusal::WrongCode => "wrong_code",
            Refusal::CodeExpired => "code_expired",
            Refusal::TooManyWrongCodes => "too_many_wrong_codes",
            Refusal::TooManyAttempts => "too_many_attempts",
            Refusal::AccountLocked => "account_locked",
            Refusal::TooManySignIns => "too_many_sign_ins",
            Refusal::SupportMustReinvite => "support_must_reinvite",
            Refusal::IdentityNotVerified => "identity_not_verified",
            Refusal::AuthenticatorExists => "authenticator_exists",
            Refusal::ApplicationGone => "application_gone",
            Refusal::UnknownApplication => "unknown_application",
            Refusal::MissingRedirect => "missing_redirect",
            Refusal::UnregisteredRedirect => "unregistered_redirect",
            Refusal::InvalidLogoutHint => "invalid_logout_hint",
            Refusal::LogoutClientMismatch => "logout_client_mismatch",
            Refusal::ApplicationNotFound => "application_not_found",
            Refusal::WrongCurrentPassword => "wrong_current_password",
            Refusal::PasswordsDiffer => "passwords_differ",
            Refusal::PasswordTooShort { .. } => "password_too_short",
            Refusal::PasswordTooLong { .. } => "password_too_long",
            Refusal::PasswordTooEasy => "password_too_easy",
            Refusal::EmailMissing => "email_missing",
            Refusal::EmailInvalid { .. } => "email_invalid",
            Refusal::EmailTooLong => "email_too_long",
            Refusal::PhoneMissing => "phone_missing",
            Refusal::PhoneCharacter { .. } => "phone_character",
            Refusal::PhoneInvalid { .. } => "phone_invalid",
            Refusal::PhoneNotMobile { .. } => "phone_not_mobile",
            Refusal::NameMissing => "name_missing",
            Refusal::NameTooLong => "name_too_long",
            Refusal::NameControlCharacters => "name_control_characters",
            Refusal::AppUpdateRequired => "app_update_required",
            Refusal::InvitationExpired => "invitation_expired",
            Refusal::InvitationCancelled => "invitation_cancelled",
            Refusal::InvitationUsed => "invitation_used",
            Refusal::InvitationReplaced => "invitation_replaced",
            Refusal::ResendLimit => "resend_limit",
            Refusal::CodeNotEntered => "code_not_entered",
            Refusal::Forbidden => "forbidden",
            Refusal::InvalidKey => "invalid_key",
            Refusal::FreshSignInRequired { .. } => "fresh_sign_in_required",
            Refusal::NationalIdInvalid => "national_id_invalid",
            Refusal::NationalIdTaken => "national_id_taken",
            Refusal::OfficeAdminOnClientCompany => "office_admin_on_client_company",
            Refusal::AnnouncementTextLength { .. } => "announcement_text_length",
            Refusal::AnnouncementEndsBeforeStart => "announcement_ends_before_start",
            Refusal::AnnouncementTimeInvalid => "announcement_time_invalid",
            Refusal::EmailTaken => "email_taken",
            Refusal::RoleUnknown { .. } => "role_unknown",
            Refusal::RightNameInvalid { .. } => "right_name_invalid",
            Refusal::OfficeIsAClient { .. } => "office_is_a_client",
            Refusal::QrExpired => "qr_expired",
            Refusal::QrPending => "qr_pending",
            Refusal::QrDenied => "qr_denied",
            Refusal::WrongNumber => "wrong_number",
            Refusal::InvalidProof => "invalid_proof",
            Refusal::UserCodeWrong => "user_code_wrong",
            Refusal::PasskeyExpired => "passkey_expired",
            Refusal::PasskeyFailed => "passkey_failed",
            Refusal::TooManyPasskeys { .. } => "too_many_passkeys",
            Refusal::PasskeyNameInvalid { .. } => "passkey_name_invalid",
            Refusal::NoPasskey => "no_passkey",
            Refusal::UpstreamUnknown => "upstream_unknown",
            Refusal::UpstreamUnavailable => "upstream_unavailable",
            Refusal::UpstreamRefused => "upstream_refused",
            Refusal::UpstreamCancelled => "upstream_cancelled",
            Refusal::NoLinkedAccount => "no_linked_account",
            Refusal::CodeStillValid => "code_still_valid",
            Refusal::OtherIdentityLinked => "other_identity_linked",
            Refusal::BodyTooLarge { .. } => "body_too_large",
            Refusal::HeadTooLarge => "head_too_large",
            Refusal::BodyTooSlow => "body_too_slow",
            Refusal::LengthRequired => "length_required",
        }
    }

    /// The values its text is filled with (`{input}` and the like).
    pub fn arguments(&self) -> Vec<(&'static str, String)> {
        match self {
            Refusal::PasswordTooShort { min } => vec![("min", min.to_string())],
            Refusal::PasswordTooLong { max } => vec![("max", max.to_string())],
            Refusal::FreshSignInRequired { minutes } => vec![("minutes", minutes.to_string())],
            Refusal::EmailTooLong => vec![("max", super::contact::MAX_EMAIL_LENGTH.to_string())],
            Refusal::NameTooLong => vec![("max", super::company::MAX_NAME_LENGTH.to_string())],
            Refusal::AnnouncementTextLength { max }
            | Refusal::TooManyPasskeys { max }
            | Refusal::PasskeyNameInvalid { max }
            | Refusal::BodyTooLarge { max } => vec![("max", max.to_string())],
            Refusal::EmailInvalid { input } | Refusal::PhoneInvalid { input } | Refusal::PhoneNotMobile { input } => {
                vec![("input", input.clone())]
            }
            Refusal::RoleUnknown { input } | Refusal::RightNameInvalid { input } => vec![("input", input.clone())],
            Refusal::OfficeIsAClient { office } => vec![("office", office.clone())],
            Refusal::PhoneCharacter { input, character } => {
                vec![("input", input.clone()), ("character", character.to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// Whether a page shows it as a notice above the form that failed (a
    /// wrong code, a weak password), rather than as a page of its own (the
    /// sign-in, the reset or the form itself has expired).
    pub fn is_about_the_form_input(&self) -> bool {
        !matches!(
            self,
            Refusal::SignInExpired | Refusal::ResetExpired | Refusal::SetupLinkExpired | Refusal::FormExpired
        )
    }

    /// The HTTP status: a limit is 429, something gone or out of reach 404, a
    /// step the role does not allow 403, a step out of order 409, an app too
    /// old for the API 426, an upstream provider down 503, a request too
    /// large, too slow or without its length 413, 431, 408 or 411, anything
    /// else a refused input, 400.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooManyAttempts
            | Refusal::TooManyWrongCodes
            | Refusal::AccountLocked
            | Refusal::TooManySignIns
            | Refusal::ResendLimit => 429,
            Refusal::SignInExpired
            | Refusal::ResetExpired
            | Refusal::SetupLinkExpired
            | Refusal::ApplicationNotFound
            | Refusal::UpstreamUnknown => 404,
            Refusal::SupportMustReinvite
            | Refusal::Forbidden
            | Refusal::FreshSignInRequired { .. }
            | Refusal::NoLinkedAccount => 403,
            Refusal::CodeNotEntered
            | Refusal::NationalIdTaken
            | Refusal::EmailTaken
            | Refusal::CodeStillValid
            | Refusal::OtherIdentityLinked => 409,
            Refusal::AppUpdateRequired => 426,
            Refusal::UpstreamUnavailable => 503,
            Refusal::BodyTooSlow => 408,
            Refusal::LengthRequired => 411,
            Refusal::BodyTooLarge { .. } => 413,
            Refusal::HeadTooLarge => 431,
            _ => 400,
        }
    }

    /// One example of every refusal, for the catalogue's tests. The match
    /// makes a new variant a compile error here until it is listed.
    pub fn examples() -> Vec<Refusal> {
        let all = vec![
            Refusal::FormExpired,
            Refusal::SignInExpired,
            Refusal::ResetExpired,
            Refusal::SetupLinkExpired,
            Refusal::StepAlreadyDone,
            Refusal::WrongPassword,
            Refusal::WrongAuthenticatorCode,
            Refusal::WrongRecoveryCode,
            Refusal::WrongCode,
            Refusal::CodeExpired,
            Refusal::TooManyWrongCodes,
            Refusal::TooManyAttempts,
            Refusal::AccountLocked,
            Refusal::TooManySignIns,
            Refusal::SupportMustReinvite,
            Refusal::IdentityNotVerified,
            Refusal::AuthenticatorExists,
            Refusal::ApplicationGone,
            Refusal::UnknownApplication,
            Refusal::MissingRedirect,
            Refusal::UnregisteredRedirect,
            Refusal::InvalidLogoutHint,
            Refusal::LogoutClientMismatch,
            Refusal::ApplicationNotFound,
            Refusal::WrongCurrentPassword,
            Refusal::PasswordsDiffer,
            Refusal::PasswordTooShort { min: 10 },
            Refusal::PasswordTooLong { max: 256 },
            Refusal::PasswordTooEasy,
            Refusal::EmailMissing,
            Refusal::EmailInvalid { input: "maija@".to_owned() },
            Refusal::EmailTooLong,
            Refusal::PhoneMissing,
            Refusal::PhoneCharacter { input: "040-1234567".to_owned(), character: '-' },
            Refusal::PhoneInvalid { input: "+3584".to_owned() },
            Refusal::PhoneNotMobile { input: "+35891234567".to_owned() },
            Refusal::NameMissing,
            Refusal::NameTooLong,
            Refusal::NameControlCharacters,
            Refusal::AppUpdateRequired,
            Refusal::InvitationExpired,
            Refusal::InvitationCancelled,
            Refusal::InvitationUsed,
            Refusal::InvitationReplaced,
            Refusal::ResendLimit,
            Refusal::CodeNotEntered,
            Refusal::Forbidden,
            Refusal::InvalidKey,
            Refusal::FreshSignInRequired { minutes: 10 },
            Refusal::NationalIdInvalid,
            Refusal::NationalIdTaken,
            Refusal::OfficeAdminOnClientCompany,
            Refusal::AnnouncementTextLength { max: 1000 },
            Refusal::AnnouncementEndsBeforeStart,
            Refusal::AnnouncementTimeInvalid,
            Refusal::EmailTaken,
            Refusal::RoleUnknown { input: "owner".into() },
            Refusal::RightNameInvalid { input: "Ledger!".into() },
            Refusal::OfficeIsAClient { office: "Asiakas Oy".into() },
            Refusal::QrExpired,
            Refusal::QrPending,
            Refusal::QrDenied,
            Refusal::WrongNumber,
            Refusal::InvalidProof,
            Refusal::UserCodeWrong,
            Refusal::PasskeyExpired,
            Refusal::PasskeyFailed,
            Refusal::TooManyPasskeys { max: 10 },
            Refusal::PasskeyNameInvalid { max: 60 },
            Refusal::NoPasskey,
            Refusal::UpstreamUnknown,
            Refusal::UpstreamUnavailable,
            Refusal::UpstreamRefused,
            Refusal::UpstreamCancelled,
            Refusal::NoLinkedAccount,
            Refusal::CodeStillValid,
            Refusal::OtherIdentityLinked,
            Refusal::BodyTooLarge { max: 16 },
            Refusal::HeadTooLarge,
            Refusal::BodyTooSlow,
            Refusal::LengthRequired,
        ];
        for refusal in &all {
            match refusal {
                Refusal::FormExpired
                | Refusal::SignInExpired
                | Refusal::ResetExpired
                | Refusal::SetupLinkExpired
                | Refusal::StepAlreadyDone
                | Refusal::WrongPassword
                | Refusal::WrongAuthenticatorCode
                | Refusal::WrongRecoveryCode
                | Refusal::WrongCode
                | Refusal::CodeExpired
                | Refusal::TooManyWrongCodes
                | Refusal::TooManyAttempts
                | Refusal::AccountLocked
                | Refusal::TooManySignIns
                | Refusal::SupportMustReinvite
                | Refusal::IdentityNotVerified
                | Refusal::AuthenticatorExists
                | Refusal::ApplicationGone
                | Refusal::UnknownApplication
                | Refusal::MissingRedirect
                | Refusal::UnregisteredRedirect
                | Refusal::InvalidLogoutHint
                | Refusal::LogoutClientMismatch
                | Refusal::ApplicationNotFound
                | Refusal::WrongCurrentPassword
                | Refusal::PasswordsDiffer
                | Refusal::PasswordTooShort { .. }
                | Refusal::PasswordTooLong { .. }
                | Refusal::PasswordTooEasy
                | Refusal::EmailMissing
                | Refusal::EmailInvalid { .. }
                | Refusal::EmailTooLong
                | Refusal::PhoneMissing
                | Refusal::PhoneCharacter { .. }
                | Refusal::PhoneInvalid { .. }
                | Refusal::PhoneNotMobile { .. }
                | Refusal::NameMissing
                | Refusal::NameTooLong
                | Refusal::NameControlCharacters
                | Refusal::AppUpdateRequired
                | Refusal::InvitationExpired
                | Refusal::InvitationCancelled
                | Refusal::InvitationUsed
                | Refusal::InvitationReplaced
                | Refusal::ResendLimit
                | Refusal::CodeNotEntered
                | Refusal::Forbidden
                | Refusal::InvalidKey
                | Refusal::FreshSignInRequired { .. } => {}
                Refusal::NationalIdInvalid
                | Refusal::NationalIdTaken
                | Refusal::OfficeAdminOnClientCompany
                | Refusal::AnnouncementTextLength { .. }
                | Refusal::AnnouncementEndsBeforeStart
                | Refusal::AnnouncementTimeInvalid
                | Refusal::EmailTaken
                | Refusal::RoleUnknown { .. }
                | Refusal::RightNameInvalid { .. }
                | Refusal::OfficeIsAClient { .. } => {}
                Refusal::QrExpired
                | Refusal::QrPending
                | Refusal::QrDenied
                | Refusal::WrongNumber
                | Refusal::InvalidProof
                | Refusal::UserCodeWrong => {}
                Refusal::PasskeyExpired
                | Refusal::PasskeyFailed
                | Refusal::TooManyPasskeys { .. }
                | Refusal::PasskeyNameInvalid { .. }
                | Refusal::NoPasskey => {}
                Refusal::UpstreamUnknown
                | Refusal::UpstreamUnavailable
                | Refusal::UpstreamRefused
                | Refusal::UpstreamCancelled
                | Refusal::NoLinkedAccount
                | Refusal::CodeStillValid
                | Refusal::OtherIdentityLinked => {}
                Refusal::BodyTooLarge { .. }
                | Refusal::HeadTooLarge
                | Refusal::BodyTooSlow
                | Refusal::LengthRequired => {}
            }
        }
        all
    }
}

/// Minutes in a number of seconds, for texts that say "10 minutes".
pub fn minutes(seconds: UnixSeconds) -> i64 {
    seconds / 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_statuses_follow_the_contract() {
        for refusal in Refusal::examples() {
            let code = refusal.code();
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
            assert!(
                matches!(refusal.status(), 400 | 403 | 404 | 408 | 409 | 411 | 413 | 426 | 429 | 431 | 503),
                "{refusal:?}"
            );
        }
        assert_eq!(Refusal::PhoneCharacter { input: "x".into(), character: '-' }.code(), "invalid_phone");
        assert_eq!(Refusal::TooManyAttempts.status(), 429);
        assert_eq!(Refusal::SignInExpired.status(), 404);
    }

    #[test]
    fn each_refusal_has_a_key_of_its_own() {
        let mut keys: Vec<&str> = Refusal::examples().iter().map(Refusal::key).collect();
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count);
    }
}
