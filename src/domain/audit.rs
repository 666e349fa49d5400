//! The audit trail (OWASP ASVS 7.1.3, 7.2.1, 7.2.2): what happened to an
//! account, when, from where and in which request — written in the same
//! transaction as the event, never with a secret in it.

use serde::Serialize;
use serde_json::{Value, json};

use super::ids::UserId;
use crate::clock::UnixSeconds;
use crate::error::{Error, Result};
use crate::store::{StoredAuditEvent, Write};

/// Where a request came from: recorded with every event it causes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address, as the web layer determined it.
    pub address: Option<String>,
    /// The request id the log lines of the request carry.
    pub request_id: Option<String>,
}

/// Something worth a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Both factors done: a session started.
    SignedIn { methods: Vec<String> },
    /// A step of the sign-in refused a wrong password or code.
    SignInFailed { step: &'static str },
    /// The account was locked; `until_reset` when only a reset lifts it.
    Locked { until_reset: bool },
    /// A used authorization code or refresh token came again; its grant ends.
    Replayed { token: &'static str },
    /// A recovery code stood in for the authenticator.
    RecoveryCodeUsed,
    /// A new authenticator replaced the one before.
    AuthenticatorReplaced,
    /// New recovery codes replaced the old ones.
    RecoveryCodesReplaced,
    /// Where codes go changed: `kind` is `email` or `phone`.
    ContactChanged { kind: &'static str },
    /// The person changed their password.
    PasswordChanged,
    /// A forgotten password was reset.
    PasswordReset,
    /// The person allowed an application these scopes.
    ConsentGiven { scopes: String },
    /// The person cancelled an application's access.
    ConsentWithdrawn,
    /// The person signed out.
    SignedOut,
    /// Every session and every application's access of the person ended.
    SessionsEnded,
    /// An operator lifted the person's sign-in lock.
    Unlocked,
    /// An administrator invited the person to activate the mobile app.
    InvitationSent,
    /// An administrator cancelled the person's invitation.
    InvitationCancelled,
    /// The invitee entered the sign-up code; an SMS code was sent.
    InvitationCodeEntered,
    /// The invitee ordered a new SMS code.
    InvitationCodeResent,
    /// The invitee's verification code was right.
    InvitationVerified,
    /// The first run's link created the first customer-service account.
    FirstAccountCreated,
    /// The person registered a device credential for the mobile app.
    DeviceRegistered { platform: String },
    /// The person removed a device credential.
    DeviceRemoved,
    /// The person signed in to the app with a device credential, unlocked by `method`.
    DeviceSignedIn { method: &'static str },
    /// The person's activation ended with a device credential: their invitation is completed.
    InvitationCompleted,
    /// An administrator's request was refused: `reason` is `not_found` (out
    /// of reach), `forbidden` (the role does not allow it) or `no_role`.
    AdminRefused { reason: &'static str },
    /// An administrator added the person to a company.
    UserAdded,
    /// An administrator changed the person's basic information.
    UserUpdated,
    /// An administrator set the person's communication phone.
    CommunicationPhoneSet,
    /// An administrator set the person's roles and rights in a company.
    RightsChanged { roles: Vec<String>, rights: Vec<String> },
    /// An administrator linked the person to a personal identity code.
    NationalIdSet,
    /// An administrator generated a verification code for the person's invitation.
    AdminCodeGenerated,
    /// Customer service posted an announcement for the sign-in pages.
    AnnouncementPosted,
    /// Customer service added a company.
    CompanyAdded,
    /// Customer service registered an application.
    ClientRegistered,
    /// The person approved a QR sign-in of the browser at `browser_address`,
    /// authenticated as `amr` (the app's device key, or a passkey).
    QrApproved { amr: Vec<String>, browser_address: Option<String> },
    /// The person declined a QR sign-in of the browser at `browser_address`.
    QrDenied { browser_address: Option<String> },
    /// The number picked on the phone was not the computer's: the QR code ended.
    QrWrongNumber { browser_address: Option<String> },
    /// The person allowed a device (the device authorization grant).
    DeviceAuthorizationAllowed,
    /// The person denied a device.
    DeviceAuthorizationDenied,
    /// An allowed device took its tokens.
    DeviceAuthorizationIssued,
    /// The person added a passkey.
    PasskeyAdded,
    /// The person removed a passkey.
    PasskeyRemoved,
    /// An upstream identified someone no account is linked to: nothing was created.
    UpstreamUnlinked { upstream: String },
    /// A signed-in person linked an upstream identification to their account.
    UpstreamLinked { upstream: String },
    /// A confirmation code went to a strongly identified person's email and phone.
    ConfirmationCodeSent,
    /// An operator made new token signing keys; `at_once` for a compromised key.
    SigningKeysRotated { kids: Vec<String>, at_once: bool },
    /// An operator dropped a token signing key from the JWKS.
    SigningKeyRetired { kid: String },
}

impl Event {
    /// The stable name of the event, as `portti audit` prints it.
    pub fn action(&self) -> &'static str {
        match self {
            Event::SignedIn { .. } => "sign_in",
            Event::SignInFailed { .. } => "sign_in_failed",
            Event::Locked { .. } => "account_locked",
            Event::Replayed { .. } => "token_replayed",
            Event::RecoveryCodeUsed => "recovery_code_used",
            Event::AuthenticatorReplaced => "authenticator_replaced",
            Event::RecoveryCodesReplaced => "recovery_codes_replaced",
            Event::ContactChanged { .. } => "contact_changed",
            Event::PasswordChanged => "password_changed",
            Event::PasswordReset => "password_reset",
            Event::ConsentGiven { .. } => "consent_given",
            Event::ConsentWithdrawn => "consent_withdrawn",
            Event::SignedOut => "signed_out",
            Event::SessionsEnded => "sessions_ended",
            Event::Unlocked => "account_unlocked",
            Event::InvitationSent => "invitation_sent",
            Event::InvitationCancelled => "invitation_cancelled",
            Event::InvitationCodeEntered => "invitation_code_entered",
            Event::InvitationCodeResent => "invitation_code_resent",
            Event::InvitationVerified => "invitation_verified",
            Event::FirstAccountCreated => "first_account_created",
            Event::DeviceRegistered { .. } => "device_registered",
            Event::DeviceRemoved => "device_removed",
            Event::DeviceSignedIn { .. } => "device_sign_in",
            Event::InvitationCompleted => "invitation_completed",
            Event::AdminRefused { .. } => "admin_refused",
            Event::UserAdded => "user_added",
            Event::UserUpdated => "user_updated",
            Event::CommunicationPhoneSet => "communication_phone_set",
            Event::RightsChanged { .. } => "rights_changed",
            Event::NationalIdSet => "national_id_set",
            Event::AdminCodeGenerated => "admin_code_generated",
            Event::AnnouncementPosted => "announcement_posted",
            Event::CompanyAdded => "company_added",
            Event::ClientRegistered => "client_registered",
            Event::QrApproved { .. } => "qr_approved",
            Event::QrDenied { .. } => "qr_denied",
            Event::QrWrongNumber { .. } => "qr_wrong_number",
            Event::DeviceAuthorizationAllowed => "device_authorization_allowed",
            Event::DeviceAuthorizationDenied => "device_authorization_denied",
            Event::DeviceAuthorizationIssued => "device_authorization_issued",
            Event::PasskeyAdded => "passkey_added",
            Event::PasskeyRemoved => "passkey_removed",
            Event::UpstreamUnlinked { .. } => "upstream_unlinked",
            Event::UpstreamLinked { .. } => "upstream_linked",
            Event::ConfirmationCodeSent => "confirmation_code_sent",
            Event::SigningKeysRotated { .. } => "signing_keys_rotated",
            Event::SigningKeyRetired { .. } => "signing_key_retired",
        }
    }

    /// What the event adds: names, never values that are secrets.
    fn detail(&self) -> Option<Value> {
        match self {
            Event::SignedIn { methods } => Some(json!({ "amr": methods })),
            Event::SignInFailed { step } => Some(json!({ "step": step })),
            Event::Locked { until_reset } => Some(json!({ "until_reset": until_reset })),
            Event::Replayed { token } => Some(json!({ "token": token })),
            Event::ContactChanged { kind } => Some(json!({ "kind": kind })),
            Event::ConsentGiven { scopes } => Some(json!({ "scopes": scopes })),
            Event::DeviceRegistered { platform } => Some(json!({ "platform": platform })),
            Event::DeviceSignedIn { method } => Some(json!({ "amr": ["hwk", method, "mfa"] })),
            Event::AdminRefused { reason } => Some(json!({ "reason": reason })),
            Event::RightsChanged { roles, rights } => Some(json!({ "roles": roles, "rights": rights })),
            Event::QrApproved { amr, browser_address } => {
                Some(json!({ "amr": amr, "browser_address": browser_address }))
            }
            Event::QrDenied { browser_address } | Event::QrWrongNumber { browser_address } => {
                Some(json!({ "browser_address": browser_address }))
            }
            Event::UpstreamUnlinked { upstream } | Event::UpstreamLinked { upstream } => {
                Some(json!({ "upstream": upstream }))
            }
            Event::SigningKeysRotated { kids, at_once } => Some(json!({ "kids": kids, "at_once": at_once })),
            Event::SigningKeyRetired { kid } => Some(json!({ "kid": kid })),
            _ => None,
        }
    }
}

/// Whom an event is about, and the application it involved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subjects<'a> {
    pub user: Option<&'a UserId>,
    pub client: Option<&'a str>,
    /// The company an administrator acted in: its log shows the event.
    pub company: Option<&'a str>,
}

impl<'a> Subjects<'a> {
    pub fn person(user: &'a UserId) -> Self {
        Self { user: Some(user), client: None, company: None }
    }

    pub fn with_client(self, client: &'a str) -> Self {
        Self { client: Some(client), ..self }
    }
}

/// Records an event in the caller's transaction.
pub fn record(tx: &mut Write<'_>, now: UnixSeconds, origin: &Origin, about: Subjects<'_>, event: Event) -> Result<()> {
    let detail = event.detail();
    insert(tx, now, origin, about, &event, detail)
}

/// Records an event that `actor` (an administrator) caused: the detail
/// names them (`"actor"`), and the company log shows who did what to whom.
pub fn record_by(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    origin: &Origin,
    actor: &UserId,
    about: Subjects<'_>,
    event: Event,
) -> Result<()> {
    let mut detail = match event.detail() {
        Some(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    detail.insert(ACTOR.to_owned(), Value::from(actor.as_str()));
    insert(tx, now, origin, about, &event, Some(Value::Object(detail)))
}

/// The detail's field naming who caused an event, when not its subject.
pub const ACTOR: &str = "actor";

fn insert(
    tx: &mut Write<'_>,
    now: UnixSeconds,
    origin: &Origin,
    about: Subjects<'_>,
    event: &Event,
    detail: Option<Value>,
) -> Result<()> {
    let detail = detail.map(|detail| detail.to_string());
    tx.insert_audit_event(&StoredAuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at: now,
        action: event.action().to_owned(),
        user_id: about.user.map(|u| u.as_str().to_owned()),
        client_id: about.client.map(str::to_owned),
        company_id: about.company.map(str::to_owned),
        ip: origin.address.clone(),
        request_id: origin.request_id.clone(),
        detail,
    })
}

/// One event as `portti audit` prints it: a JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct AuditLine {
    pub at: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

/// A person's events, oldest first, ready to print.
pub fn events_of(store: &crate::store::Store, user: &UserId) -> Result<Vec<AuditLine>> {
    let events = store.read(|r| r.audit_events_of(user))?;
    events
        .into_iter()
        .map(|event| {
            Ok(AuditLine {
                at: rfc3339(event.at),
                action: event.action,
                user_id: event.user_id,
                client_id: event.client_id,
                ip: event.ip,
                request_id: event.request_id,
                detail: event.detail.as_deref().map(serde_json::from_str).transpose().map_err(Error::internal)?,
            })
        })
        .collect()
}

/// A moment as RFC 3339 UTC (`2026-12-01T16:00:00Z`), as the APIs write times.
pub fn rfc3339(seconds: UnixSeconds) -> String {
    // Only a moment beyond year 9999 fails, which no stored time is.
    match time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|m| m.format(&time::format_description::well_known::Rfc3339))
    {
        Ok(Ok(text)) => text,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_stable_names_and_carry_no_secret() {
        assert_eq!(Event::SignInFailed { step: "password" }.action(), "sign_in_failed");
        assert_eq!(Event::SignInFailed { step: "password" }.detail(), Some(json!({ "step": "password" })));
        assert_eq!(Event::PasswordChanged.detail(), None, "a password change records that it happened, nothing of it");
        assert_eq!(rfc3339(1_796_140_800), "2026-12-01T16:00:00Z");
    }
}
