//! Bulk change benchmark (issue 20), a harness that prints a report: one `POST
//! /api/v1/tickets/bulk` adding a tag to (then taking it from) 1,000 tickets, each ticket its
//! own durable unit of work, on sled and, when `DATABASE_URL` is set, on PostgreSQL (a fresh
//! database; `scripts/bench-bulk.sh` starts a server with `fsync=on`). Target: under 5 s.
//!
//! `cargo bench -p helpdesk-http --features server --bench bulk [-- TICKETS]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use futures::StreamExt as _;
use helpdesk_core::NewTicket;
use helpdesk_http::config::{AdminConfig, Config, PasswordHashConfig, Secret};

const PASSWORD: &str = "harbor-lantern-quartz-71";

fn config(dir: &std::path::Path, storage_url: Option<String>) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        storage_url,
        password_hash: PasswordHashConfig { memory_kib: 64, iterations: 1 },
        bootstrap_admin: Some(AdminConfig {
            email: "admin@example.com".into(),
            password: Some(Secret::new(PASSWORD)),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        }),
        ..Config::default()
    }
}

/// Starts the server on `config`, files `n` tickets as the admin, and answers the base
/// address, the admin's access token and the tickets' numbers.
async fn server(config: &Config, n: usize) -> (String, String, Vec<String>) {
    let app = helpdesk_http::server::compose(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = helpdesk_http::router(app.state.clone());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap()
    });
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "admin@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let desk = app.state.desk().clone();
    let issued = desk
        .login(helpdesk_core::LoginRequest {
            email: "admin@example.com".into(),
            password: helpdesk_core::password::Password::new(PASSWORD),
            address: None,
        })
        .await
        .unwrap();
    let admin = desk.authenticate_session(issued.session.id).await.unwrap().0;
    let numbers: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let (desk, admin) = (desk.clone(), admin.clone());
            async move {
                let t = NewTicket {
                    subject: format!("Bulk bench {i}"),
                    category: "hardware".into(),
                    sub_category: "laptop".into(),
                    description: "One of many".into(),
                    scheduled_date: None,
                    fields: Default::default(),
                };
                desk.create_ticket(&admin, t, None).await.unwrap().number.to_string()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    (base, token, numbers)
}

async fn bulk(base: &str, token: &str, body: serde_json::Value, what: &str, store: &str, n: usize) {
    let started = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/tickets/bulk"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let v: serde_json::Value = r.json().await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(v["changed"].as_u64(), Some(n as u64), "{v}");
    println!("| {store} | {what} | {n} | {secs:.2} s | {:.0} |", n as f64 / secs);
}

async fn run(store: &str, base: &str, token: &str, numbers: &[String]) {
    let n = numbers.len();
    let add = serde_json::json!({"numbers": numbers, "add_tags": ["bulk-bench"]});
    bulk(base, token, add, "add a tag", store, n).await;
    let remove = serde_json::json!({"numbers": numbers, "remove_tags": ["bulk-bench"], "priority": "high"});
    bulk(base, token, remove, "take the tag away, set a priority", store, n).await;
    // A macro on each ticket: a reply from a template, a tag, and the triage action (each
    // ticket: the comment, three history events, the mails, one commit).
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/macros"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "Accept with a word", "priority": "medium", "action": "approve",
            "comment": "Hello {{requester.first_name}}, {{ticket.number}} is in the queue.", "add_tags": ["accepted"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let apply = serde_json::json!({"numbers": numbers, "macro_id": id});
    bulk(base, token, apply, "a macro: reply, tag, accept", store, n).await;
    // Every ticket a filter matches (the tag the macro added), found and changed in one request.
    let by_filter = serde_json::json!({"filter": {"tags_any": ["accepted"]}, "priority": "low"});
    bulk(base, token, by_filter, "by a filter: set a priority", store, n).await;
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000);
    println!("# Bulk change benchmark: one request, each ticket its own durable unit of work\n");
    println!("| store | change | tickets | time | tickets/s |\n|---|---|---|---|---|");
    let dir = tempfile::tempdir().unwrap();
    let (base, token, numbers) = server(&config(dir.path(), None), n).await;
    run("sled", &base, &token, &numbers).await;
    match common::fresh_pg_database("hd_bench_bulk").await {
        Some(url) => {
            let pg_dir = tempfile::tempdir().unwrap();
            let (base, token, numbers) = server(&config(pg_dir.path(), Some(url)), n).await;
            run("PostgreSQL", &base, &token, &numbers).await;
        }
        None => println!("\n(DATABASE_URL not set: no PostgreSQL rows)"),
    }
}
