//! Live updates across processes: two `helpdesk serve` processes on one PostgreSQL database;
//! a page open on one hears of tickets changed through the other (`LISTEN`/`NOTIFY`), and
//! its own process's changes too, each once. Skips loudly without the throwaway cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{SERVER_ADMIN_PASSWORD, fresh_database, pg_missing, start_server};
use futures::StreamExt as _;
use serde_json::{Value, json};

/// An open `GET /live` stream and what has arrived of it.
struct Live {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: String,
}

impl Live {
    /// Signs the admin in on `root`'s pages and opens the stream.
    async fn open(c: &reqwest::Client, root: &str) -> Self {
        let r = c
            .post(format!("{root}/sign-in"))
            .header("sec-fetch-site", "same-origin")
            .form(&[("email", "admin@example.com"), ("password", SERVER_ADMIN_PASSWORD), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let r = c.get(format!("{root}/live")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let mut live = Self { body: r.bytes_stream().boxed(), buf: String::new() };
        assert_eq!(live.next(Duration::from_secs(5)).await.unwrap().0, "ready");
        live
    }

    /// The next event (name, data) within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let name = block.lines().find_map(|l| l.strip_prefix("event:")).map(|v| v.trim().to_owned());
                let data: String = block.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
                match name {
                    Some(n) => return Some((n, data)),
                    None => continue,
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await.ok()??.ok()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The ticket numbers heard within `wait` (other events skipped).
    async fn tickets(&mut self, wait: Duration, want: usize) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < want {
            let Some((name, data)) = self.next(wait).await else { break };
            if name == "ticket" {
                let v: Value = serde_json::from_str(&data).unwrap();
                out.push(v["number"].as_str().unwrap().to_owned());
            }
        }
        out
    }
}

#[tokio::test]
async fn a_change_made_on_one_process_reaches_pages_open_on_the_other() {
    if let Some(why) = pg_missing() {
        helpdesk_core::testing::skip("a_change_made_on_one_process_reaches_pages_open_on_the_other", &why);
        return;
    }
    let db = fresh_database().await;
    let a = start_server(&db);
    let (root_a, api_a) = (a.base.replace("/api/v1", ""), a.base.clone());
    common::wait_ready(&root_a).await;
    let b = start_server(&db);
    let root_b = b.base.replace("/api/v1", "");
    common::wait_ready(&root_b).await;
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut on_a = Live::open(&c, &root_a).await;
    let mut on_b = Live::open(&c, &root_b).await;

    let token = common::sign_in(&c, &api_a, "admin@example.com", SERVER_ADMIN_PASSWORD).await;
    let mut filed = Vec::new();
    for i in 0..5 {
        let r: Value = c
            .post(format!("{api_a}/tickets"))
            .bearer_auth(&token)
            .json(&json!({"subject": format!("Live {i}"), "category": "hardware", "sub_category": "laptop",
                          "description": "Made on process A."}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        filed.push(r["number"].as_str().unwrap().to_owned());
    }
    let wait = Duration::from_secs(10);
    assert_eq!(on_b.tickets(wait, 5).await, filed, "the other process's page hears every change, in order");
    assert_eq!(on_a.tickets(wait, 5).await, filed, "the same process's page hears them too");
    assert_eq!(on_b.tickets(Duration::from_millis(500), 1).await, Vec::<String>::new(), "each change once");
}
