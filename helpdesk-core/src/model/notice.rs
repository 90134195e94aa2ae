//! In-app notifications ("notices"): what the bell in the web pages lists for one user.
//!
//! A notice names a ticket and what happened to it, never the content of the change (no
//! comment text, no note), so it can carry nothing its user may not see: a user is only ever
//! told about tickets they may open, and internal-only changes make no notice for anyone.
//! Notices are written in the same commit as the change they report (see
//! `HelpDesk`'s commit path), so a change and its notices exist together or not at all.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{NoticeId, TicketId, TicketStatus, UserId};

/// What happened to the ticket, from the recipient's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoticeKind {
    /// A ticket the recipient filed moved to `status`.
    StatusChanged {
        /// The new status.
        status: TicketStatus,
    },
    /// Someone else wrote a public comment on the recipient's ticket.
    Commented,
    /// The ticket was assigned to the recipient (staff).
    Assigned,
    /// The requester answered on a ticket assigned to the recipient (staff).
    RequesterAnswered,
    /// A ticket was filed in the recipient's department (staff).
    NewTicket,
    /// The requester rated a ticket assigned to the recipient (staff).
    Rated {
        /// The rating.
        rating: super::Rating,
    },
}

impl NoticeKind {
    /// How much it matters when one change would tell a user several things (the highest is
    /// kept: one notice per user per change).
    pub fn weight(self) -> u8 {
        match self {
            NoticeKind::Assigned => 5,
            NoticeKind::RequesterAnswered => 4,
            NoticeKind::StatusChanged { .. } => 3,
            NoticeKind::Commented => 2,
            NoticeKind::NewTicket => 1,
            NoticeKind::Rated { .. } => 2,
        }
    }
}

/// One in-app notification of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Id.
    pub id: NoticeId,
    /// Whose it is.
    pub user: UserId,
    /// The ticket it is about.
    pub ticket: TicketId,
    /// The ticket's number, as shown.
    pub number: String,
    /// The ticket's subject when the notice was made.
    pub subject: String,
    /// What happened.
    pub kind: NoticeKind,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When the user marked it read.
    pub read_at: Option<DateTime<Utc>>,
}
