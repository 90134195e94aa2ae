//! What the server benchmarks share: a fresh PostgreSQL database of their own on the server
//! `DATABASE_URL` names.

#![allow(clippy::unwrap_used)]

/// A new, empty database on the `DATABASE_URL` server, named `<prefix>_<random>`, and its URL;
/// `None` without `DATABASE_URL`. Prints whether that server runs with `fsync` on.
pub async fn fresh_pg_database(prefix: &str) -> Option<String> {
    let admin = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())?;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&admin).await.unwrap();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    let fsync: (String,) = sqlx::query_as("SHOW fsync").fetch_one(&pool).await.unwrap();
    println!("\nPostgreSQL: fsync = {}", fsync.0);
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}
