//! Outbound delivery ports: mail and the workflow system. Both are called by the outbox
//! dispatcher only, never on a user's request path.

use std::fmt;

use async_trait::async_trait;

use crate::domain::MessageId;
use crate::model::{Notification, WorkflowEvent};

/// Why a delivery failed, so the dispatcher knows whether to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Worth retrying (network error, time-out, 4xx SMTP reply, 5xx HTTP status).
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// Retrying will not help (5xx SMTP reply, 4xx HTTP status, bad address).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Delivers one notification.
///
/// # Contract
/// At-least-once: the dispatcher may call `send` again for the same `message_id` after a
/// crash or a lost acknowledgement; implementations put `message_id` into the mail
/// (Message-ID header) so receivers can de-duplicate. `send` returns only after the mail was
/// accepted by the next hop (or written).
///
/// # Errors
/// [`DeliveryError::Transient`] for failures worth retrying, [`DeliveryError::Permanent`]
/// otherwise. Never panic.
///
/// # Implementing
/// Keep rendering inside the mail adapter (`helpdesk-mail`); mask recipients in logs.
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug + 'static {
    /// Sends `notification`.
    async fn send(&self, message_id: MessageId, notification: &Notification) -> Result<(), DeliveryError>;
}

/// Tells the external workflow system about a ticket.
///
/// # Contract
/// At-least-once, de-duplicable by `event_id`; no ordering between events is promised.
///
/// # Errors
/// As for [`Mailer`].
#[cfg_attr(feature = "testing", mockall::automock)]
#[async_trait]
pub trait WorkflowSink: Send + Sync + fmt::Debug + 'static {
    /// Delivers `event`.
    async fn deliver(&self, event_id: MessageId, event: &WorkflowEvent) -> Result<(), DeliveryError>;
}
