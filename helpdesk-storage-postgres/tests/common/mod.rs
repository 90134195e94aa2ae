//! Test support: a fresh database per test in the cluster of `DATABASE_URL` (started by
//! `scripts/test.sh`), or a loud skip when there is none.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use helpdesk_storage_postgres::{PgOptions, PgStore};

/// Why PostgreSQL tests cannot run here, if they cannot.
pub fn missing() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(u) if !u.is_empty() => None,
        _ => Some("DATABASE_URL is not set and no PostgreSQL server was started".into()),
    }
}

/// The admin URL.
pub fn url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL")
}

/// The URL of a new empty database (migrated when `migrate`).
pub async fn fresh_url() -> String {
    let admin = PgStore::connect(&url(), &PgOptions { max_connections: 1, ..PgOptions::default() })
        .await
        .expect("connect to DATABASE_URL");
    let name = format!("hd_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .expect("create database");
    admin.pool().close().await;
    let mut u: url_lite::Url = url_lite::Url::parse(&url());
    u.set_db(&name);
    u.to_string()
}

/// A migrated store on a new database.
pub async fn fresh_store() -> PgStore {
    let store = PgStore::connect(&fresh_url().await, &PgOptions { max_connections: 10, ..PgOptions::default() })
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// Drops `table`, forgets migration `version` and migrates again from a new connection to
/// `url` (a migration may leave session state behind, such as 0014's `pg_temp` function): the
/// migration fills the table anew from the tickets.
pub async fn migrate_again(store: &PgStore, url: &str, table: &str, version: i64) {
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}"))).execute(store.pool()).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(version).execute(store.pool()).await.unwrap();
    let again = PgStore::connect(url, &PgOptions { max_connections: 1, ..PgOptions::default() }).await.unwrap();
    again.migrate().await.unwrap();
    again.pool().close().await;
}

/// Every row of `ticket_facet_counts`, in key order.
pub async fn facet_counts(store: &PgStore) -> Vec<(String, String, i16, i64)> {
    use sqlx::Row;
    sqlx::query("SELECT facet, status, shard, n FROM ticket_facet_counts ORDER BY 1, 2, 3")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Replaces the database name of a `postgres://` URL.
mod url_lite {
    pub struct Url {
        base: String,
        query: String,
        db: String,
    }
    impl Url {
        pub fn parse(s: &str) -> Self {
            let (main, query) = match s.split_once('?') {
                Some((m, q)) => (m.to_owned(), format!("?{q}")),
                None => (s.to_owned(), String::new()),
            };
            let after_scheme = main.find("://").map_or(0, |i| i + 3);
            match main[after_scheme..].find('/') {
                Some(i) => Self {
                    base: main[..after_scheme + i].to_owned(),
                    db: main[after_scheme + i + 1..].to_owned(),
                    query,
                },
                None => Self { base: main, db: String::new(), query },
            }
        }
        pub fn set_db(&mut self, db: &str) {
            self.db = db.to_owned();
        }
    }
    impl std::fmt::Display for Url {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}/{}{}", self.base, self.db, self.query)
        }
    }
}
