//! # helpdesk-storage-postgres
//!
//! The production store of helpdesk: [`PgStore`] implements every storage port of
//! `helpdesk-core` on PostgreSQL with `sqlx`, for many server processes on one database.
//!
//! - **Migrations** are embedded ([`MIGRATOR`], `migrations/`) and applied by
//!   [`PgStore::migrate`]. Statuses and roles are enums, unique fields constraints, and every
//!   list filter and sort has an index (see `tests/explain.rs` for the plans).
//! - **No database at build time**: only runtime queries (`sqlx::query`, `query_as`) with
//!   adapter-private row handling; the `sqlx::migrate!` macro reads files, not a database.
//! - **Concurrency across processes**: optimistic versions (`UPDATE … WHERE version = $n`);
//!   ticket numbers from a sequence (never reused; small gaps after a rollback or a crash, as
//!   the contract allows: `migrations/0005_ticket_number_sequence.sql`); outbox messages
//!   claimed with `FOR UPDATE SKIP LOCKED` under a lease; a unit of work that hits a
//!   serialization failure or deadlock is retried whole.
//! - **Cancel-safe**: a caller that drops a store future (a client that went away, a time-out)
//!   never leaves a write half-done or a pooled connection inside a transaction; see
//!   [`cancel`] for the defences and `tests/cancellation.rs` for the proof.
//! - **One round trip per read**: the reads on every request's path (the session check, a
//!   ticket, a list page) borrow from a small read lane beside the pool, whose connections go
//!   back without sqlx's ping on release, and only from a read that finished (`read_lane`).
//! - **Summary counts** live in a sharded counter table updated in the same transaction as the
//!   tickets, so the summary report does not scan a million rows and concurrent writers rarely
//!   wait on one another. The same is kept per status for each facet a queue filters by on its
//!   own (a tag, a department, an assignee…; `ticket_facet_counts`), so the queue's counts
//!   under one such filter are a sum over a few rows.

#![warn(missing_docs)]

mod accounts;
mod archive;
pub mod cancel;
pub mod changes;
mod commit;
mod facets;
mod field_sort;
mod inbound;
mod notices;
mod outbox;
mod read_lane;
mod reports;
mod settings;
mod terms;
mod tickets;

pub use changes::PgChangeFeed;
pub use read_lane::ReadLaneStats;
pub use tickets::{counts_sql, explain_list_sql, list_sql_without_terms};

use std::sync::Arc;
use std::time::Duration;

