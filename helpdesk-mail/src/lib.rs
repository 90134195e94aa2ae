//! helpdesk-mail: delivery adapters for the outbox.
//!
//! The core enqueues self-contained [`Notification`](helpdesk_core::model::Notification)s and
//! [`WorkflowEvent`](helpdesk_core::model::WorkflowEvent)s in the same commit as the change
//! that caused them; the dispatcher hands them to these adapters later, so a mail server or
//! webhook that is down never fails a user's request. Mail is rendered by [`render`] (plain
//! text and HTML, links only from the configured public URL) and sent by [`SmtpMailer`]
//! (lettre), [`FileMailer`] (one `.eml` per message, the zero-configuration default) or
//! [`InMemoryMailer`] (tests). Workflow events go to [`WebhookSink`] (signed JSON POST) or
//! [`FileWorkflowSink`].

#![warn(missing_docs)]

mod file;
mod memory;
mod message;
mod settings;
mod smtp;
mod templates;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhook;

pub use file::{FileMailer, FileWorkflowSink};
pub use memory::{InMemoryMailer, SentMail};
pub use message::build_message;
pub use settings::{MailSettings, mask_email};
pub use smtp::{SmtpMailer, SmtpUrlError, classify};
pub use templates::{RenderedMail, escape_html, render};
pub use webhook::WebhookSink;
