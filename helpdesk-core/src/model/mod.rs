//! The records the service reads and writes: users, tickets, comments, attachments, history,
//! sessions, keys, audit entries and outbox messages.

mod account;
mod audit;
mod outbox;
mod session;
mod ticket;

pub use account::{ApiKey, ApiScope, PasswordHash, RejectionRecord, User, UserSummary};
pub use audit::{AuditEntry, AuditKind};
pub use outbox::{
    AttachmentInfo, Notification, NotificationKind, OutboxMessage, OutboxPayload, OutboxRecord, OutboxState,
    SecretToken, TicketMail, TicketSnapshot, WorkflowEvent, WorkflowEventKind,
};
pub use session::{OneTimeToken, Session, TokenHash, TokenPurpose};
pub use ticket::{ActorRef, Attachment, Comment, EventKind, FieldChange, HistoryEvent, Ticket};
