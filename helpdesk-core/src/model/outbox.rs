//! Outbox messages: self-contained snapshots of what to tell whom, written in the same commit
//! as the change that caused them and delivered later by the dispatcher.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AttachmentId, Email, MessageId, TicketId, TicketStatus};

/// A secret carried by a mail (a reset or invitation token): serialised as is, never shown by
/// `Debug`, so logging an outbox record cannot leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretToken(String);

impl SecretToken {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret, for building the link.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// The ticket facts a mail needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketMail {
    /// Ticket number (`TX0042`).
    pub number: String,
    /// The ticket's subject, as the mail quotes it.
    pub subject: String,
    /// Status after the change.
    pub status: TicketStatus,
}

/// The rating link a resolution mail carries: good and bad are each one click away, at
/// `/rate/<number>/<token>?rating=good|bad`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingMail {
    /// The signed single-use token.
    pub token: SecretToken,
    /// Until when it works.
    pub expires_at: DateTime<Utc>,
}

/// Which mail, with what it needs to say. Links are built by the renderer from the
/// deployment's public URL, never from a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NotificationKind {
    /// "We received your registration."
    RegistrationReceived,
    /// "Your account is ready."
    AccountApproved,
    /// "Your registration was unsuccessful."
    RegistrationRejected {
        /// The admin's reason.
        reason: Option<String>,
    },
    /// Set-password invitation for an admin-created user.
    Invitation {
        /// The single-use secret (cleared after delivery).
        token: SecretToken,
        /// Valid until.
        expires_at: DateTime<Utc>,
    },
    /// Password reset link.
    PasswordReset {
        /// The single-use secret (cleared after delivery).
        token: SecretToken,
        /// Valid until.
        expires_at: DateTime<Utc>,
    },
    /// "Your password was changed."
    PasswordChanged,
    /// Ticket received.
    TicketReceived {
        /// The ticket the mail is about.
        ticket: TicketMail,
    },
    /// Ticket approved at triage.
    TicketApproved {
        /// The ticket the mail is about.
        ticket: TicketMail,
    },
    /// Ticket rejected at triage.
    TicketRejected {
        /// The ticket the mail is about.
        ticket: TicketMail,
        /// The reason the coordinator gave, shown to the requester.
        reason: String,
    },
    /// Ticket assigned to the recipient.
    TicketAssigned {
        /// The ticket the mail is about.
        ticket: TicketMail,
    },
    /// Staff wait on the requester.
    WaitingOnRequester {
        /// The ticket the mail is about.
        ticket: TicketMail,
        /// The public comment saying what is needed.
        comment: String,
    },
    /// Ticket resolved.
    TicketResolved {
        /// The ticket the mail is about.
        ticket: TicketMail,
        /// Resolution note.
        note: String,
        /// The satisfaction-rating link (when the deployment asks for ratings; cleared after
        /// delivery like other secrets).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rating: Option<RatingMail>,
    },
    /// Ticket reopened (to the assignee).
    TicketReopened {
        /// The ticket the mail is about.
        ticket: TicketMail,
        /// The reason the requester (or staff) gave for reopening.
        reason: String,
    },
    /// A public comment (to the other party).
    PublicComment {
        /// The ticket the mail is about.
        ticket: TicketMail,
        /// Author's display name.
        author: String,
        /// Comment text.
        body: String,
    },
    /// The recipient was added as a follower of a ticket.
    FollowingStarted {
        /// The ticket the mail is about.
        ticket: TicketMail,
        /// Who added them (display name).
        by: String,
    },
    /// A ticket the recipient follows moved in its lifecycle (what its requester is told,
    /// addressed to a follower).
    FollowedTicketChanged {
        /// The ticket the mail is about.
        ticket: TicketMail,
        /// The requester's mail this one follows (approved, rejected, waiting on the
        /// requester, resolved, reopened).
        change: crate::lifecycle::MailTemplate,
        /// The reason, note or comment given with the change (may be empty).
        text: String,
    },
    /// A ticket of the recipient's (or one they follow) was merged into another, where it
    /// goes on.
    TicketMerged {
        /// The merged ticket.
        ticket: TicketMail,
        /// The ticket it was merged into.
        into: TicketMail,
        /// Why, as staff wrote it.
        note: String,
    },
    /// A running service-level target nears its due time or passed it (to the assignee, or
    /// the department's coordinators while unassigned).
    ServiceLevelAlert {
        /// The ticket the mail is about.
        ticket: TicketMail,
        /// What it says.
        alert: SlaAlert,
    },
    /// A message sent to the help desk was held (to its From address, at most once an hour).
    MailHeld {
        /// The held message's subject.
        subject: String,
        /// Why, in words.
        reason: String,
        /// The confirmation link that releases it, when the sender can prove the address is
        /// theirs by clicking (cleared after delivery).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirm: Option<ConfirmMail>,
    },
}

