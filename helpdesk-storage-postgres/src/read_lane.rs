//! The read lane: a few connections of the store's own for the reads on every request's path
//! (the session check, a ticket, a list page), lent without sqlx's ping on release.
//!
//! sqlx sends a round trip on every connection that goes back to its pool (a `Sync`, whose
//! answer also flushes a rolled-back `BEGIN`'s `ROLLBACK`). For an authenticated read that is one
//! statement, the ping doubles the round trips: a PostgreSQL backend woken twice, two sends and
//! two receives on each side. The lane keeps its connections out of the pool and takes them back
//! only from a read that **finished**: the statement's answer read to its end (`ReadyForQuery`),
//! so the session is idle and outside any transaction. A read that fails, or whose future is
//! dropped half-way (a client gone, a time-out), drops its connection instead: the socket
//! closes, the server ends the session, and nothing it left behind can reach the next borrower.
//! No write ever runs on the lane.
//!
//! When every lane connection is lent, a read borrows from the pool as before, so the lane
//! never makes a request wait. A connection idle in the lane for longer than
//! [`IDLE_LIMIT`] or open longer than [`LIFETIME`] is closed rather than lent (the pool's own
//! limits are 10 and 30 minutes), so one killed by a firewall or a restarted server is rarely
//! met; when it is, its read fails once with `Unavailable`, as a pooled one would.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, PgConnection, PgPool, Postgres};

/// A lane connection idle longer than this is closed instead of lent.
pub const IDLE_LIMIT: Duration = Duration::from_secs(5 * 60);
/// A lane connection open longer than this is closed when it comes back.
pub const LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The lane: its idle connections, how many it holds in all (idle and lent), and what it has
/// done since the store opened ([`ReadLaneStats`]).
#[derive(Debug)]
pub(crate) struct ReadLane {
    idle: Mutex<Vec<Parked>>,
    open: AtomicU32,
    size: u32,
    lent: AtomicU64,
    fallbacks: AtomicU64,
    closed: AtomicU64,
}

/// What the read lane holds now and has done since the store opened: the figures an operator
/// sizes `read_lane` by. Many fallbacks against lendings say the lane is too small for the
/// concurrent reads; many closings say reads are often abandoned or fail (or the lane sits idle
/// past [`IDLE_LIMIT`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadLaneStats {
    /// The most connections the lane may hold ([`crate::PgOptions::read_lane`]).
    pub size: u32,
    /// Connections the lane holds now, idle and lent.
    pub open: u32,
    /// Of those, the ones idle in the lane.
    pub idle: u32,
    /// Reads served by a lane connection.
    pub lent: u64,
    /// Reads that borrowed from the pool because every lane connection was lent (or a new one
    /// could not be opened).
    pub fallbacks: u64,
    /// Lane connections closed: after a failed or abandoned read, or too old or idle too long
    /// to lend again.
    pub closed: u64,
}

impl std::ops::AddAssign for ReadLaneStats {
    /// Sums two lanes' figures (several stores in one process).
    fn add_assign(&mut self, other: Self) {
        self.size += other.size;
        self.open += other.open;
        self.idle += other.idle;
        self.lent += other.lent;
        self.fallbacks += other.fallbacks;
        self.closed += other.closed;
    }
}

#[derive(Debug)]
struct Parked {
    conn: PgConnection,
    born: Instant,
    since: Instant,
}

impl ReadLane {
    /// A lane of at most `size` connections (0: every read borrows from the pool).
    pub(crate) fn new(size: u32) -> Self {
        Self {
            idle: Mutex::new(Vec::with_capacity(size as usize)),
            open: AtomicU32::new(0),
            size,
            lent: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            closed: AtomicU64::new(0),
        }
    }

    /// The lane's figures now.
    pub(crate) fn stats(&self) -> ReadLaneStats {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len() as u32;
        ReadLaneStats {
            size: self.size,
            open: self.open.load(Ordering::Acquire),
            idle,
            lent: self.lent.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            closed: self.closed.load(Ordering::Relaxed),
        }
    }

