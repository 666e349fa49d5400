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

/// Writes a file so that a reader sees all of it or nothing.
async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("writing to {}: {e}", dir.display());
    tokio::fs::create_dir_all(dir).await.map_err(fail)?;
    let partial = dir.join(format!(".{name}.partial"));
    tokio::fs::write(&partial, bytes).await.map_err(fail)?;
    tokio::fs::rename(&partial, dir.join(name)).await.map_err(fail)
}