/// The link that confirms a held message's sender: `/mail/confirm/<id>/<token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmMail {
    /// The held message's id.
    pub id: crate::domain::InboundId,
    /// The signed token.
    pub token: SecretToken,
    /// Until when it works.
    pub expires_at: DateTime<Utc>,
}

/// One service-level alert: which target of a ticket, how it stands, when it is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaAlert {
    /// The target.
    pub target: crate::sla::TargetKind,
    /// `warning` (in its warning share) or `breached` (past due).
    pub state: crate::sla::TargetState,
    /// When it is (or was) due.
    pub due_at: Option<DateTime<Utc>>,
    /// The policy that sets it.
    pub policy: String,
}

impl NotificationKind {
    /// The ticket the mail is about, if it is about one.
    pub fn ticket(&self) -> Option<&TicketMail> {
        match self {
            Self::TicketReceived { ticket }
            | Self::TicketApproved { ticket }
            | Self::TicketRejected { ticket, .. }
            | Self::TicketAssigned { ticket }
            | Self::WaitingOnRequester { ticket, .. }
            | Self::TicketResolved { ticket, .. }
            | Self::TicketReopened { ticket, .. }
            | Self::PublicComment { ticket, .. }
            | Self::FollowingStarted { ticket, .. }
            | Self::FollowedTicketChanged { ticket, .. }
            | Self::TicketMerged { ticket, .. }
            | Self::ServiceLevelAlert { ticket, .. } => Some(ticket),
            Self::RegistrationReceived
            | Self::AccountApproved
            | Self::RegistrationRejected { .. }
            | Self::Invitation { .. }
            | Self::PasswordReset { .. }
            | Self::PasswordChanged
            | Self::MailHeld { .. } => None,
        }
    }

    /// A stable name for templates and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RegistrationReceived => "registration_received",
            Self::AccountApproved => "account_approved",
            Self::RegistrationRejected { .. } => "registration_rejected",
            Self::Invitation { .. } => "invitation",
            Self::PasswordReset { .. } => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::TicketReceived { .. } => "ticket_received",
            Self::TicketApproved { .. } => "ticket_approved",
            Self::TicketRejected { .. } => "ticket_rejected",
            Self::TicketAssigned { .. } => "ticket_assigned",
            Self::WaitingOnRequester { .. } => "waiting_on_requester",
            Self::TicketResolved { .. } => "ticket_resolved",
            Self::TicketReopened { .. } => "ticket_reopened",
            Self::PublicComment { .. } => "public_comment",
            Self::FollowingStarted { .. } => "following_started",
            Self::FollowedTicketChanged { .. } => "followed_ticket_changed",
            Self::TicketMerged { .. } => "ticket_merged",
            Self::ServiceLevelAlert { alert, .. } if alert.state == crate::sla::TargetState::Breached => "sla_breached",
            Self::ServiceLevelAlert { .. } => "sla_warning",
            Self::MailHeld { .. } => "mail_held",
        }
    }

    /// Mails holding a secret: their payload is cleared once delivered.
    pub fn is_sensitive(&self) -> bool {
        matches!(
            self,
            Self::Invitation { .. }
                | Self::PasswordReset { .. }
                | Self::TicketResolved { rating: Some(_), .. }
                | Self::MailHeld { confirm: Some(_), .. }
        )
    }
}

