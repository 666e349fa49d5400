//! Delivery of the outbox to a real SMTP server and a real HTTP SMS gateway:
//! retries with backoff, giving up, expiry, files, and surviving a kill.

use std::process::{Child, Command, Stdio};

use diesel::prelude::*;
use portti::AppState;
use portti::domain::contact::{Email, PhoneNumber};
use portti::notify::{Message, enqueue};
use portti::store::schema::outbox;

use crate::support::messages::worker;
use crate::support::sms_gateway::SmsGateway;
use crate::support::smtp::SmtpServer;
use crate::support::{TestDb, eventually};

fn queue(state: &AppState, message: Message, expires_at: Option<i64>) {
    let now = state.clock.now();
    state.store.write(|tx| enqueue(tx, &state.keys, now, &message, expires_at)).unwrap();
}

fn sms(text: &str) -> Message {
    Message::Sms { to: PhoneNumber::parse("+358401234567").unwrap(), text: text.to_owned() }
}

fn email(subject: &str) -> Message {
    Message::Email {
        to: Email::parse("maija@example.com").unwrap(),
        subject: subject.to_owned(),
        body: "Your code is 123456.\n".to_owned(),
    }
}

#[actix_web::test]
async fn email_is_delivered_over_smtp() {
    let smtp = SmtpServer::start().await;
    let db = TestDb::sqlite();
    let state = db.open(&format!("[mail]\nsmtp_url = {:?}\nfrom = \"Portti <login@example.com>\"", smtp.url()));
    queue(&state, email("Your sign-in code"), None);

    assert_eq!(worker(&state).deliver_due().await.unwrap(), 1);
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, vec!["<maija@example.com>"]);
    assert_eq!(received[0].from, "<login@example.com>");
    assert!(received[0].data.contains("Subject: Your sign-in code"));
    assert!(received[0].data.contains("Your code is 123456."));

    let (sent_at, sealed): (Option<i64>, Option<String>) =
        outbox::table.select((outbox::sent_at, outbox::sealed_content)).get_result(&mut db.connection()).unwrap();
    assert!(sent_at.is_some());
    assert!(sealed.is_none(), "delivered content is erased");
    assert_eq!(worker(&state).deliver_due().await.unwrap(), 0, "nothing is sent twice");
    assert_eq!(smtp.messages().len(), 1);
}

#[actix_web::test]
async fn sms_is_posted_to_the_gateway_and_retried_with_backoff() {
    let gateway = SmsGateway::start(1);
    let db = TestDb::sqlite();
    let state = db.open(&format!("[sms]\nwebhook_url = {:?}", gateway.url));
    queue(&state, sms("Your verification code is 654321"), None);
    let worker = worker(&state);

    assert_eq!(worker.deliver_due().await.unwrap(), 0, "the gateway fails the first try");
    let (attempts, error, next): (i32, Option<String>, i64) = outbox::table
        .select((outbox::attempts, outbox::last_error, outbox::next_attempt_at))
        .get_result(&mut db.connection())
        .unwrap();
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("500"));
    assert!(next >= state.clock.now() + 25, "backs off before the next try");
    assert_eq!(worker.deliver_due().await.unwrap(), 0, "not due yet");

    state.clock.advance(31);
    assert_eq!(worker.deliver_due().await.unwrap(), 1);
    assert_eq!(
        gateway.messages(),
        vec![serde_json::json!({ "to": "+358401234567", "text": "Your verification code is 654321" })]
    );
    gateway.stop().await;
}

#[actix_web::test]
async fn a_message_is_given_up_after_the_last_attempt() {
    let gateway = SmsGateway::start(usize::MAX);
    let db = TestDb::sqlite();
    let state = db.open(&format!("[sms]\nwebhook_url = {:?}\n[outbox]\nmax_attempts = 2", gateway.url));
    queue(&state, sms("code"), None);
    let worker = worker(&state);
    worker.deliver_due().await.unwrap();
    state.clock.advance(3600);
    worker.deliver_due().await.unwrap();
    let counts = state.store.read(|r| r.outbox_counts()).unwrap();
    assert_eq!((counts.pending, counts.sent, counts.failed), (0, 0, 1));
    state.clock.advance(3600);
    worker.deliver_due().await.unwrap();
    assert_eq!(gateway.request_count(), 2, "no third attempt after max_attempts = 2");
    gateway.stop().await;
}

#[actix_web::test]
async fn an_expired_code_is_not_delivered_late() {
    let gateway = SmsGateway::start(0);
    let db = TestDb::sqlite();
    let state = db.open(&format!("[sms]\nwebhook_url = {:?}", gateway.url));
    queue(&state, sms("code valid 90 seconds"), Some(state.clock.now() + 90));
    state.clock.advance(91);
    assert_eq!(worker(&state).deliver_due().await.unwrap(), 0);
    assert!(gateway.messages().is_empty());
    assert_eq!(state.store.read(|r| r.outbox_counts()).unwrap().failed, 1);
    gateway.stop().await;
}

