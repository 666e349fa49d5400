//! The activation of an invited person in the app: the sign-up code from
//! the invitation email, the SMS code the server sends to the person's
//! phone, read from the file outbox as the phone would receive it, and the
//! verification that emails the link to create a password.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde::Deserialize;

use crate::Fail;
use crate::cases::{some_address, unexpected};
use crate::load::{Conn, Worker};
use crate::seed::{COMPANY, Invitee};
use crate::server::APP_VERSION;

/// The invitees, each activated once, in turn.
pub struct Invitees {
    pub list: Vec<Invitee>,
    pub next: AtomicUsize,
}

/// Sign-up code to verified, on the app's API, from an address of its own.
pub struct Activation {
    pub invitees: Arc<Invitees>,
    pub inbox: Arc<SmsInbox>,
}

/// How long an SMS may take to arrive in the outbox directory.
const SMS_WAIT: Duration = Duration::from_secs(10);

impl Worker for Activation {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), Fail> {
        #[derive(Deserialize)]
        struct Started {
            activation_id: String,
            company: String,
            phone_hint: String,
            resends_left: i32,
        }
        #[derive(Deserialize)]
        struct Verified {
            next: String,
        }
        let index = self.invitees.next.fetch_add(1, Ordering::Relaxed);
        let invitee =
            self.invitees.list.get(index).ok_or("ran out of seeded invitations; seed more with --invitees")?;
        let phone = some_address();
        let headers = [("portti-app-version", APP_VERSION), ("x-forwarded-for", phone.as_str())];
        let body = serde_json::json!({ "sign_up_code": invitee.sign_up_code }).to_string();
        let reply = conn.post_json("/api/app/v1/activations", &headers, body).await?;
        if reply.status != StatusCode::CREATED {
            return Err(unexpected("entering the sign-up code", &reply));
        }
        let started: Started = serde_json::from_slice(&reply.body)?;
        let last_two = &invitee.phone[invitee.phone.len() - 2..];
        if started.company != COMPANY || !started.phone_hint.ends_with(last_two) || started.resends_left != 2 {
            return Err(unexpected("the activation is not the invitation's", &reply));
        }

        let code = self.inbox.wait_for(&invitee.phone, SMS_WAIT).await?;
        let path = format!("/api/app/v1/activations/{}/verify", started.activation_id);
        let reply = conn.post_json(&path, &headers, serde_json::json!({ "code": code }).to_string()).await?;
        if reply.json::<Verified>()?.next != "create_password" {
            return Err(unexpected("the verification", &reply));
        }
        Ok(())
    }
}

/// The phones' SMS inbox: a thread reads each message the server writes to
/// the file outbox's `sms` directory, keeps its code by recipient, and
/// removes the file, so the directory stays small. It stops when the inbox
/// is dropped.
pub struct SmsInbox {
    codes: Mutex<HashMap<String, String>>,
}

/// How often the inbox looks for new messages.
const INBOX_POLL: Duration = Duration::from_millis(2);

impl SmsInbox {
    pub fn watch(dir: PathBuf) -> Arc<Self> {
        let inbox = Arc::new(Self { codes: Mutex::new(HashMap::new()) });
        let watching = Arc::downgrade(&inbox);
        std::thread::spawn(move || Self::read_until_dropped(&dir, &watching));
        inbox
    }

    fn read_until_dropped(dir: &std::path::Path, inbox: &Weak<Self>) {
        #[derive(Deserialize)]
        struct Sms {
            to: String,
            text: String,
        }
        while let Some(inbox) = inbox.upgrade() {
            let files = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|entry| entry.path());
            // Files being written are dotted (`.{id}.json.partial`).
            for path in files.filter(|path| path.extension().is_some_and(|e| e == "json")) {
                let sms = std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice::<Sms>(&bytes).ok());
                let code =
                    sms.as_ref().and_then(|sms| sms.text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6));
                if let (Some(sms), Some(code)) = (&sms, code)
                    && let Ok(mut codes) = inbox.codes.lock()
                {
                    codes.insert(sms.to.clone(), code.to_owned());
                }
                let _ = std::fs::remove_file(&path);
            }
            drop(inbox);
            std::thread::sleep(INBOX_POLL);
        }
    }

    /// The code of the SMS sent to `phone`, once it has arrived.
    async fn wait_for(&self, phone: &str, patience: Duration) -> Result<String, Fail> {
        let started = Instant::now();
        loop {
            if let Some(code) = self.codes.lock().map_err(|_| "the inbox panicked")?.remove(phone) {
                return Ok(code);
            }
            if started.elapsed() > patience {
                return Err(format!("no SMS to {phone} in {} s", patience.as_secs()).into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
