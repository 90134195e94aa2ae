//! Clients that hang up in the middle of their requests, under load, against `helpdesk serve`
//! on PostgreSQL: afterwards the outbox drains completely, no session of the server is left
//! inside a transaction, every ticket whose creation was acknowledged exists, and the server
//! still answers at full speed. (Before the store became cancel-safe, a dropped `BEGIN` left a
//! pooled connection in an open transaction that swallowed later writes and stalled the
//! outbox: see `helpdesk-storage-postgres/src/cancel.rs`.) Runs against the throwaway
//! cluster `scripts/test.sh` starts; skips loudly without one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

async fn login(c: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let r =
        c.post(format!("{base}/auth/login")).json(&json!({"email": email, "password": password})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

/// Polls `sql` (a count) until it is zero or `limit` passes; the last count.
async fn wait_for_zero(pool: &sqlx::PgPool, sql: &'static str, limit: Duration) -> i64 {
    let deadline = Instant::now() + limit;
    loop {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if n == 0 || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_hanging_up_mid_request_leave_no_open_transaction_and_a_drained_outbox() {
    let name = "clients_hanging_up_mid_request_leave_no_open_transaction_and_a_drained_outbox";
    if let Some(why) = common::pg_missing() {
        helpdesk_core::testing::skip(name, &why);
        return;
    }
    let db = common::fresh_database().await;
    let server = common::start_server_with(&db, &[("HELPDESK_DISPATCH_INTERVAL_MS", "50")]);
    let base = server.base.clone();
    common::wait_ready(&base.replace("/api/v1", "")).await;
    let c = reqwest::Client::new();
    let admin = login(&c, &base, "admin@example.com", common::SERVER_ADMIN_PASSWORD).await;
    let r = c
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "emp@example.com", "password": common::PASSWORD, "first_name": "Em", "last_name": "Ploy", "company_id": "MA0100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = c.post(format!("{base}/users/{id}/approve")).bearer_auth(&admin).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let emp = login(&c, &base, "emp@example.com", common::PASSWORD).await;

    // 32 clients for 6 s: ticket creations (a unit of work with a number, history, outbox and
    // counters), reads, sign-ins (session, throttle counters, audit) and a lifecycle action,
    // most abandoned after a random 0.5–20 ms, so many are dropped mid-transaction.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let hung_up = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs(6);
    let mut clients = Vec::new();
    for worker in 0..32 {
        let (base, emp, admin) = (base.clone(), emp.clone(), admin.clone());
        let (acknowledged, hung_up) = (acknowledged.clone(), hung_up.clone());
        clients.push(tokio::spawn(async move {
            // A client of its own: a hang-up closes its connection.
            let c = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
            let mut i = 0;
            while Instant::now() < end {
                i += 1;
                // Most clients give up after 1–60 ms; some wait for their answer.
                let patience = {
                    let mut rng = rand::thread_rng();
                    if rng.gen_bool(0.2) {
                        Duration::from_secs(5)
                    } else {
                        Duration::from_micros(rng.gen_range(500..20_000))
                    }
                };
                let request = match i % 5 {
                    0 => c
                        .post(format!("{base}/auth/login"))
                        .json(&json!({"email": "admin@example.com", "password": common::SERVER_ADMIN_PASSWORD})),
                    1 => c.get(format!("{base}/tickets?limit=20")).bearer_auth(&emp),
                    _ => c.post(format!("{base}/tickets")).bearer_auth(&emp).json(&json!({
                        "subject": format!("w{worker} #{i}"), "category": "hardware", "sub_category": "laptop",
                        "description": "filed by a client that may hang up"
                    })),
                };
                match request.timeout(patience).send().await {
                    Ok(r) if r.status() == 201 => match r.json::<Value>().await {
                        Ok(t) => acknowledged.lock().await.push(t["number"].as_str().unwrap().to_owned()),
                        Err(_) => {
                            hung_up.fetch_add(1, Ordering::Relaxed);
                        }
                    },
                    Ok(_) => {}
                    Err(_) => {
                        hung_up.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Staff act on tickets too (claims and approvals are transactional writes).
                if i % 7 == 0 {
                    let numbers = acknowledged.lock().await.clone();
                    if let Some(n) = numbers.last() {
                        let _ = c
                            .post(format!("{base}/tickets/{n}/approve"))
                            .bearer_auth(&admin)
                            .json(&json!({"priority": "low", "department": "it"}))
                            .timeout(patience)
                            .send()
                            .await;
                    }
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().await.clone();
    let hung_up = hung_up.load(Ordering::Relaxed);
    eprintln!("{hung_up} requests abandoned, {} creations acknowledged", acknowledged.len());
    assert!(hung_up > 500, "only {hung_up} requests were abandoned: the test proves little");
    assert!(!acknowledged.is_empty(), "no creation finished");

    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&db).await.unwrap();
    let open = wait_for_zero(
        &pool,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND state LIKE 'idle in transaction%'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(open, 0, "sessions of the server left idle inside a transaction");
    let pending =
        wait_for_zero(&pool, "SELECT count(*) FROM outbox WHERE state = 'pending'", Duration::from_secs(60)).await;
    assert_eq!(pending, 0, "the outbox did not drain");
    let dead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE state = 'dead'").fetch_one(&pool).await.unwrap();
    assert_eq!(dead, 0);
    for n in &acknowledged {
        let seq: i64 = n.trim_start_matches("TX").parse().unwrap();
        let found: i64 =
            sqlx::query_scalar("SELECT count(*) FROM tickets WHERE seq = $1").bind(seq).fetch_one(&pool).await.unwrap();
        assert_eq!(found, 1, "acknowledged ticket {n} is missing");
    }

    // The server is healthy afterwards: a patient client is served at once.
    let started = Instant::now();
    for i in 0..20 {
        let r = c
            .post(format!("{base}/tickets"))
            .bearer_auth(&emp)
            .json(&json!({"subject": format!("after {i}"), "category": "hardware", "sub_category": "laptop", "description": "d"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    assert_eq!(
        wait_for_zero(&pool, "SELECT count(*) FROM outbox WHERE state = 'pending'", Duration::from_secs(30)).await,
        0,
        "the outbox did not drain after the load ({:?} for 20 creations)",
        started.elapsed()
    );
}