/// The files hold reset links and codes: only Portti's own user may read them.
async fn without_smtp_or_gateway_messages_are_private_files(db: &TestDb) {
    use std::os::unix::fs::PermissionsExt;
    let state = db.open("");
    queue(&state, email("Welcome"), None);
    queue(&state, sms("Hello by SMS"), None);
    assert_eq!(worker(&state).deliver_due().await.unwrap(), 2);

    let read_dir = |sub: &str| -> Vec<String> {
        std::fs::read_dir(db.path().join("outbox").join(sub))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    };
    let mails = read_dir("mail");
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: Welcome") && mails[0].contains("To: maija@example.com"));
    let texts = read_dir("sms");
    let json: serde_json::Value = serde_json::from_str(&texts[0]).unwrap();
    assert_eq!(json, serde_json::json!({ "to": "+358401234567", "text": "Hello by SMS" }));

    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let outbox = db.path().join("outbox");
    assert_eq!(mode(&outbox), 0o700);
    for sub in ["mail", "sms"] {
        assert_eq!(mode(&outbox.join(sub)), 0o700, "{sub}/");
        for file in std::fs::read_dir(outbox.join(sub)).unwrap() {
            let path = file.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[actix_web::test]
async fn without_smtp_or_gateway_messages_are_private_files_sqlite() {
    without_smtp_or_gateway_messages_are_private_files(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn without_smtp_or_gateway_messages_are_private_files_postgres() {
    if let Some(db) = TestDb::postgres() {
        without_smtp_or_gateway_messages_are_private_files(&db).await;
    }
}

#[actix_web::test]
async fn the_running_server_delivers_what_is_queued() {
    let smtp = SmtpServer::start().await;
    let db = TestDb::sqlite();
    let state = db.open(&format!("[mail]\nsmtp_url = {:?}", smtp.url()));
    let running = crate::support::start(state.clone(), true);
    queue(&state, email("Queued while running"), None);
    state.outbox_wake.notify_one();
    assert!(eventually(10, || smtp.messages().len() == 1).await);
    running.stop().await.unwrap();
}

/// A `portti` process with this test's database and master key.
struct Portti<'a> {
    db: &'a TestDb,
}

impl Portti<'_> {
    fn command(&self, smtp_url: &str) -> Command {
        let mut command = self.db.portti_command();
        command
            .env("PORTTI_BIND", "127.0.0.1:0")
            .env("PORTTI_MAIL__SMTP_URL", smtp_url)
            .env("PORTTI_OUTBOX__SEND_TIMEOUT_SECONDS", "5")
            .env("PORTTI_OUTBOX__LEASE_SECONDS", "6")
            .env("PORTTI_OUTBOX__POLL_INTERVAL_MS", "100");
        command
    }

    fn run(&self, args: &[&str]) -> serde_json::Value {
        let output = self.command("smtp://127.0.0.1:1").args(args).output().unwrap();
        assert!(output.status.success(), "{args:?} {:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn serve(&self, smtp_url: &str) -> Child {
        self.command(smtp_url).arg("serve").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    }
}

async fn killed_mid_delivery_then_delivered_after_restart(db: &TestDb) {
    let portti = Portti { db };
    portti.run(&["migrate"]);
    for n in 0..3 {
        portti.run(&["outbox", "test", "--email", &format!("person{n}@example.com")]);
    }

    let stalling = SmtpServer::start_stalling().await;
    let mut first = portti.serve(&stalling.url());
    assert!(eventually(20, || stalling.connection_count() > 0).await, "delivery never started");
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(portti.run(&["outbox", "status"])["pending"], 3, "nothing was lost or wrongly marked sent");

    let smtp = SmtpServer::start().await;
    let mut second = portti.serve(&smtp.url());
    let sent = || outbox::table.filter(outbox::sent_at.is_not_null()).count().get_result::<i64>(&mut db.connection());
    let all_delivered = eventually(30, || smtp.messages().len() == 3 && sent().unwrap() == 3).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(all_delivered, "delivered after restart: {}", smtp.messages().len());
    let mut recipients: Vec<String> = smtp.messages().iter().map(|m| m.to[0].clone()).collect();
    recipients.sort();
    assert_eq!(recipients, ["<person0@example.com>", "<person1@example.com>", "<person2@example.com>"]);
    let status = portti.run(&["outbox", "status"]);
    assert_eq!((status["pending"].as_i64(), status["sent"].as_i64()), (Some(0), Some(3)));
}

#[actix_web::test]
async fn killed_mid_delivery_sqlite() {
    killed_mid_delivery_then_delivered_after_restart(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn killed_mid_delivery_postgres() {
    if let Some(db) = TestDb::postgres() {
        killed_mid_delivery_then_delivered_after_restart(&db).await;
    }
}
