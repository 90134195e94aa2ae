//! Tickets with their comments, attachments and history events.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    ApiKeyId, AttachmentId, CategoryKey, CommentBody, CommentId, DepartmentKey, Description, EventId, FileName,
    Priority, StorageKey, Subject, Tag, TicketId, TicketNumber, TicketStatus, UserId,
};
use crate::lifecycle::Action;

/// A ticket. Status, number and timestamps change only through the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Internal id.
    pub id: TicketId,
    /// Human-friendly number.
    pub number: TicketNumber,
    /// Who filed it.
    pub requester: UserId,
    /// The one-line summary the requester typed (1–200 characters).
    pub subject: Subject,
    /// Category (from the catalog).
    pub category: CategoryKey,
    /// The sub-category key, one of the category's in the catalogue.
    pub sub_category: CategoryKey,
    /// What the requester needs, as typed (plain text, shown escaped).
    pub description: Description,
    /// Requested date, never in the past when set.
    pub scheduled_date: Option<NaiveDate>,
    /// Set at triage.
    pub priority: Option<Priority>,
    /// Proposed from the category at submission, confirmed at triage.
    pub department: Option<DepartmentKey>,
    /// Where the ticket is in its lifecycle; changed only by lifecycle actions.
    pub status: TicketStatus,
    /// Staff member working on it.
    pub assignee: Option<UserId>,
    /// When the requester submitted it (the start of response and resolution times).
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// First staff response (approve, reject or first public staff comment).
    pub first_response_at: Option<DateTime<Utc>>,
    /// Last resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was closed (by the requester, staff or auto-close).
    pub closed_at: Option<DateTime<Utc>>,
    /// First response minus submission, in seconds.
    pub response_secs: Option<i64>,
    /// Resolution minus submission, in seconds.
    pub resolution_secs: Option<i64>,
    /// The reason given when rejected at triage (visible to the requester).
    pub rejection_reason: Option<String>,
    /// True once the workflow sink was told about the ticket (it then hears every change).
    pub workflow_linked: bool,
    /// Optimistic-concurrency version, 1 at creation, +1 per change.
    pub version: u64,
    /// When its running service-level targets fall due and warn: derived from the history at
    /// each change (never edited), stored so that stores can sort by it and find due alerts.
    #[serde(default, skip_serializing_if = "SlaSchedule::is_empty")]
    pub sla: SlaSchedule,
    /// The requester's rating, once given through the resolution mail's link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<super::Satisfaction>,
    /// Staff's labels (normalised, sorted, without repeats; at most [`Tag::MAX_PER_TICKET`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Approved users who follow the ticket (sorted, without repeats; at most
    /// [`Ticket::MAX_FOLLOWERS`]; never the requester): they read its public thread, get its
    /// mails and may comment, and see nothing internal (see [`crate::policy`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followers: Vec<UserId>,
    /// Typed links to other tickets, each kept on both tickets (sorted by number, one link per
    /// other ticket; at most [`Ticket::MAX_LINKS`]). Staff's: requesters do not see them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<TicketLink>,
    /// Set when the ticket was merged into another: it is then closed and only points there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<TicketNumber>,
    /// Custom field values by key ([`super::FieldBook`] defines them): what staff and the
    /// requester recorded, checked against the definitions on every write.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: super::FieldValues,
}

/// How a ticket relates to another, as seen from the ticket that holds the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// This ticket repeats the other (the other is the one worked on).
    DuplicateOf,
    /// The other ticket repeats this one.
    DuplicatedBy,
    /// The two are about related things.
    RelatedTo,
    /// The other ticket is part of this one: this one is not resolved while it is open.
    ParentOf,
    /// This ticket is part of the other.
    ChildOf,
}

impl LinkKind {
    /// Every kind.
    pub const ALL: [LinkKind; 5] =
        [LinkKind::DuplicateOf, LinkKind::DuplicatedBy, LinkKind::RelatedTo, LinkKind::ParentOf, LinkKind::ChildOf];

