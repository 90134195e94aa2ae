//! SMTP delivery with `lettre`, configured by URL:
//!
//! - `smtp://host:587?tls=required` — STARTTLS required (the connection fails without it);
//! - `smtp://host:25?tls=opportunistic` — STARTTLS when offered;
//! - `smtp://host:25` — plain (local relays and tests only);
//! - `smtps://host:465` — TLS from the first byte;
//! - credentials as `smtp://user:password@host…` (percent-encoded).
//!
//! Failures are told apart for the outbox: a permanent SMTP reply (5xx) cannot succeed on
//! retry; a transient reply (4xx), a time-out or a connection failure can. Recipients are
//! masked in logs.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::Notification;
use helpdesk_core::ports::{DeliveryError, Mailer};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::{MailSettings, build_message, mask_email};

/// Sends mail through an SMTP server.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    settings: MailSettings,
    server: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer").field("server", &self.server).field("settings", &self.settings).finish()
    }
}

/// Why an SMTP URL was refused.
#[derive(Debug, thiserror::Error)]
#[error("smtp_url: {0}")]
pub struct SmtpUrlError(String);

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or("").to_owned()
}

impl SmtpMailer {
    /// A mailer for `url` (see the module docs) with a time-out per SMTP command.
    ///
    /// # Errors
    /// [`SmtpUrlError`] for a URL lettre cannot use.
    pub fn from_url(url: &str, settings: MailSettings, timeout: Duration) -> Result<Self, SmtpUrlError> {
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(SmtpUrlError("use smtp:// or smtps://".into()));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| SmtpUrlError(e.to_string()))?
            .timeout(Some(timeout))
            .build();
        Ok(Self { transport, settings, server: host_of(url) })
    }

    /// Checks that the server answers (`NOOP`).
    ///
    /// # Errors
    /// A transient error when it does not.
    pub async fn check(&self) -> Result<(), DeliveryError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(DeliveryError::Transient(format!("{} did not answer NOOP", self.server))),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// Permanent (5xx replies, refused addresses) or transient (everything else).
pub fn classify(e: &lettre::transport::smtp::Error) -> DeliveryError {
    if e.is_permanent() {
        DeliveryError::Permanent(format!("SMTP refused the message: {e}"))
    } else {
        DeliveryError::Transient(format!("SMTP delivery failed: {e}"))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, id: MessageId, n: &Notification) -> Result<(), DeliveryError> {
        let message = build_message(&self.settings, id, n)?;
        match self.transport.send(message).await {
            Ok(_) => {
                tracing::debug!(message = %id, kind = n.kind.name(), to = %mask_email(n.to.as_str()), "mail sent");
                Ok(())
            }
            Err(e) => {
                let err = classify(&e);
                tracing::warn!(message = %id, kind = n.kind.name(), to = %mask_email(n.to.as_str()), error = %err, "mail not sent");
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_are_checked_and_hosts_named_without_credentials() {
        assert!(SmtpMailer::from_url("http://x", MailSettings::default(), Duration::from_secs(1)).is_err());
        let m = SmtpMailer::from_url(
            "smtp://user:s3cret@mail.example.com:2525?tls=opportunistic",
            MailSettings::default(),
            Duration::from_secs(1),
        );
        let shown = format!("{:?}", m.ok());
        assert!(shown.contains("mail.example.com:2525") && !shown.contains("s3cret"), "{shown}");
    }
}
