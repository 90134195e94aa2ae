//! Macros: named bundles of changes staff apply to a ticket in one action (a comment from a
//! template, a priority, a department, tags to add and remove, a lifecycle action).
//!
//! Stores keep every macro of the deployment in one versioned document
//! ([`DocumentKey::Macros`](crate::ports::DocumentKey)): a help desk has tens to hundreds of
//! them, read together for a picker and changed rarely, and a save that names the version it
//! replaces keeps two people's edits from overwriting each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{DepartmentKey, MacroId, MacroName, Priority, Tag, Template, UserId};
use crate::lifecycle::Action;

/// A macro's comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacroComment {
    /// The text, with placeholders.
    pub body: Template,
    /// An internal note (staff only) rather than a public reply.
    pub internal: bool,
}

/// A named bundle of changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Macro {
    /// Unique id.
    pub id: MacroId,
    /// The name staff pick it by (unique among the macros one person sees).
    pub name: MacroName,
    /// `None`: shared with all staff (admins manage it); otherwise the one person who owns
    /// it, sees it and applies it.
    pub owner: Option<UserId>,
    /// A comment to write.
    pub comment: Option<MacroComment>,
    /// A priority to set.
    pub priority: Option<Priority>,
    /// A department to move the ticket to.
    pub department: Option<DepartmentKey>,
    /// Tags to add.
    pub add_tags: Vec<Tag>,
    /// Tags to take away.
    pub remove_tags: Vec<Tag>,
    /// A lifecycle action to take after the other changes.
    pub action: Option<Action>,
    /// The action's note (rejection reason, resolution note, the question to the requester),
    /// with placeholders.
    pub action_note: Option<Template>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
    /// Who saved it last.
    pub updated_by: UserId,
}

impl Macro {
    /// True for a macro shared with all staff.
    pub fn is_shared(&self) -> bool {
        self.owner.is_none()
    }
}

/// Every macro of the deployment, as stores keep them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacroBook {
    /// The macros, in the order they were made.
    pub macros: Vec<Macro>,
}
