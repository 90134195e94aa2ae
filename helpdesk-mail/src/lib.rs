//! helpdesk-mail: turns the core's outbox notifications into mail and delivers them.
//!
//! The core enqueues self-contained [`Notification`](helpdesk_core::model::Notification)s; this
//! crate renders them ([`render`]) with the deployment's settings ([`MailSettings`]) and hands
//! them to a transport. [`FileMailer`] writes one `.eml` file per message (the
//! zero-configuration default of the reference server); [`FileWorkflowSink`] does the same for
//! workflow events when no webhook is configured. SMTP delivery is added by the mail issue.

mod file;
mod render;
mod settings;

pub use file::{FileMailer, FileWorkflowSink};
pub use render::{RenderedMail, render};
pub use settings::MailSettings;
