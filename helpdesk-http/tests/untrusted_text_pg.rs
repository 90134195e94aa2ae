//! Text with a NUL byte gets the same answers from the server on PostgreSQL as on sled
//! (#15, defect 2): a sign-in with one is a wrong password (401, not 500), a search with one
//! finds nothing (200), and the CSV export with one is a complete, empty file — never a
//! storage error or a body cut short. Runs against the throwaway cluster `scripts/test.sh`
//! starts; skips loudly without one. (The store-level half is the conformance scenario
//! `untrusted_text_is_handled_alike`, run on every store.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};

#[tokio::test]
async fn a_nul_byte_is_a_wrong_password_or_an_empty_search_on_postgresql() {
    if let Some(why) = common::pg_missing() {
        helpdesk_core::testing::skip("a_nul_byte_is_a_wrong_password_or_an_empty_search_on_postgresql", &why);
        return;
    }
    let db = common::fresh_database().await;
    let server = common::start_server(&db);
    common::wait_ready(&server.base.replace("/api/v1", "")).await;
    let base = server.base.clone();
    let c = reqwest::Client::new();

    let r = c
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "a\u{0}@x.com", "password": "harbor-lantern-quartz-71"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "{:?}", r.text().await);

    let token = common::sign_in(&c, &base, "admin@example.com", common::SERVER_ADMIN_PASSWORD).await;
    let filed = c
        .post(format!("{base}/tickets"))
        .bearer_auth(&token)
        .json(&json!({"subject": "Laptop", "category": "hardware", "sub_category": "laptop", "description": "a b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(filed.status().as_u16(), 201);

    let r = c.get(format!("{base}/tickets?q=a%00b")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"], json!([]));

    let all = c.get(format!("{base}/reports/tickets.csv")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(all.status().as_u16(), 200);
    let all = all.text().await.unwrap();
    let header = all.lines().next().unwrap().to_owned();
    assert_eq!(all.lines().count(), 2, "{all}");
    let r = c.get(format!("{base}/reports/tickets.csv?q=a%00b")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.unwrap();
    assert_eq!(body.lines().collect::<Vec<_>>(), [header.as_str()], "only the header row, whole");
    assert!(body.ends_with('\n'));
}