    /// One connection fewer in the lane: it was closed, not parked.
    fn close_one(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.closed.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection for one read: an idle lane connection, a new one while the lane has room, or
    /// else one from `pool`.
    ///
    /// # Errors
    /// The pool's, when the read has to borrow from it and it cannot lend.
    pub(crate) async fn lend<'a>(&'a self, pool: &PgPool) -> Result<Lent<'a>, sqlx::Error> {
        if let Some(parked) = self.pop() {
            self.lent.fetch_add(1, Ordering::Relaxed);
            return Ok(Lent::Lane(parked.conn, Slot { lane: self, born: parked.born, held: true }));
        }
        if self.reserve() {
            let options: std::sync::Arc<PgConnectOptions> = pool.connect_options();
            match options.connect().await {
                Ok(conn) => {
                    self.lent.fetch_add(1, Ordering::Relaxed);
                    return Ok(Lent::Lane(conn, Slot { lane: self, born: Instant::now(), held: true }));
                }
                Err(error) => {
                    self.open.fetch_sub(1, Ordering::AcqRel);
                    tracing::warn!(%error, "the read lane could not open a connection; reading through the pool");
                }
            }
        }
        if self.size > 0 {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Lent::Pool(pool.acquire().await?))
    }

    /// The most recently parked connection that is still young enough; older ones are closed.
    fn pop(&self) -> Option<Parked> {
        let now = Instant::now();
        loop {
            let parked = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop()?;
            if now.duration_since(parked.since) < IDLE_LIMIT && now.duration_since(parked.born) < LIFETIME {
                return Some(parked);
            }
            self.close_one();
            drop(parked);
        }
    }

    /// Claims room for one more connection, if the lane has any.
    fn reserve(&self) -> bool {
        self.open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.size).then_some(n + 1)).is_ok()
    }

    fn park(&self, conn: PgConnection, born: Instant) {
        let now = Instant::now();
        if now.duration_since(born) >= LIFETIME {
            self.close_one();
            return;
        }
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Parked { conn, born, since: now });
    }

    /// Connections the lane holds, idle and lent.
    #[cfg(test)]
    pub(crate) fn open(&self) -> u32 {
        self.open.load(Ordering::Acquire)
    }
}

/// A connection lent for one read. Call [`Lent::finish`] once the read's answer has been read
/// whole; dropped without it, a lane connection is closed (see the module docs).
#[derive(Debug)]
pub(crate) enum Lent<'a> {
    /// One of the lane's.
    Lane(PgConnection, Slot<'a>),
    /// One of the pool's, which goes back through sqlx's own release.
    Pool(PoolConnection<Postgres>),
}

impl Lent<'_> {
    /// The connection to run the read on.
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        match self {
            Lent::Lane(conn, _) => conn,
            Lent::Pool(conn) => conn,
        }
    }

    /// The read finished: its whole answer was read, so the connection is idle and may serve
    /// the next read.
    pub(crate) fn finish(self) {
        if let Lent::Lane(conn, slot) = self {
            slot.park(conn);
        }
    }
}

/// A lent lane connection's place in the lane: dropped without [`Slot::park`] (a failed or
/// abandoned read), it frees the place, and the connection, dropped beside it, closes with its
/// socket.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    lane: &'a ReadLane,
    born: Instant,
    held: bool,
}

impl Slot<'_> {
    fn park(mut self, conn: PgConnection) {
        self.held = false;
        self.lane.park(conn, self.born);
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if self.held {
            self.lane.close_one();
        }
    }
}

#[cfg(test)]
mod tests {
    //! The lane's promises on a real server (`DATABASE_URL`, started by `scripts/test.sh`).

    use std::time::Duration;

    use sqlx::postgres::PgPoolOptions;

    use super::{Lent, ReadLane};
    use crate::PgOptions;

