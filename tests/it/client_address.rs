//! The client's address behind reverse proxies, as the per-address sign-in
//! throttle (`sign_in.attempts_per_minute_per_address`) counts it.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::support::TestDb;
use crate::support::fixtures::{authorization_request, confidential_client, relying_party};
use crate::support::pages::PageClient;
use crate::support::sign_in::to_password_page;
use crate::support::{TestServer, at_the_start_of_a_minute};

/// Portti behind a proxy on the loopback (the tests' peer) that appends to
/// `X-Forwarded-For`, with another proxy of the same deployment at 10.0.0.0/8.
const BEHIND_PROXIES: &str = "[sign_in]\nattempts_per_minute_per_address = 2\n\
    client_address_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]";

/// A new browser, behind proxies that say it comes from `forwarded_for`,
/// tries a wrong password for `email`; the status of its answer.
async fn wrong_password_from(server: &TestServer, forwarded_for: &str, email: &str) -> StatusCode {
    let rp = relying_party(server, "ledger", None).await;
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", HeaderValue::from_str(forwarded_for).unwrap());
    let pages = PageClient::with_headers(&server.base, headers);
    let page = to_password_page(&pages, &authorization_request(&rp, &[]).url, email).await;
    let (_, status, _) = pages.submit(&page, "/password", &[("password", "not the password")]).await.page();
    status
}

/// Two addresses in one IPv6 /64 are one subscriber's: they share one
/// throttle bucket. Another /64 has a bucket of its own. Each try is a new
/// browser and a new email, so only the address can tie them together.
async fn one_ipv6_64_shares_one_throttle(db: &TestDb) {
    let server = db.serve(BEHIND_PROXIES);
    confidential_client(&server.state, "ledger", true, "RS256", &[]);
    at_the_start_of_a_minute(&server);
    assert_eq!(wrong_password_from(&server, "2001:db8:1:2::a", "a@example.com").await, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_password_from(&server, "2001:db8:1:2::b", "b@example.com").await, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong_password_from(&server, "2001:db8:1:2:ffff::c", "c@example.com").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the third try from the same /64 is over the limit of 2"
    );
    assert_eq!(
        wrong_password_from(&server, "2001:db8:1:3::a", "d@example.com").await,
        StatusCode::BAD_REQUEST,
        "the next /64 is someone else"
    );
    server.stop().await;
}

/// The leftmost `X-Forwarded-For` value is whatever the client sent: making
/// up a new one for every try does not get past the throttle. The proxies'
/// own addresses on the right are skipped, and so is a header that is not a
/// list of addresses.
async fn a_spoofed_leftmost_address_is_ignored(db: &TestDb) {
    let server = db.serve(BEHIND_PROXIES);
    confidential_client(&server.state, "ledger", true, "RS256", &[]);
    at_the_start_of_a_minute(&server);
    for n in 1..=2 {
        let chain = format!("192.0.2.{n}, 198.51.100.7, 10.1.1.1");
        assert_eq!(wrong_password_from(&server, &chain, &format!("{n}@example.com")).await, StatusCode::BAD_REQUEST);
    }
    for n in 3..=4 {
        let chain = format!("192.0.2.{n}, 198.51.100.7, 10.1.1.1");
        let status = wrong_password_from(&server, &chain, &format!("{n}@example.com")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{chain}: the client is 198.51.100.7");
    }
    assert_eq!(
        wrong_password_from(&server, "198.51.100.8, 10.1.1.1", "5@example.com").await,
        StatusCode::BAD_REQUEST,
        "another client behind the same proxies"
    );
    // What a client writes left of its own address is never read: its address counts.
    for (n, spoofed) in [(20, "unknown, 198.51.100.20, 10.1.1.1"), (21, "<script>, 198.51.100.20, 10.1.1.1")] {
        assert_eq!(wrong_password_from(&server, spoofed, &format!("{n}@example.com")).await, StatusCode::BAD_REQUEST);
    }
    let status = wrong_password_from(&server, "a, b, 198.51.100.20, 10.1.1.1", "22@example.com").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "198.51.100.20's bucket is full, whatever it wrote before it");
    // Garbage where the proxies write is not believed: the peer counts instead.
    for n in 9..=10 {
        let garbage = format!("198.51.100.{n}, unknown");
        assert_eq!(wrong_password_from(&server, &garbage, &format!("{n}@example.com")).await, StatusCode::BAD_REQUEST);
    }
    let status = wrong_password_from(&server, "198.51.100.11, garbage", "11@example.com").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the peer's own bucket is full");
    server.stop().await;
}

#[actix_web::test]
async fn one_ipv6_64_shares_one_throttle_sqlite() {
    one_ipv6_64_shares_one_throttle(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn one_ipv6_64_shares_one_throttle_postgres() {
    if let Some(db) = TestDb::postgres() {
        one_ipv6_64_shares_one_throttle(&db).await;
    }
}

#[actix_web::test]
async fn a_spoofed_leftmost_address_is_ignored_sqlite() {
    a_spoofed_leftmost_address_is_ignored(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn a_spoofed_leftmost_address_is_ignored_postgres() {
    if let Some(db) = TestDb::postgres() {
        a_spoofed_leftmost_address_is_ignored(&db).await;
    }
}
