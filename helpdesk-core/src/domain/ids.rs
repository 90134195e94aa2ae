//! Identifiers: UUID newtypes so a user id cannot be passed where a ticket id is expected.

use std::fmt;
use std::str::FromStr;

macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new random id.
            pub fn random() -> Self {
                Self(uuid::Uuid::new_v4())
            }
            /// Wraps an existing UUID (from storage).
            pub const fn from_uuid(u: uuid::Uuid) -> Self {
                Self(u)
            }
            /// The UUID inside.
            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(/// A user account.
    UserId);
uuid_id!(/// A ticket (internal id; people use its [`TicketNumber`](super::TicketNumber)).
    TicketId);
uuid_id!(/// A comment on a ticket.
    CommentId);
uuid_id!(/// An attachment's metadata row.
    AttachmentId);
uuid_id!(/// A history event.
    EventId);
uuid_id!(/// A login session (the refresh-token family).
    SessionId);
uuid_id!(/// An external system's API key (the public half of `ApiKey <id>.<secret>`).
    ApiKeyId);
uuid_id!(/// An outbox message; consumers de-duplicate by it.
    MessageId);
uuid_id!(/// A rejected-registration audit record.
    RejectionId);
uuid_id!(/// A security audit log entry.
    AuditId);
uuid_id!(/// An in-app notification of one user.
    NoticeId);
uuid_id!(/// A message that came in by mail (see `HelpDesk::ingest_mail`).
    InboundId);
uuid_id!(/// A macro: a named bundle of changes staff apply to a ticket in one action.
    MacroId);
uuid_id!(/// A saved view of the queue.
    ViewId);
