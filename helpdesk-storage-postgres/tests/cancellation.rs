//! Cancelled store calls never lose an acknowledged write and never poison a pooled
//! connection (see `src/cancel.rs`), against the throwaway cluster `scripts/test.sh` starts.
//!
//! - A `BEGIN` dropped on the wire, the upstream sqlx bug fixed in 0.9.1: neither a plain sqlx
//!   pool nor the store's pool hands the connection on inside a transaction. A transaction sqlx
//!   does not know of (a raw `BEGIN`, made on purpose): a plain pool hands it on (the control
//!   proves the test can see it); the store's pool with its release check closes it instead.
//! - Thousands of store calls through the help desk, each dropped after a random number of
//!   polls or a random few microseconds: afterwards no session of the database is inside a
//!   transaction, no lock is held, and every call that returned `Ok` is visible from a fresh
//!   connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::FutureExt;
use helpdesk_core::NewTicket;
use helpdesk_core::domain::TicketNumber;
use helpdesk_core::ports::{ThrottleStore, TicketStore};
use helpdesk_storage_postgres::{PgOptions, PgStore};
use rand::Rng;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Acquire, Row};

/// Whether the pool's next connection is inside a transaction block (see `cancel.rs` for why
/// this comparison tells).
async fn next_connection_in_transaction(pool: &PgPool) -> bool {
    let row = sqlx::raw_sql("SELECT statement_timestamp() <> transaction_timestamp()").fetch_one(pool).await.unwrap();
    row.try_get::<bool, _>(0).unwrap()
}

/// Acquires a connection, polls `BEGIN` once (so it is written but usually not yet answered)
/// and drops it there, then returns the connection to the pool. `true` when the drop came
/// before the answer (the upstream bug's window); `false` when the answer was already there.
async fn cancel_a_begin(pool: &PgPool) -> bool {
    let mut conn = pool.acquire().await.unwrap();
    let cancelled = match conn.begin().now_or_never() {
        None => true,
        Some(Ok(_)) => false,
        Some(Err(e)) => panic!("BEGIN failed: {e}"),
    };
    drop(conn);
    cancelled
}

/// A transaction sqlx does not know of, made on purpose: a raw `BEGIN`, then the connection goes
/// back to the pool.
async fn leave_a_transaction_open(pool: &PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await.unwrap();
    drop(conn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_begin_never_goes_back_into_the_pool() {
    if let Some(why) = common::missing() {
        helpdesk_core::testing::skip("a_cancelled_begin_never_goes_back_into_the_pool", &why);
        return;
    }
    let url = common::fresh_url().await;
    let plain = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let store_with = |release_check: bool| {
        let options = PgOptions { max_connections: 1, release_check, ..PgOptions::default() };
        let url = url.clone();
        async move {
            PgStore::from_pool(
                options.pool_options().connect_with(options.connect_options(&url).unwrap()).await.unwrap(),
            )
        }
    };
    let store = store_with(false).await;
    let checked = store_with(true).await;

    // A raw BEGIN: a plain sqlx pool lends the connection on inside the open transaction; the
    // store's pool with the release check never does.
    leave_a_transaction_open(&plain).await;
    assert!(next_connection_in_transaction(&plain).await, "the control should show the hazard");
    sqlx::raw_sql("ROLLBACK").execute(&plain).await.unwrap();
    for round in 0..20 {
        leave_a_transaction_open(checked.pool()).await;
        assert!(
            !next_connection_in_transaction(checked.pool()).await,
            "round {round}: a poisoned connection was reused"
        );
    }

    // The real thing: BEGIN dropped on the wire (when the answer was not already there). sqlx
    // rolls it back, so no pool lends the connection on inside it, checked or not.
    let mut cancelled = 0;
    for round in 0..200 {
        for pool in [&plain, store.pool(), checked.pool()] {
            cancelled += u32::from(cancel_a_begin(pool).await);
            assert!(!next_connection_in_transaction(pool).await, "round {round}: a poisoned connection was reused");
        }
    }
    assert!(cancelled > 0, "no BEGIN was ever dropped on the wire: the test proved nothing");
}

/// Polls the inner future at most `polls` times, then gives up (dropping it when dropped).
struct PollLimit<F> {
    inner: Pin<Box<F>>,
    polls: u32,
}

impl<F: Future> Future for PollLimit<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(v) = self.inner.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        self.polls = self.polls.saturating_sub(1);
        if self.polls == 0 { Poll::Ready(None) } else { Poll::Pending }
    }
}

