//! README's "Run it", from the browser alone (issue 11, item 5): the first
//! run's link creates the customer-service account; signed in at `/admin`
//! (and back there), it adds a company, a user in it with rights, a role and
//! a personal identity code, registers an application, and posts an
//! announcement; the application then signs the person in with the secret
//! the page showed once. What only customer service does is refused to a
//! user administrator, and changes nothing. On both backends.

use diesel::prelude::*;
use openidconnect::TokenResponse;
use openidconnect::core::CoreIdTokenClaims;
use portti::domain::access::CompanyRole;
use portti::domain::first_run;
use portti::store::schema::{clients, companies, users};

use crate::admin_pages::sign_in_from_admin;
use crate::support::fixtures::{CALLBACK, authorization_request, exchange, member, relying_party};
use crate::support::pages::{PageClient, element_text};
use crate::support::{TestDb, served_on_both_backends};

served_on_both_backends!(customer_service_sets_up_a_company_a_user_and_an_application_on_the_pages);

async fn customer_service_sets_up_a_company_a_user_and_an_application_on_the_pages(db: &TestDb) {
    let server = db.serve("");
    let state = &server.state;

    // The first run's link: the customer-service account.
    let link = first_run::offer_link(&state.store, state.clock.now(), &server.base).unwrap().expect("a link");
    let pages = PageClient::new(&server.base);
    let (_, status, page) = pages.open(&link).await.page();
    assert_eq!(status, 200);
    let password = crate::support::fixtures::PASSWORD;
    let account = [
        ("name", "Asiakaspalvelu"),
        ("email", "support@example.com"),
        ("new_password", password),
        ("confirm_password", password),
    ];
    pages.submit(&page, "", &account).await;
    sign_in_from_admin(&pages, "support@example.com").await;

    // A company.
    let (_, status, home) = pages.open("/admin").await.page();
    assert_eq!(status, 200);
    assert!(home.contains("You administer no companies."), "{home}");
    for label in ["Company name", "Client id", "Redirect URIs (one per line)", "Text", "Starts (UTC)"] {
        assert!(home.contains(&format!(">{label}</label>")), "{label}: {home}");
    }
    let (_, status, refused) = pages.submit(&home, "/admin/companies", &[("name", " ")]).await.page();
    assert_eq!(status, 400, "a company needs a name");
    assert!(refused.contains(r#"<p class="notice" role="alert">"#), "{refused}");
    let (company_path, status, page) =
        pages.submit(&home, "/admin/companies", &[("name", "Asiakas Oy"), ("office", "")]).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("The company was added."), "{page}");
    let company_id = company_path.strip_prefix("/admin/companies/").expect("the company's page").to_owned();
    let stored: (String, Option<String>) = companies::table
        .find(&company_id)
        .select((companies::name, companies::office_id))
        .get_result(&mut db.connection())
        .unwrap();
    assert_eq!(stored, ("Asiakas Oy".to_owned(), None));

    // A user in it, with rights and the user administrator's role.
    let new_user =
        [("name", "Liisa Laine"), ("email", "liisa@example.com"), ("phone", "+358401234567"), ("rights", "ledger")];
    let (user_path, status, page) = pages.submit(&page, "/users", &new_user).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(">Rights and roles in this company</h2>"), "{page}");
    assert!(page.contains(r#"id="role_user_admin" name="user_admin" type="checkbox" value="yes">"#), "not yet");
    let rights = [("rights", "ledger, payroll"), ("user_admin", "yes")];
    let (_, status, page) = pages.submit(&page, "/rights", &rights).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("The rights and roles were saved."), "{page}");
    assert!(page.contains(r#"id="role_user_admin" name="user_admin" type="checkbox" value="yes" checked>"#), "{page}");
    assert!(page.contains(r#"value="ledger, payroll""#), "{page}");
    let (_, status, page) = pages.submit(&page, "/rights", &[("rights", "Ledger!")]).await.page();
    assert_eq!(status, 400, "a right is a lower-case name");
    assert!(page.contains("is not an access right name"), "{page}");

    // Her personal identity code: a malformed one refused, a valid one linked (as a hash).
    assert_eq!(element_text(&page, "national-id-state"), "No personal identity code is linked.");
    let (_, status, page) = pages.submit(&page, "/national-id", &[("national_id", "131052-308X")]).await.page();
    assert_eq!(status, 400);
    assert_eq!(element_text(&page, "national-id-state"), "No personal identity code is linked.");
    let (path, status, page) = pages.submit(&page, "/national-id", &[("national_id", "131052-308T")]).await.page();
    assert_eq!((path.as_str(), status.as_u16()), (user_path.as_str(), 200));
    assert!(page.contains("The personal identity code was linked."), "{page}");
    assert_eq!(element_text(&page, "national-id-state"), "A personal identity code is linked.");
    let digest: Option<String> = users::table
        .filter(users::email.eq("liisa@example.com"))
        .select(users::national_id_digest)
        .get_result(&mut db.connection())
        .unwrap();
    assert!(digest.is_some_and(|d| !d.contains("131052")), "only a keyed hash is stored");

    // An application; its secret is shown once, and signs the person in.
    let (_, _, home) = pages.open("/admin").await.page();
    let bad = [("client_id", "crm"), ("redirect_uris", "http://crm.example/cb"), ("kind", "confidential")];
    let (_, status, page) = pages.submit(&home, "/admin/clients", &bad).await.page();
    assert_eq!(status, 400, "http only to loopback");
    assert!(page.contains("must use https"), "{page}");
    assert!(page.contains(r#"value="crm""#), "what was typed stays");
    let client = [("client_id", "crm"), ("redirect_uris", CALLBACK), ("kind", "confidential")];
    let (_, status, shown) = pages.submit(&home, "/admin/clients", &client).await.page();
    assert_eq!(status, 201, "{shown}");
    assert_eq!(element_text(&shown, "client-id"), "crm");
    assert_eq!(element_text(&shown, "discovery"), format!("{}/.well-known/openid-configuration", server.base));
    let secret = element_text(&shown, "client-secret");
    assert!(secret.len() >= 32, "{secret}");
    let stored_digest: Option<String> =
        clients::table.find("crm").select(clients::secret_digest).get_result(&mut db.connection()).unwrap();
    assert!(stored_digest.is_some_and(|d| d != secret), "only the secret's digest is stored");

    let rp = relying_party(&server, "crm", Some(&secret)).await;
    let request = authorization_request(&rp, &["email"]);
    let page = pages.open(&request.url).await;
    // Signed in already: only the consent, as for any application not first-party.
    let (_, _, consent) = page.page();
    let callback = pages.submit(&consent, "/consent", &[("decision", "allow")]).await.left();
    let tokens = exchange(&rp, &callback, &request).await;
    let claims: &CoreIdTokenClaims =
        tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &request.nonce).unwrap();
    assert_eq!(claims.email().map(|e| e.as_str()), Some("support@example.com"));

    // An announcement, which the sign-in pages show.
    let (_, _, home) = pages.open("/admin").await.page();
    let bad_time = [("text", "Kirjautuminen on hidasta"), ("starts_at", "soon"), ("ends_at", "2099-01-01T00:00")];
    let (_, status, page) = pages.submit(&home, "/admin/announcements", &bad_time).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("Enter the start and the end as a date and a time (UTC)."), "{page}");
    let notice =
        [("text", "Sign-in may be slow tonight."), ("starts_at", "2020-01-01T00:00"), ("ends_at", "2099-01-01T00:00")];
    let (path, status, page) = pages.submit(&home, "/admin/announcements", &notice).await.page();
    assert_eq!((path.as_str(), status.as_u16()), ("/admin", 200));
    assert!(page.contains("The announcement was posted."), "{page}");
    assert!(page.contains("2020-01-01 00:00 UTC – 2099-01-01 00:00 UTC: Sign-in may be slow tonight."), "{page}");
    let (_, _, signin) = PageClient::new(&server.base).open("/account").await.page();
    let shown = signin.split(r#"<div id="announcement" role="status""#).nth(1).expect("the announcement");
    assert!(shown.split("</div>").next().unwrap().contains("Sign-in may be slow tonight."), "{signin}");

    // A user administrator sees none of the support forms, and is refused them.
    let company = state.store.read(|r| r.all_companies()).unwrap().remove(0);
    assert_eq!(company.id.as_str(), company_id);
    member(state, "kh@example.com", &company.id, vec![CompanyRole::UserAdmin], false);
    let kh = PageClient::new(&server.base);
    sign_in_from_admin(&kh, "kh@example.com").await;
    let (_, _, kh_home) = kh.open("/admin").await.page();
    assert!(kh_home.contains(">Asiakas Oy</a>") && !kh_home.contains("Add a company"), "{kh_home}");
    let count = |table: &str| -> i64 {
        let mut conn = db.connection();
        match table {
            "companies" => companies::table.count().get_result(&mut conn),
            _ => clients::table.count().get_result(&mut conn),
        }
        .unwrap()
    };
    let before = (count("companies"), count("clients"));
    // The support page's forms, posted with the user administrator's own token.
    let (_, _, kh_company) = kh.open(&company_path).await.page();
    let forged = home.replace(&csrf_of(&home), &csrf_of(&kh_company));
    let (_, status, _) = kh.submit(&forged, "/admin/companies", &[("name", "Oma Oy")]).await.page();
    assert_eq!(status, 403);
    let (_, status, _) = kh.submit(&forged, "/admin/clients", &client).await.page();
    assert_eq!(status, 403);
    let (_, status, _) = kh.submit(&forged, "/admin/announcements", &notice).await.page();
    assert_eq!(status, 403);
    assert_eq!((count("companies"), count("clients")), before, "nothing was added");
    server.stop().await;
}

/// A page's anti-forgery token.
fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).unwrap_or_else(|| panic!("no form in:\n{page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}
