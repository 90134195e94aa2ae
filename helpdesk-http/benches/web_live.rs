//! Web interface, part 2 benchmark: a harness that prints a report (BENCHMARKS.md).
//!
//! 1. **Reports page at scale**: `N` tickets (default 100,000; spread over 90 days, every
//!    status, resolved ones with response and resolution times) written straight into a sled
//!    store and, when `DATABASE_URL` is set, a fresh PostgreSQL database; then the release
//!    `helpdesk serve` on each, the admin signed in through the page, and `GET /reports` (the
//!    last 30 days, every chart and table) timed from the client, 30 times after 3 warm-ups.
//! 2. **Live-update latency**: a page's `GET /live` stream open on one server process while
//!    tickets are filed through the API one after another (100 changes); the time from sending
//!    the change to the stream's event naming it. On sled (one process), on PostgreSQL with the
//!    page on the same process, and on PostgreSQL with the page on a second process
//!    (`LISTEN`/`NOTIFY`).
//!
//! `cargo bench -p helpdesk-http --bench web_live [-- N]` (scripts/bench-pages.sh runs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt as _;
use helpdesk_core::domain::{DepartmentKey, Priority, Role, TicketStatus, UserId, UserStatus};
use helpdesk_core::ports::{Store, UnitOfWork, Versioned};
use helpdesk_core::testing::fixtures::{ticket, user};
use serde_json::{Value, json};

const ADMIN_PW: &str = "harbor-lantern-quartz-71";
const DEPTS: [&str; 3] = ["it", "asset", "budget"];

/// Writes `n` tickets in batches, spread over the last 90 days.
async fn seed(store: Arc<dyn Store>, n: u64) {
    let now = Utc::now();
    let people: Vec<_> = (0..50).map(|i| user(1000 + i, Role::Employee, UserStatus::Approved)).collect();
    let requesters: Vec<UserId> = people.iter().map(|u| u.id).collect();
    let mut uow = UnitOfWork::new();
    uow.users.extend(people.into_iter().map(Versioned::insert));
    store.commit(uow).await.unwrap();
    let statuses = [
        TicketStatus::New,
        TicketStatus::Open,
        TicketStatus::InProgress,
        TicketStatus::Pending,
        TicketStatus::Resolved,
        TicketStatus::Closed,
        TicketStatus::Rejected,
    ];
    let span = 90 * 24 * 3600;
    let mut seq = 0u64;
    while seq < n {
        let mut uow = UnitOfWork::new();
        for _ in 0..500.min(n - seq) {
            seq += 1;
            let at = now - chrono::Duration::seconds(span - (seq as i64 * span / n as i64));
            let mut t = ticket(seq, requesters[seq as usize % requesters.len()], at);
            t.status = statuses[seq as usize % statuses.len()];
            t.priority = Some(Priority::ALL[(seq as usize / 3) % 4]);
            t.department = Some(DepartmentKey::parse(DEPTS[seq as usize % 3]).unwrap());
            if t.status != TicketStatus::New {
                let r = 600 + (seq as i64 * 37) % 20_000;
                t.first_response_at = Some(at + chrono::Duration::seconds(r));
                t.response_secs = Some(r);
            }
            if matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) {
                let r = 3600 + (seq as i64 * 101) % 200_000;
                t.resolved_at = Some((at + chrono::Duration::seconds(r)).min(now));
                t.resolution_secs = Some(r);
            }
            uow.tickets.push(Versioned::insert(t));
        }
        store.commit(uow).await.unwrap();
    }
}

