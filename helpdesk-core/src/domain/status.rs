//! The closed sets: roles, account statuses and ticket statuses.
//!
//! A custom lifecycle may restrict which moves exist but cannot invent statuses; stores check
//! these values (enums or CHECK constraints), never free strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! closed_set {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored and wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = crate::FieldError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err(crate::FieldError::new(
                        stringify!($name),
                        "invalid",
                        format!("unknown value {s:?}"),
                    )),
                }
            }
        }
    };
}

closed_set!(
    /// What a user account may do.
    Role {
        /// Files and follows own tickets.
        Employee = "employee",
        /// Ticket coordinator: triages, claims, works and resolves tickets.
        Coordinator = "coordinator",
        /// System admin: everything a coordinator does, plus users, keys and reports.
        Admin = "admin",
    }
);

impl Role {
    /// Coordinators and admins.
    pub const fn is_staff(self) -> bool {
        matches!(self, Role::Coordinator | Role::Admin)
    }
}

closed_set!(
    /// Where an account is in its lifecycle (rejected accounts are deleted, leaving an audit
    /// record, so `rejected` is never stored on a user row).
    UserStatus {
        /// Registered, awaiting an admin.
        Pending = "pending",
        /// May sign in.
        Approved = "approved",
        /// Turned off by an admin; may be reactivated.
        Deactivated = "deactivated",
    }
);

closed_set!(
    /// Where a ticket is in its lifecycle.
    TicketStatus {
        /// Submitted, awaiting triage.
        New = "new",
        /// Approved at triage, not yet worked.
        Open = "open",
        /// Someone works on it.
        InProgress = "in_progress",
        /// Paused by staff.
        OnHold = "on_hold",
        /// Waiting on the requester.
        Pending = "pending",
        /// Resolved; the requester may close or reopen it.
        Resolved = "resolved",
        /// Done (terminal).
        Closed = "closed",
        /// Refused at triage (terminal).
        Rejected = "rejected",
        /// Withdrawn by its requester (terminal).
        Withdrawn = "withdrawn",
    }
);

impl TicketStatus {
    /// Terminal statuses never change again, whatever table is loaded.
    pub const fn is_terminal(self) -> bool {
        matches!(self, TicketStatus::Closed | TicketStatus::Rejected | TicketStatus::Withdrawn)
    }
}
