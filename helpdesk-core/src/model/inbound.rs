//! Messages that came in by mail, and what became of each.
//!
//! Every message the help desk is handed gets one record, whatever happens to it: the one that
//! opened a ticket, the reply that became a comment, the auto-reply that was ignored, the
//! unproven sender's message that was held. The record is keyed by the message's identity
//! ([`InboundMessage::key`]: its Message-ID, or a hash of its bytes when it has none), which
//! stores keep unique, so a message delivered twice (an MTA retrying, two pollers on one
//! mailbox) is recognised and processed once. The raw message is kept in the attachment store
//! under [`InboundMessage::raw`] before anything else happens, so a message is never lost, and
//! a held or failed one can be processed again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{InboundId, TicketNumber};

/// How a message reached the help desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundChannel {
    /// Piped by an MTA (`helpdesk mail ingest`).
    Pipe,
    /// Posted to the HTTP route by a mail service.
    Http,
    /// Fetched from an IMAP mailbox.
    Imap,
}

impl InboundChannel {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pipe => "pipe",
            Self::Http => "http",
            Self::Imap => "imap",
        }
    }
}

/// Why a message was held for an admin (or for its sender's confirmation) instead of processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// Nothing proves that the From address sent it: no DMARC pass from the trusted MTA, no
    /// signed reply address. The sender was mailed a confirmation link.
    SenderUnproven,
    /// The From address is not an approved user's.
    UnknownSender,
    /// The sender passed the hourly limit of messages.
    TooMany,
    /// The sender may not write on the ticket the message answers.
    NotAParticipant,
}

impl HoldReason {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SenderUnproven => "sender_unproven",
            Self::UnknownSender => "unknown_sender",
            Self::TooMany => "too_many",
            Self::NotAParticipant => "not_a_participant",
        }
    }

    /// What the sender and admins are told.
    pub const fn explain(self) -> &'static str {
        match self {
            Self::SenderUnproven => "nothing proves that this address sent the message; confirm it with the link",
            Self::UnknownSender => "this address does not belong to an approved user of the help desk",
            Self::TooMany => "this address sent more messages in the last hour than the help desk accepts",
            Self::NotAParticipant => "this address may not write on the ticket the message answers",
        }
    }
}

/// Why a message was recorded and left alone, by the loop and flood rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoreReason {
    /// `Auto-Submitted` other than `no` (RFC 3834): an auto-reply or another program.
    AutoSubmitted,
    /// `Precedence: bulk`, `list` or `junk`, or a mailing list's headers.
    Bulk,
    /// From a mailer daemon or postmaster, or with an empty return path, that is not a bounce
    /// of one of our messages.
    MailerDaemon,
    /// From one of the help desk's own addresses.
    OwnAddress,
    /// One of our own messages, come back.
    OwnMessage,
    /// A delivery report about one of our messages: the recipient is recorded as failing.
    Bounce,
}

impl IgnoreReason {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AutoSubmitted => "auto_submitted",
            Self::Bulk => "bulk",
            Self::MailerDaemon => "mailer_daemon",
            Self::OwnAddress => "own_address",
            Self::OwnMessage => "own_message",
            Self::Bounce => "bounce",
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum InboundOutcome {
    /// It opened this ticket.
    Ticket {
        /// The new ticket.
        number: TicketNumber,
    },
    /// It became a public comment on this ticket.
    Comment {
        /// The ticket it answered.
        number: TicketNumber,
    },
    /// It waits for an admin or for its sender's confirmation.
    Held {
        /// Why.
        reason: HoldReason,
    },
    /// The loop and flood rules left it alone.
    Ignored {
        /// Why.
        reason: IgnoreReason,
        /// For a bounce: the recipient whose mail failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed_recipient: Option<String>,
    },
    /// Processing it failed in a way a retry would not mend by itself (the ticket it answers is
    /// gone, its subject is refused, …); an admin can run it again.
    Failed {
        /// What went wrong, for admins.
        error: String,
    },
}

impl InboundOutcome {
    /// The wire name of the outcome.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Ticket { .. } => "ticket",
            Self::Comment { .. } => "comment",
            Self::Held { .. } => "held",
            Self::Ignored { .. } => "ignored",
            Self::Failed { .. } => "failed",
        }
    }

    /// True when an admin may run it again (held or failed).
    pub const fn may_rerun(&self) -> bool {
        matches!(self, Self::Held { .. } | Self::Failed { .. })
    }
}

/// One message that came in, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// Id.
    pub id: InboundId,
    /// The message's identity, unique in the store: `mid:<Message-ID>` (lower case, without
    /// angle brackets) or `sha256:<hex of the raw bytes>` when it has no Message-ID.
    pub key: String,
    /// The Message-ID as the message gave it.
    pub message_id: Option<String>,
    /// The From address as the message gave it (not proof of anything).
    pub from: String,
    /// The subject, as decoded.
    pub subject: String,
    /// How it arrived.
    pub channel: InboundChannel,
    /// Where the raw message is kept in the attachment store.
    pub raw: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was first received.
    pub received_at: DateTime<Utc>,
    /// When it was last processed.
    pub processed_at: DateTime<Utc>,
    /// How many times it was processed (1, then one more per run by an admin or confirmation).
    pub attempts: u32,
    /// What became of it.
    pub outcome: InboundOutcome,
    /// Optimistic-concurrency version (1 on insert).
    pub version: u64,
}