/// Runs `f` and cancels it at a random point: after a random number of polls or a random few
/// microseconds, or not at all. `Some` when it finished.
async fn cancelled_somewhere<F: Future>(f: F) -> Option<F::Output> {
    let (by_polls, polls, micros) = {
        let mut rng = rand::thread_rng();
        (rng.gen_bool(0.5), rng.gen_range(1..40), rng.gen_range(0..3_000))
    };
    let run = async {
        if by_polls {
            PollLimit { inner: Box::pin(f), polls }.await
        } else {
            tokio::time::timeout(Duration::from_micros(micros), f).await.ok()
        }
    };
    // A call that waits this long is blocked on a lock that something left held.
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap_or_else(|_| panic!("a store call was blocked for 5 s: a lock left held by an open transaction?"))
}

/// Sessions of the database other than the caller's that are inside a transaction, and locks
/// held by them.
async fn in_transaction_and_locks(pool: &PgPool) -> (i64, i64) {
    let row = sqlx::query(
        "SELECT \
           (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
              AND state IN ('idle in transaction', 'idle in transaction (aborted)', 'active')), \
           (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
              WHERE a.datname = current_database() AND l.pid <> pg_backend_pid())",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_calls_cancelled_at_random_points_lose_no_acknowledged_write() {
    if let Some(why) = common::missing() {
        helpdesk_core::testing::skip("store_calls_cancelled_at_random_points_lose_no_acknowledged_write", &why);
        return;
    }
    let url = common::fresh_url().await;
    // A long server-side time-out, so that it cannot clean up what the store failed to.
    let options =
        PgOptions { max_connections: 8, idle_in_transaction_timeout: Duration::from_secs(600), ..PgOptions::default() };
    let store = Arc::new(PgStore::connect(&url, &options).await.unwrap());
    store.migrate().await.unwrap();
    let (desk, admin) =
        helpdesk_core::testing::desk_with_admin(store.clone(), Arc::new(helpdesk_core::ports::SystemClock)).await;

    // Rounds go on until enough calls were cut short and enough finished to prove something:
    // how many a random deadline cuts depends on how fast this machine is at the moment.
    let (min_rounds, max_rounds, wanted_cancelled) = (3_000, 30_000, 300);
    let mut acknowledged_tickets: Vec<TicketNumber> = Vec::new();
    let mut acknowledged_hits = 0u64;
    let mut cancelled = 0;
    let window = chrono::DateTime::<chrono::Utc>::from_timestamp(1_800_000_000, 0).unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0;
    while i < min_rounds
        || (i < max_rounds
            && (cancelled < wanted_cancelled || acknowledged_tickets.is_empty() || acknowledged_hits == 0))
    {
        i += 1;
        match i % 4 {
            // A unit of work: number allocation + ticket + history + outbox + counters.
            0 | 1 => {
                let new = NewTicket {
                    subject: format!("cancelled {i}"),
                    category: "hardware".into(),
                    sub_category: "laptop".into(),
                    description: "dropped at a random point".into(),
                    scheduled_date: None,
                    fields: Default::default(),
                };
                match cancelled_somewhere(desk.create_ticket(&admin, new, None)).await {
                    Some(Ok(t)) => acknowledged_tickets.push(t.number),
                    Some(Err(e)) => panic!("round {i}: {e}"),
                    None => cancelled += 1,
                }
            }
            // A single auto-commit upsert.
            2 => match cancelled_somewhere(store.hit_window("cancel-test", window)).await {
                Some(Ok(_)) => acknowledged_hits += 1,
                Some(Err(e)) => panic!("round {i}: {e}"),
                None => cancelled += 1,
            },
            // Someone borrowing from the pool directly, dropping a BEGIN on the wire, while
            // others use the pool at the same time.
            _ => {
                let pool = store.pool().clone();
                tasks.spawn(async move {
                    let mut conn = pool.acquire().await.unwrap();
                    let _ = cancelled_somewhere(conn.begin()).await;
                });
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    assert!(cancelled >= wanted_cancelled, "too few calls were cancelled ({cancelled}) to prove anything");
    assert!(!acknowledged_tickets.is_empty() && acknowledged_hits > 0, "too few calls finished to prove anything");

    // Detached work finishes on its own; then nothing may be left inside a transaction.
    let checker = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (open, locks) = in_transaction_and_locks(&checker).await;
        if open == 0 && locks == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} sessions still inside a transaction, {locks} locks held");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every acknowledged write is committed: visible from a connection of its own.
    let fresh = PgStore::connect(&url, &PgOptions { max_connections: 2, ..PgOptions::default() }).await.unwrap();
    for n in &acknowledged_tickets {
        assert!(fresh.ticket_by_number(n).await.unwrap().is_some(), "acknowledged ticket {n} is missing");
    }
    let hits: i64 = sqlx::query_scalar("SELECT count FROM rate_windows WHERE key = 'cancel-test'")
        .fetch_one(fresh.pool())
        .await
        .unwrap();
    assert!(hits as u64 >= acknowledged_hits, "{hits} counted, {acknowledged_hits} acknowledged");

    // And the store still works on every pooled connection.
    for _ in 0..20 {
        assert!(!next_connection_in_transaction(store.pool()).await);
    }
}
