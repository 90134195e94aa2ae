//! The records the service reads and writes: users, tickets, comments, attachments, history,
//! sessions, keys, audit entries and outbox messages.
//!
//! # Persisted types and how they evolve
//!
//! Stores keep these records in their serde form: PostgreSQL in a `jsonb` `doc` column (plus
//! the columns it filters, sorts and constrains on), sled as JSON rows, except [`Ticket`], which
//! sled keeps as bincode (positional: field order matters). The persisted types are [`User`],
//! [`Ticket`], [`HistoryEvent`], [`Comment`], [`Attachment`], [`Session`], [`OneTimeToken`],
//! [`ApiKey`], [`AuditEntry`], [`RejectionRecord`], [`Notice`], [`InboundMessage`] and [`OutboxRecord`] (with what they
//! contain: [`OutboxMessage`], [`Notification`], [`WorkflowEvent`], [`ActorRef`], …).
//!
//! Changing one changes data on disk. A change therefore comes with its schema step: a new
//! field gets a serde default so old rows still read; sled's `SCHEMA_VERSION` goes up with an
//! upgrade of existing rows (always for `Ticket`, whose bincode layout is positional);
//! PostgreSQL gets a migration when a column is derived from the field. The golden files of
//! `helpdesk-core/tests/stored_format.rs` (serde JSON of a sample of each type, from
//! [`crate::testing::stored::StoredSamples`]) and `helpdesk-storage-sled`'s ticket-bytes test
//! fail until then, and say so.

mod account;
mod audit;
mod fields;
mod inbound;
mod macros;
mod notice;
mod outbox;
mod satisfaction;
mod session;
mod ticket;
mod views;

pub use account::{ApiKey, ApiScope, PasswordHash, RejectionRecord, TermsAcceptance, User, UserSummary};
pub use audit::{AuditEntry, AuditKind};
pub use fields::{FieldBook, FieldDef, FieldFilter, FieldKind, FieldNumber, FieldValue, FieldValues};
pub use inbound::{HoldReason, IgnoreReason, InboundChannel, InboundMessage, InboundOutcome};
pub use macros::{Macro, MacroBook, MacroComment};
pub use notice::{Notice, NoticeKind};
pub use outbox::{
    AttachmentInfo, ConfirmMail, Notification, NotificationKind, OutboxMessage, OutboxPayload, OutboxRecord,
    OutboxState, RatingMail, SecretToken, SlaAlert, TicketMail, TicketSnapshot, WorkflowEvent, WorkflowEventKind,
};
pub use satisfaction::{Rating, Satisfaction};
pub use session::{OneTimeToken, Session, TokenHash, TokenPurpose};
pub use ticket::{
    ActorRef, Attachment, Comment, EventKind, FieldChange, HistoryEvent, LinkKind, SlaSchedule, Ticket, TicketLink,
};
pub use views::{SavedView, ViewAssignee, ViewBook, ViewColumn, ViewFilter};
