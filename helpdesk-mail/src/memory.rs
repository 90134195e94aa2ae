//! An in-memory mailer for tests: keeps every rendered message, can be told to fail.

use std::sync::Mutex;

use async_trait::async_trait;
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::Notification;
use helpdesk_core::ports::{DeliveryError, Mailer};

use crate::{MailSettings, RenderedMail, render};

/// A delivered message as the mailer saw it.
#[derive(Debug, Clone)]
pub struct SentMail {
    /// Outbox message id.
    pub id: MessageId,
    /// The notification.
    pub notification: Notification,
    /// Its rendering.
    pub rendered: RenderedMail,
}

/// Keeps mail in memory.
#[derive(Debug, Default)]
pub struct InMemoryMailer {
    settings: MailSettings,
    sent: Mutex<Vec<SentMail>>,
    failure: Mutex<Option<DeliveryError>>,
}

impl InMemoryMailer {
    /// A mailer rendering with `settings`.
    pub fn new(settings: MailSettings) -> Self {
        Self { settings, ..Self::default() }
    }

    /// Everything sent so far.
    pub fn sent(&self) -> Vec<SentMail> {
        self.sent.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Makes every send fail with `e` (or succeed again with `None`).
    pub fn fail_with(&self, e: Option<DeliveryError>) {
        if let Ok(mut g) = self.failure.lock() {
            *g = e;
        }
    }
}

#[async_trait]
impl Mailer for InMemoryMailer {
    async fn send(&self, id: MessageId, n: &Notification) -> Result<(), DeliveryError> {
        if let Some(e) = self.failure.lock().ok().and_then(|g| g.clone()) {
            return Err(e);
        }
        let rendered = render(&self.settings, n);
        if let Ok(mut g) = self.sent.lock() {
            g.push(SentMail { id, notification: n.clone(), rendered });
        }
        Ok(())
    }
}