    /// The same link as the other ticket holds it.
    pub const fn reverse(self) -> Self {
        match self {
            LinkKind::DuplicateOf => LinkKind::DuplicatedBy,
            LinkKind::DuplicatedBy => LinkKind::DuplicateOf,
            LinkKind::RelatedTo => LinkKind::RelatedTo,
            LinkKind::ParentOf => LinkKind::ChildOf,
            LinkKind::ChildOf => LinkKind::ParentOf,
        }
    }

    /// The API's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkKind::DuplicateOf => "duplicate_of",
            LinkKind::DuplicatedBy => "duplicated_by",
            LinkKind::RelatedTo => "related_to",
            LinkKind::ParentOf => "parent_of",
            LinkKind::ChildOf => "child_of",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A link from the ticket that holds it to `ticket`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketLink {
    /// How this ticket relates to the other.
    pub kind: LinkKind,
    /// The other ticket.
    pub ticket: TicketNumber,
}

impl Ticket {
    /// How many people may follow one ticket.
    pub const MAX_FOLLOWERS: usize = 25;

    /// How many links one ticket may hold.
    pub const MAX_LINKS: usize = 50;

    /// The link to `other`, if any.
    pub fn link_to(&self, other: &TicketNumber) -> Option<&TicketLink> {
        self.links.iter().find(|l| &l.ticket == other)
    }

    /// True when `user` follows the ticket.
    pub fn is_followed_by(&self, user: UserId) -> bool {
        self.followers.binary_search(&user).is_ok()
    }
}

/// The moments of a ticket's running service-level targets, as of its last change: what the
/// "due soonest" sort, the "breached" filter and the alert loop read (see
/// [`crate::sla`]). Empty when no policy applies or no target runs (met, paused, closed).
///
/// The due and warning times depend only on the history and the calendar, so they stay right
/// until the next change; a changed calendar or policy takes effect on a ticket's schedule at
/// its next change. An alert moment already past when the schedule is computed is stored as
/// that time, so the alert loop still finds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlaSchedule {
    /// When the earliest running target falls due.
    pub due_at: Option<DateTime<Utc>>,
    /// When the earliest running target enters its warning share.
    pub warn_at: Option<DateTime<Utc>>,
    /// Every moment an alert falls due (each running target's warning and due time), sorted,
    /// without repeats.
    pub alerts: Vec<DateTime<Utc>>,
}

impl SlaSchedule {
    /// True when no target runs.
    pub fn is_empty(&self) -> bool {
        self.due_at.is_none() && self.warn_at.is_none() && self.alerts.is_empty()
    }

    /// Where the running targets stand at `now`: `breached` once the earliest is past due,
    /// `warning` once one is in its warning share, `ok` before, `None` when none runs.
    pub fn state_at(&self, now: DateTime<Utc>) -> Option<crate::sla::TargetState> {
        use crate::sla::TargetState;
        let due = self.due_at?;
        Some(if due < now {
            TargetState::Breached
        } else if self.warn_at.is_some_and(|w| w <= now) {
            TargetState::Warning
        } else {
            TargetState::Ok
        })
    }
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActorRef {
    /// A signed-in user.
    User {
        /// The user.
        id: UserId,
    },
    /// An external system, by its API key.
    ExternalSystem {
        /// The key.
        key: ApiKeyId,
        /// The key's name at the time.
        name: String,
    },
    /// The help desk itself (timers).
    System,
}

impl ActorRef {
    /// The user, when the actor is one.
    pub fn user(&self) -> Option<UserId> {
        match self {
            ActorRef::User { id } => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Display for ActorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActorRef::User { id } => write!(f, "user:{id}"),
            ActorRef::ExternalSystem { name, .. } => write!(f, "system:{name}"),
            ActorRef::System => f.write_str("helpdesk"),
        }
    }
}

/// A comment. Internal comments are written by staff and never shown or mailed to employees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Unique id of the comment.
    pub id: CommentId,
    /// The ticket it was written on.
    pub ticket: TicketId,
    /// Who wrote it: a user, or the external system through the workflow route.
    pub author: ActorRef,
    /// The text, as written (plain text, shown escaped).
    pub body: CommentBody,
    /// Staff-only: never shown or mailed to the requester, and its history event is internal too.
    pub internal: bool,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// An attachment's metadata. Its bytes live in the object store under `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Unique id of the attachment (also part of its storage key).
    pub id: AttachmentId,
    /// The ticket it belongs to.
    pub ticket: TicketId,
    /// The comment it belongs to, if any.
    pub comment: Option<CommentId>,
    /// Follows its comment's visibility.
    pub internal: bool,
    /// Sanitised display name.
    pub file_name: FileName,
    /// Decided from the content, not the client.
    pub content_type: String,
    /// Size in bytes, as stored.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Server-generated storage key.
    pub key: StorageKey,
    /// Who uploaded it.
    pub uploaded_by: ActorRef,
    /// When the upload was committed.
    pub created_at: DateTime<Utc>,
}