    async fn pool() -> Option<sqlx::PgPool> {
        let Ok(url) = std::env::var("DATABASE_URL") else {
            helpdesk_core::testing::skip("read_lane", "DATABASE_URL is not set and no PostgreSQL server was started");
            return None;
        };
        let options = PgOptions::default();
        Some(
            PgPoolOptions::new().max_connections(1).connect_with(options.connect_options(&url).unwrap()).await.unwrap(),
        )
    }

    async fn pid(lent: &mut Lent<'_>) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(lent.conn()).await.unwrap()
    }

    async fn alive(pool: &sqlx::PgPool, pid: i32) -> bool {
        sqlx::query_scalar("SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_finished_read_gives_its_connection_back_for_the_next() {
        let Some(pool) = pool().await else { return };
        let lane = ReadLane::new(1);
        let mut first = lane.lend(&pool).await.unwrap();
        assert!(matches!(first, Lent::Lane(..)));
        let before = pid(&mut first).await;
        // The lane is full: the next read borrows from the pool.
        let mut second = lane.lend(&pool).await.unwrap();
        assert!(matches!(second, Lent::Pool(_)));
        assert_ne!(pid(&mut second).await, before);
        second.finish();
        first.finish();
        assert_eq!(lane.open(), 1);
        let mut again = lane.lend(&pool).await.unwrap();
        assert_eq!(pid(&mut again).await, before, "the lane connection should be reused");
        again.finish();
        let stats = lane.stats();
        assert_eq!(
            stats,
            super::ReadLaneStats { size: 1, open: 1, idle: 1, lent: 2, fallbacks: 1, closed: 0 },
            "two reads on the lane, one through the pool, nothing closed"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_read_closes_its_connection() {
        let Some(pool) = pool().await else { return };
        let lane = ReadLane::new(1);
        let mut lent = lane.lend(&pool).await.unwrap();
        let abandoned = pid(&mut lent).await;
        lent.finish();
        // A read dropped while its statement runs (a client gone, a time-out).
        let read = async {
            let mut lent = lane.lend(&pool).await.unwrap();
            sqlx::query("SELECT pg_sleep(0.5)").execute(lent.conn()).await.unwrap();
            lent.finish();
        };
        assert!(tokio::time::timeout(Duration::from_millis(200), read).await.is_err());
        assert_eq!(lane.open(), 0, "the abandoned connection must leave the lane");
        let mut next = lane.lend(&pool).await.unwrap();
        assert!(matches!(next, Lent::Lane(..)));
        assert_ne!(pid(&mut next).await, abandoned, "the next read must not get the abandoned connection");
        next.finish();
        assert_eq!(
            (lane.stats().lent, lane.stats().closed),
            (3, 1),
            "the abandoned read's connection counts as closed"
        );
        // Closed, not parked: the server ends the session once its statement ends and finds the
        // socket gone.
        for _ in 0..100 {
            if !alive(&pool, abandoned).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the abandoned session {abandoned} is still open 5 s after its statement ended");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_read_closes_its_connection() {
        let Some(pool) = pool().await else { return };
        let lane = ReadLane::new(2);
        let mut lent = lane.lend(&pool).await.unwrap();
        let failed = pid(&mut lent).await;
        assert!(sqlx::query("SELECT 1 / 0").execute(lent.conn()).await.is_err());
        drop(lent);
        assert_eq!(lane.open(), 0);
        let mut next = lane.lend(&pool).await.unwrap();
        assert_ne!(pid(&mut next).await, failed);
        next.finish();
        assert_eq!(lane.open(), 1);
        assert_eq!(lane.stats().closed, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lane_of_none_reads_through_the_pool() {
        let Some(pool) = pool().await else { return };
        let lane = ReadLane::new(0);
        let lent = lane.lend(&pool).await.unwrap();
        assert!(matches!(lent, Lent::Pool(_)));
        lent.finish();
        assert_eq!(lane.open(), 0);
        assert_eq!(lane.stats(), super::ReadLaneStats::default(), "a lane of none counts no fallbacks");
    }
}
