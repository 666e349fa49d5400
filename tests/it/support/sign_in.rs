//! A person signing in on the hosted pages, step by step.

use portti::crypto::totp;

use super::fixtures::PASSWORD;
use super::now;
use super::pages::{Landing, PageClient, element_text};

/// Opens a sign-in and gives the email; returns the password page.
pub async fn to_password_page(pages: &PageClient, url: &str, email: &str) -> String {
    let (_, _, page) = pages.open(url).await.page();
    let (_, _, page) = pages.submit(&page, "/email", &[("email", email)]).await.page();
    page
}

/// A first sign-in on the pages: email, password, authenticator enrolment,
/// recovery codes, terms, and consent when asked. Returns the callback URL,
/// the authenticator secret and the recovery codes.
pub async fn first_sign_in(pages: &PageClient, url: &str, email: &str) -> (String, Vec<u8>, Vec<String>) {
    let (callback, secret, codes, _) = first_sign_in_at(pages, url, email).await;
    (callback, secret, codes)
}

/// [`first_sign_in`], also returning the time whose code confirmed the enrolment.
pub async fn first_sign_in_at(pages: &PageClient, url: &str, email: &str) -> (String, Vec<u8>, Vec<String>, i64) {
    let (path, status, page) = pages.open(url).await.page();
    assert_eq!(status, 200);
    assert!(path.starts_with("/signin/"), "{path}");
    assert!(page.contains(r#"<label for="email">Email</label>"#));
    let (_, _, page) = pages.submit(&page, "/email", &[("email", email)]).await.page();
    assert!(page.contains(r#"<label for="password">Password</label>"#), "{page}");
    let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    assert!(page.contains("<svg"), "the enrolment shows a QR code");
    let typed = element_text(&page, "totp-secret");
    let secret = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    let enrolled_at = now();
    let code = totp::code_at(&secret, enrolled_at).unwrap();
    let (_, status, page) = pages.submit(&page, "/enrol", &[("code", &code)]).await.page();
    assert_eq!(status, 200);
    let codes: Vec<String> =
        page.split("<li><code>").skip(1).map(|rest| rest.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    let (_, _, page) = pages.submit(&page, "/recovery-codes", &[]).await.page();
    assert!(page.contains("Terms of service"), "{page}");
    let landing = pages.submit(&page, "/terms", &[]).await;
    let callback = match landing {
        Landing::Page { body, .. } if body.contains("Allow access") => {
            pages.submit(&body, "/consent", &[("decision", "allow")]).await.left()
        }
        other => other.left(),
    };
    (callback, secret, codes, enrolled_at)
}

/// A later sign-in: email, password, authenticator code.
pub async fn sign_in(pages: &PageClient, url: &str, email: &str, secret: &[u8], at: i64) -> Landing {
    let page = to_password_page(pages, url, email).await;
    let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    assert!(page.contains(r#"<label for="code">Authenticator code</label>"#), "{page}");
    let code = totp::code_at(secret, at).unwrap();
    pages.submit(&page, "/code", &[("code", &code)]).await
}
