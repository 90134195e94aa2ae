//! The ports: what the core needs from the outside world, each with its contract.
//!
//! - [`Store`]: every persistent record, as small read traits plus one atomic
//!   [`commit`](UnitOfWorkStore::commit) of a [`UnitOfWork`];
//! - [`Mailer`]: delivers one rendered notification;
//! - [`WorkflowSink`]: tells the external workflow system about a ticket;
//! - [`Clock`]: the current time (core never reads the wall clock itself);
//! - [`ChangeFeed`]: tells open pages what a commit changed (live updates);
//! - [`ArchiveStore`]: the part of the store that only whole-store export and import need;
//! - [`SettingsStore`]: the service-level policies an admin saved;
//! - attachments: `object_store::ObjectStore` itself, used as `Arc<dyn ObjectStore>`.
//!
//! Ports are used as `Arc<dyn Port>` and are `Send + Sync + Debug + 'static`.

mod archive;
mod changes;
mod clock;
mod decisions;
mod delivery;
mod query;
mod settings;
mod store;

pub use archive::ArchiveStore;
pub use changes::{Change, ChangeFeed, LocalChangeFeed};
pub use clock::{Clock, SystemClock};
pub use decisions::{RefreshDecision, add_to_summary, decide_refresh, ticket_counter_keys, user_counter_keys};
pub use delivery::{DeliveryError, Mailer, WorkflowSink};
pub use query::{
    AssigneeFilter, AuditQuery, Cursor, Page, PageSize, SortDirection, TicketQuery, TicketSort, TicketSortField,
    UserQuery,
};
pub use settings::{DocumentKey, SettingsStore};
pub use store::*;

#[cfg(feature = "testing")]
pub use clock::MockClock;
#[cfg(feature = "testing")]
pub use delivery::{MockMailer, MockWorkflowSink};
