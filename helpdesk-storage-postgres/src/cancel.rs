//! Cancellation safety: a store call that its caller abandons never leaves a write half-done
//! or a connection poisoned.
//!
//! Callers drop store futures at any `.await`: an HTTP request whose client went away, a
//! `tokio::time::timeout`, a `select!`. sqlx 0.8.4 – 0.9.0 is not cancel-safe in `begin()` on
//! PostgreSQL (launchbadge/sqlx#4385): dropped while `BEGIN` is on the wire, the session stays
//! in a transaction that nothing rolls back, and the pool lends it to the next borrower, whose
//! auto-commit statements then run inside it, acknowledged but never committed. Three
//! defences, each sufficient for what it covers:
//!
//! 1. `PgStore::detached`: every write (a unit of work, anything transactional, anything
//!    that changes a row) runs on a task of its own that the caller merely awaits. Dropping the
//!    caller drops the join handle, not the task: the transaction commits or rolls back on its
//!    own, and the connection goes back to the pool clean.
//! 2. [`after_release`]: a connection that comes back to the pool still inside a transaction
//!    block (or in an aborted one) is closed instead of reused; closing it makes the server
//!    roll the transaction back and free its locks. This covers anyone who borrows from
//!    [`PgStore::pool`] directly.
//! 3. `idle_in_transaction_session_timeout` on every connection ([`crate::PgOptions`]): should a
//!    session ever sit idle inside a transaction anyway, the server ends it; the error the next
//!    use of that connection gets (`25P03`) is logged by the error mapping.

use std::future::Future;

use futures::future::BoxFuture;
use helpdesk_core::ports::{StoreError, StoreResult};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{Executor, PgConnection, Row};

use crate::PgStore;

/// The check [`after_release`] runs. With the simple-query protocol a statement outside a
/// transaction block is its own transaction, so its statement and transaction start times
/// are the same instant; inside a block left open by an earlier `BEGIN` the transaction began
/// at that `BEGIN`, a round trip or more before. In an aborted block the query fails.
const IN_TRANSACTION_SQL: &str = "SELECT statement_timestamp() <> transaction_timestamp()";

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

/// `PgPoolOptions::after_release`: keeps a connection only if it is outside any transaction.
///
/// Returns `Ok(false)` (sqlx closes the connection) when the session is still in a transaction
/// block, and an error (sqlx drops it hard) when it is in an aborted one or does not answer.
pub fn after_release(
    conn: &mut PgConnection,
    _meta: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(outside_transaction(conn))
}

async fn outside_transaction(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let row = conn.fetch_one(sqlx::raw_sql(IN_TRANSACTION_SQL)).await?;
    // The simple-query protocol answers in text (`t` / `f`), which `bool` decodes.
    let in_transaction: bool = row.try_get(0)?;
    if in_transaction {
        tracing::warn!("a pooled PostgreSQL connection came back inside a transaction (a cancelled BEGIN); closing it");
    }
    Ok(!in_transaction)
}
