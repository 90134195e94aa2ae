//! File transports: one `.eml` per mail and one `.json` per workflow event, written
//! atomically (temporary file, then rename) so a reader never sees half a message. Writing the
//! same message id twice overwrites one file: redelivery is harmless.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::{Notification, WorkflowEvent};
use helpdesk_core::ports::{DeliveryError, Mailer, WorkflowSink};

use crate::{MailSettings, build_message, mask_email};

async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
    let transient = |e: std::io::Error| DeliveryError::Transient(format!("writing to {}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(transient)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await.map_err(transient)?;
    tokio::fs::rename(&tmp, dir.join(name)).await.map_err(transient)
}

/// Writes every mail as `<message id>.eml` into a directory (the zero-configuration default).
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
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, id: MessageId, n: &Notification) -> Result<(), DeliveryError> {
        let message = build_message(&self.settings, id, n)?;
        write_atomically(&self.dir, &format!("{id}.eml"), &message.formatted()).await?;
        tracing::debug!(message = %id, kind = n.kind.name(), to = %mask_email(n.to.as_str()), "mail written to file");
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
            reply_to: None,
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
        assert!(text.contains("To: \"Ana Cruz\" <ana@example.com>"), "{text}");
        let decoded = text.replace("=\r\n", "").replace("=3D", "=");
        assert!(decoded.contains("https://desk.example.com/reset-password#token=tok123"), "{decoded}");
        assert!(text.contains(&format!("Message-ID: <{id}@localhost>")));
        assert!(text.contains("multipart/alternative"));
    }
}
