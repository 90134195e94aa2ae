//! Two `helpdesk serve` processes on one PostgreSQL database behave as one service: a session
//! opened on one is refreshed on the other, a logout on one ends the token on the other, the
//! per-account throttle counts failures made on both, and tickets created on both at once get
//! distinct numbers with no reuse; each publishes its pool and read lane in `/metrics`. Runs
//! against the throwaway cluster `scripts/test.sh` starts; skips loudly without one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{fresh_database, pg_missing as skip_reason, start_server as start};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = common::SERVER_ADMIN_PASSWORD;

async fn post(c: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut rb = c.post(url).json(&body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(c: &reqwest::Client, url: String, token: &str) -> u16 {
    c.get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn two_processes_on_one_database_share_sessions_throttling_and_numbers() {
    if let Some(why) = skip_reason() {
        helpdesk_core::testing::skip("two_processes_on_one_database_share_sessions_throttling_and_numbers", &why);
        return;
    }
    let db = fresh_database().await;
    // One migrates first; then both run (the second finds the schema current).
    let a = start(&db);
    common::wait_ready(&a.base.replace("/api/v1", "")).await;
    let b = start(&db);
    common::wait_ready(&b.base.replace("/api/v1", "")).await;
    let c = reqwest::Client::new();
    let (a_url, b_url) = (a.base.clone(), b.base.clone());

    // Sign in on A, use and refresh on B, logout on A, the token is dead on B.
    let (s, login) = post(
        &c,
        format!("{a_url}/auth/login"),
        None,
        json!({"email": "admin@example.com", "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(s, 200, "{login}");
    let access = login["access_token"].as_str().unwrap().to_owned();
    let refresh0 = login["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(get(&c, format!("{b_url}/me"), &access).await, 200);
    let (s, rotated) = post(&c, format!("{b_url}/auth/refresh"), None, json!({"refresh_token": refresh0})).await;
    assert_eq!(s, 200, "{rotated}");
    let access2 = rotated["access_token"].as_str().unwrap().to_owned();
    let (s, _) = post(&c, format!("{a_url}/auth/logout"), Some(&access2), json!({})).await;
    assert_eq!(s, 204);
    assert_eq!(get(&c, format!("{b_url}/me"), &access2).await, 401, "logout on A ends the session on B");
    assert_eq!(get(&c, format!("{b_url}/me"), &access).await, 401);

    // Refresh reuse is detected across instances.
    let (_, l2) = post(
        &c,
        format!("{b_url}/auth/login"),
        None,
        json!({"email": "admin@example.com", "password": ADMIN_PASSWORD}),
    )
    .await;
    let r0 = l2["refresh_token"].as_str().unwrap().to_owned();
    let (s, _) = post(&c, format!("{a_url}/auth/refresh"), None, json!({"refresh_token": r0})).await;
    assert_eq!(s, 200);
    let (s, reuse) = post(&c, format!("{b_url}/auth/refresh"), None, json!({"refresh_token": r0})).await;
    assert_eq!((s, reuse["code"].as_str()), (401, Some("auth.refresh_reused")));
    let admin = {
        let (_, l) = post(
            &c,
            format!("{a_url}/auth/login"),
            None,
            json!({"email": "admin@example.com", "password": ADMIN_PASSWORD}),
        )
        .await;
        l["access_token"].as_str().unwrap().to_owned()
    };

    // An employee files tickets on both instances at once: distinct numbers, none reused.
    let (s, reg) = post(
        &c,
        format!("{b_url}/auth/register"),
        None,
        json!({"email": "emp@example.com", "password": "plum-harbor-violet-42", "first_name": "Em", "last_name": "Ploy", "company_id": "MA0100"}),
    )
    .await;
    assert_eq!(s, 201, "{reg}");
    let id = reg["id"].as_str().unwrap();
    let (s, _) = post(&c, format!("{a_url}/users/{id}/approve"), Some(&admin), json!({})).await;
    assert_eq!(s, 200);
    let (_, el) = post(
        &c,
        format!("{b_url}/auth/login"),
        None,
        json!({"email": "emp@example.com", "password": "plum-harbor-violet-42"}),
    )
    .await;
    let emp = el["access_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let url = if i % 2 == 0 { a_url.clone() } else { b_url.clone() };
        let (c, emp) = (c.clone(), emp.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"subject": format!("Ticket {i}"), "category": "hardware", "sub_category": "laptop", "description": "d"});
            let (s, t) = post(&c, format!("{url}/tickets"), Some(&emp), body).await;
            assert_eq!(s, 201, "{t}");
            t["number"].as_str().unwrap().to_owned()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    let before = numbers.len();
    numbers.dedup();
    assert_eq!(numbers.len(), before, "no number given twice");
    let seqs: Vec<u64> = numbers.iter().map(|n| n.trim_start_matches("TX").parse().unwrap()).collect();
    assert_eq!(seqs.last().unwrap() - seqs.first().unwrap() + 1, 40, "no jumps: {numbers:?}");

    // The per-account throttle counts failures made on either instance.
    for i in 0..5 {
        let url = if i % 2 == 0 { &a_url } else { &b_url };
        let (s, _) = post(
            &c,
            format!("{url}/auth/login"),
            None,
            json!({"email": "emp@example.com", "password": "wrong-wrong-wrong"}),
        )
        .await;
        assert_eq!(s, 401);
    }
    for url in [&a_url, &b_url] {
        let (s, body) = post(
            &c,
            format!("{url}/auth/login"),
            None,
            json!({"email": "emp@example.com", "password": "plum-harbor-violet-42"}),
        )
        .await;
        assert_eq!((s, body["code"].as_str()), (429, Some("rate_limited")), "throttled on {url}");
    }

    // Each process publishes its pool and read lane in /metrics: the reads above (sessions,
    // tickets) went through the lane.
    for url in [&a_url, &b_url] {
        let metrics = c.get(url.replace("/api/v1", "/metrics")).send().await.unwrap().text().await.unwrap();
        let value = |name: &str| -> f64 {
            let line = metrics.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| {
                panic!("{name} missing from /metrics of {url}:\n{metrics}");
            });
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert_eq!(value("helpdesk_pg_read_lane_size"), 8.0);
        assert!(value("helpdesk_pg_read_lane_lent_total") > 0.0, "no read went through the lane on {url}");
        assert!(value("helpdesk_pg_read_lane_open") >= 1.0);
        assert!(value("helpdesk_pg_pool_connections") >= 1.0);
        for name in [
            "helpdesk_pg_read_lane_idle",
            "helpdesk_pg_read_lane_fallbacks_total",
            "helpdesk_pg_read_lane_closed_total",
            "helpdesk_pg_pool_idle",
        ] {
            value(name);
        }
    }
}
