//! Cancellation safety: a store call that its caller abandons never leaves a write half-done
//! or a connection poisoned.
//!
//! Callers drop store futures at any `.await`: an HTTP request whose client went away, a
//! `tokio::time::timeout`, a `select!`. sqlx 0.8.4 – 0.9.0 was not cancel-safe in `begin()` on
//! PostgreSQL (launchbadge/sqlx#4385): dropped while `BEGIN` was on the wire, the session stayed
//! in a transaction that nothing rolled back, and the pool lent it to the next borrower, whose
//! auto-commit statements then ran inside it, acknowledged but never committed. The defences,
//! each sufficient for what it covers:
//!
//! 1. `PgStore::detached`: every write (a unit of work, anything transactional, anything
//!    that changes a row) runs on a task of its own that the caller merely awaits. Dropping the
//!    caller drops the join handle, not the task: the transaction commits or rolls back on its
//!    own, and the connection goes back to the pool clean.
//! 2. sqlx 0.9.1 and later (the version this crate requires) counts the transaction before
//!    `BEGIN`'s round trip (transact-rs/sqlx#4394), so a `begin()` dropped half-way queues its
//!    `ROLLBACK`, which the pool's ping on release sends. This covers anyone who borrows from
//!    [`PgStore::pool`] and calls `begin()`; `tests/cancellation.rs` shows it at random points.
//! 3. [`after_release`], with [`crate::PgOptions::release_check`] (off by default): a
//!    connection that comes back to the pool still inside a transaction block is closed instead
//!    of reused; closing it makes the server roll the transaction back and free its locks. This
//!    covers a transaction sqlx does not know of: a raw `BEGIN` sent by code of yours on a
//!    connection of the store's pool. It costs a round trip per use (reads 1.14–1.36× faster
//!    without it, BENCHMARKS.md 2026-12-04 21:30).
//! 4. `idle_in_transaction_session_timeout` on every connection ([`crate::PgOptions`]): should a
//!    session ever sit idle inside a transaction anyway, the server ends it; the error the next
//!    use of that connection gets (`25P03`) is logged by the error mapping.
//! 5. The read lane (`read_lane`, [`crate::PgOptions::read_lane`]), which lends connections
//!    without sqlx's ping, takes one back only from a read whose answer was read to its end; an
//!    abandoned or failed read closes its connection instead.

use std::future::Future;

use futures::future::BoxFuture;
use helpdesk_core::ports::{StoreError, StoreResult};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{Connection as _, PgConnection};

use crate::PgStore;

impl PgStore {
    /// Runs `work` on its own task and waits for it, so that dropping the returned future
    /// cannot stop the work half-way (see the module docs). `work` gets a clone of the store.
    ///
    /// # Errors
    /// What `work` returns; `Backend` if the task panicked or the runtime is shutting down.
    pub(crate) async fn detached<T, F, Fut>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(PgStore) -> Fut,
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
    {
        match tokio::spawn(work(self.clone())).await {
            Ok(result) => result,
            Err(join) => Err(StoreError::Backend { backend: "postgres", source: Box::new(join) }),
        }
    }
}

/// `PgPoolOptions::after_release` (with [`crate::PgOptions::release_check`]): keeps a connection
/// only if it is outside any transaction.
///
/// The check costs one round trip with no work on the server: an empty simple query, whose
/// `ReadyForQuery` answer carries the session's transaction status, read through sqlx's
/// `begin_with` (which succeeds only when the statement leaves the session inside a
/// transaction). Outside one, the connection goes back to the pool; inside a block left open by
/// a raw `BEGIN`, it is closed (which makes the server roll the block back). A session in
/// an aborted block cannot be told from an idle one this way; it holds no writes that could be
/// acknowledged (every statement in it fails), and the server ends it after
/// `idle_in_transaction_session_timeout`.
pub fn after_release(
    conn: &mut PgConnection,
    _meta: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(outside_transaction(conn))
}

async fn outside_transaction(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    match conn.begin_with("").await {
        Err(sqlx::Error::BeginFailed) => Ok(true),
        Err(e) => Err(e),
        Ok(stale) => {
            tracing::warn!(
                "a pooled PostgreSQL connection came back inside a transaction sqlx did not open; closing it"
            );
            drop(stale); // queues the ROLLBACK; closing the connection would roll back anyway
            Ok(false)
        }
    }
}