/// A mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The address the mail goes to.
    pub to: Email,
    /// Recipient's display name.
    pub to_name: String,
    /// Language tag of the templates to use.
    pub language: String,
    /// What to say.
    pub kind: NotificationKind,
    /// Where replies go: the ticket's reply address signed for this recipient
    /// (`support+<token>@domain`, see `helpdesk_core::mail_in::ReplyToken`), when mail in is
    /// set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// Attachment metadata sent to the workflow system (no URLs, no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    /// Id (download with an API key that has the read scope).
    pub id: AttachmentId,
    /// Display name.
    pub file_name: String,
    /// Media type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// The ticket as the workflow system sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSnapshot {
    /// The ticket's id.
    pub id: TicketId,
    /// The ticket's number as shown (`TX0042`).
    pub number: String,
    /// The subject as typed.
    pub subject: String,
    /// The description as typed.
    pub description: String,
    /// The category key.
    pub category: String,
    /// The sub-category key.
    pub sub_category: String,
    /// The priority set at triage (`None` before triage).
    pub priority: Option<String>,
    /// The department that owns the ticket (`None` before one is set).
    pub department: Option<String>,
    /// The status at the time of the event.
    pub status: TicketStatus,
    /// Requester's email.
    pub requester_email: String,
    /// Requested date.
    pub scheduled_date: Option<NaiveDate>,
    /// When the ticket was submitted.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// The ticket's version after the change, for ordering and de-duplication by the receiver.
    pub version: u64,
    /// Public attachments.
    pub attachments: Vec<AttachmentInfo>,
}

/// Why the workflow system hears about a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkflowEventKind {
    /// The ticket became open (approved at triage).
    #[serde(rename = "ticket.opened")]
    Opened,
    /// A later status change of a ticket the system was told about.
    #[serde(rename = "ticket.status_changed")]
    StatusChanged,
    /// A running service-level target of the ticket entered its warning share.
    #[serde(rename = "ticket.sla_warning")]
    SlaWarning,
    /// A running service-level target of the ticket passed its due time.
    #[serde(rename = "ticket.sla_breached")]
    SlaBreached,
}

/// One workflow delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowEvent {
    /// What happened to the ticket (opened, or a later status change).
    pub kind: WorkflowEventKind,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// The ticket after the change.
    pub ticket: TicketSnapshot,
    /// For the service-level kinds: which target, and when it is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaAlert>,
}

/// What an outbox message delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum OutboxPayload {
    /// A mail.
    Mail(Notification),
    /// A workflow push.
    Workflow(WorkflowEvent),
    /// A delivered sensitive message whose content was cleared.
    Redacted,
}

/// A message enqueued by a unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Id (receivers de-duplicate by it).
    pub id: MessageId,
    /// When it was written, in the same commit as the change that caused it.
    pub created_at: DateTime<Utc>,
    /// What to deliver: a mail notification or a workflow event.
    pub payload: OutboxPayload,
}

impl OutboxMessage {
    /// True when the payload must be cleared after delivery.
    pub fn is_sensitive(&self) -> bool {
        matches!(&self.payload, OutboxPayload::Mail(n) if n.kind.is_sensitive())
    }
}

/// Delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for (another) attempt.
    Pending,
    /// Delivered and acknowledged: nothing more to do.
    Delivered,
    /// Gave up after the configured attempts; an admin may retry.
    Dead,
}

impl OutboxState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Dead => "dead",
        }
    }
}

/// A stored outbox message with its delivery bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// The message.
    pub message: OutboxMessage,
    /// Where it is in delivery: pending, delivered or dead.
    pub state: OutboxState,
    /// Attempts made.
    pub attempts: u32,
    /// Not attempted before this time.
    pub next_attempt_at: DateTime<Utc>,
    /// Last failure.
    pub last_error: Option<String>,
    /// Holder of the current claim.
    pub lease_token: Option<uuid::Uuid>,
    /// The claim expires at this time.
    pub lease_until: Option<DateTime<Utc>>,
    /// Delivered at.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl OutboxRecord {
    /// A freshly enqueued message.
    pub fn new(message: OutboxMessage) -> Self {
        let at = message.created_at;
        Self {
            message,
            state: OutboxState::Pending,
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            lease_token: None,
            lease_until: None,
            delivered_at: None,
        }
    }
}
