//! The change feed port: tells open pages that something they show has changed.
//!
//! After every successful commit, [`HelpDesk`](crate::HelpDesk) publishes what the commit
//! changed as [`Change`]s: which ticket moved to which version, whose notifications grew.
//! A change names things; it never carries their content (no comment text, no note), so a
//! page that hears of one fetches what it may see through the normal, policy-checked reads,
//! and a subscriber filters with [`Change::visible_to`] before passing anything on.
//!
//! [`LocalChangeFeed`] (the default) is a broadcast channel inside one process: enough for
//! sled, which one process owns. Several processes on one PostgreSQL database need a feed
//! that crosses processes: `helpdesk_storage_postgres::PgChangeFeed` publishes with
//! `NOTIFY` and hears every process's changes with `LISTEN`.
//!
//! # Contract
//! - `publish` never blocks and never fails the caller: the change is already committed, and
//!   a lost live update only means a page shows the change at its next load.
//! - A subscriber that falls behind loses the oldest changes (it is told how many), never
//!   slows the publisher.

use std::fmt;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::domain::{TicketId, UserId};
use crate::policy::Principal;

/// One committed change, by name only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A ticket was created or changed.
    Ticket {
        /// The ticket.
        id: TicketId,
        /// Its number, as shown.
        number: String,
        /// Who filed it.
        requester: UserId,
        /// Who follows it (after the change).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        followers: Vec<UserId>,
        /// Its version after the change.
        version: u64,
        /// True when everything that changed is internal (an internal note): the requester's
        /// pages are not told.
        internal: bool,
    },
    /// The user has new in-app notifications.
    Notices {
        /// Whose.
        user: UserId,
    },
    /// The user's account changed (status, role, sessions ended): their open pages should
    /// check that they are still signed in.
    Account {
        /// Whose.
        user: UserId,
    },
}

impl Change {
    /// Whether `viewer` may hear of this change: staff hear of every ticket change; a user
    /// hears of the public changes of their own tickets and of those they follow, of their own
    /// notices and account.
    pub fn visible_to(&self, viewer: &Principal) -> bool {
        let Some(user) = viewer.user() else { return false };
        match self {
            Change::Ticket { requester, followers, internal, .. } => {
                viewer.is_staff() || ((*requester == user.id || followers.contains(&user.id)) && !internal)
            }
            Change::Notices { user: u } | Change::Account { user: u } => *u == user.id,
        }
    }
}

/// Where committed changes are published and heard.
pub trait ChangeFeed: Send + Sync + fmt::Debug + 'static {
    /// Publishes changes already committed (never blocks; see the module's contract).
    fn publish(&self, changes: Vec<Change>);
    /// A receiver of every change published from now on, in this process and, for feeds
    /// that cross processes, in the others.
    fn subscribe(&self) -> broadcast::Receiver<Change>;
}

/// The in-process feed: a broadcast channel.
#[derive(Debug, Clone)]
pub struct LocalChangeFeed {
    tx: broadcast::Sender<Change>,
}

impl LocalChangeFeed {
    /// A feed whose subscribers may fall `capacity` changes behind before losing the oldest.
    pub fn new(capacity: usize) -> Self {
        Self { tx: broadcast::channel(capacity.max(1)).0 }
    }

    /// Sends to this process's subscribers only (cross-process feeds use it for what they
    /// hear).
    pub fn deliver(&self, change: Change) {
        // No subscriber is not an error: nobody has a page open.
        let _ = self.tx.send(change);
    }
}

impl Default for LocalChangeFeed {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl ChangeFeed for LocalChangeFeed {
    fn publish(&self, changes: Vec<Change>) {
        for c in changes {
            self.deliver(c);
        }
    }
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }
}
