//! The texts of the hosted pages: one catalogue per language, so Finnish and
//! Swedish slot in beside English without touching a template.

/// Every text a hosted page shows.
#[derive(Debug)]
pub struct Messages {
    pub lang: &'static str,
    pub sign_in_title: &'static str,
    pub sign_in_lead: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub authenticator_code: &'static str,
    pub recovery_code: &'static str,
    pub next: &'static str,
    pub sign_in: &'static str,
    pub verify: &'static str,
    pub continue_: &'static str,
    pub accept: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,
    pub not_you: &'static str,
    pub code_title: &'static str,
    pub code_lead: &'static str,
    pub use_recovery_code: &'static str,
    pub recovery_title: &'static str,
    pub recovery_lead: &'static str,
    pub use_authenticator: &'static str,
    pub enrol_title: &'static str,
    pub enrol_lead: &'static str,
    pub enrol_cant_scan: &'static str,
    pub enrol_confirm: &'static str,
    pub recovery_codes_title: &'static str,
    pub recovery_codes_lead: &'static str,
    pub recovery_codes_gone: &'static str,
    pub terms_title: &'static str,
    pub terms_version: &'static str,
    pub consent_title: &'static str,
    pub consent_lead: &'static str,
    pub error_title: &'static str,
    pub expired_sign_in: &'static str,
    pub sign_out_title: &'static str,
    pub sign_out_lead: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out_lead: &'static str,
    pub scope_openid: &'static str,
    pub scope_profile: &'static str,
    pub scope_email: &'static str,
    pub scope_phone: &'static str,
    pub scope_offline_access: &'static str,
    pub scope_companies: &'static str,
}

/// English.
pub static EN: Messages = Messages {
    lang: "en",
    sign_in_title: "Sign in",
    sign_in_lead: "Sign in to continue to the application.",
    email: "Email",
    password: "Password",
    authenticator_code: "Authenticator code",
    recovery_code: "Recovery code",
    next: "Next",
    sign_in: "Sign in",
    verify: "Verify",
    continue_: "Continue",
    accept: "Accept",
    allow: "Allow",
    deny: "Deny",
    not_you: "Use another email",
    code_title: "2-step verification",
    code_lead: "Enter the 6-digit code from your authenticator app.",
    use_recovery_code: "Lost your authenticator? Use a recovery code",
    recovery_title: "Use a recovery code",
    recovery_lead: "Enter one of the recovery codes you saved when you set up your authenticator. Each code works once.",
    use_authenticator: "Use the authenticator app instead",
    enrol_title: "Set up 2-step verification",
    enrol_lead: "Scan this QR code with an authenticator app (for example Google Authenticator or Microsoft Authenticator), then enter the code it shows.",
    enrol_cant_scan: "Can't scan? Enter this key in the app instead:",
    enrol_confirm: "Enter the 6-digit code the app shows to finish.",
    recovery_codes_title: "Save your recovery codes",
    recovery_codes_lead: "If you lose your phone, each of these codes lets you sign in once instead of an authenticator code. Keep them somewhere safe: they are shown only now.",
    recovery_codes_gone: "Your recovery codes were shown when you set up the authenticator. Continue when you have saved them.",
    terms_title: "Terms of service",
    terms_version: "Version",
    consent_title: "Allow access",
    consent_lead: "This application asks to:",
    error_title: "Something is not right",
    expired_sign_in: "This sign-in has expired or was opened in another browser. Go back to the application and start again.",
    sign_out_title: "Sign out",
    sign_out_lead: "Do you want to sign out of all applications that use this account?",
    signed_out_title: "Signed out",
    signed_out_lead: "You are signed out. You can close this window.",
    scope_openid: "Know who you are",
    scope_profile: "See your name",
    scope_email: "See your email address",
    scope_phone: "See your phone number",
    scope_offline_access: "Stay connected when you are not using it",
    scope_companies: "See your companies, roles and access rights",
};

impl Messages {
    /// The catalogue for a request's `ui_locales`; English until others exist.
    pub fn for_locales(_ui_locales: Option<&str>) -> &'static Messages {
        &EN
    }

    /// How a scope is described on the consent page.
    pub fn scope(&self, scope: &str) -> &'static str {
        match scope {
            "openid" => self.scope_openid,
            "profile" => self.scope_profile,
            "email" => self.scope_email,
            "phone" => self.scope_phone,
            "offline_access" => self.scope_offline_access,
            "companies" => self.scope_companies,
            _ => "",
        }
    }
}
