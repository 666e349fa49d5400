//! The HTTP surface: actix only. Handlers parse, call one domain function and
//! render; the rules live in `domain`.

mod account;
mod activate;
pub mod admin_api;
mod admin_pages;
pub mod api;
pub mod app_api;
mod browser;
pub mod cors;
mod device;
mod discovery;
pub mod error_response;
mod extract;
mod health;
mod home;
pub mod limits;
mod logout;
pub mod page;
mod password;
pub(crate) mod qr;
pub mod request_id;
mod setup;
mod signin;
mod token;
mod upstream;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web::ServiceConfig;

/// Registers every route.
pub fn routes(config: &mut ServiceConfig) {
    config
        .service(health::healthz)
        .service(health::readyz)
        .service(home::home)
        .service(home::stylesheet)
        .service(home::qr_script)
        .service(home::passkey_script)
        .service(discovery::openid_configuration)
        .service(discovery::jwks)
        .service(signin::authorize_get)
        .service(signin::authorize_post)
        .service(signin::show)
        .service(signin::show_recovery)
        .service(signin::email_step)
        .service(signin::change_email_step)
        .service(signin::password_step)
        .service(signin::code_step)
        .service(signin::recovery_step)
        .service(signin::enrol_step)
        .service(signin::recovery_codes_step)
        .service(signin::terms_step)
        .service(signin::consent_step)
        .service(signin::qr_step)
        .service(signin::passkey_options)
        .service(signin::passkey_step)
        .service(signin::confirmation_step)
        .service(signin::confirmation_new_step)
        .service(upstream::start)
        .service(upstream::callback)
        .service(upstream::jwks)
        .service(upstream::signed_jwks)
        .service(upstream::link_account)
        .service(qr::status)
        .service(qr::landing)
        .service(qr::approve_page)
        .service(qr::passkey_options)
        .service(qr::approve)
        .service(qr::deny)
        .service(device::code_page)
        .service(device::code_submit)
        .service(device::approve_page)
        .service(device::decide)
        .service(signin::show_form_address)
        .service(token::token_endpoint)
        .service(token::device_authorization)
        .service(token::introspection)
        .service(token::revocation)
        .service(token::userinfo_get)
        .service(token::userinfo_post)
        .service(logout::logout_get)
        .service(logout::logout_post)
        .service(password::forgot_page)
        .service(password::forgot_submit)
        .service(password::code_page)
        .service(password::code_submit)
        .service(password::new_password_page)
        .service(password::new_password_submit)
        .service(account::show)
        .service(account::sign_in_again)
        .service(account::name)
        .service(account::email)
        .service(account::phone)
        .service(account::email_verify)
        .service(account::phone_verify)
        .service(account::password)
        .service(account::authenticator)
        .service(account::recovery_codes)
        .service(account::revoke_application)
        .service(account::sign_out_everywhere)
        .service(account::remove_device)
        .service(account::passkey_options)
        .service(account::add_passkey)
        .service(account::remove_passkey)
        .service(account::show_form_address)
        .service(activate::start_page)
        .service(activate::start_submit)
        .service(activate::verify_submit)
        .service(activate::resend_submit)
        .service(admin_pages::show_home)
        .service(admin_pages::add_company)
        .service(admin_pages::add_client)
        .service(admin_pages::post_announcement)
        .service(admin_pages::set_rights)
        .service(admin_pages::set_national_id)
        .service(admin_pages::show_company)
        .service(admin_pages::add_user)
        .service(admin_pages::show_user_page)
        .service(admin_pages::update_user)
        .service(admin_pages::communication_phone)
        .service(admin_pages::show_invitation_page)
        .service(admin_pages::send_invitation)
        .service(admin_pages::cancel_invitation)
        .service(admin_pages::generate_code)
        .service(admin_pages::show_audit)
        .service(setup::show)
        .service(setup::submit)
        .service(page::switch)
        .configure(app_api::routes)
        .configure(admin_api::routes);
}

/// Registers `/metrics`: on the main listener, or alone on `metrics_bind`.
pub fn metrics_route(config: &mut ServiceConfig) {
    config.service(health::metrics);
}

/// The Content-Security-Policy of a page. Browsers apply `form-action` to the
/// redirect that follows a form too, so a page whose form may end the sign-in
/// (and send the browser back to the application) names that application's
/// origin.
pub fn content_security_policy(form_target: Option<&str>) -> String {
    let extra = form_target.map(|origin| format!(" {origin}")).unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
         form-action 'self'{extra}; frame-ancestors 'none'"
    )
}

/// The policy of pages without a form to another origin, made once.
static STATIC_POLICY: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Security headers on every response: no inline script or style, no framing,
/// no referrer leaks, no MIME sniffing; HSTS when served over https.
/// The values are static, so putting them on a response copies a pointer
/// rather than counting references to a shared buffer.
pub fn security_headers(https: bool) -> DefaultHeaders {
    let static_value = header::HeaderValue::from_static;
    let policy: &'static str = STATIC_POLICY.get_or_init(|| content_security_policy(None).leak());
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, static_value(policy)))
        .add((header::X_CONTENT_TYPE_OPTIONS, static_value("nosniff")))
        .add((header::REFERRER_POLICY, static_value("no-referrer")))
        .add((header::X_FRAME_OPTIONS, static_value("DENY")));
    if https {
        headers.add((header::STRICT_TRANSPORT_SECURITY, static_value("max-age=31536000; includeSubDomains")))
    } else {
        headers
    }
}