/// What a history event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A lifecycle action (submit included).
    Action {
        /// The action.
        action: Action,
    },
    /// Fields edited.
    Edited,
    /// A comment written.
    Commented {
        /// The comment.
        comment: CommentId,
    },
    /// An attachment added.
    AttachmentAdded {
        /// The attachment.
        attachment: AttachmentId,
    },
    /// The requester rated the ticket (or changed their rating) through the resolution
    /// mail's link; the comment is the event's note. Staff-only, like the rating.
    Rated {
        /// The rating given.
        rating: super::Rating,
    },
    /// Someone started following the ticket (added by the requester or staff).
    FollowerAdded {
        /// The new follower.
        user: UserId,
    },
    /// Someone stopped following the ticket (removed, or left it).
    FollowerRemoved {
        /// The former follower.
        user: UserId,
    },
    /// A link to another ticket was made (on both tickets, each as it sees the link).
    Linked {
        /// How this ticket relates to the other.
        kind: LinkKind,
        /// The other ticket.
        ticket: TicketNumber,
    },
    /// A link to another ticket was taken away.
    Unlinked {
        /// How this ticket related to the other.
        kind: LinkKind,
        /// The other ticket.
        ticket: TicketNumber,
    },
    /// This ticket was merged into another: closed, its conversation and followers moved.
    MergedInto {
        /// The surviving ticket.
        ticket: TicketNumber,
    },
    /// Another ticket was merged into this one: its conversation and followers came here.
    MergedFrom {
        /// The merged ticket.
        ticket: TicketNumber,
    },
}

/// One changed field, old and new value as display strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field.
    pub field: String,
    /// The value before, as shown to people (`None` when the field was empty or new).
    pub old: Option<String>,
    /// The value after (`None` when cleared).
    pub new: Option<String>,
}

impl FieldChange {
    /// Builds a change.
    pub fn new(field: &str, old: Option<String>, new: Option<String>) -> Self {
        Self { field: field.to_owned(), old, new }
    }
}

/// A ticket history event, written in the same commit as the change it records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// Unique id of the event.
    pub id: EventId,
    /// The ticket it belongs to.
    pub ticket: TicketId,
    /// When the change was committed.
    pub at: DateTime<Utc>,
    /// Who made the change (a user, the external system, or the help desk's timers).
    pub actor: ActorRef,
    /// What kind of change: a lifecycle action, an edit, a comment or an attachment.
    pub kind: EventKind,
    /// Changed fields.
    pub changes: Vec<FieldChange>,
    /// A note given with the action (reason, resolution note, comment text).
    pub note: Option<String>,
    /// Internal events (of internal comments and their attachments) are staff-only.
    pub internal: bool,
    /// The ticket version this event produced.
    pub version: u64,
    /// The macro that made the change, by name as it was then: the events of one macro
    /// share one commit and one version and are shown as one entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_macro: Option<String>,
}
