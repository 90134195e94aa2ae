//! What the pool's release check costs (see `src/cancel.rs`): single-statement reads through
//! five pool configurations on the same database in one run (twice), 16 tasks for 5 s each:
//! - `sqlx defaults`: sqlx's ping before lending a connection out and on release (before);
//! - `PgStore`: the store's pool by default (no ping before lending, no release check);
//! - `PgStore, release_check`: the same with `PgOptions::release_check` on;
//! - `prepared timestamp check (an alternative)`: a release check by `EXECUTE` of a prepared
//!   `statement_timestamp() <> transaction_timestamp()` (measured, not used);
//! - `no checks`: no ping before lending, no release check (sqlx's pool as the store builds it).
//!
//! `DATABASE_URL=postgres://… cargo bench -p helpdesk-storage-postgres --bench release_check`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use helpdesk_storage_postgres::PgOptions;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

async fn run(name: &str, pool: PgPool) {
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(5);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (pool, done) = (pool.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let _: i32 = sqlx::query_scalar("SELECT $1::int").bind(1).fetch_one(&pool).await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("| {name} | {:.0} |", done.load(Ordering::Relaxed) as f64 / 5.0);
    pool.close().await;
}

async fn prepare(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    use sqlx::Executor as _;
    conn.execute(sqlx::raw_sql("PREPARE hd_in_tx AS SELECT statement_timestamp() <> transaction_timestamp()")).await?;
    Ok(())
}

async fn execute(conn: &mut sqlx::PgConnection) -> Result<bool, sqlx::Error> {
    use sqlx::{Executor as _, Row as _};
    let row = conn.fetch_one(sqlx::raw_sql("EXECUTE hd_in_tx")).await?;
    Ok(!row.try_get::<bool, _>(0)?)
}

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL is not set: nothing measured");
        return;
    };
    let options = PgOptions { max_connections: 16, ..PgOptions::default() };
    println!("| pool | single-statement reads/s |\n|---|---|");
    for round in 0..2 {
        let _ = round;
        run("sqlx defaults", PgPoolOptions::new().max_connections(16).connect(&url).await.unwrap()).await;
        run("PgStore", options.pool_options().connect_with(options.connect_options(&url).unwrap()).await.unwrap())
            .await;
        let checked = PgOptions { release_check: true, ..options.clone() };
        run(
            "PgStore, release_check",
            checked.pool_options().connect_with(checked.connect_options(&url).unwrap()).await.unwrap(),
        )
        .await;
        run(
            "prepared timestamp check (an alternative)",
            PgPoolOptions::new()
                .max_connections(16)
                .test_before_acquire(false)
                .after_connect(|conn, _| Box::pin(prepare(conn)))
                .after_release(|conn, _| Box::pin(execute(conn)))
                .connect(&url)
                .await
                .unwrap(),
        )
        .await;
        run(
            "no checks",
            PgPoolOptions::new().max_connections(16).test_before_acquire(false).connect(&url).await.unwrap(),
        )
        .await;
    }
}