/// A `helpdesk serve` process, killed when dropped.
struct Server {
    child: std::process::Child,
    root: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(storage: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .arg("serve")
        .env("HELPDESK_LISTEN", format!("127.0.0.1:{port}"))
        .env("HELPDESK_DATA_DIR", dir.path())
        .env("HELPDESK_STORAGE_URL", storage)
        .env("HELPDESK_PUBLIC_URL", "http://helpdesk.test")
        .env("HELPDESK_JWT_SECRET", "web-live-bench-secret-0123456789abcdef")
        .env("HELPDESK_BOOTSTRAP_ADMIN__EMAIL", "admin@example.com")
        .env("HELPDESK_BOOTSTRAP_ADMIN__PASSWORD", ADMIN_PW)
        .env("HELPDESK_PASSWORD_HASH__MEMORY_KIB", "64")
        .env("HELPDESK_PASSWORD_HASH__ITERATIONS", "1")
        .env("HELPDESK_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let root = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    for _ in 0..600 {
        if c.get(format!("{root}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, root, _dir: dir }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The admin's page session cookie on `root`.
async fn page_cookie(c: &reqwest::Client, root: &str) -> String {
    let r = c
        .post(format!("{root}/sign-in"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "admin@example.com"), ("password", ADMIN_PW), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
}

/// The admin's API access token on `root`.
async fn api_token(c: &reqwest::Client, root: &str) -> String {
    let login: Value = c
        .post(format!("{root}/api/v1/auth/login"))
        .json(&json!({"email": "admin@example.com", "password": ADMIN_PW}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Times `GET /reports` on a server over `storage`; (median, p99, max) in ms, and the median
/// of each report the page loads, alone through the JSON API.
async fn reports_page(storage: &str) -> (f64, f64, f64, String) {
    let server = serve(storage).await;
    let c = client();
    let cookie = page_cookie(&c, &server.root).await;
    let mut ms = Vec::new();
    for i in 0..33 {
        let start = Instant::now();
        let r = c.get(format!("{}/reports", server.root)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("Tickets by status"));
        if i >= 3 {
            ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    ms.sort_by(f64::total_cmp);
    // What the page is made of: each report the page loads, alone, through the JSON API.
    let token = api_token(&c, &server.root).await;
    let (to, from) = (Utc::now(), Utc::now() - chrono::Duration::days(30));
    let range = format!("from={}&to={}", from.format("%Y-%m-%dT%H:%M:%SZ"), to.format("%Y-%m-%dT%H:%M:%SZ"));
    let mut parts = Vec::new();
    for part in ["summary".to_owned(), format!("performance?{range}"), format!("satisfaction?{range}")] {
        let mut t = Vec::new();
        for _ in 0..10 {
            let start = Instant::now();
            let r = c.get(format!("{}/api/v1/reports/{part}", server.root)).bearer_auth(&token).send().await.unwrap();
            assert_eq!(r.status(), 200, "{part}");
            r.bytes().await.unwrap();
            t.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        t.sort_by(f64::total_cmp);
        parts.push(format!("{} {:.1} ms", part.split('?').next().unwrap_or_default(), percentile(&t, 0.5)));
    }
    (percentile(&ms, 0.5), percentile(&ms, 0.99), ms[ms.len() - 1], parts.join(", "))
}

/// An open `/live` stream.
struct Live {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: String,
}

impl Live {
    async fn open(c: &reqwest::Client, root: &str) -> Self {
        let cookie = page_cookie(c, root).await;
        let r = c.get(format!("{root}/live")).header("cookie", cookie).send().await.unwrap();
        let mut live = Self { body: r.bytes_stream().boxed(), buf: String::new() };
        live.ticket_event(None).await; // the `ready` event
        live
    }

    /// Waits for the `ticket` event naming `number` (`None`: any first event).
    async fn ticket_event(&mut self, number: Option<&str>) {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                match number {
                    None if block.contains("event:") => return,
                    Some(n) if block.contains("event: ticket") && block.contains(&format!("\"{n}\"")) => return,
                    _ => {}
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// Files 100 tickets on `writer` while a page listens on `reader`; (p50, p99, max) in ms.
async fn live_latency(writer: &str, reader: &str) -> (f64, f64, f64) {
    let c = client();
    let mut live = Live::open(&c, reader).await;
    let token = api_token(&c, writer).await;
    let mut ms = Vec::new();
    for i in 0..110 {
        let start = Instant::now();
        let r: Value = c
            .post(format!("{writer}/api/v1/tickets"))
            .bearer_auth(&token)
            .json(&json!({"subject": format!("Live {i}"), "category": "hardware", "sub_category": "laptop",
                          "description": "Latency probe."}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        live.ticket_event(Some(r["number"].as_str().unwrap())).await;
        if i >= 10 {
            ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.99), ms[ms.len() - 1])
}

async fn fresh_database(admin: &str) -> String {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(admin).await.unwrap();
    let name = format!("hd_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    pool.close().await;
    let (main, query) = admin.split_once('?').map_or((admin, String::new()), |(m, q)| (m, format!("?{q}")));
    let after = main.find("://").unwrap() + 3;
    let base = main[after..].find('/').map_or(main, |i| &main[..after + i]);
    format!("{base}/{name}{query}")
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let pg = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    println!("## Web interface part 2: reports at scale and live-update latency\n");
    println!("| measurement | store | median / p50 | p99 | max |\n|---|---|---|---|---|");

    let dir = tempfile::tempdir().unwrap();
    let sled_path = dir.path().join("store");
    {
        let store =
            helpdesk_storage_sled::SledStore::open(&helpdesk_storage_sled::SledOptions::new(&sled_path)).unwrap();
        let start = Instant::now();
        seed(Arc::new(store), n).await;
        eprintln!("sled: {n} tickets seeded in {:.1} s", start.elapsed().as_secs_f64());
    }
    let sled_url = format!("sled:{}", sled_path.display());
    let (m, p99, max, sled_parts) = reports_page(&sled_url).await;
    println!("| `GET /reports` (30 days) at {n} tickets | sled | {m:.1} ms | {p99:.1} ms | {max:.1} ms |");
    let mut parts = vec![format!("sled: {sled_parts}")];
    let pg_db = match &pg {
        Some(admin) => {
            let url = fresh_database(admin).await;
            let store =
                helpdesk_storage_postgres::PgStore::connect(&url, &helpdesk_storage_postgres::PgOptions::default())
                    .await
                    .unwrap();
            store.migrate().await.unwrap();
            let start = Instant::now();
            seed(Arc::new(store), n).await;
            eprintln!("PostgreSQL: {n} tickets seeded in {:.1} s", start.elapsed().as_secs_f64());
            let (m, p99, max, pg_parts) = reports_page(&url).await;
            println!(
                "| `GET /reports` (30 days) at {n} tickets | PostgreSQL | {m:.1} ms | {p99:.1} ms | {max:.1} ms |"
            );
            parts.push(format!("PostgreSQL: {pg_parts}"));
            Some(url)
        }
        None => {
            println!("| `GET /reports` | PostgreSQL | SKIPPED: DATABASE_URL is not set | | |");
            None
        }
    };

    let fresh_sled = tempfile::tempdir().unwrap();
    let one = serve(&format!("sled:{}", fresh_sled.path().join("store").display())).await;
    let (p50, p99, max) = live_latency(&one.root, &one.root).await;
    println!(
        "| live update, change → event (100 changes) | sled, 1 process | {p50:.1} ms | {p99:.1} ms | {max:.1} ms |"
    );
    drop(one);
    if let (Some(admin), Some(_)) = (&pg, pg_db) {
        // A database of its own: the seeded one's ticket counter was left at zero.
        let url = fresh_database(admin).await;
        let a = serve(&url).await;
        let b = serve(&url).await;
        let (p50, p99, max) = live_latency(&a.root, &a.root).await;
        println!(
            "| live update, change → event (100 changes) | PostgreSQL, 1 process | {p50:.1} ms | {p99:.1} ms | {max:.1} ms |"
        );
        let (p50, p99, max) = live_latency(&a.root, &b.root).await;
        println!(
            "| live update, change → event (100 changes) | PostgreSQL, written on A, page on B | {p50:.1} ms | {p99:.1} ms | {max:.1} ms |"
        );
    }
    println!("\nThe reports the page loads, each alone through the JSON API (median of 10):\n");
    for p in parts {
        println!("- {p}");
    }
}
