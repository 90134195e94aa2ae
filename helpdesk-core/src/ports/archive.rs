//! The archive port: what a whole-store export and import need beyond the read traits
//! ([`crate::archive`], `helpdesk export` / `helpdesk import`).
//!
//! Most records go out through the ordinary reads (users, tickets with their history,
//! comments and attachments, audit, …) and come back in through [`UnitOfWork`]s of inserts,
//! which keep every record as it was (ids, versions, times, password hashes) and keep each
//! store's own indexes and counters right. Three things cannot travel that way, and are this
//! port:
//! - single-use tokens, which no use case lists;
//! - the outbox with its delivery states: a [`UnitOfWork`] enqueues messages as new, so an
//!   import through it would send every mail of the store's past again;
//! - the ticket-number counter, which may stand above the highest stored ticket (numbers
//!   allocated by creates that then failed are never reused).
//!
//! [`UnitOfWork`]: super::UnitOfWork

use std::fmt;

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{OneTimeToken, OutboxRecord};

/// Whole-store export and import.
#[async_trait]
pub trait ArchiveStore: Send + Sync + fmt::Debug + 'static {
    /// Every single-use token, used or not, expired or not, in any order.
    async fn one_time_tokens(&self) -> StoreResult<Vec<OneTimeToken>>;

    /// The highest ticket number handed out so far by
    /// [`allocate_ticket_number`](super::TicketStore::allocate_ticket_number), or 0.
    async fn ticket_number_high_water(&self) -> StoreResult<u64>;

    /// Makes every later allocation return a number above `at_least`; never lowers the
    /// counter.
    async fn raise_ticket_number(&self, at_least: u64) -> StoreResult<()>;

    /// Writes outbox records as they are: state, attempts, due time, last error and delivery
    /// time are kept (an imported delivered message is not sent again, a dead one stays dead
    /// until an admin retries it). Leases are not kept: a claim belongs to a dispatcher of the
    /// store the record came from. `AlreadyExists { what: "id" }` when a message id is taken;
    /// all or nothing per call; durable when it returns.
    async fn import_outbox(&self, records: Vec<OutboxRecord>) -> StoreResult<()>;
}
