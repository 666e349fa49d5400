//! The senders: SMTP or `.eml` files for email, an HTTP gateway or `.json`
//! files for SMS.

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::Url;

use super::Content;
use crate::config::{MailTransportSettings, Settings, SmsSettings};
use crate::domain::ids::MessageId;
use crate::error::{Error, Result};

enum Mail {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

enum Sms {
    Webhook { client: reqwest::Client, url: Url },
    Files(PathBuf),
}

/// The configured ways out. Build it inside the Tokio runtime: lettre's pooled
/// SMTP transport must be created and dropped there.
pub struct Transports {
    mail: Mail,
    from: Mailbox,
    sms: Sms,
}

impl Transports {
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let mail = match &settings.mail.transport {
            MailTransportSettings::Smtp(url) => Mail::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| Error::Config(format!("mail.smtp_url: {e}")))?
                    .timeout(Some(settings.outbox.send_timeout))
                    .build(),
            ),
            MailTransportSettings::Files(dir) => Mail::Files(dir.clone()),
        };
        let sms = match &settings.sms {
            SmsSettings::Webhook(url) => Sms::Webhook {
                client: reqwest::Client::builder()
                    .timeout(settings.outbox.send_timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(Error::internal)?,
                url: url.clone(),
            },
            SmsSettings::Files(dir) => Sms::Files(dir.clone()),
        };
        Ok(Self { mail, from: settings.mail.from.clone(), sms })
    }

    /// Sends one message. The error text is kept on the message for operators;
    /// it never contains the message's content.
    pub async fn deliver(&self, id: &MessageId, recipient: &str, content: &Content) -> Result<(), String> {
        match content {
            Content::Email { subject, body } => {
                let to: Mailbox = recipient.parse().map_err(|e| format!("recipient address: {e}"))?;
                let email = lettre::Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(body.clone())
                    .map_err(|e| format!("building the email: {e}"))?;
                match &self.mail {
                    Mail::Smtp(transport) => transport.send(email).await.map(|_| ()).map_err(|e| format!("SMTP: {e}")),
                    Mail::Files(dir) => write_atomically(dir, &format!("{id}.eml"), &email.formatted()).await,
                }
            }
            Content::Sms { text } => {
                let payload = serde_json::json!({ "to": recipient, "text": text });
                match &self.sms {
                    Sms::Webhook { client, url } => {
                        let response = client
                            .post(url.clone())
                            .json(&payload)
                            .send()
                            .await
                            .map_err(|e| format!("SMS gateway: {}", e.without_url()))?;
                        if response.status().is_success() {
                            Ok(())
                        } else {
                            Err(format!("SMS gateway answered {}", response.status()))
                        }
                    }
                    Sms::Files(dir) => {
                        let json = serde_json::to_vec_pretty(&payload).map_err(|e| e.to_string())?;
                        write_atomically(dir, &format!("{id}.json"), &json).await
                    }
                }
            }
        }
    }
}

/// Writes a message file so that a reader sees all of it or nothing, and
/// only Portti's own user can read it: the files hold reset links and codes.
async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let (dir, name, bytes) = (dir.to_owned(), name.to_owned(), bytes.to_owned());
    let written = tokio::task::spawn_blocking(move || {
        write_privately(&dir, &name, &bytes).map_err(|e| format!("writing to {}: {e}", dir.display()))
    });
    written.await.map_err(|e| format!("writing a message file: {e}"))?
}

/// The mode of a message file (Unix): read and write for the owner only.
const PRIVATE_FILE: u32 = 0o600;
/// The mode of the directories that hold message files (Unix): the owner only.
const PRIVATE_DIR: u32 = 0o700;

/// [`write_atomically`]'s work. Directories it creates get [`PRIVATE_DIR`],
/// and so does `dir` itself when it already exists (it is Portti's own
/// `mail/` or `sms/`, perhaps made by an older version); a parent that
/// exists, such as the configured `outbox.dir`, is left as its owner set it.
fn write_privately(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        dirs.mode(PRIVATE_DIR);
        options.mode(PRIVATE_FILE);
    }
    dirs.create(dir)?;
    let partial = dir.join(format!(".{name}.partial"));
    let mut file = options.open(&partial)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE_DIR))?;
        // A partial file left by a crash keeps its old mode when reopened.
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE))?;
    }
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&partial, dir.join(name))
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn message_files_and_their_directories_are_the_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("outbox").join("mail");
        write_privately(&dir, "m1.eml", b"Subject: a code").unwrap();
        assert_eq!(mode(&dir.join("m1.eml")), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("outbox")), 0o700, "a directory it creates");
        assert_eq!(std::fs::read(dir.join("m1.eml")).unwrap(), b"Subject: a code");
        assert!(!dir.join(".m1.eml.partial").exists());
    }

    #[test]
    fn an_older_directory_and_a_left_over_partial_file_are_made_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sms");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join(".m2.json.partial"), b"stale").unwrap();
        std::fs::set_permissions(dir.join(".m2.json.partial"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o751)).unwrap();
        write_privately(&dir, "m2.json", b"{}").unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("m2.json")), 0o600);
        assert_eq!(std::fs::read(dir.join("m2.json")).unwrap(), b"{}");
        assert_eq!(mode(root.path()), 0o751, "a parent that exists is left alone");
    }
}
