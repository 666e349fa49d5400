//! What one client may send, how slowly, and how often (issue 14, item 7):
//! bodies and heads over their limits are refused cleanly and change
//! nothing; a client that trickles its request is let go while others are
//! served; and a flood from one address is throttled while another address
//! goes on as before.

use std::time::Duration;

use portti::web::limits::{BODY_LIMIT, HEADER_LIMIT, URI_LIMIT};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::activation::APP_TOML;
use crate::support::fixtures::{authorization_request, http, maija_and_ledger};
use crate::support::pages::PageClient;
use crate::support::{TestDb, at_the_start_of_a_minute, served_on_both_backends};

served_on_both_backends!(a_flood_from_one_address_is_throttled_and_another_address_goes_on);

/// The answer to a request sent over a raw socket, as text, read until
/// the server closes the connection. A server that keeps it open past
/// `patience` fails the test: a refused client must be let go.
async fn raw_answer(stream: &mut TcpStream, patience: Duration) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(patience, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    // A reset after the answer is a close too (actix resets a connection
    // whose head it would not read to the end).
    assert!(read.is_ok(), "the connection was still open after {patience:?}: {answer}");
    answer
}

/// The JSON body of a `413 request_too_large` answer.
async fn too_large_answer(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "request_too_large", "{body}");
    body
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

