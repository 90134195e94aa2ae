//! File transports: one `.eml` per mail and one `.json` per workflow event, written
//! atomically (temporary file, then rename) so a reader never sees half a message. Writing the
//! same message id twice overwrites one file: redelivery is harmless.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::{Notification, WorkflowEvent};
use helpdesk_core::ports::{DeliveryError, Mailer, WorkflowSink};

use crate::{MailSettings, render};

async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
    let transient = |e: std::io::Error| DeliveryError::Transient(format!("writing to {}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(transient)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await.map_err(transient)?;
    tokio::fs::rename(&tmp, dir.join(name)).await.map_err(transient)
}

/// Writes every mail as `<message id>.eml` into a directory.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    settings: MailSettings,
}

impl FileMailer {
    /// Mail goes to `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>, settings: MailSettings) -> Self {
        Self { dir: dir.into(), settings }
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The RFC 5322 text of `n`.
    pub fn message(&self, id: MessageId, n: &Notification) -> String {
        let mail = render(&self.settings, n);
        let domain = self.settings.from.rsplit('@').next().unwrap_or("localhost").trim_end_matches('>');
        let to = if n.to_name.is_empty() {
            n.to.as_str().to_owned()
        } else {
            format!("\"{}\" <{}>", n.to_name.replace(['"', '\r', '\n'], ""), n.to.as_str())
        };
        format!(
            "From: {}\r\nTo: {to}\r\nSubject: {}\r\nMessage-ID: <{id}@{domain}>\r\nDate: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Helpdesk-Kind: {}\r\n\r\n{}",
            self.settings.from,
            mail.subject.replace(['\r', '\n'], " "),
            chrono::Utc::now().to_rfc2822(),
            n.kind.name(),
            mail.text.replace('\n', "\r\n"),
        )
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, id: MessageId, n: &Notification) -> Result<(), DeliveryError> {
        let text = self.message(id, n);
        write_atomically(&self.dir, &format!("{id}.eml"), text.as_bytes()).await?;
        tracing::debug!(message = %id, kind = n.kind.name(), to = ?n.to, "mail written to file");
        Ok(())
    }
}

/// Writes every workflow event as `<event id>.json` into a directory (used when no webhook
/// is configured, so events are visible instead of lost).
#[derive(Debug, Clone)]
pub struct FileWorkflowSink {
    dir: PathBuf,
}

impl FileWorkflowSink {
    /// Events go to `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl WorkflowSink for FileWorkflowSink {
    async fn deliver(&self, id: MessageId, event: &WorkflowEvent) -> Result<(), DeliveryError> {
        let body = serde_json::json!({ "event_id": id.to_string(), "event": event });
        let bytes = serde_json::to_vec_pretty(&body).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        write_atomically(&self.dir, &format!("{id}.json"), &bytes).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use helpdesk_core::domain::Email;
    use helpdesk_core::model::SecretToken;

    use super::*;

    #[tokio::test]
    async fn writes_one_eml_per_message_with_links_from_the_public_url() {
        let dir = tempfile::tempdir().unwrap();
        let settings = MailSettings { public_url: "https://desk.example.com".into(), ..MailSettings::default() };
        let mailer = FileMailer::new(dir.path(), settings);
        let id = MessageId::random();
        let n = Notification {
            to: Email::parse("ana@example.com").unwrap(),
            to_name: "Ana Cruz".into(),
            language: "en".into(),
            kind: helpdesk_core::model::NotificationKind::PasswordReset {
                token: SecretToken::new("tok123"),
                expires_at: chrono::Utc::now(),
            },
        };
        mailer.send(id, &n).await.unwrap();
        mailer.send(id, &n).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "redelivery overwrites, never duplicates");
        let text = std::fs::read_to_string(dir.path().join(format!("{id}.eml"))).unwrap();
        assert!(text.contains("To: \"Ana Cruz\" <ana@example.com>"));
        assert!(text.contains("https://desk.example.com/reset-password#token=tok123"));
        assert!(text.contains(&format!("Message-ID: <{id}@localhost>")));
    }
}
