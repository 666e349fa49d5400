//! The messages Portti sent, as their recipients read them.

use portti::AppState;
use portti::notify::{OutboxWorker, Transports};

use super::{TestDb, TestServer};

/// A delivery worker for this state's outbox, with the configured transports.
pub fn worker(state: &AppState) -> OutboxWorker {
    OutboxWorker::new(
        state.store.clone(),
        state.keys.clone(),
        state.clock.clone(),
        state.settings.outbox.clone(),
        Transports::from_settings(&state.settings).unwrap(),
        state.outbox_wake.clone(),
    )
}

/// Delivers the outbox (to files, as configured) and returns the texts of the
/// emails and SMS messages written so far.
pub async fn delivered(server: &TestServer, db: &TestDb) -> (Vec<String>, Vec<String>) {
    worker(&server.state).deliver_due().await.unwrap();
    let read = |sub: &str| -> Vec<String> {
        let dir = db.path().join("outbox").join(sub);
        let mut files: Vec<_> =
            std::fs::read_dir(&dir).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        files.sort();
        files.into_iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
    };
    (read("mail"), read("sms"))
}

/// The reset link in an email (quoted-printable soft breaks undone).
pub fn reset_link(mail: &str, base: &str) -> String {
    let text = mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let start = text.find(&format!("{base}/password/reset/")).expect("a reset link");
    text[start..].split_whitespace().next().unwrap().to_owned()
}
