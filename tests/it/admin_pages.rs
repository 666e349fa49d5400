//! The administration pages under `/admin`, driven as a browser would: a
//! user administrator signs in on the hosted pages, adds a user (a bad phone
//! is refused naming the expected form), opens them, invites, cancels and
//! re-invites, and once the invitee has entered the sign-up code in the app
//! generates a verification code. Another company's administrator finds
//! none of it; a person without a role is refused.

use portti::crypto::totp;
use portti::domain::access::CompanyRole;
use portti::domain::company::add_company;
use serde_json::json;

use crate::activation::{APP_TOML, app_post, sign_up_code};
use crate::support::fixtures::{PASSWORD, member};
use crate::support::pages::{PageClient, element_text};
use crate::support::sign_in::sign_in;
use crate::support::{TestDb, now, served_on_both_backends};

served_on_both_backends!(an_administrator_adds_and_invites_a_user_on_the_pages);

/// Opens `/admin` without a session: the hosted sign-in (first time:
/// enrolment, recovery codes, terms), which ends back on `/admin`.
/// Returns the authenticator secret and the time its first code was for.
pub async fn sign_in_from_admin(pages: &PageClient, email: &str) -> (Vec<u8>, i64) {
    let (path, _, page) = pages.open("/admin").await.page();
    assert!(path.starts_with("/signin/"), "no session: the admin pages ask to sign in first ({path})");
    let (_, _, page) = pages.submit(&page, "/email", &[("email", email)]).await.page();
    let (_, _, page) = pages.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    let typed = element_text(&page, "totp-secret");
    let secret = totp_rs::Secret::try_from_base32(typed.replace(' ', "")).unwrap().as_bytes().to_vec();
    let enrolled_at = now();
    let (_, _, page) =
        pages.submit(&page, "/enrol", &[("code", &totp::code_at(&secret, enrolled_at).unwrap())]).await.page();
    let (_, _, page) = pages.submit(&page, "/recovery-codes", &[]).await.page();
    let (path, status, _) = pages.submit(&page, "/terms", &[]).await.page();
    // Back where the sign-in started: the administration pages (403 without a role).
    let administers = !email.starts_with("employee");
    assert_eq!((path.as_str(), status.as_u16()), ("/admin", if administers { 200 } else { 403 }));
    // The account page links administration for those who hold a role.
    let (_, _, page) = pages.open("/account").await.page();
    assert_eq!(page.contains(r#"<a id="admin-link" href="/admin">Administration</a>"#), administers, "{page}");
    (secret, enrolled_at)
}

async fn an_administrator_adds_and_invites_a_user_on_the_pages(db: &TestDb) {
    let server = db.serve(APP_TOML);
    let state = &server.state;
    let company = add_company(&state.store, 1, "Asiakas Oy", None).unwrap();
    let other = add_company(&state.store, 1, "Muu Oy", None).unwrap();
    member(state, "kh@example.com", &company.id, vec![CompanyRole::UserAdmin], false);
    member(state, "muu@example.com", &other.id, vec![CompanyRole::UserAdmin], false);
    member(state, "employee@example.com", &company.id, vec![], false);
    let company_path = format!("/admin/companies/{}", company.id.as_str());

    let pages = PageClient::new(&server.base);
    let (kh_secret, kh_enrolled_at) = sign_in_from_admin(&pages, "kh@example.com").await;
    let (_, status, page) = pages.open("/admin").await.page();
    assert_eq!(status, 200);
    assert!(page.contains(&format!(r#"<a href="{company_path}">Asiakas Oy</a>"#)), "{page}");
    assert!(!page.contains("Muu Oy"), "only the companies the person administers");

    // The company: its users, a search, and the form to add one.
    let (_, status, page) = pages.open(&company_path).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("kh@example.com") && page.contains("employee@example.com"), "{page}");
    for label in ["Name", "Email", "Phone", "Rights (comma-separated)"] {
        assert!(page.contains(&format!(">{label}</label>")), "{label}");
    }
    let (_, _, found) = pages.open(&format!("{company_path}?q=employee")).await.page();
    assert!(found.contains("employee@example.com") && !found.contains("kh@example.com"), "{found}");

    // A bad phone: the form again, 400, with the expected form named.
    let new_user = |phone: &'static str| {
        [("name", "Liisa Laine"), ("email", "liisa@example.com"), ("phone", phone), ("rights", "ledger, payroll")]
    };
    let (path, status, page) = pages.submit(&page, "/users", &new_user("040 123 4567x")).await.page();
    assert_eq!((path, status.as_u16()), (format!("{company_path}/users"), 400));
    let notice = element_notice(&page);
    assert!(notice.contains("+358401234567"), "the refusal names the expected form: {notice}");
    assert!(page.contains(r#"value="liisa@example.com""#), "what was typed stays");

    let (user_path, status, page) = pages.submit(&page, "/users", &new_user("+358401234567")).await.page();
    assert_eq!(status, 200);
    assert!(user_path.starts_with(&format!("{company_path}/users/")), "{user_path}");
    assert!(page.contains("The user was added."));
    assert!(page.contains("ledger, payroll"));
    assert_eq!(element_text(&page, "communication-email"), "liisa@example.com");
    assert!(page.contains(r#"value="+358401234567""#));
    assert!(page.contains("Invite user to log in with the mobile application"));

    // The communication phone: a bad one refused on the page, a good one saved.
    let (_, status, page) = pages.submit(&page, "/communication", &[("phone", "12")]).await.page();
    assert_eq!(status, 400);
    assert!(element_notice(&page).contains("+358401234567"));
    let (_, status, page) = pages.submit(&page, "/communication", &[("phone", "+358401234567")]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("Saved."));

    // Rights and roles in this company: a user administrator grants their
    // own role, not the office's main user's (403, and nothing changes).
    let (_, status, page) = pages.submit(&page, "/rights", &[("rights", "ledger"), ("user_admin", "yes")]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("The rights and roles were saved."), "{page}");
    let (_, status, page) =
        pages.submit(&page, "/rights", &[("rights", "ledger"), ("office_admin", "yes")]).await.page();
    assert_eq!(status, 403, "{page}");
    assert!(page.contains(r#"id="role_user_admin" name="user_admin" type="checkbox" value="yes" checked>"#));
    assert!(page.contains(r#"id="role_office_admin" name="office_admin" type="checkbox" value="yes">"#));
    let (_, _, page) = pages.submit(&page, "/rights", &[("rights", "ledger")]).await.page();
    assert!(page.contains(r#"id="role_user_admin" name="user_admin" type="checkbox" value="yes">"#), "removed");

    // The invitation view: the details to check, the checkbox, Send invitation.
    let invitation_path = format!("{user_path}/invitation");
    let (_, status, page) = pages.open(&invitation_path).await.page();
    assert_eq!(status, 200);
    assert_eq!(element_text(&page, "invitee-email"), "liisa@example.com");
    assert_eq!(element_text(&page, "invitee-phone"), "+358401234567");
    let label = page.split(r#"<label for="identity_verified">"#).nth(1).and_then(|rest| rest.split("</label>").next());
    assert_eq!(label.map(unescape).as_deref(), Some("I have verified the invitee's identity"), "{page}");
    assert!(page.contains(">Send invitation</button>") && !page.contains("Cancel invitation"), "{page}");

    // Unticked: refused.
    let (_, status, page) = pages.submit(&page, "/invitation", &[]).await.page();
    assert_eq!(status, 400);
    assert!(element_notice(&page).contains("I have verified the invitee"), "{page}");

    let (_, status, page) = pages.submit(&page, "/invitation", &[("identity_verified", "yes")]).await.page();
    assert_eq!(status, 200);
    assert_eq!(element_text(&page, "invitation-state"), "Sent");
    assert!(page.contains(">Cancel invitation</button>") && page.contains(">Re-invite</button>"), "{page}");
    let first_code = sign_up_code(&server, db).await;

    let (_, _, page) = pages.submit(&page, "/invitation/cancel", &[]).await.page();
    assert!(page.contains("The invitation was cancelled."));
    assert_eq!(element_text(&page, "invitation-state"), "Cancelled");
    assert!(!page.contains(">Cancel invitation</button>"));
    let (status, _) = app_post(&server, "/activations", json!({"sign_up_code": first_code})).await;
    assert_eq!(status, 400, "a cancelled invitation's code is refused");

    // Sent again, then re-invited while live: the newest code is the one that works.
    let (_, _, page) = pages.submit(&page, "/invitation", &[("identity_verified", "yes")]).await.page();
    assert_eq!(element_text(&page, "invitation-state"), "Sent");
    let (_, status, page) = pages.submit(&page, "/invitation", &[("identity_verified", "yes")]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("The invitation was sent."));
    assert!(!page.contains("receive the verification code?"), "no code before the sign-up code is entered");
    let code = sign_up_code(&server, db).await;

    // The invitee enters the sign-up code in the app.
    let (status, started) = app_post(&server, "/activations", json!({"sign_up_code": code})).await;
    assert_eq!(status, 201, "{started}");
    let (_, _, page) = pages.open(&invitation_path).await.page();
    assert_eq!(element_text(&page, "invitation-state"), "Sign-up code entered");
    assert!(unescape(&page).contains("Didn't the invitee receive the verification code?"), "{page}");
    let (_, status, shown) = pages.submit(&page, "/invitation/code", &[]).await.page();
    assert_eq!(status, 200);
    let admin_code = element_text(&shown, "admin-code");
    assert!(admin_code.len() == 6 && admin_code.chars().all(|c| c.is_ascii_digit()), "{admin_code}");
    assert!(element_text(&shown, "admin-code-expires").ends_with("UTC"));

    // After a change of where the codes go, only customer service re-invites:
    // the view says so and offers no Re-invite.
    let (_, _, page) = pages.open(&user_path).await.page();
    let (_, status, _) = pages.submit(&page, "/communication", &[("phone", "+358409999999")]).await.page();
    assert_eq!(status, 200);
    let (_, _, page) = pages.open(&invitation_path).await.page();
    assert_eq!(element_text(&page, "invitee-phone"), "+358409999999", "where the codes would go now");
    assert!(element_text(&page, "support-must-reinvite").contains("customer service"), "{page}");
    assert!(!page.contains(">Re-invite</button>") && page.contains(">Cancel invitation</button>"), "{page}");

    // The company's log, newest first.
    let (_, status, log) = pages.open(&format!("{company_path}/audit")).await.page();
    assert_eq!(status, 200);
    let generated = log.find("admin_code_generated").expect("the code is in the log");
    let added = log.find("user_added").expect("the user's addition is in the log");
    assert!(generated < added, "newest first");

    // Another company's administrator: all of it is not found.
    let stranger = PageClient::new(&server.base);
    sign_in_from_admin(&stranger, "muu@example.com").await;
    for path in [company_path.clone(), user_path.clone(), invitation_path.clone(), format!("{company_path}/audit")] {
        let (_, status, _) = stranger.open(&path).await.page();
        assert_eq!(status, 404, "{path}");
    }

    // A sign-in that a deeper administration page started ends on that page.
    let again = PageClient::new(&server.base);
    let landing = sign_in(&again, &user_path, "kh@example.com", &kh_secret, kh_enrolled_at + 30).await;
    let (path, status, page) = landing.page();
    assert_eq!((path.as_str(), status.as_u16()), (user_path.as_str(), 200));
    assert!(page.contains("Liisa Laine"), "{page}");
    let kh_user_page = page;

    // A person without a role: 403, saying so.
    let employee = PageClient::new(&server.base);
    sign_in_from_admin(&employee, "employee@example.com").await;
    let (_, status, page) = employee.open("/admin").await.page();
    assert_eq!(status, 403);
    assert!(page.contains("You have no administrative role"), "{page}");

    // A form posted once the session has ended is not posted again: the
    // sign-in it starts ends on /admin.
    {
        use diesel::prelude::*;
        use portti::store::schema::browser_sessions;
        let ended = diesel::update(browser_sessions::table).set(browser_sessions::ended_at.eq(Some(now())));
        assert!(ended.execute(&mut db.connection()).unwrap() > 0);
    }
    let expired = again;
    let (path, _, page) = expired.submit(&kh_user_page, "/communication", &[("phone", "+358401111111")]).await.page();
    assert!(path.starts_with("/signin/"), "{path}");
    let (_, _, page) = expired.submit(&page, "/email", &[("email", "kh@example.com")]).await.page();
    let (_, _, page) = expired.submit(&page, "/password", &[("password", PASSWORD)]).await.page();
    // A later time step than the last code used.
    server.state.clock.advance(60);
    let code = totp::code_at(&kh_secret, server.state.clock.now()).unwrap();
    let (path, status, _) = expired.submit(&page, "/code", &[("code", &code)]).await.page();
    assert_eq!((path.as_str(), status.as_u16()), ("/admin", 200));
}

/// The notice of a form shown again.
fn element_notice(page: &str) -> String {
    let start = page.find(r#"<p class="notice" role="alert">"#).unwrap_or_else(|| panic!("no notice in:\n{page}"));
    page[start..].split("</p>").next().unwrap().to_owned()
}

/// A page's text with the entities askama writes for quotes undone.
fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'").replace("&#39;", "'").replace("&quot;", "\"").replace("&#34;", "\"")
}
