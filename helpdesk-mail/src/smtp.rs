//! SMTP delivery with `lettre`, configured by URL:
//!
//! - `smtp://host:587?tls=required` — STARTTLS required (the connection fails without it);
//! - `smtp://host:25?tls=opportunistic` — STARTTLS when offered;
//! - `smtp://host:25` — plain (local relays and tests only);
//! - `smtps://host:465` — TLS from the first byte;
//! - credentials as `smtp://user:password@host…` (percent-encoded).
//!
//! Connections are kept in a small pool of our own, opened with `TCP_NODELAY`: lettre writes
//! a message body and its terminating `.` in two writes, and with Nagle's algorithm on, the
//! second waits for the server's delayed ACK (about 40 ms a message on Linux), which capped
//! delivery at a few hundred mails a second whatever the server's speed. Implicit TLS
//! (`smtps://`) goes through lettre's own pooled transport.
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
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Mutex;

use crate::{MailSettings, build_message, mask_email};

const MAX_IDLE: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartTls {
    Never,
    Opportunistic,
    Required,
}

struct Direct {
    host: String,
    port: u16,
    starttls: StartTls,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

enum Transport {
    Direct(Direct),
    ImplicitTls(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends mail through an SMTP server.
pub struct SmtpMailer {
    transport: Transport,
    settings: MailSettings,
    timeout: Duration,
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

impl SmtpMailer {
    /// A mailer for `url` (see the module docs) with a time-out per connection step and
    /// per message.
    ///
    /// # Errors
    /// [`SmtpUrlError`] for a URL that is not `smtp://` or `smtps://` or has a bad `tls=`.
    pub fn from_url(url: &str, settings: MailSettings, timeout: Duration) -> Result<Self, SmtpUrlError> {
        let parsed = url::Url::parse(url).map_err(|e| SmtpUrlError(e.to_string()))?;
        let host = parsed.host_str().ok_or_else(|| SmtpUrlError("no host".into()))?.to_owned();
        let implicit = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(SmtpUrlError("use smtp:// or smtps://".into())),
        };
        let port = parsed.port().unwrap_or(if implicit { 465 } else { 25 });
        let server = format!("{host}:{port}");
        if implicit {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| SmtpUrlError(e.to_string()))?
                .timeout(Some(timeout))
                .build();
            return Ok(Self { transport: Transport::ImplicitTls(transport), settings, timeout, server });
        }
        let starttls = match parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned()).as_deref() {
            None => StartTls::Never,
            Some("opportunistic") => StartTls::Opportunistic,
            Some("required") => StartTls::Required,
            Some(other) => return Err(SmtpUrlError(format!("tls={other}: use required or opportunistic"))),
        };
        let decode =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        let credentials = (!parsed.username().is_empty()).then(|| {
            Credentials::new(
                decode(parsed.username()).unwrap_or_default(),
                parsed.password().and_then(decode).unwrap_or_default(),
            )
        });
        let direct = Direct { host, port, starttls, credentials, idle: Mutex::new(Vec::new()) };
        Ok(Self { transport: Transport::Direct(direct), settings, timeout, server })
    }

    async fn connect(&self, d: &Direct) -> Result<AsyncSmtpConnection, DeliveryError> {
        let transient =
            |what: &str, e: &dyn fmt::Display| DeliveryError::Transient(format!("SMTP {what} {}: {e}", self.server));
        let stream = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect((d.host.as_str(), d.port)))
            .await
            .map_err(|e| transient("connect to", &e))?
            .map_err(|e| transient("connect to", &e))?;
        stream.set_nodelay(true).map_err(|e| transient("socket for", &e))?;
        let hello = ClientId::default();
        let step = |r: Result<(), lettre::transport::smtp::Error>| r.map_err(|e| classify(&e));
        let mut conn =
            tokio::time::timeout(self.timeout, AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello))
                .await
                .map_err(|e| transient("greeting from", &e))?
                .map_err(|e| classify(&e))?;
        let tls =
            || TlsParameters::new(d.host.clone()).map_err(|e| DeliveryError::Permanent(format!("TLS setup: {e}")));
        match d.starttls {
            StartTls::Required => step(conn.starttls(tls()?, &hello).await)?,
            StartTls::Opportunistic if conn.can_starttls() => step(conn.starttls(tls()?, &hello).await)?,
            _ => {}
        }
        if let Some(c) = &d.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c).await.map_err(|e| classify(&e))?;
        }
        Ok(conn)
    }

    async fn send_direct(&self, d: &Direct, message: &lettre::Message) -> Result<(), DeliveryError> {
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        // A pooled connection the server closed in the meantime gets one fresh retry.
        for attempt in 0..2 {
            let pooled = if attempt == 0 { d.idle.lock().await.pop() } else { None };
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(c) if !c.has_broken() => c,
                _ => self.connect(d).await?,
            };
            match tokio::time::timeout(self.timeout, conn.send(&envelope, &bytes)).await {
                Ok(Ok(_)) => {
                    let mut idle = d.idle.lock().await;
                    if idle.len() < MAX_IDLE {
                        idle.push(conn);
                    }
                    return Ok(());
                }
                Ok(Err(e)) if e.is_permanent() || e.is_transient() || !reused => {
                    if !conn.has_broken() {
                        let _ = conn.command(lettre::transport::smtp::commands::Rset).await;
                        d.idle.lock().await.push(conn);
                    }
                    return Err(classify(&e));
                }
                Ok(Err(_)) => continue,
                Err(_) => return Err(DeliveryError::Transient(format!("SMTP {} timed out", self.server))),
            }
        }
        Err(DeliveryError::Transient(format!("SMTP {} dropped the connection", self.server)))
    }

    /// Checks that the server answers (connects, greets, `NOOP`).
    ///
    /// # Errors
    /// A transient error when it does not.
    pub async fn check(&self) -> Result<(), DeliveryError> {
        match &self.transport {
            Transport::Direct(d) => {
                let mut conn = self.connect(d).await?;
                if conn.test_connected().await {
                    d.idle.lock().await.push(conn);
                    Ok(())
                } else {
                    Err(DeliveryError::Transient(format!("{} did not answer NOOP", self.server)))
                }
            }
            Transport::ImplicitTls(t) => match t.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err(DeliveryError::Transient(format!("{} did not answer NOOP", self.server))),
                Err(e) => Err(classify(&e)),
            },
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
        let result = match &self.transport {
            Transport::Direct(d) => self.send_direct(d, &message).await,
            Transport::ImplicitTls(t) => t.send(message).await.map(|_| ()).map_err(|e| classify(&e)),
        };
        match &result {
            Ok(()) => {
                tracing::debug!(message = %id, kind = n.kind.name(), to = %mask_email(n.to.as_str()), "mail sent")
            }
            Err(err) => {
                tracing::warn!(message = %id, kind = n.kind.name(), to = %mask_email(n.to.as_str()), error = %err, "mail not sent");
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_are_checked_and_hosts_named_without_credentials() {
        let d = Duration::from_secs(1);
        assert!(SmtpMailer::from_url("http://x", MailSettings::default(), d).is_err());
        assert!(SmtpMailer::from_url("smtp://x?tls=sometimes", MailSettings::default(), d).is_err());
        let m = SmtpMailer::from_url(
            "smtp://user:s3cret@mail.example.com:2525?tls=opportunistic",
            MailSettings::default(),
            d,
        );
        let shown = format!("{:?}", m.ok());
        assert!(shown.contains("mail.example.com:2525") && !shown.contains("s3cret"), "{shown}");
        assert!(SmtpMailer::from_url("smtps://mail.example.com", MailSettings::default(), d).is_ok());
    }
}