use helpdesk_core::ports::StoreError;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Options of [`PgStore::connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most pooled connections of this process (default 16).
    pub max_connections: u32,
    /// Longest wait for a pooled connection before `Unavailable` (default 5 s).
    pub acquire_timeout: Duration,
    /// The server ends a session that sits idle inside a transaction this long
    /// (`idle_in_transaction_session_timeout`, default 30 s): the last line of defence against
    /// a transaction left open (see [`cancel`]). The store's own transactions never wait on
    /// anything but the database, so they finish far sooner.
    pub idle_in_transaction_timeout: Duration,
    /// Parallel workers PostgreSQL may start for one of the store's statements
    /// (`max_parallel_workers_per_gather` of its sessions, default 0). The store's statements
    /// read a page or a bounded range through an index, where starting workers costs more than
    /// it saves: at 1,000,000 tickets the planner gave two-term and custom-field pages two
    /// workers and a hash join, 77 ms and 12 ms, against 0.9 ms and 3.9 ms for the ordered
    /// walk it picks without them (BENCHMARKS.md, 2026-12-03 15:31). Raise it for a database
    /// whose reports or counts scan more than they walk.
    pub parallel_workers: u32,
    /// Check every connection on its way back to the pool and close it if it is still inside a
    /// transaction block ([`cancel::after_release`]: one more round trip per use; default off).
    /// sqlx (0.9.1 and later) rolls back a `BEGIN` whose future was dropped, and the store's own
    /// transactions run detached, so the store needs no check; turn it on when code of yours
    /// borrows from [`PgStore::pool`] and opens transactions sqlx does not know of (a raw
    /// `BEGIN`). Without the check, reads ran 1.14–1.36× faster over HTTP (BENCHMARKS.md,
    /// 2026-12-04 21:30).
    pub release_check: bool,
    /// Connections of the read lane, beside the pool (default 8; 0 turns it off): the reads on
    /// every request's path (the session check, a ticket, a list page, the queue's counts)
    /// borrow these without sqlx's ping on release, one round trip less per read; a read that
    /// fails or is abandoned closes its connection instead of returning it (see the
    /// `read_lane` module). The process opens at most `max_connections + read_lane`.
    pub read_lane: u32,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            idle_in_transaction_timeout: Duration::from_secs(30),
            parallel_workers: 0,
            release_check: false,
            read_lane: 8,
        }
    }
}

impl PgOptions {
    /// The pool settings of these options (with the release check when
    /// [`release_check`](Self::release_check) is on). Use it to build a pool for
    /// [`PgStore::from_pool`].
    pub fn pool_options(&self) -> PgPoolOptions {
        let options = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            // sqlx pings every connection on its way back to the pool (a round trip that also
            // sends a rolled-back `BEGIN`'s `ROLLBACK`), so its extra ping before lending an idle
            // one out is dropped: it would make three round trips of every single-statement
            // read. A connection that died while idle fails its next statement and is closed.
            .test_before_acquire(false);
        if self.release_check { options.after_release(cancel::after_release) } else { options }
    }

    /// `url` parsed, with the session settings of these options.
    ///
    /// # Errors
    /// `Backend` for a malformed URL.
    pub fn connect_options(&self, url: &str) -> Result<PgConnectOptions, StoreError> {
        let millis = self.idle_in_transaction_timeout.as_millis().max(1).to_string();
        Ok(url.parse::<PgConnectOptions>().map_err(pg_error)?.options([
            ("idle_in_transaction_session_timeout", millis),
            ("max_parallel_workers_per_gather", self.parallel_workers.to_string()),
        ]))
    }
}

/// The PostgreSQL store. Cheap to clone (a pool and the read lane).
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) lane: Arc<read_lane::ReadLane>,
}

impl PgStore {
    /// Connects a pool to `url` (`postgres://…`). Apply the schema with [`PgStore::migrate`]
    /// (idempotent, safe from several processes at once).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use helpdesk_storage_postgres::{PgOptions, PgStore};
    ///
    /// let store = PgStore::connect("postgres://helpdesk@db.internal/helpdesk", &PgOptions::default()).await?;
    /// store.migrate().await?;
    /// let desk = helpdesk_core::HelpDesk::builder(Arc::new(store), Arc::new(object_store::memory::InMemory::new())).build()?;
    /// # drop(desk);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self, StoreError> {
        // Point lookups use cached prepared statements (planned once per connection); list
        // queries with optional filters are sent unnamed (`persistent(false)`), so PostgreSQL
        // plans each with its actual parameters instead of a generic plan.
        let pool = options.pool_options().connect_with(options.connect_options(url)?).await.map_err(pg_error)?;
        Ok(Self { pool, lane: Arc::new(read_lane::ReadLane::new(options.read_lane)) })
    }

    /// Wraps an existing pool, with a read lane of the default size ([`PgOptions::read_lane`])
    /// whose connections are opened with the pool's connect options. Build the pool from
    /// [`PgOptions::pool_options`] and [`PgOptions::connect_options`] to keep the store's
    /// cancellation defences.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool, lane: Arc::new(read_lane::ReadLane::new(PgOptions::default().read_lane)) }
    }

    /// A connection for one read on a request's path: from the read lane when it has one free
    /// (see `read_lane`), else from the pool. Call `finish` on it once the read's answer is in.
    pub(crate) async fn read(&self) -> Result<read_lane::Lent<'_>, StoreError> {
        self.lane.lend(&self.pool).await.map_err(pg_error)
    }

    /// What the read lane holds now and has done since the store opened (the server publishes
    /// it in `/metrics`).
    pub fn read_lane_stats(&self) -> ReadLaneStats {
        self.lane.stats()
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the embedded migrations (idempotent; safe from several processes, which
    /// serialise on sqlx's advisory lock).
    ///
    /// # Errors
    /// Migration failures.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| StoreError::Backend { backend: "postgres", source: Box::new(e) })
    }
}

/// The adapter's mapping of database errors to the port's semantic errors.
pub(crate) fn pg_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            if db.code().as_deref() == Some("23505") {
                let what = match db.constraint() {
                    Some("users_email_key") => "email",
                    Some("users_company_id_key") => "company_id",
                    Some("tickets_seq_key") => "ticket_number",
                    _ => "id",
                };
                return StoreError::AlreadyExists { what };
            }
            if db.code().as_deref() == Some("25P03") {
                tracing::warn!(
                    "PostgreSQL ended a session that sat idle in a transaction (idle_in_transaction_session_timeout)"
                );
                return StoreError::Unavailable { source: Box::new(e) };
            }
            StoreError::Backend { backend: "postgres", source: Box::new(e) }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable { source: Box::new(e) },
        _ => StoreError::Backend { backend: "postgres", source: Box::new(e) },
    }
}

/// True for errors worth retrying the whole transaction (serialization failure, deadlock).
pub(crate) fn retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001") | Some("40P01")))
}

pub(crate) use sqlx::types::Json;