/// A body or head over its limit is refused with its status, in the form
/// the endpoint answers in (OAuth JSON, an API error in the person's
/// language, a page in the person's language), and nothing is created.
#[actix_web::test]
async fn requests_over_the_limits_are_refused_cleanly_and_change_nothing() {
    let db = TestDb::sqlite();
    let server = db.serve(APP_TOML);
    let rp = maija_and_ledger(&server).await;
    let too_large = "x".repeat(BODY_LIMIT + 1);

    // The token endpoint: an OAuth-style JSON error.
    let response = http()
        .post(format!("{}/token", server.base))
        .form(&[("grant_type", "client_credentials"), ("padding", &too_large)])
        .send()
        .await
        .unwrap();
    too_large_answer(response).await;

    // The app API: its error body, in the language asked for.
    let response = http()
        .post(format!("{}/api/app/v1/activations", server.base))
        .header("Portti-App-Version", "2.1.0")
        .header("Accept-Language", "sv")
        .json(&json!({"sign_up_code": too_large}))
        .send()
        .await
        .unwrap();
    let body = too_large_answer(response).await;
    assert!(body["message"].as_str().unwrap().contains("Inget sparades"), "in Swedish: {body}");

    // A page's form: a page in the person's language, and no step taken.
    let mut finnish = HeaderMap::new();
    finnish.insert("accept-language", HeaderValue::from_static("fi"));
    let pages = PageClient::with_headers(&server.base, finnish);
    let (_, status, page) = pages.open(authorization_request(&rp, &[]).url.as_str()).await.page();
    assert_eq!(status, 200);
    let (_, status, refused) = pages.submit(&page, "/email", &[("email", &too_large)]).await.page();
    assert_eq!(status, 413);
    assert!(refused.contains("Mitään ei tallennettu"), "a page in Finnish: {refused}");
    let (_, status, next) = pages.submit(&page, "/email", &[("email", "maija@example.com")]).await.page();
    assert_eq!(status, 200, "the sign-in goes on from where it was");
    assert!(next.contains("<label for=\"password\">"), "{next}");

    // A declared length over the limit is refused before the body is read.
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n",
        10 * BODY_LIMIT
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = raw_answer(&mut stream, Duration::from_secs(5)).await;
    assert!(status_line(&answer).starts_with("HTTP/1.1 413"), "{answer}");

    // A chunked body, which does not say how long it will be, is refused
    // at its head, and the connection closes at once however slowly the
    // rest trickles in.
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).await.unwrap();
    stream
        .write_all(
            b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n",
        )
        .await
        .unwrap();
    let answer = raw_answer(&mut stream, Duration::from_secs(5)).await;
    assert!(status_line(&answer).starts_with("HTTP/1.1 411"), "{answer}");
    assert!(answer.contains("\"error\":\"length_required\""), "{answer}");

    // The head: a long address, a long header, and a head past all bounds.
    let long_address = format!("{}/authorize?client_id=ledger&x={}", server.base, "a".repeat(URI_LIMIT));
    let response = http().get(long_address).send().await.unwrap();
    assert_eq!(response.status(), 431);
    let response = http()
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .header("cookie", "a".repeat(HEADER_LIMIT))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).await.unwrap();
    let head = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n", "a".repeat(200 * 1024));
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = raw_answer(&mut stream, Duration::from_secs(5)).await;
    assert!(status_line(&answer).starts_with("HTTP/1.1 431"), "{answer}");

    // None of it reached a handler: not even the activation's address
    // limit counted the refused call. And Portti serves on.
    use diesel::prelude::*;
    use portti::store::schema::rate_limits;
    let counted: Vec<String> = rate_limits::table.select(rate_limits::bucket).load(&mut db.connection()).unwrap();
    assert!(!counted.iter().any(|bucket| bucket.starts_with("activation")), "{counted:?}");
    let response = http().get(format!("{}/.well-known/openid-configuration", server.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}

/// Clients that send their head or their body a byte at a time are let go
/// when their time is up (408), and meanwhile every other client is served.
#[actix_web::test]
async fn slow_clients_are_let_go_while_others_are_served() {
    let db = TestDb::sqlite();
    let server = db.serve("");
    let address = server.base.trim_start_matches("http://").to_owned();

    // Many slow heads, each a header line started and never finished.
    let mut slow_heads = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a").await.unwrap();
        slow_heads.push(stream);
    }
    // A slow body: the head, then a tenth of the body it announces.
    let mut slow_body = TcpStream::connect(&address).await.unwrap();
    slow_body
        .write_all(
            b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100\r\n\r\ngrant_type",
        )
        .await
        .unwrap();

    // Meanwhile others are served, and keep being served while the slow
    // clients trickle on.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
    for _ in 0..3 {
        for stream in &mut slow_heads {
            let _ = stream.write_all(b"a").await;
        }
        let response = client.get(format!("{}/.well-known/openid-configuration", server.base)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // Their time is up: each slow head has been answered 408 and let go.
    for stream in &mut slow_heads {
        let answer = raw_answer(stream, Duration::from_secs(10)).await;
        assert!(status_line(&answer).starts_with("HTTP/1.1 408"), "{answer}");
    }
    let answer = raw_answer(&mut slow_body, Duration::from_secs(15)).await;
    assert!(status_line(&answer).starts_with("HTTP/1.1 408"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(body.contains("\"error\":\"request_timeout\""), "{answer}");

    let response = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}

/// Portti behind a proxy on the loopback that says where each client is.
const BEHIND_A_PROXY: &str = "[sign_in]\nsign_ins_per_minute_per_address = 40\n\
    client_address_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
    [app]\nclient_id = \"app\"\n";

fn from_address(address: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", HeaderValue::from_str(address).unwrap());
    headers
}

/// A flood of sign-ins (and the QR codes their pages show), of device
/// authorizations and of activations, all from one address: each is cut
/// off at its limit, and a second address is served as if nothing had
/// happened.
async fn a_flood_from_one_address_is_throttled_and_another_address_goes_on(db: &TestDb) {
    use portti::domain::activation::CALLS_PER_MINUTE_PER_ADDRESS;
    use portti::domain::device_authorization::STARTS_PER_ADDRESS_PER_MINUTE;
    use portti::domain::qr::NEW_PER_ADDRESS_PER_MINUTE;
    let server = db.serve(BEHIND_A_PROXY);
    let rp = maija_and_ledger(&server).await;
    crate::device_grant::register_tv(&server);
    let url = authorization_request(&rp, &[]).url;
    let (attacker, other) = ("198.51.100.66", "203.0.113.5");
    at_the_start_of_a_minute(&server);

    // Sign-ins: each a new browser. The first pages show a QR code, until
    // the address has had its share of those; past 40 a minute, nothing.
    let (mut shown, mut with_qr, mut refused) = (0, 0, 0);
    for _ in 0..45 {
        let (_, status, page) =
            PageClient::with_headers(&server.base, from_address(attacker)).open(url.as_str()).await.page();
        match status.as_u16() {
            200 => {
                shown += 1;
                with_qr += i64::from(page.contains("id=\"qr-link\""));
            }
            429 => refused += 1,
            other => panic!("{other}: {page}"),
        }
    }
    assert_eq!((shown, refused), (40, 5), "the address's sign-ins a minute");
    assert_eq!(with_qr, NEW_PER_ADDRESS_PER_MINUTE, "the address's QR codes a minute");
    let (_, status, page) = PageClient::with_headers(&server.base, from_address(other)).open(url.as_str()).await.page();
    assert_eq!(status, 200, "another address signs in");
    assert!(page.contains("id=\"qr-link\""), "with a QR code: {page}");

    // Device authorizations.
    let start = |address: &'static str| {
        let base = server.base.clone();
        async move {
            let response = http()
                .post(format!("{base}/device_authorization"))
                .header("x-forwarded-for", address)
                .form(&[("client_id", "tv"), ("scope", "openid")])
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..(STARTS_PER_ADDRESS_PER_MINUTE + 3) {
        statuses.push(start(attacker).await);
    }
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(allowed, STARTS_PER_ADDRESS_PER_MINUTE as usize, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(start(other).await, 200, "another address's device starts");

    // Activations: wrong sign-up codes, until the address is refused.
    let activate = |address: &'static str| {
        let base = server.base.clone();
        async move {
            let response = http()
                .post(format!("{base}/api/app/v1/activations"))
                .header("x-forwarded-for", address)
                .header("Portti-App-Version", "2.1.0")
                .json(&json!({"sign_up_code": "ABCD-EFGH-JKLM-NPQR"}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    for _ in 0..CALLS_PER_MINUTE_PER_ADDRESS {
        assert_eq!(activate(attacker).await, (400, "invalid_code".to_owned()));
    }
    assert_eq!(activate(attacker).await, (429, "too_many_attempts".to_owned()));
    assert_eq!(activate(other).await, (400, "invalid_code".to_owned()), "another address is still heard");

    // A minute later the flooding address is served again.
    server.state.clock.advance(60);
    assert_eq!(start(attacker).await, 200);
    server.stop().await;
}
